// Validations per second of a realistic ~10-property object schema (a prompt file) on
// 100,000 generated instances, one core.
//
//   jsonschema_throughput [COUNT]
#include "jsonschema/validator.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using promptops::jsonschema::Validator;

constexpr const char* k_schema = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "name", "version", "model", "messages"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$", "maxLength": 64},
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "version": {"type": "integer", "minimum": 1},
    "model": {"enum": ["gpt-4o", "claude-3-5-sonnet", "llama-3-70b", "mistral-large"]},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "max_tokens": {"type": "integer", "exclusiveMinimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
    "messages": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/message"}},
    "created": {"type": "string", "format": "date-time"},
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}}
  },
  "$defs": {
    "message": {
      "type": "object",
      "required": ["role", "content"],
      "additionalProperties": false,
      "properties": {
        "role": {"enum": ["system", "user", "assistant"]},
        "content": {"type": "string"}
      }
    }
  }
})";

// `prefix` followed by `number` (appending: GCC 12 at -O3 warns falsely on "x" + std::string).
std::string numbered(std::string prefix, std::uint64_t number) {
  prefix.append(std::to_string(number));
  return prefix;
}

// A small deterministic generator, so every run validates the same documents.
class Random {
public:
  std::uint32_t next() {
    m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(m_state >> 33U);
  }
  std::uint32_t below(std::uint32_t n) { return next() % n; }

private:
  std::uint64_t m_state = 42;
};

json make_instance(Random& random, std::size_t i) {
  static const std::vector<std::string> k_models{"gpt-4o", "claude-3-5-sonnet", "llama-3-70b",
                                                 "mistral-large"};
  static const std::vector<std::string> k_roles{"system", "user", "assistant"};
  json messages = json::array();
  const auto message_count = 1 + random.below(4);
  for (std::uint32_t m = 0; m < message_count; ++m) {
    messages.push_back({{"role", k_roles[random.below(3)]},
                        {"content", numbered("Summarise ticket ", i).append(" for the user.")}});
  }
  json instance = {
      {"id", numbered("prompt-", i)},
      {"name", numbered("Support summary ", i)},
      {"version", 1 + random.below(20)},
      {"model", k_models[random.below(4)]},
      {"temperature", random.below(200) / 100.0},
      {"max_tokens", 256 + random.below(4096)},
      {"tags", json::array({"support", "summary", numbered("v", random.below(5))})},
      {"messages", messages},
      {"created", "2024-05-01T12:00:00Z"},
      {"metadata", {{"owner", numbered("team-", random.below(10))}}},
  };
  // One in ten is invalid in some way.
  switch (random.below(40)) {
  case 0:
    instance["version"] = 0;
    break;
  case 1:
    instance["mesages"] = instance["messages"];
    break;
  case 2:
    instance["messages"][0]["role"] = "bot";
    break;
  case 3:
    instance.erase("model");
    break;
  default:
    break;
  }
  return instance;
}

int run(std::size_t count) {
  const Validator validator = Validator::compile(json::parse(k_schema));
  Random random;
  std::vector<json> instances;
  instances.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    instances.push_back(make_instance(random, i));
  }

  using Clock = std::chrono::steady_clock;
  std::size_t valid = 0;
  for (const auto& instance : instances) { // warm up caches and the allocator
    valid += validator.is_valid(instance) ? 1 : 0;
  }
  valid = 0;
  const auto start = Clock::now();
  for (const auto& instance : instances) {
    valid += validator.is_valid(instance) ? 1 : 0;
  }
  const double fast_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::size_t errors = 0;
  const auto start_full = Clock::now();
  for (const auto& instance : instances) {
    errors += validator.validate(instance).size();
  }
  const double full_seconds = std::chrono::duration<double>(Clock::now() - start_full).count();

  std::cout << count << " instances, " << valid << " valid, " << errors << " errors\n";
  std::cout << "is_valid: " << static_cast<std::uint64_t>(static_cast<double>(count) / fast_seconds)
            << " validations/second\n";
  std::cout << "validate: " << static_cast<std::uint64_t>(static_cast<double>(count) / full_seconds)
            << " validations/second\n";
  return 0;
}

} // namespace

int main(int argc, char* argv[]) {
  try {
    return run(argc > 1 ? std::stoul(argv[1]) : 100000);
  } catch (const std::exception& e) {
    std::cerr << "jsonschema_throughput: " << e.what() << "\n";
    return 2;
  }
}
