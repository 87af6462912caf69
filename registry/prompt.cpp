#include "registry/prompt.hpp"

#include "jsonschema/validator.hpp"
#include "registry/document_check.hpp"
#include "util/json_pointer.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <set>

namespace promptops::registry {

std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) {
    return "it is empty";
  }
  if (name.size() > 200) {
    return "longer than 200 characters";
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = name.find('/', start);
    const std::string_view segment = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) {
      return "a name may not start or end with '/' or contain \"//\"";
    }
    if (segment == "." || segment == "..") {
      return "\".\" and \"..\" may not appear in a name (names stay inside prompts/)";
    }
    for (char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
      if (!ok) {
        return "use letters, digits, '_', '-', '.' and '/' between folders";
      }
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return std::nullopt;
}

void check_name(std::string_view name, std::string_view what) {
  if (auto problem = name_problem(name)) {
    // The name may come from a git tree or the command line: shown escaped.
    throw InputError("invalid " + std::string(what) + " name \"" + util::text::printable(name) +
                     "\": " + *problem);
  }
}

std::string prompt_path(std::string_view name) {
  return "prompts/" + std::string(name) + ".yaml";
}

std::string partial_path(std::string_view name) {
  return "prompts/partials/" + std::string(name) + ".mustache";
}

PromptRef parse_prompt_ref(std::string_view text) {
  PromptRef ref;
  const auto at = text.rfind('@');
  ref.name = std::string(text.substr(0, at));
  if (at != std::string_view::npos) {
    ref.ref = std::string(text.substr(at + 1));
    if (ref.ref.empty()) {
      throw InputError("empty reference after '@' in \"" + std::string(text) +
                       "\": use NAME or NAME@HEAD");
    }
  }
  check_name(ref.name, "prompt");
  return ref;
}

namespace {

void add_unique(std::vector<std::string>& out, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (std::find(out.begin(), out.end(), n) == out.end()) {
      out.push_back(n);
    }
  }
}

mustache::Template compile(const std::string& source, const std::string& display_path,
                           const util::SourceMap& map, const std::string& pointer) {
  try {
    return mustache::Template::parse(source);
  } catch (const mustache::TemplateSyntaxError& e) {
    throw InputError(display_path, map.value_position(pointer),
                     util::pointer_to_display(pointer) + ": " + e.problem() + " (template line " +
                         std::to_string(e.line()) + ", column " + std::to_string(e.column()) + ")");
  }
}

std::vector<Variable> variables(const nlohmann::json& input, const char* key,
                                const util::SourceMap& map) {
  std::vector<Variable> out;
  if (!input.contains(key)) {
    return out;
  }
  std::size_t i = 0;
  for (const auto& name : input.at(key)) {
    out.push_back({name.get<std::string>(),
                   map.value_position(util::pointer_append(std::string("/input/") + key, i))});
    ++i;
  }
  return out;
}

// `tools:` in the neutral form every wire format starts from: {"name", "description" (when
// declared), "parameters" (an empty object schema when not declared)}. The schema has checked
// the shape; this checks what it cannot: unique names, parameters our validator compiles.
std::shared_ptr<const nlohmann::json> parse_tools(const nlohmann::json& declared,
                                                  const std::string& display_path,
                                                  const util::SourceMap& map,
                                                  std::vector<InputError>& errors) {
  auto tools = std::make_shared<nlohmann::json>(nlohmann::json::array());
  std::set<std::string> names;
  for (std::size_t i = 0; i < declared.size(); ++i) {
    const nlohmann::json& t = declared[i];
    const std::string pointer = util::pointer_append("/tools", i);
    const std::string name = t.at("name").get<std::string>();
    if (!names.insert(name).second) {
      errors.emplace_back(display_path, map.value_position(pointer + "/name"),
                          util::pointer_to_display(pointer) + ": a second tool named " +
                              util::text::quote(name) + " (tool names are unique in a prompt)");
    }
    nlohmann::json tool = {{"name", name}};
    if (auto it = t.find("description"); it != t.end()) {
      tool["description"] = *it;
    }
    tool["parameters"] = t.value(
        "parameters", nlohmann::json{{"type", "object"}, {"properties", nlohmann::json::object()}});
    try {
      // Compiled once here, so that a schema no request could carry fails at load time.
      (void)jsonschema::Validator::compile(tool["parameters"]);
    } catch (const jsonschema::SchemaError& e) {
      errors.emplace_back(display_path, map.value_position(pointer + "/parameters"),
                          util::pointer_to_display(pointer + "/parameters") + ": " + e.what());
    }
    tools->push_back(std::move(tool));
  }
  return tools;
}

} // namespace

