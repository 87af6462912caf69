#include "jsonschema/validator.hpp"

#include "jsonschema/schema_node.hpp"

namespace promptops::jsonschema {

struct Validator::Impl {
  detail::CompiledSchema schema;
};

Validator::Validator(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Validator::Validator(Validator&&) noexcept = default;
Validator& Validator::operator=(Validator&&) noexcept = default;
Validator::~Validator() = default;

Validator Validator::compile(const nlohmann::json& schema, const CompileOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->schema = detail::compile_schema(schema, options);
  return Validator(std::move(impl));
}

bool Validator::is_valid(const nlohmann::json& instance) const {
  return detail::evaluate(m_impl->schema, instance);
}

std::vector<ValidationError> Validator::validate(const nlohmann::json& instance,
                                                 std::size_t max_errors) const {
  std::vector<ValidationError> errors;
  detail::evaluate(m_impl->schema, instance, max_errors, errors);
  return errors;
}

} // namespace promptops::jsonschema
