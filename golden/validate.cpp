#include "golden/validate.hpp"

#include "evaluators/evaluator.hpp"
#include "golden/judge_prompt.hpp"
#include "golden/schema_options.hpp"
#include "golden/suite.hpp"
#include "jsonschema/validator.hpp"
#include "mustache/template.hpp"
#include "registry/render.hpp"
#include "util/json_fields.hpp"
#include "util/json_pointer.hpp"
#include "util/suggest.hpp"
#include "util/yaml_json.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace promptops::golden {

namespace {

using registry::Registry;

void collect(ValidationReport& report, const Error& e) {
  if (const auto* many = dynamic_cast<const InputErrors*>(&e)) {
    report.errors.insert(report.errors.end(), many->errors().begin(), many->errors().end());
  } else if (const auto* one = dynamic_cast<const InputError*>(&e)) {
    report.errors.push_back(*one);
  } else {
    report.errors.emplace_back(e.what());
  }
}

// Variables a prompt's templates and partials look up.
std::set<std::string> used_variables(const registry::ResolvedPrompt& r) {
  std::set<std::string> used;
  for (const auto& v : r.prompt.template_variables()) {
    used.insert(v);
  }
  for (const auto& [name, text] : r.partials) {
    for (const auto& v : mustache::Template::parse(text).variables()) {
      used.insert(v);
    }
  }
  return used;
}

void check_prompt(const Registry& registry, const registry::ResolvedPrompt& r,
                  ValidationReport& report) {
  const registry::Prompt& p = r.prompt;
  if (!p.provider.empty() && !registry.config().find_provider(p.provider)) {
    report.errors.emplace_back(
        p.display_path, p.provider_position,
        "unknown provider \"" + p.provider + "\"" +
            util::did_you_mean(p.provider, registry.config().provider_names()) +
            " (providers are defined in " + registry.config().display_path + ")");
  }
  const std::set<std::string> used = used_variables(r);
  const std::vector<std::string> used_list(used.begin(), used.end());
  for (const auto& v : p.required) {
    if (used.count(v.name) == 0) {
      report.errors.emplace_back(p.display_path, v.position,
                                 "required variable \"" + v.name +
                                     "\" is not used by any template of the prompt" +
                                     util::did_you_mean(v.name, used_list));
    }
  }
}

void check_schema_file(const Registry& registry, const std::string& path,
                       ValidationReport& report) {
  const std::string shown = registry.display(path);
  try {
    auto text = registry.work_tree().read(path);
    const nlohmann::json schema = util::parse_json(*text, shown);
    jsonschema::Validator::compile(schema, registry_schema_options(registry, path));
  } catch (const jsonschema::SchemaError& e) {
    report.errors.emplace_back(shown, SourcePosition{},
                               std::string("invalid JSON Schema: ") + e.what());
  } catch (const Error& e) {
    collect(report, e);
  }
}

// Checks of one evaluator entry that its schema cannot express. `position` is the entry's;
// with `source_map`, an option's own position is found at `pointer` + "/" + its name (a
// suite's YAML), without it every problem is at `position` (a line of the .jsonl cases).
void check_evaluator(const Registry& registry, const nlohmann::json& evaluator,
                     const registry::ResolvedPrompt* prompt, const std::string& display_path,
                     SourcePosition position, const util::SourceMap* source_map,
                     const std::string& pointer, ValidationReport& report) {
  const auto at = [&](const char* key) {
    return source_map != nullptr && evaluator.contains(key)
               ? source_map->value_position(util::pointer_append(pointer, key))
               : position;
  };
  // What evaluate() and the runner refuse beyond the schema: a regex RE2 cannot compile, a
  // `path` that is not a JSON Pointer ("/a~2" passes the schema's pattern).
  try {
    evaluators::check_spec(evaluator, "");
  } catch (const InputError& e) {
    const std::string& problem = e.problem();
    const SourcePosition where = problem.rfind("invalid regex", 0) == 0 ? at("pattern")
                                 : problem.rfind("\"path\"", 0) == 0    ? at("path")
                                                                        : position;
    report.errors.emplace_back(display_path, where, problem);
    return;
  }
  const std::string type = util::string_field(evaluator, "type");
  if (type == "llm_judge") {
    const std::string provider = util::string_field(evaluator, "provider");
    if (!registry.config().find_provider(provider)) {
      report.errors.emplace_back(
          display_path, at("provider"),
          "unknown judge provider \"" + provider + "\"" +
              util::did_you_mean(provider, registry.config().provider_names()));
    }
    // `prompt:` names a prompt of the registry or a built-in judge prompt, as the runner
    // loads it (load_judge_prompt says "unknown judge prompt", with "did you mean").
    if (evaluator.contains("prompt")) {
      const std::string name = util::string_field(evaluator, "prompt");
      const auto names = registry.prompt_names();
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        try {
          load_judge_prompt(registry, name);
        } catch (const InputError& e) {
          report.errors.emplace_back(display_path, at("prompt"), e.problem());
        } catch (const Error& e) {
          collect(report, e);
        }
      }
    }
  } else if (type == "json_schema") {
    if (auto it = evaluator.find("schema"); it != evaluator.end()) {
      const std::filesystem::path written(it->get<std::string>());
      const std::string path = written.lexically_normal().generic_string();
      std::optional<std::string> text;
      if (written.is_absolute() || path.rfind("..", 0) == 0) {
        report.errors.emplace_back(
            display_path, at("schema"),
            "schema \"" + written.string() +
                "\" must be a path inside the registry, relative to its root");
      } else if (!(text = registry.work_tree().read(path))) {
        report.errors.emplace_back(display_path, at("schema"),
                                   "schema \"" + it->get<std::string>() + "\" not found (no file " +
                                       registry.display(path) + ")");
      } else {
        // Compiled as the runner compiles it. An invalid schema is reported here, at the
        // evaluator that uses it (its file has no line to point at); files under schemas/ are
        // also reported on their own.
        try {
          const nlohmann::json schema = util::parse_json(*text, registry.display(path));
          jsonschema::Validator::compile(schema, registry_schema_options(registry, path));
        } catch (const jsonschema::SchemaError& e) {
          report.errors.emplace_back(display_path, at("schema"),
                                     "schema \"" + it->get<std::string>() +
                                         "\" is not a valid JSON Schema: " + e.what());
        } catch (const Error& e) {
          collect(report, e); // not JSON: at the line and column of the schema file
        }
      }
    } else if (prompt && prompt->prompt.output_schema.empty()) {
      report.errors.emplace_back(display_path, position,
                                 "json_schema evaluator needs \"schema:\", since prompt \"" +
                                     prompt->prompt.name + "\" has no output_schema");
    }
  }
}

