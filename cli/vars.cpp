#include "cli/vars.hpp"

#include "util/error.hpp"
#include "util/file.hpp"
#include "util/yaml_json.hpp"

namespace promptops::cli {

nlohmann::json build_vars(const std::string& vars_file, const std::vector<std::string>& flags) {
  nlohmann::json vars = nlohmann::json::object();
  if (!vars_file.empty()) {
    const std::string text = util::read_file(vars_file, vars_file);
    const bool yaml = vars_file.ends_with(".yaml") || vars_file.ends_with(".yml");
    vars = yaml ? util::parse_yaml(text, vars_file).value : util::parse_json(text, vars_file);
    if (!vars.is_object()) {
      throw InputError(vars_file, {1, 1},
                       "variables must be an object, e.g. {\"ticket\": \"...\"}");
    }
  }
  for (const auto& flag : flags) {
    const auto eq = flag.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--var \"" + flag + "\": expected NAME=VALUE");
    }
    const std::string name = flag.substr(0, eq);
    nlohmann::json* target = &vars;
    std::size_t start = 0;
    for (;;) {
      const auto dot = name.find('.', start);
      const std::string key = name.substr(start, dot == std::string::npos ? dot : dot - start);
      if (key.empty()) {
        throw UsageError("--var \"" + flag + "\": empty name segment");
      }
      if (dot == std::string::npos) {
        (*target)[key] = flag.substr(eq + 1);
        break;
      }
      nlohmann::json& next = (*target)[key];
      if (next.is_null()) {
        next = nlohmann::json::object();
      } else if (!next.is_object()) {
        throw UsageError("--var \"" + flag + "\": \"" + name.substr(0, dot) +
                         "\" is already set to a value that is not an object");
      }
      target = &next;
      start = dot + 1;
    }
  }
  return vars;
}

} // namespace promptops::cli
