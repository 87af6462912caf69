#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// A JSON Schema validator on nlohmann::json: draft-07 and draft 2020-12. Written for
// promptops because Debian's valijson passes 91% of draft-07 and has no 2020-12.
namespace promptops::jsonschema {

enum class Draft { draft7, draft2020_12 };

// One reason an instance is invalid.
struct ValidationError {
  std::string instance_location; // JSON Pointer into the instance ("" = the root)
  std::string keyword;           // the failing keyword, e.g. "type", "required"
  std::string schema_location;   // JSON Pointer into the schema document of that keyword
  std::string message;           // e.g. "12.5 is not of type \"integer\""
};

// The schema itself is invalid (not a schema, a $ref that resolves to nothing, a pattern
// RE2 cannot compile). what() names the place in the schema.
class SchemaError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Returns the document for an absolute URI (a $ref to another file), or std::nullopt.
using DocumentLoader = std::function<std::optional<nlohmann::json>(const std::string& uri)>;

struct CompileOptions {
  Draft default_draft = Draft::draft2020_12; // used when the schema has no "$schema"
  std::string base_uri;                      // the retrieval URI of the schema, if any
  DocumentLoader loader;                     // resolves references to other documents
  bool format_assertion = false;             // "format" asserts instead of annotating
};

class Validator {
public:
  // Compile `schema` once. Throws SchemaError.
  static Validator compile(const nlohmann::json& schema, const CompileOptions& options = {});

  Validator(Validator&&) noexcept;
  Validator& operator=(Validator&&) noexcept;
  ~Validator();

  // True when `instance` is valid. Stops at the first failure: the fast path.
  bool is_valid(const nlohmann::json& instance) const;

  // Every reason `instance` is invalid (empty when valid), at most `max_errors`.
  std::vector<ValidationError> validate(const nlohmann::json& instance,
                                        std::size_t max_errors = 100) const;

private:
  struct Impl;
  explicit Validator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace promptops::jsonschema