void check_suite(const Registry& registry, const std::string& name,
                 std::map<std::string, registry::ResolvedPrompt>& prompts,
                 ValidationReport& report) {
  const std::string path = "golden/" + name + ".yaml";
  const std::string shown = registry.display(path);
  Suite suite;
  try {
    auto text = registry.work_tree().read(path);
    suite = parse_suite(name, *text, path, shown, registry.config());
  } catch (const Error& e) {
    collect(report, e);
    return;
  }
  ++report.suites;

  // The prompts this suite runs: resolved once each (work tree or @HEAD).
  std::vector<const registry::ResolvedPrompt*> resolved;
  for (const auto& candidate : suite.candidates) {
    const std::string key = candidate.prompt.name + "@" + candidate.prompt.ref;
    auto it = prompts.find(key);
    if (it == prompts.end()) {
      try {
        it = prompts.emplace(key, registry.resolve(candidate.prompt)).first;
      } catch (const InputError& e) {
        // An error inside the prompt's own files names them; one about the reference itself
        // (unknown prompt, bad ref) belongs at the suite's line.
        if (e.path().empty()) {
          report.errors.emplace_back(shown, candidate.position, e.problem());
        } else {
          report.errors.push_back(e);
        }
        continue;
      } catch (const InputErrors& e) {
        collect(report, e);
        continue;
      } catch (const Error& e) {
        collect(report, e);
        continue;
      }
    }
    if (candidate.provider.empty() && it->second.prompt.provider.empty() &&
        !registry.config().find_provider("default")) {
      report.errors.emplace_back(shown, candidate.position,
                                 "no provider for prompt \"" + candidate.prompt.name +
                                     "\": list it under \"providers:\", give the prompt a "
                                     "\"provider:\", or define a provider named \"default\"");
    }
    if (std::find(resolved.begin(), resolved.end(), &it->second) == resolved.end()) {
      resolved.push_back(&it->second);
    }
  }
  for (std::size_t i = 0; i < suite.evaluators.size(); ++i) {
    const SourcePosition position =
        suite.source_map.value_position(util::pointer_append("/evaluators", i));
    for (const auto* prompt : resolved) {
      check_evaluator(registry, suite.evaluators[i], prompt, shown, position, &suite.source_map,
                      util::pointer_append("/evaluators", i), report);
    }
  }

  const std::string cases_shown = registry.display(suite.cases_path);
  std::optional<std::string> text;
  try {
    text = registry.work_tree().read(suite.cases_path);
  } catch (const Error& e) {
    collect(report, e);
    return;
  }
  if (!text) {
    report.errors.emplace_back(shown, suite.cases_position,
                               "cases file not found (no file " + cases_shown + ")");
    return;
  }
  CaseFile cases = parse_cases(*text, cases_shown);
  report.errors.insert(report.errors.end(), cases.errors.begin(), cases.errors.end());
  report.cases += cases.cases.size();
  if (cases.cases.empty() && cases.errors.empty()) {
    report.errors.emplace_back(cases_shown, SourcePosition{},
                               "no cases: write one JSON object a line");
  }
  for (const auto& c : cases.cases) {
    const SourcePosition at{c.line, 1};
    const std::string context = "case \"" + c.id + "\" (" + format_location(cases_shown, at) + ")";
    for (const auto* prompt : resolved) {
      bool complete = true;
      for (const auto& required : prompt->prompt.required) {
        auto it = c.vars.find(required.name);
        if (it == c.vars.end() || it->is_null()) {
          report.errors.emplace_back(cases_shown, at,
                                     "case \"" + c.id + "\": missing required variable \"" +
                                         required.name + "\" for prompt \"" + prompt->prompt.name +
                                         "\"");
          complete = false;
        }
      }
      if (complete) {
        try {
          registry::render_prompt(*prompt, registry.config(), c.vars, context);
        } catch (const Error& e) {
          collect(report, e);
        }
      }
    }
    for (const auto& evaluator : c.evaluators) {
      for (const auto* prompt : resolved) {
        check_evaluator(registry, evaluator, prompt, cases_shown, at, nullptr, "", report);
      }
    }
  }
}

} // namespace

