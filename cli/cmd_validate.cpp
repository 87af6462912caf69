#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "golden/validate.hpp"
#include "registry/init.hpp"
#include "registry/registry.hpp"

#include <cstdio>

namespace promptops::cli {

namespace {
std::string count(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}
} // namespace

Action add_validate(CLI::App& app) {
  app.add_subcommand("validate",
                     "Check every registry file and what refers to what; exit 2 on any problem");
  return [] {
    const auto registry = registry::Registry::open(".");
    // Keep the editors' schemas in step with this binary; a read-only tree is fine.
    registry::write_editor_schemas(registry.root());
    const auto report = golden::validate_registry(registry);
    for (const auto& e : report.errors) {
      std::fprintf(stderr, "promptops: error: %s\n", e.what());
    }
    const std::string what = count(report.prompts, "prompt", "prompts") + ", " +
                             count(report.partials, "partial", "partials") + ", " +
                             count(report.schemas, "schema", "schemas") + ", " +
                             count(report.suites, "suite", "suites") + ", " +
                             count(report.cases, "case", "cases");
    if (!report.errors.empty()) {
      print_note(count(report.errors.size(), "problem", "problems") + " in " + what + "\n");
      return 2;
    }
    print("ok: " + what + "\n");
    return 0;
  };
}

} // namespace promptops::cli
