#include "golden/suite.hpp"

#include "registry/document_check.hpp"
#include "util/json_lines.hpp"
#include "util/json_pointer.hpp"
#include "util/lines.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"

#include <filesystem>
#include <set>

namespace promptops::golden {

Suite parse_suite(std::string_view name, std::string_view text, const std::string& path,
                  const std::string& display_path, const registry::Config& config) {
  util::ParsedDocument doc = util::parse_yaml(text, display_path);
  if (doc.value.is_null()) {
    throw InputError(display_path, {1, 1},
                     "empty suite: it needs at least \"prompt:\" and \"cases:\"");
  }
  throw_if_any(
      registry::check_document(doc.value, doc.source_map, "suite.schema.json", display_path));
  const nlohmann::json& v = doc.value;

  Suite s;
  s.name = std::string(name);
  s.path = path;
  s.display_path = display_path;
  s.evaluators = v.value("evaluators", nlohmann::json::array());
  if (const auto allow = v.find("allow"); allow != v.end() && allow->is_array()) {
    for (const auto& word : *allow) {
      // The schema has checked the words.
      if (auto a = word.is_string() ? reply::allowance_from_string(word.get<std::string>())
                                    : std::nullopt) {
        s.allow.insert(*a);
      }
    }
  }
  if (auto it = v.find("gate"); it != v.end()) {
    s.gate = registry::gate_from_json(*it);
  }
  // cases: is relative to the suite file.
  const std::filesystem::path cases =
      std::filesystem::path(path).parent_path() / v.at("cases").get<std::string>();
  s.cases_path = cases.lexically_normal().generic_string();
  s.cases_position = doc.source_map.value_position("/cases");

  std::vector<InputError> errors;
  if (cases.is_absolute() || s.cases_path.rfind("..", 0) == 0) {
    errors.emplace_back(display_path, s.cases_position,
                        "cases file \"" + v.at("cases").get<std::string>() +
                            "\" must be inside the registry");
  }
  const bool has_prompt = v.contains("prompt");
  const bool has_candidates = v.contains("candidates");
  if (has_prompt == has_candidates) {
    errors.emplace_back(display_path,
                        has_candidates ? doc.source_map.key_position("/candidates")
                                       : SourcePosition{1, 1},
                        has_prompt ? "a suite has \"prompt:\" (with \"providers:\") or "
                                     "\"candidates:\", not both"
                                   : "a suite needs \"prompt:\" (with \"providers:\") or "
                                     "\"candidates:\"");
    throw_if_any(std::move(errors));
  }
  if (has_candidates && v.contains("providers")) {
    errors.emplace_back(display_path, doc.source_map.key_position("/providers"),
                        "\"providers:\" goes with \"prompt:\"; each candidate names its provider");
  }

  auto add_candidate = [&](const std::string& prompt, const std::string& provider,
                           const std::string& prompt_pointer, const std::string& provider_pointer) {
    Candidate c;
    c.position = doc.source_map.value_position(prompt_pointer);
    try {
      c.prompt = registry::parse_prompt_ref(prompt);
    } catch (const InputError& e) {
      errors.emplace_back(display_path, c.position, e.problem());
      return;
    }
    c.provider = provider;
    if (!provider.empty() && !config.find_provider(provider)) {
      errors.emplace_back(display_path, doc.source_map.value_position(provider_pointer),
                          "unknown provider \"" + provider + "\"" +
                              util::did_you_mean(provider, config.provider_names()) +
                              " (providers are defined in " + config.display_path + ")");
      return;
    }
    s.candidates.push_back(std::move(c));
  };
  if (has_prompt) {
    const std::string prompt = v.at("prompt").get<std::string>();
    if (auto it = v.find("providers"); it != v.end()) {
      for (std::size_t i = 0; i < it->size(); ++i) {
        add_candidate(prompt, (*it)[i].get<std::string>(), "/prompt",
                      util::pointer_append("/providers", i));
      }
    } else {
      add_candidate(prompt, "", "/prompt", "/prompt"); // the prompt's own provider
    }
  } else {
    const auto& list = v.at("candidates");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string base = util::pointer_append("/candidates", i);
      add_candidate(list[i].at("prompt").get<std::string>(),
                    list[i].at("provider").get<std::string>(), util::pointer_append(base, "prompt"),
                    util::pointer_append(base, "provider"));
    }
  }
  s.source_map = std::move(doc.source_map);
  throw_if_any(std::move(errors));
  return s;
}

CaseFile parse_cases(std::string_view text, const std::string& display_path) {
  CaseFile out;
  std::set<std::string> ids;
  util::for_each_line(text, [&](std::size_t line_number, std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      return;
    }
    // nlohmann copies and destroys values recursively: a line nested 100,000 deep would
    // overflow the stack. Nesting that deep needs more than 2 bytes a level.
    namespace text = util::text;
    if (line.size() > 2 * text::k_max_json_depth &&
        text::nests_deeper(line, text::k_max_json_depth)) {
      out.errors.emplace_back(display_path, SourcePosition{line_number, 1},
                              "the case nests brackets more than " +
                                  std::to_string(text::k_max_json_depth) + " levels deep");
      return;
    }
    nlohmann::json value;
    try {
      if (!util::parse_json(line, value)) {
        value = nlohmann::json::parse(line); // throws, saying where
      }
    } catch (const nlohmann::json::parse_error& e) {
      std::string what = e.what();
      auto cut = what.find("syntax error while parsing");
      const auto at = util::position_of_offset(line, e.byte > 0 ? e.byte - 1 : 0);
      out.errors.emplace_back(display_path, SourcePosition{line_number, at.column},
                              "invalid JSON: " + (cut != std::string::npos
                                                      ? what.substr(cut)
                                                      : std::string("parse error")));
      return;
    } catch (const nlohmann::json::out_of_range&) { // a number beyond a double: 1e400
      out.errors.emplace_back(display_path, SourcePosition{line_number, 1},
                              "invalid JSON: a number too large");
      return;
    }
    util::SourceMap map; // every problem of a JSON line is reported at the line
    map.set_value("", {line_number, 1});
    auto problems = registry::check_document(value, map, "case.schema.json", display_path);
    if (!problems.empty()) {
      out.errors.insert(out.errors.end(), problems.begin(), problems.end());
      return;
    }
    Case c;
    c.id = value.at("id").get<std::string>();
    c.vars = value.value("vars", nlohmann::json::object());
    c.expected = value.value("expected", nlohmann::json());
    c.tags = value.value("tags", nlohmann::json::array());
    c.evaluators = value.value("evaluators", nlohmann::json::array());
    c.line = line_number;
    // Case data often comes from others (a shared dataset): it must not run commands.
    for (const auto& e : c.evaluators) {
      if (e.value("type", "") == "exec") {
        out.errors.emplace_back(display_path, SourcePosition{line_number, 1},
                                "case \"" + c.id +
                                    "\": a case may not run a command (an exec evaluator); "
                                    "put it in the suite's evaluators");
        return;
      }
    }
    if (!ids.insert(c.id).second) {
      out.errors.emplace_back(display_path, SourcePosition{line_number, 1},
                              "duplicate case id \"" + c.id + "\"");
      return;
    }
    out.cases.push_back(std::move(c));
  });
  return out;
}

std::vector<std::string> suite_names_from_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  for (const auto& p : paths) {
    std::string name = p.substr(std::string("golden/").size());
    name.resize(name.size() - std::string(".yaml").size());
    if (name.rfind("baselines/", 0) != 0) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

} // namespace promptops::golden
