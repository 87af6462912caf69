#include "registry/document_check.hpp"

#include "jsonschema/validator.hpp"
#include "schemas/builtin.hpp"
#include "util/json_pointer.hpp"
#include "util/suggest.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace promptops::registry {

namespace {

constexpr std::string_view k_base = "file:///promptops/schemas/";

struct Compiled {
  nlohmann::json schema;
  std::unique_ptr<jsonschema::Validator> validator;
};

std::optional<nlohmann::json> load_builtin(const std::string& uri) {
  std::string name = uri;
  if (auto hash = name.find('#'); hash != std::string::npos) {
    name.resize(hash);
  }
  if (name.rfind(k_base, 0) != 0) {
    return std::nullopt;
  }
  name.erase(0, k_base.size());
  for (const auto& s : schemas::builtin_schemas()) {
    if (s.path == name) {
      return nlohmann::json::parse(s.text);
    }
  }
  return std::nullopt;
}

const Compiled& compiled(std::string_view schema_file) {
  static std::mutex mutex;
  static std::map<std::string, Compiled, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(schema_file); it != cache.end()) {
    return it->second;
  }
  Compiled c;
  c.schema = builtin_schema_json(schema_file);
  jsonschema::CompileOptions options;
  options.base_uri = std::string(k_base) + std::string(schema_file);
  options.loader = load_builtin;
  c.validator =
      std::make_unique<jsonschema::Validator>(jsonschema::Validator::compile(c.schema, options));
  return cache.emplace(std::string(schema_file), std::move(c)).first->second;
}

struct SchemaPlace {
  std::string document; // builtin schema file name
  std::string pointer;  // JSON Pointer inside it
};

// A schema location is "uri#/pointer" or a bare "/pointer" into the checked schema.
SchemaPlace split_location(const std::string& location, std::string_view schema_file) {
  SchemaPlace place{std::string(schema_file), location};
  if (auto hash = location.find('#'); hash != std::string::npos) {
    const std::string uri = location.substr(0, hash);
    place.pointer = location.substr(hash + 1);
    if (auto slash = uri.rfind('/'); slash != std::string::npos) {
      place.document = uri.substr(slash + 1);
    } else if (!uri.empty()) {
      place.document = uri;
    }
  }
  return place;
}

const nlohmann::json* schema_node(const SchemaPlace& place) {
  try {
    const nlohmann::json& doc = builtin_schema_json(place.document);
    const nlohmann::json::json_pointer ptr(place.pointer);
    return doc.contains(ptr) ? &doc.at(ptr) : nullptr;
  } catch (...) {
    return nullptr;
  }
}

// Property names a schema node declares, following local "$ref"s one level deep (where the
// evaluator schemas keep their common keys).
void declared_properties(const nlohmann::json& node, const nlohmann::json& doc,
                         std::set<std::string>& out, int depth = 0) {
  if (!node.is_object() || depth > 4) {
    return;
  }
  if (auto it = node.find("properties"); it != node.end() && it->is_object()) {
    for (const auto& [key, _] : it->items()) {
      out.insert(key);
    }
  }
  if (auto it = node.find("$ref"); it != node.end() && it->is_string()) {
    const std::string ref = it->get<std::string>();
    if (ref.rfind("#/", 0) == 0) {
      const nlohmann::json::json_pointer ptr(ref.substr(1));
      if (doc.contains(ptr)) {
        declared_properties(doc.at(ptr), doc, out, depth + 1);
      }
    }
  }
}

std::vector<std::string> allowed_keys(const jsonschema::ValidationError& e,
                                      std::string_view schema_file) {
  SchemaPlace place = split_location(e.schema_location, schema_file);
  place.pointer = util::pointer_parent(place.pointer); // the schema object holding the keyword
  std::set<std::string> keys;
  if (const nlohmann::json* node = schema_node(place)) {
    declared_properties(*node, builtin_schema_json(place.document), keys);
  }
  return {keys.begin(), keys.end()};
}

