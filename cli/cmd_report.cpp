#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/reports.hpp"
#include "golden/baseline.hpp"
#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/against.hpp"
#include "report/run_record.hpp"
#include "report/terminal.hpp"
#include "util/free_at_exit.hpp"

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

namespace promptops::cli {
namespace {

// Seconds between two of the run's "YYYY-MM-DDTHH:MM:SSZ" stamps (0 when either is missing).
double seconds_between(const std::string& from, const std::string& to) {
  const auto parse = [](const std::string& stamp) -> std::time_t {
    std::tm tm{};
    if (stamp.size() < 19 ||
        std::sscanf(stamp.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
      return 0;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
  };
  const std::time_t a = parse(from);
  const std::time_t b = parse(to);
  return a == 0 || b == 0 ? 0 : std::difftime(b, a);
}

// The stored run `id` (an id under .promptops/runs; "" : the newest), read. Exit 2 when there
// is no such run, or it did not finish (no summary.json).
report::RunRecord stored_run(const registry::Registry& registry, const std::string& id) {
  return report::load_run(golden::run_folder(registry, id));
}

} // namespace

Action add_report(CLI::App& app) {
  struct Options {
    std::string run;
    std::string against;
    bool json = false;
    ReportFiles reports;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("report", "Show a stored run again, or write its reports");
  cmd->add_option("run", options->run, "The run (an id under .promptops/runs); default: the latest")
      ->type_name("RUN");
  auto* against_option =
      cmd->add_option("--against", options->against,
                      "Compare with stored run OTHER instead of the baselines, as if its outputs "
                      "were the baseline")
          ->type_name("OTHER");
  cmd->add_flag("--json", options->json, "Print summary.json instead of the table");
  options->reports.add_options(cmd);
  return [options, against_option] {
    if (against_option->count() > 0 && options->against.empty()) {
      throw UsageError("--against takes the id of a run under .promptops/runs");
    }
    const auto registry = registry::Registry::open(".");
    report::RunRecord run = stored_run(registry, options->run);
    std::optional<report::BaselineOutputs> other_outputs;
    if (!options->against.empty()) {
      report::AgainstRun against = report::compare_runs(
          std::move(run), stored_run(registry, options->against), registry.config());
      run = std::move(against.record);
      other_outputs = std::move(against.baseline);
    }
    write_reports(registry, run, options->reports, other_outputs ? &*other_outputs : nullptr);
    golden::RunOutcome outcome;
    outcome.run_id = run.run_id;
    for (const golden::CaseResult& r : run.results) {
      if (auto failure = golden::failure_of(r)) {
        outcome.failures.push_back(std::move(*failure));
      }
    }
    outcome.requests_sent = run.summary.requests;
    outcome.cached = run.summary.cached;
    outcome.interrupted = run.summary.interrupted;
    // The exit code is the run's verdict (against OTHER with --against), with --json too, so
    // that `promptops report` can gate in CI like `promptops test`.
    outcome.exit_code = golden::exit_code(run.summary);
    const double seconds = seconds_between(run.run.started, run.summary.finished);
    outcome.summary = std::move(run.summary);
    print_outcome(registry, outcome, seconds, options->json);
    util::free_at_exit(std::move(run));
    return outcome.exit_code;
  };
}

} // namespace promptops::cli
