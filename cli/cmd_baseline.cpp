#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/reports.hpp"
#include "golden/baseline.hpp"
#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/terminal.hpp"

#include <chrono>

namespace promptops::cli {
namespace {

void print_recorded(const std::vector<golden::RecordedBaseline>& written, const std::string& verb) {
  for (const auto& b : written) {
    print(verb + " " + b.shown + " (" + std::to_string(b.cases) + " cases" +
          (b.replaced ? ", replacing the old one" : "") + ")\n");
  }
  print_note("commit golden/baselines/ so that every run compares with it");
}

} // namespace

Action add_baseline(CLI::App& app) {
  // A new run's options bound straight to the runner's; `test.suites` also names the suites
  // that --from and accept record.
  struct Options {
    std::string action;
    golden::TestOptions test;
    std::string from;
    bool no_cache = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "baseline", "Record a suite's outputs as the baseline every run is compared with");
  cmd->require_subcommand(1);
  auto* record = cmd->add_subcommand(
      "record", "Run the suites (or take run --from RUN) and write golden/baselines/ from it");
  record->add_option("suites", options->test.suites, "Suites (names under golden/); default: all")
      ->type_name("SUITE");
  record->add_option("--from", options->from, "Record this run instead of running the suites")
      ->type_name("RUN");
  record->add_option("--provider", options->test.provider, "Only the candidates on this provider")
      ->type_name("NAME");
  record->add_option("--concurrency", options->test.concurrency, "Requests in flight per provider")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  record->add_flag("--no-cache", options->no_cache, "Ask the providers again");
  record->callback([options] { options->action = "record"; });
  auto* accept = cmd->add_subcommand(
      "accept", "Take the latest run (or --from RUN) in as the baseline, after reviewing it");
  accept->add_option("suites", options->test.suites, "Suites; default: every suite of the run")
      ->type_name("SUITE");
  accept->add_option("--from", options->from, "The run to accept (default: the latest)")
      ->type_name("RUN");
  accept->callback([options] { options->action = "accept"; });

  return [options] {
    const auto registry = registry::Registry::open(".");
    if (options->action == "accept") {
      const std::filesystem::path dir = golden::run_folder(registry, options->from, " to accept");
      print_recorded(golden::record_baselines(registry, dir, options->test.suites),
                     "accepted run " + dir.filename().string() + " as");
      return 0;
    }
    if (!options->from.empty()) {
      if (!options->test.provider.empty() || options->test.concurrency != 0 || options->no_cache) {
        throw UsageError("--from records a run as it is: --provider, --concurrency and "
                         "--no-cache are for a new run");
      }
      print_recorded(golden::record_baselines(registry, golden::run_folder(registry, options->from),
                                              options->test.suites),
                     "recorded");
      return 0;
    }
    golden::TestOptions& test = options->test;
    test.use_cache = !options->no_cache;
    test.on_warning = [](const std::string& warning) {
      print_note("promptops: warning: " + warning + "\n");
    };
    const auto started = std::chrono::steady_clock::now();
    const golden::RunOutcome outcome = golden::run_tests(registry, test);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    print_outcome(registry, outcome, seconds, false);
    // The gate's verdict does not matter here: a baseline records what the prompts do now.
    print_recorded(golden::record_baselines(registry, outcome.dir, {}), "recorded");
    return 0;
  };
}

} // namespace promptops::cli
