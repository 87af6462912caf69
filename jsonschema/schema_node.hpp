#pragma once

#include "jsonschema/formats.hpp"
#include "jsonschema/regex.hpp"
#include "jsonschema/validator.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The compiled form of a schema: one Node per schema object, keywords as plain fields, refs
// as pointers. Compiled once by compiler.cpp, walked by evaluator.cpp. Internal.
namespace promptops::jsonschema::detail {

// Instance types as bits; an integer has both k_type_integer and k_type_number.
enum TypeBit : std::uint8_t {
  k_type_null = 1U << 0U,
  k_type_boolean = 1U << 1U,
  k_type_object = 1U << 2U,
  k_type_array = 1U << 3U,
  k_type_number = 1U << 4U,
  k_type_string = 1U << 5U,
  k_type_integer = 1U << 6U,
};

// Which keyword groups a node has, so evaluation skips what is absent.
enum GroupBit : std::uint16_t {
  k_group_object = 1U << 0U,     // any object keyword
  k_group_properties = 1U << 1U, // properties, patternProperties or additionalProperties
  k_group_array = 1U << 2U,
  k_group_string = 1U << 3U,
  k_group_number = 1U << 4U,
  k_group_applicator = 1U << 5U, // allOf, anyOf, oneOf, not, if
  k_group_ref = 1U << 6U,        // $ref or $dynamicRef
  k_group_value = 1U << 7U,      // const or enum
  k_group_unevaluated = 1U << 8U,
};

struct Node;

// A schema resource (a document, or a subschema with "$id"): the unit of the dynamic scope.
struct Resource {
  std::string uri;
  std::vector<std::pair<std::string, const Node*>> dynamic_anchors;

  const Node* find_dynamic_anchor(std::string_view name) const {
    for (const auto& [anchor, node] : dynamic_anchors) {
      if (anchor == name) {
        return node;
      }
    }
    return nullptr;
  }
};

struct NamedNode {
  std::string name;
  const Node* node = nullptr;
};

struct PatternNode {
  Regex regex;
  const Node* node = nullptr;
};

struct DependentRequired {
  std::string name;
  std::vector<std::string> required;
  std::string_view keyword; // "dependentRequired", or "dependencies" (draft-07)
};

struct Node {
  enum class Kind : std::uint8_t { always_true, always_false, schema };

  Kind kind = Kind::schema;
  std::uint16_t groups = 0;
  std::uint8_t types = 0; // 0: no "type"
  const Resource* resource = nullptr;
  std::string location; // JSON Pointer (or URI#pointer outside the root document)
  std::vector<std::string> type_names;

  // Any instance.
  std::optional<nlohmann::json> const_value;
  std::optional<nlohmann::json> enum_values; // an array
  const Node* ref = nullptr;
  const Node* dynamic_ref = nullptr;
  std::string dynamic_anchor; // set when dynamic_ref may be replaced through the dynamic scope
  std::vector<const Node*> all_of;
  std::vector<const Node*> any_of;
  std::vector<const Node*> one_of;
  const Node* not_schema = nullptr;
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;

  // Objects.
  std::vector<NamedNode> properties; // sorted by name, as nlohmann::json orders members
  std::vector<PatternNode> pattern_properties;
  const Node* additional_properties = nullptr;
  const Node* property_names = nullptr;
  const Node* unevaluated_properties = nullptr;
  std::vector<std::string> required;
  std::vector<DependentRequired> dependent_required;
  std::vector<NamedNode> dependent_schemas;
  std::optional<std::uint64_t> min_properties;
  std::optional<std::uint64_t> max_properties;

  // Arrays. Draft-07's array-form "items" is prefix_items and "additionalItems" is items.
  std::vector<const Node*> prefix_items;
  std::string_view prefix_items_keyword = "prefixItems";
  const Node* items = nullptr;
  std::string_view items_keyword = "items";
  const Node* contains = nullptr;
  std::uint64_t min_contains = 1;
  std::optional<std::uint64_t> max_contains;
  const Node* unevaluated_items = nullptr;
  std::optional<std::uint64_t> min_items;
  std::optional<std::uint64_t> max_items;
  bool unique_items = false;

  // Strings.
  std::optional<std::uint64_t> min_length;
  std::optional<std::uint64_t> max_length;
  std::optional<Regex> pattern;
  std::optional<Format> format; // set only when formats are asserted
  std::string format_name;

  // Numbers.
  std::optional<nlohmann::json> minimum;
  std::optional<nlohmann::json> maximum;
  std::optional<nlohmann::json> exclusive_minimum;
  std::optional<nlohmann::json> exclusive_maximum;
  std::optional<nlohmann::json> multiple_of;
};

struct CompiledSchema {
  std::deque<Node> nodes; // a deque: nodes point at each other, addresses must not move
  std::deque<Resource> resources;
  const Node* root = nullptr;
  bool uses_dynamic_scope = false; // some "$dynamicRef" needs the dynamic scope tracked
};

// Compile `schema`. Throws SchemaError.
CompiledSchema compile_schema(const nlohmann::json& schema, const CompileOptions& options);

// True when `instance` is valid against `schema`.
bool evaluate(const CompiledSchema& schema, const nlohmann::json& instance);

// Append to `errors` every reason `instance` is invalid, at most `max_errors` in all.
void evaluate(const CompiledSchema& schema, const nlohmann::json& instance, std::size_t max_errors,
              std::vector<ValidationError>& errors);

} // namespace promptops::jsonschema::detail
