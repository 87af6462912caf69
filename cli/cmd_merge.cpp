#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/reports.hpp"
#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/terminal.hpp"

#include <chrono>

namespace promptops::cli {

Action add_merge(CLI::App& app) {
  struct Options {
    std::vector<std::string> runs;
    bool json = false;
    ReportFiles reports;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "merge", "Join the runs of --shard 1/N ... N/N into one run, report and gate");
  cmd->add_option("runs", options->runs, "The shard runs (ids under .promptops/runs)")
      ->type_name("RUN")
      ->required();
  cmd->add_flag("--json", options->json, "Print summary.json instead of the table");
  options->reports.add_options(cmd);
  return [options] {
    const auto registry = registry::Registry::open(".");
    const auto started = std::chrono::steady_clock::now();
    golden::RunOutcome outcome = golden::merge_runs(registry, options->runs);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    write_reports(registry, outcome.dir, options->reports);
    print_outcome(registry, outcome, seconds, options->json);
    return outcome.exit_code;
  };
}

} // namespace promptops::cli