nlohmann::ordered_json tools_to_json(const nlohmann::json& tools) {
  using ordered = nlohmann::ordered_json;
  ordered out = ordered::array();
  for (const auto& t : tools) {
    ordered tool = ordered::object();
    tool["name"] = t.value("name", "");
    if (auto it = t.find("description"); it != t.end()) {
      tool["description"] = *it;
    }
    // Through text: it replaces bytes that are not UTF-8 instead of throwing later.
    tool["parameters"] =
        ordered::parse(t.value("parameters", nlohmann::json::object())
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    out.push_back(std::move(tool));
  }
  return out;
}

std::vector<std::string> Prompt::template_variables() const {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    add_unique(out, m.compiled.variables());
  }
  if (text) {
    add_unique(out, text->variables());
  }
  return out;
}

std::vector<std::string> Prompt::template_partials() const {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    add_unique(out, m.compiled.partials());
  }
  if (text) {
    add_unique(out, text->partials());
  }
  return out;
}

Prompt parse_prompt(std::string_view name, std::string_view text, const std::string& path,
                    const std::string& display_path) {
  util::ParsedDocument doc = util::parse_yaml(text, display_path);
  if (doc.value.is_null()) {
    throw InputError(display_path, {1, 1},
                     "empty prompt file: it needs \"messages:\" or \"template:\"");
  }
  throw_if_any(check_document(doc.value, doc.source_map, "prompt.schema.json", display_path));

  const nlohmann::json& v = doc.value;
  const bool has_messages = v.contains("messages");
  const bool has_template = v.contains("template");
  if (has_messages == has_template) {
    throw InputError(display_path,
                     has_messages ? doc.source_map.key_position("/template") : SourcePosition{1, 1},
                     has_messages
                         ? "a prompt has \"messages:\" (chat) or \"template:\" (text), not both"
                         : "a prompt needs \"messages:\" (chat) or \"template:\" (text)");
  }

  Prompt p;
  p.name = std::string(name);
  p.path = path;
  p.display_path = display_path;
  p.file_content = std::string(text);
  p.description = v.value("description", "");
  p.provider = v.value("provider", "");
  p.provider_position = doc.source_map.value_position("/provider");
  p.model = v.value("model", "");
  p.params = v.value("params", nlohmann::json::object());
  p.escape = v.value("escape", "none") == "html" ? mustache::Escape::html : mustache::Escape::none;
  p.tags = v.value("tags", nlohmann::json::array());
  p.metadata = v.value("metadata", nlohmann::json::object());
  p.output_schema = v.value("output_schema", "");
  p.output_schema_position = doc.source_map.value_position("/output_schema");

  std::vector<InputError> errors;
  if (has_messages) {
    p.kind = PromptKind::chat;
    const auto& messages = v.at("messages");
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::string pointer =
          util::pointer_append(util::pointer_append("/messages", i), "content");
      const std::string content = messages[i].at("content").get<std::string>();
      try {
        p.messages.push_back({messages[i].at("role").get<std::string>(), content,
                              compile(content, display_path, doc.source_map, pointer)});
      } catch (const InputError& e) {
        errors.push_back(e);
      }
    }
  } else {
    p.kind = PromptKind::text;
    p.text_source = v.at("template").get<std::string>();
    try {
      p.text = compile(p.text_source, display_path, doc.source_map, "/template");
    } catch (const InputError& e) {
      errors.push_back(e);
    }
  }
  if (auto it = v.find("input"); it != v.end()) {
    p.required = variables(*it, "required", doc.source_map);
    p.optional = variables(*it, "optional", doc.source_map);
    for (const auto& r : p.required) {
      for (const auto& o : p.optional) {
        if (r.name == o.name) {
          errors.emplace_back(display_path, o.position,
                              "variable \"" + o.name + "\" is both required and optional");
        }
      }
    }
  }
  if (auto it = v.find("tools"); it != v.end()) {
    p.tools = parse_tools(*it, display_path, doc.source_map, errors);
  }
  throw_if_any(std::move(errors));
  return p;
}

} // namespace promptops::registry
