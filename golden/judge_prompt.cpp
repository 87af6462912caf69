#include "golden/judge_prompt.hpp"

#include "golden/builtin_judge_files.hpp"
#include "registry/prompt.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

#include <algorithm>

namespace promptops::golden {
namespace {

// The built-in files as a registry source, so that they load exactly like a registry's.
class BuiltinSource final : public registry::Source {
public:
  std::optional<std::string> read(std::string_view path) const override {
    for (const auto& f : builtin_judge_files()) {
      if (f.path == path) {
        return std::string(f.text);
      }
    }
    return std::nullopt;
  }
  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override {
    std::vector<std::string> out;
    for (const auto& f : builtin_judge_files()) {
      if (f.path.rfind(std::string(dir) + "/", 0) == 0 && f.path.size() >= suffix.size() &&
          f.path.compare(f.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.emplace_back(f.path);
      }
    }
    return out;
  }
  std::string display(std::string_view path) const override {
    return "(built-in) " + std::string(path);
  }
};

// The built-in prompt `name`, or InputError listing what `names` and the built-ins offer.
registry::ResolvedPrompt builtin_judge_prompt(const std::string& name,
                                              const std::vector<std::string>& names) {
  static const BuiltinSource builtin;
  const std::string path = registry::prompt_path(name);
  const auto text = builtin.read(path);
  if (!text) {
    std::vector<std::string> known = names;
    for (const auto& p : builtin.list("prompts", ".yaml")) {
      known.push_back(p.substr(8, p.size() - 13)); // "prompts/" ... ".yaml"
    }
    throw InputError("unknown judge prompt \"" + name + "\"" + util::did_you_mean(name, known));
  }
  registry::Prompt prompt = registry::parse_prompt(name, *text, path, builtin.display(path));
  return registry::resolve_prompt(std::move(prompt), builtin, "built-in");
}

} // namespace

registry::ResolvedPrompt load_judge_prompt(const registry::Registry& registry,
                                           const std::string& name) {
  const auto names = registry.prompt_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) {
    return registry.resolve({name, ""});
  }
  return builtin_judge_prompt(name, names);
}

registry::ResolvedPrompt load_judge_prompt(const registry::Source& source, const std::string& ref,
                                           const std::string& name) {
  const auto names = registry::prompt_names(source);
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return builtin_judge_prompt(name, names);
  }
  const std::string path = registry::prompt_path(name);
  registry::Prompt prompt =
      registry::parse_prompt(name, source.read(path).value_or(""), path, source.display(path));
  return registry::resolve_prompt(std::move(prompt), source, ref);
}

} // namespace promptops::golden
