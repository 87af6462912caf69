#include "jsonschema/json_value.hpp"
#include "jsonschema/schema_node.hpp"
#include "jsonschema/uri.hpp"

#include <algorithm>
#include <unordered_map>

namespace promptops::jsonschema::detail {

namespace {

using nlohmann::json;

// Deep enough for any real document, shallow enough not to exhaust the stack (an infinite
// "$ref" loop ends here too).
constexpr std::size_t k_max_depth = 512;

// What in-place subschemas evaluated at one instance location, for "unevaluatedProperties"
// and "unevaluatedItems". Only gathered when a node above asks for it.
struct Annotations {
  bool all_properties = false;
  std::vector<const std::string*> properties; // keys of the instance object, by address
  bool all_items = false;
  std::size_t prefix_items = 0;
  std::vector<bool> contains;

  void merge(const Annotations& other) {
    all_properties = all_properties || other.all_properties;
    properties.insert(properties.end(), other.properties.begin(), other.properties.end());
    all_items = all_items || other.all_items;
    prefix_items = std::max(prefix_items, other.prefix_items);
    if (contains.size() < other.contains.size()) {
      contains.resize(other.contains.size());
    }
    for (std::size_t i = 0; i < other.contains.size(); ++i) {
      if (other.contains[i]) {
        contains[i] = true;
      }
    }
  }
};

// State shared by the fast and the collecting evaluator of one validation.
struct State {
  explicit State(const CompiledSchema& compiled) : schema(compiled) {}
  const CompiledSchema& schema;
  std::vector<const Resource*> scope; // the dynamic scope, outermost first
  std::size_t depth = 0;
};

struct PathToken {
  const std::string* key; // nullptr: an array index
  std::size_t index;
};

std::uint8_t type_bits(const json& value) {
  switch (value.type()) {
  case json::value_t::null:
    return k_type_null;
  case json::value_t::boolean:
    return k_type_boolean;
  case json::value_t::object:
    return k_type_object;
  case json::value_t::array:
    return k_type_array;
  case json::value_t::string:
    return k_type_string;
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return k_type_number | k_type_integer;
  case json::value_t::number_float:
    return is_integer_value(value) ? k_type_number | k_type_integer : k_type_number;
  default:
    return 0;
  }
}

std::string join_alternatives(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out.append(i + 1 == names.size() ? " or " : ", ");
    }
    out.append(quote(names[i]));
  }
  return out;
}

// "1 property", "2 properties".
std::string count_of(std::uint64_t count, std::string_view singular, std::string_view plural) {
  std::string out = std::to_string(count);
  out.push_back(' ');
  out.append(count == 1 ? singular : plural);
  return out;
}