ValidationReport validate_registry(const Registry& registry) {
  ValidationReport report;
  const registry::Source& tree = registry.work_tree();

  std::map<std::string, registry::ResolvedPrompt> prompts; // "name@ref" -> resolved
  for (const auto& name : registry.prompt_names()) {
    ++report.prompts;
    try {
      try {
        registry::check_name(name, "prompt");
      } catch (const InputError& e) {
        throw InputError(registry.display(registry::prompt_path(name)), {}, e.problem());
      }
      auto resolved = registry.resolve({name, ""});
      check_prompt(registry, resolved, report);
      prompts.emplace(name + "@", std::move(resolved));
    } catch (const Error& e) {
      collect(report, e);
    }
  }
  for (const auto& name : registry.partial_names()) {
    ++report.partials;
    const std::string path = registry::partial_path(name);
    try {
      registry::check_name(name, "partial");
      auto text = tree.read(path);
      mustache::Template::parse(*text);
    } catch (const mustache::TemplateSyntaxError& e) {
      report.errors.emplace_back(registry.display(path), SourcePosition{e.line(), e.column()},
                                 e.problem());
    } catch (const Error& e) {
      collect(report, e);
    }
  }
  for (const auto& path : tree.list("schemas", ".json")) {
    ++report.schemas;
    check_schema_file(registry, path, report);
  }
  for (const auto& name : suite_names_from_paths(tree.list("golden", ".yaml"))) {
    check_suite(registry, name, prompts, report);
  }

  // One message per problem, in file order.
  std::vector<InputError> unique;
  std::set<std::string> seen;
  for (auto& e : report.errors) {
    if (seen.insert(e.what()).second) {
      unique.push_back(std::move(e));
    }
  }
  std::stable_sort(unique.begin(), unique.end(),
                   [](const InputError& a, const InputError& b) { return a.path() < b.path(); });
  report.errors = std::move(unique);
  return report;
}

} // namespace promptops::golden