std::string quoted_list(const nlohmann::json& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) {
      out += ", ";
    }
    out += v.dump();
  }
  return out;
}

} // namespace

const nlohmann::json& builtin_schema_json(std::string_view schema_file) {
  static std::mutex mutex;
  static std::map<std::string, nlohmann::json, std::less<>> parsed;
  std::lock_guard lock(mutex);
  if (auto it = parsed.find(schema_file); it != parsed.end()) {
    return it->second;
  }
  for (const auto& s : schemas::builtin_schemas()) {
    if (s.path == schema_file) {
      return parsed.emplace(std::string(schema_file), nlohmann::json::parse(s.text)).first->second;
    }
  }
  throw Error("no builtin schema \"" + std::string(schema_file) + "\"", 3);
}

std::vector<InputError> check_document(const nlohmann::json& value,
                                       const util::SourceMap& source_map,
                                       std::string_view schema_file,
                                       const std::string& display_path) {
  const Compiled& c = compiled(schema_file);
  if (c.validator->is_valid(value)) {
    return {};
  }
  std::vector<InputError> out;
  std::set<std::string> seen;
  for (const auto& e : c.validator->validate(value)) {
    std::string problem;
    SourcePosition position;
    const std::string where = util::pointer_to_display(e.instance_location);
    if (e.keyword == "additionalProperties" || e.keyword == "unevaluatedProperties") {
      const std::string key = util::pointer_last_token(e.instance_location);
      const std::string parent =
          util::pointer_to_display(util::pointer_parent(e.instance_location));
      problem = "unknown key \"" + key + "\"" + (parent.empty() ? "" : " in " + parent) +
                util::did_you_mean(key, allowed_keys(e, schema_file));
      if (key == "api_key") {
        problem += " (keys are never stored in files: name the environment variable that "
                   "holds it with api_key_env)";
      }
      position = source_map.key_position(e.instance_location);
    } else if (e.keyword == "enum" || e.keyword == "const") {
      nlohmann::json allowed;
      SchemaPlace place = split_location(e.schema_location, schema_file);
      if (const nlohmann::json* node = schema_node(place)) {
        allowed = e.keyword == "enum" ? *node : nlohmann::json::array({*node});
      }
      // A value that is refused for a reason says it (the description of the schema holding
      // the keyword): "stream: true" is refused because promptops reads whole replies.
      place.pointer = util::pointer_parent(place.pointer);
      std::string why;
      if (const nlohmann::json* holder = schema_node(place);
          holder != nullptr && e.keyword == "const" && holder->contains("description")) {
        why = " (" + holder->at("description").get<std::string>() + ")";
      }
      const nlohmann::json* actual = nullptr;
      const nlohmann::json::json_pointer ptr(e.instance_location);
      if (value.contains(ptr)) {
        actual = &value.at(ptr);
      }
      std::vector<std::string> names;
      for (const auto& v : allowed) {
        if (v.is_string()) {
          names.push_back(v.get<std::string>());
        }
      }
      // Replace, not throw: a YAML string may hold bytes that are not UTF-8.
      const std::string shown =
          actual ? actual->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : "value";
      std::string suggestion = actual && actual->is_string()
                                   ? util::did_you_mean(actual->get<std::string>(), names)
                                   : "";
      problem = (where.empty() ? "" : where + ": ") + shown + " is not allowed" +
                (suggestion.empty() ? (allowed.is_array() && !allowed.empty()
                                           ? ": expected " + quoted_list(allowed)
                                           : "")
                                    : suggestion) +
                why;
      position = source_map.value_position(e.instance_location);
    } else {
      problem = (where.empty() ? "" : where + ": ") + e.message;
      position = source_map.value_position(e.instance_location);
    }
    const std::string key = std::to_string(position.line) + ":" + problem;
    if (seen.insert(key).second) {
      out.emplace_back(display_path, position, problem);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const InputError& a, const InputError& b) {
    return a.position().line < b.position().line;
  });
  return out;
}

} // namespace promptops::registry