template <bool Collect> class Evaluator {
public:
  Evaluator(State& state, std::vector<ValidationError>* errors, std::size_t max_errors)
      : m_state(state), m_errors(errors), m_max_errors(max_errors) {}

  bool eval(const Node& node, const json& instance, Annotations* annotations) {
    if (node.kind != Node::Kind::schema) {
      if (node.kind == Node::Kind::always_true) {
        return true;
      }
      if constexpr (Collect) {
        report("false", node.location, "no value is allowed here");
      }
      return false;
    }
    if (m_state.depth >= k_max_depth) {
      if constexpr (Collect) {
        report("$ref", node.location,
               "the schema nests too deeply here (an endless \"$ref\" loop?)");
      }
      return false;
    }
    ++m_state.depth;
    const bool push_scope = m_state.schema.uses_dynamic_scope &&
                            (m_state.scope.empty() || m_state.scope.back() != node.resource);
    if (push_scope) {
      m_state.scope.push_back(node.resource);
    }
    const bool valid = eval_keywords(node, instance, annotations);
    if (push_scope) {
      m_state.scope.pop_back();
    }
    --m_state.depth;
    return valid;
  }

private:
  // Marks a failure; true when evaluation should stop (fast mode, or enough errors).
  bool stop(bool& valid) const {
    valid = false;
    if constexpr (Collect) {
      return m_errors->size() >= m_max_errors;
    }
    return true;
  }

  bool eval_keywords(const Node& node, const json& instance, Annotations* annotations) {
    bool valid = true;
    if (node.types != 0 && (type_bits(instance) & node.types) == 0) {
      if constexpr (Collect) {
        report("type", node.location + "/type",
               describe(instance) + " is not of type " + join_alternatives(node.type_names));
      }
      // The other keywords would only restate the mismatch ("5" is not one of ["a"]).
      return false;
    }
    const std::uint16_t groups = node.groups;
    if (groups == 0) {
      return valid;
    }
    if ((groups & k_group_value) != 0 && !eval_value(node, instance) && stop(valid)) {
      return false;
    }

    // "unevaluated*" need to know what the other keywords of this node evaluated.
    std::optional<Annotations> local;
    Annotations* here = annotations;
    if ((groups & k_group_unevaluated) != 0) {
      here = &local.emplace();
    }

    switch (instance.type()) {
    case json::value_t::object:
      if ((groups & k_group_object) != 0 && !eval_object(node, instance, here) && stop(valid)) {
        return false;
      }
      break;
    case json::value_t::array:
      if ((groups & k_group_array) != 0 && !eval_array(node, instance, here) && stop(valid)) {
        return false;
      }
      break;
    case json::value_t::string:
      if ((groups & k_group_string) != 0 && !eval_string(node, instance) && stop(valid)) {
        return false;
      }
      break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      if ((groups & k_group_number) != 0 && !eval_number(node, instance) && stop(valid)) {
        return false;
      }
      break;
    default:
      break;
    }

    if ((groups & k_group_ref) != 0) {
      if (node.ref != nullptr && !eval(*node.ref, instance, here) && stop(valid)) {
        return false;
      }
      if (node.dynamic_ref != nullptr && !eval(*resolve_dynamic(node), instance, here) &&
          stop(valid)) {
        return false;
      }
    }
    if ((groups & k_group_applicator) != 0 && !eval_applicators(node, instance, here) &&
        stop(valid)) {
      return false;
    }
    if ((groups & k_group_unevaluated) != 0) {
      if (!eval_unevaluated(node, instance, *here) && stop(valid)) {
        return false;
      }
      if (annotations != nullptr) {
        annotations->merge(*here);
      }
    }
    return valid;
  }

  const Node* resolve_dynamic(const Node& node) const {
    if (!node.dynamic_anchor.empty()) {
      for (const Resource* resource : m_state.scope) {
        if (const Node* target = resource->find_dynamic_anchor(node.dynamic_anchor)) {
          return target;
        }
      }
    }
    return node.dynamic_ref;
  }

  // Evaluates `node` without reporting (for anyOf branches, "not", "if", "contains").
  bool probe(const Node& node, const json& instance, Annotations* annotations) {
    if constexpr (Collect) {
      Evaluator<false> fast(m_state, nullptr, 0);
      return fast.eval(node, instance, annotations);
    } else {
      return eval(node, instance, annotations);
    }
  }

  bool eval_value(const Node& node, const json& instance) {
    if (node.const_value && !json_equal(instance, *node.const_value)) {
      if constexpr (Collect) {
        report("const", node.location + "/const",
               "expected " + describe(*node.const_value) + ", got " + describe(instance));
      }
      return false;
    }
    if (node.enum_values) {
      const auto& values = node.enum_values->get_ref<const json::array_t&>();
      const bool found = std::any_of(values.begin(), values.end(),
                                     [&](const json& v) { return json_equal(instance, v); });
      if (!found) {
        if constexpr (Collect) {
          report("enum", node.location + "/enum",
                 describe(instance) + " is not one of " + describe(*node.enum_values));
        }
        return false;
      }
    }
    return true;
  }

  // Evaluates `child` at `token` below the current location. A false `child` is reported
  // with `not_allowed()`, called only then.
  template <typename Message>
  bool eval_child(const Node& child, const json& value, const PathToken& token,
                  std::string_view keyword, const Message& not_allowed) {
    if (child.kind == Node::Kind::always_true) {
      return true;
    }
    if (child.kind == Node::Kind::always_false) {
      if constexpr (Collect) {
        m_path.push_back(token);
        report(keyword, child.location, not_allowed());
        m_path.pop_back();
      }
      return false;
    }
    if constexpr (Collect) {
      m_path.push_back(token);
      const bool ok = eval(child, value, nullptr);
      m_path.pop_back();
      return ok;
    } else {
      return eval(child, value, nullptr);
    }
  }

  bool eval_property(const Node& child, const json& value, const std::string& key,
                     std::string_view keyword) {
    return eval_child(child, value, PathToken{&key, 0}, keyword,
                      [&] { return "property " + quote(key) + " is not allowed"; });
  }

  bool eval_object(const Node& node, const json& instance, Annotations* annotations) {
    const auto& object = instance.get_ref<const json::object_t&>();
    bool valid = true;
    if (node.min_properties && object.size() < *node.min_properties) {
      if constexpr (Collect) {
        report("minProperties", node.location + "/minProperties",
               "expected at least " + count_of(*node.min_properties, "property", "properties") +
                   ", got " + std::to_string(object.size()));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.max_properties && object.size() > *node.max_properties) {
      if constexpr (Collect) {
        report("maxProperties", node.location + "/maxProperties",
               "expected at most " + count_of(*node.max_properties, "property", "properties") +
                   ", got " + std::to_string(object.size()));
      }
      if (stop(valid)) {
        return false;
      }
    }
    for (const auto& name : node.required) {
      if (object.find(name) == object.end()) {
        if constexpr (Collect) {
          report("required", node.location + "/required",
                 "missing required property " + quote(name));
        }
        if (stop(valid)) {
          return false;
        }
      }
    }
    for (const auto& dependency : node.dependent_required) {
      if (object.find(dependency.name) == object.end()) {
        continue;
      }
      for (const auto& name : dependency.required) {
        if (object.find(name) == object.end()) {
          if constexpr (Collect) {
            report(dependency.keyword,
                   node.location + "/" + std::string(dependency.keyword) + "/" +
                       escape_pointer_token(dependency.name),
                   "missing property " + quote(name) + ", required when " + quote(dependency.name) +
                       " is present");
          }
          if (stop(valid)) {
            return false;
          }
        }
      }
    }
    if ((node.groups & k_group_properties) != 0) {
      auto property = node.properties.begin();
      const auto properties_end = node.properties.end();
      for (const auto& [key, value] : object) {
        bool evaluated = false;
        while (property != properties_end && property->name < key) {
          ++property;
        }
        if (property != properties_end && property->name == key) {
          evaluated = true;
          if (!eval_property(*property->node, value, key, "properties") && stop(valid)) {
            return false;
          }
        }
        for (const auto& pattern : node.pattern_properties) {
          if (pattern.regex.search(key)) {
            evaluated = true;
            if (!eval_property(*pattern.node, value, key, "patternProperties") && stop(valid)) {
              return false;
            }
          }
        }
        if (!evaluated && node.additional_properties != nullptr) {
          evaluated = true;
          if (!eval_property(*node.additional_properties, value, key, "additionalProperties") &&
              stop(valid)) {
            return false;
          }
        }
        if (evaluated && annotations != nullptr) {
          annotations->properties.push_back(&key);
        }
      }
    }
    if (node.property_names != nullptr) {
      for (const auto& [key, value] : object) {
        if (!eval_property_name(node, key) && stop(valid)) {
          return false;
        }
      }
    }
    for (const auto& dependency : node.dependent_schemas) {
      if (object.find(dependency.name) != object.end() &&
          !eval(*dependency.node, instance, annotations) && stop(valid)) {
        return false;
      }
    }
    return valid;
  }

  bool eval_property_name(const Node& node, const std::string& key) {
    const json name(key);
    if constexpr (Collect) {
      std::vector<ValidationError> inner;
      Evaluator<true> sub(m_state, &inner, 1);
      if (sub.eval(*node.property_names, name, nullptr)) {
        return true;
      }
      m_path.push_back(PathToken{&key, 0});
      const std::string quoted = quote(key);
      if (inner.empty() || node.property_names->kind == Node::Kind::always_false) {
        report("propertyNames", node.property_names->location,
               "property name " + quoted + " is not allowed");
      } else if (inner.front().message.compare(0, quoted.size(), quoted) == 0) {
        // "\"Bad\" does not match pattern ..." reads well after "property name".
        report(inner.front().keyword, inner.front().schema_location,
               "property name " + inner.front().message);
      } else {
        report(inner.front().keyword, inner.front().schema_location,
               "property name " + quoted + " is invalid: " + inner.front().message);
      }
      m_path.pop_back();
      return false;
    } else {
      return eval(*node.property_names, name, nullptr);
    }
  }

  bool eval_array(const Node& node, const json& instance, Annotations* annotations) {
    const auto& array = instance.get_ref<const json::array_t&>();
    bool valid = true;
    if (node.min_items && array.size() < *node.min_items) {
      if constexpr (Collect) {
        report("minItems", node.location + "/minItems",
               "expected at least " + std::to_string(*node.min_items) + " items, got " +
                   std::to_string(array.size()));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.max_items && array.size() > *node.max_items) {
      if constexpr (Collect) {
        report("maxItems", node.location + "/maxItems",
               "expected at most " + std::to_string(*node.max_items) + " items, got " +
                   std::to_string(array.size()));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.unique_items && !eval_unique(node, array) && stop(valid)) {
      return false;
    }
    const std::size_t prefix = std::min(node.prefix_items.size(), array.size());
    for (std::size_t i = 0; i < prefix; ++i) {
      if (!eval_child(*node.prefix_items[i], array[i], PathToken{nullptr, i},
                      node.prefix_items_keyword,
                      [i] { return "item at index " + std::to_string(i) + " is not allowed"; }) &&
          stop(valid)) {
        return false;
      }
    }
    if (annotations != nullptr) {
      annotations->prefix_items = std::max(annotations->prefix_items, prefix);
    }
    if (node.items != nullptr && array.size() > node.prefix_items.size()) {
      for (std::size_t i = node.prefix_items.size(); i < array.size(); ++i) {
        const auto not_allowed = [&] {
          return "unexpected item at index " + std::to_string(i) + ", expected at most " +
                 count_of(node.prefix_items.size(), "item", "items") + ", got " +
                 std::to_string(array.size());
        };
        if (!eval_child(*node.items, array[i], PathToken{nullptr, i}, node.items_keyword,
                        not_allowed) &&
            stop(valid)) {
          return false;
        }
      }
      if (annotations != nullptr) {
        annotations->all_items = true;
      }
    }
    if (node.contains != nullptr && !eval_contains(node, array, annotations) && stop(valid)) {
      return false;
    }
    return valid;
  }

  bool eval_contains(const Node& node, const json::array_t& array, Annotations* annotations) {
    std::uint64_t matches = 0;
    std::vector<bool>* marks = nullptr;
    if (annotations != nullptr) {
      annotations->contains.resize(std::max(annotations->contains.size(), array.size()));
      marks = &annotations->contains;
    }
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (probe(*node.contains, array[i], nullptr)) {
        ++matches;
        if (marks != nullptr) {
          (*marks)[i] = true;
        } else if (!node.max_contains && matches >= node.min_contains) {
          return true; // nothing more to learn
        }
      }
    }
    if (matches < node.min_contains) {
      if constexpr (Collect) {
        if (node.min_contains == 1) {
          report("contains", node.location + "/contains",
                 "no item matches the \"contains\" schema");
        } else {
          report("minContains", node.location + "/minContains",
                 "expected at least " + std::to_string(node.min_contains) +
                     " items matching \"contains\", got " + std::to_string(matches));
        }
      }
      return false;
    }
    if (node.max_contains && matches > *node.max_contains) {
      if constexpr (Collect) {
        report("maxContains", node.location + "/maxContains",
               "expected at most " + std::to_string(*node.max_contains) +
                   " items matching \"contains\", got " + std::to_string(matches));
      }
      return false;
    }
    return true;
  }

  bool eval_unique(const Node& node, const json::array_t& array) {
    const auto duplicate = [&](std::size_t i, std::size_t j) {
      if constexpr (Collect) {
        report("uniqueItems", node.location + "/uniqueItems",
               "items at index " + std::to_string(i) + " and " + std::to_string(j) +
                   " are equal, expected unique items");
      } else {
        (void)i, (void)j;
      }
      return false;
    };
    if (array.size() <= 16) {
      for (std::size_t i = 0; i < array.size(); ++i) {
        for (std::size_t j = i + 1; j < array.size(); ++j) {
          if (json_equal(array[i], array[j])) {
            return duplicate(i, j);
          }
        }
      }
      return true;
    }
    std::unordered_multimap<std::size_t, std::size_t> seen;
    seen.reserve(array.size());
    for (std::size_t j = 0; j < array.size(); ++j) {
      const std::size_t hash = json_hash(array[j]);
      const auto [first, last] = seen.equal_range(hash);
      for (auto it = first; it != last; ++it) {
        if (json_equal(array[it->second], array[j])) {
          return duplicate(it->second, j);
        }
      }
      seen.emplace(hash, j);
    }
    return true;
  }

  bool eval_string(const Node& node, const json& instance) {
    const auto& text = instance.get_ref<const std::string&>();
    bool valid = true;
    if (node.min_length || node.max_length) {
      const std::size_t length = utf8_length(text);
      if (node.min_length && length < *node.min_length) {
        if constexpr (Collect) {
          report("minLength", node.location + "/minLength",
                 "expected at least " + count_of(*node.min_length, "character", "characters") +
                     ", got " + std::to_string(length));
        }
        if (stop(valid)) {
          return false;
        }
      }
      if (node.max_length && length > *node.max_length) {
        if constexpr (Collect) {
          report("maxLength", node.location + "/maxLength",
                 "expected at most " + count_of(*node.max_length, "character", "characters") +
                     ", got " + std::to_string(length));
        }
        if (stop(valid)) {
          return false;
        }
      }
    }
    if (node.pattern && !node.pattern->search(text)) {
      if constexpr (Collect) {
        report("pattern", node.location + "/pattern",
               describe(instance) + " does not match pattern " + quote(node.pattern->source()));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.format && !check_format(*node.format, text)) {
      if constexpr (Collect) {
        report("format", node.location + "/format",
               describe(instance) + " is not a valid " + quote(node.format_name));
      }
      if (stop(valid)) {
        return false;
      }
    }
    return valid;
  }

  bool eval_number(const Node& node, const json& instance) {
    bool valid = true;
    if (node.minimum && compare_numbers(instance, *node.minimum) < 0) {
      if constexpr (Collect) {
        report("minimum", node.location + "/minimum",
               describe(instance) + " is less than the minimum of " + describe(*node.minimum));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.exclusive_minimum && compare_numbers(instance, *node.exclusive_minimum) <= 0) {
      if constexpr (Collect) {
        report("exclusiveMinimum", node.location + "/exclusiveMinimum",
               describe(instance) + " is less than or equal to the exclusive minimum of " +
                   describe(*node.exclusive_minimum));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.maximum && compare_numbers(instance, *node.maximum) > 0) {
      if constexpr (Collect) {
        report("maximum", node.location + "/maximum",
               describe(instance) + " is greater than the maximum of " + describe(*node.maximum));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.exclusive_maximum && compare_numbers(instance, *node.exclusive_maximum) >= 0) {
      if constexpr (Collect) {
        report("exclusiveMaximum", node.location + "/exclusiveMaximum",
               describe(instance) + " is greater than or equal to the exclusive maximum of " +
                   describe(*node.exclusive_maximum));
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.multiple_of && !is_multiple_of(instance, *node.multiple_of)) {
      if constexpr (Collect) {
        report("multipleOf", node.location + "/multipleOf",
               describe(instance) + " is not a multiple of " + describe(*node.multiple_of));
      }
      if (stop(valid)) {
        return false;
      }
    }
    return valid;
  }

  bool eval_applicators(const Node& node, const json& instance, Annotations* annotations) {
    bool valid = true;
    for (const Node* schema : node.all_of) {
      if (!eval(*schema, instance, annotations) && stop(valid)) {
        return false;
      }
    }
    if (!node.any_of.empty() && !eval_any_of(node, instance, annotations) && stop(valid)) {
      return false;
    }
    if (!node.one_of.empty() && !eval_one_of(node, instance, annotations) && stop(valid)) {
      return false;
    }
    if (node.not_schema != nullptr && probe(*node.not_schema, instance, nullptr)) {
      if constexpr (Collect) {
        report("not", node.location + "/not",
               describe(instance) + " must not match the \"not\" schema");
      }
      if (stop(valid)) {
        return false;
      }
    }
    if (node.if_schema != nullptr) {
      std::optional<Annotations> if_annotations;
      if (annotations != nullptr) {
        if_annotations.emplace();
      }
      if (probe(*node.if_schema, instance, if_annotations ? &*if_annotations : nullptr)) {
        if (annotations != nullptr) {
          annotations->merge(*if_annotations);
        }
        if (node.then_schema != nullptr && !eval(*node.then_schema, instance, annotations) &&
            stop(valid)) {
          return false;
        }
      } else if (node.else_schema != nullptr && !eval(*node.else_schema, instance, annotations) &&
                 stop(valid)) {
        return false;
      }
    }
    return valid;
  }

  bool eval_any_of(const Node& node, const json& instance, Annotations* annotations) {
    bool matched = false;
    for (const Node* schema : node.any_of) {
      if (annotations == nullptr) {
        if (probe(*schema, instance, nullptr)) {
          return true;
        }
        continue;
      }
      // Every passing branch contributes annotations, so no short cut here.
      Annotations branch;
      if (probe(*schema, instance, &branch)) {
        matched = true;
        annotations->merge(branch);
      }
    }
    if (!matched) {
      if constexpr (Collect) {
        report_no_match(node, "anyOf", node.any_of, instance);
      }
    }
    return matched;
  }

  bool eval_one_of(const Node& node, const json& instance, Annotations* annotations) {
    std::vector<std::size_t> matches;
    Annotations matched_annotations;
    for (std::size_t i = 0; i < node.one_of.size(); ++i) {
      Annotations branch;
      if (probe(*node.one_of[i], instance, annotations != nullptr ? &branch : nullptr)) {
        matches.push_back(i);
        if (annotations != nullptr) {
          matched_annotations = std::move(branch);
        }
        if (matches.size() > 1 && !Collect) {
          return false;
        }
      }
    }
    if (matches.size() == 1) {
      if (annotations != nullptr) {
        annotations->merge(matched_annotations);
      }
      return true;
    }
    if constexpr (Collect) {
      if (matches.empty()) {
        report_no_match(node, "oneOf", node.one_of, instance);
      } else {
        std::string which;
        for (std::size_t k = 0; k < matches.size(); ++k) {
          which += (k == 0 ? "" : (k + 1 == matches.size() ? " and " : ", ")) +
                   std::to_string(matches[k]);
        }
        report("oneOf", node.location + "/oneOf",
               describe(instance) + " matches schemas " + which +
                   " of \"oneOf\", expected exactly one");
      }
    }
    return false;
  }

  // One summary for a failed anyOf/oneOf, pointing at the closest alternative.
  void report_no_match(const Node& node, std::string_view keyword,
                       const std::vector<const Node*>& branches, const json& instance) {
    const std::string here = instance_location();
    std::vector<std::vector<ValidationError>> branch_errors(branches.size());
    bool only_type_errors = true;
    std::vector<std::string> types;
    for (std::size_t i = 0; i < branches.size(); ++i) {
      Evaluator<true> sub(m_state, &branch_errors[i], 20);
      sub.m_path = m_path;
      sub.eval(*branches[i], instance, nullptr);
      const auto& errors = branch_errors[i];
      if (errors.size() == 1 && errors[0].keyword == "type" &&
          errors[0].instance_location == here) {
        const Node* typed = find_typed(*branches[i]);
        if (typed != nullptr) {
          for (const auto& name : typed->type_names) {
            if (std::find(types.begin(), types.end(), name) == types.end()) {
              types.push_back(name);
            }
          }
          continue;
        }
      }
      only_type_errors = false;
    }
    const std::string location = node.location + "/" + std::string(keyword);
    if (only_type_errors && !types.empty()) {
      report(keyword, location, describe(instance) + " is not of type " + join_alternatives(types));
      return;
    }
    // The closest alternative: the one whose errors go deepest, then the fewest of them;
    // a mere type mismatch at this location counts as farthest.
    std::size_t best = branches.size();
    std::size_t best_depth = 0;
    std::size_t best_count = 0;
    for (std::size_t i = 0; i < branches.size(); ++i) {
      const auto& errors = branch_errors[i];
      if (errors.empty()) {
        continue;
      }
      const bool type_here =
          errors.size() == 1 && errors[0].keyword == "type" && errors[0].instance_location == here;
      std::size_t depth = 1;
      for (const auto& error : errors) {
        depth = std::max(depth, error.instance_location.size() + 2);
      }
      if (type_here) {
        depth = 0;
      }
      if (best == branches.size() || depth > best_depth ||
          (depth == best_depth && errors.size() < best_count)) {
        best = i;
        best_depth = depth;
        best_count = errors.size();
      }
    }
    std::string message = describe(instance) + " does not match any of the " +
                          std::to_string(branches.size()) + " schemas in " + quote(keyword);
    if (best < branches.size()) {
      const auto& error = branch_errors[best].front();
      message += " (closest is schema " + std::to_string(best) + ": ";
      if (error.instance_location != here) {
        message += "at " + quote(error.instance_location) + ", ";
      }
      message += error.message + ")";
    }
    report(keyword, location, message);
  }

  // The node holding the "type" keyword that `node` checks first (through "$ref" chains).
  static const Node* find_typed(const Node& node) {
    const Node* current = &node;
    for (int hops = 0; current != nullptr && hops < 16; ++hops) {
      if (current->types != 0) {
        return current;
      }
      current = current->ref;
    }
    return nullptr;
  }

  bool eval_unevaluated(const Node& node, const json& instance, Annotations& annotations) {
    bool valid = true;
    if (node.unevaluated_properties != nullptr && instance.is_object()) {
      if (!annotations.all_properties) {
        auto& seen = annotations.properties;
        std::sort(seen.begin(), seen.end());
        for (const auto& [key, value] : instance.get_ref<const json::object_t&>()) {
          if (std::binary_search(seen.begin(), seen.end(), &key)) {
            continue;
          }
          if (!eval_property(*node.unevaluated_properties, value, key, "unevaluatedProperties") &&
              stop(valid)) {
            return false;
          }
        }
      }
      annotations.all_properties = true;
    }
    if (node.unevaluated_items != nullptr && instance.is_array()) {
      if (!annotations.all_items) {
        const auto& array = instance.get_ref<const json::array_t&>();
        for (std::size_t i = annotations.prefix_items; i < array.size(); ++i) {
          if (i < annotations.contains.size() && annotations.contains[i]) {
            continue;
          }
          const auto not_allowed = [i] { return "unexpected item at index " + std::to_string(i); };
          if (!eval_child(*node.unevaluated_items, array[i], PathToken{nullptr, i},
                          "unevaluatedItems", not_allowed) &&
              stop(valid)) {
            return false;
          }
        }
      }
      annotations.all_items = true;
    }
    return valid;
  }

  std::string instance_location() const {
    std::string out;
    for (const auto& token : m_path) {
      out.push_back('/');
      if (token.key != nullptr) {
        out.append(escape_pointer_token(*token.key));
      } else {
        out.append(std::to_string(token.index));
      }
    }
    return out;
  }

  void report(std::string_view keyword, std::string schema_location, std::string message) {
    if constexpr (Collect) {
      if (m_errors->size() >= m_max_errors) {
        return;
      }
      m_errors->push_back(ValidationError{instance_location(), std::string(keyword),
                                          std::move(schema_location), std::move(message)});
    }
  }

  template <bool> friend class Evaluator;

  State& m_state;
  std::vector<ValidationError>* m_errors;
  std::size_t m_max_errors;
  std::vector<PathToken> m_path;
};

} // namespace

bool evaluate(const CompiledSchema& schema, const json& instance) {
  State state(schema);
  Evaluator<false> evaluator(state, nullptr, 0);
  return evaluator.eval(*schema.root, instance, nullptr);
}

void evaluate(const CompiledSchema& schema, const json& instance, std::size_t max_errors,
              std::vector<ValidationError>& errors) {
  if (max_errors == 0) {
    return;
  }
  State state(schema);
  Evaluator<true> evaluator(state, &errors, errors.size() + max_errors);
  evaluator.eval(*schema.root, instance, nullptr);
}

} // namespace promptops::jsonschema::detail
