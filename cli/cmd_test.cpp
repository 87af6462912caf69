#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/reports.hpp"
#include "golden/runner.hpp"
#include "registry/registry.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <signal.h>

namespace promptops::cli {
namespace {

std::atomic<bool> g_stop{false};

// The first Ctrl-C stops the run cleanly (finished cases are kept, --resume completes it);
// a second one kills at once.
void on_interrupt(int) {
  g_stop.store(true);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

} // namespace

Action add_test(CLI::App& app) {
  // Bound straight to the runner's options; what has no field there (the shard as text, the
  // output choices) is kept beside them.
  struct Options {
    golden::TestOptions test;
    bool no_cache = false;
    bool json = false;
    ReportFiles reports;
    std::string shard;
  };
  auto options = std::make_shared<Options>();
  golden::TestOptions& bound = options->test;
  auto* cmd = app.add_subcommand(
      "test", "Run suites' cases against their providers, score them and check the gates");
  cmd->add_option("suites", bound.suites, "Suites to run (names under golden/); default: all")
      ->type_name("SUITE");
  cmd->add_option("--provider", bound.provider, "Only the candidates on this provider")
      ->type_name("NAME");
  cmd->add_option("--filter", bound.filters,
                  "Only cases with this id or tag (repeatable: any of them)")
      ->type_name("TAG|ID");
  cmd->add_option("--concurrency", bound.concurrency,
                  "Requests in flight per provider (overrides each provider's concurrency)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-cache", options->no_cache,
                "Ask the providers again instead of reusing cached replies");
  cmd->add_option("--resume", bound.resume,
                  "Finish run RUN (e.g. one that was killed): only its missing cases run")
      ->type_name("RUN");
  cmd->add_option("--prompt", bound.prompt_override,
                  "Run the suites' candidates of prompt NAME at REF instead (e.g. @staging, @v3)")
      ->type_name("NAME@REF");
  cmd->add_option("--shard", options->shard,
                  "Run share I of N of the cases (1 <= I <= N), for N parallel CI jobs; "
                  "promptops merge joins their runs")
      ->type_name("I/N");
  cmd->add_flag("--json", options->json, "Print summary.json instead of the table");
  options->reports.add_options(cmd);
  return [options] {
    const auto registry = registry::Registry::open(".");
    golden::TestOptions& test = options->test;
    test.use_cache = !options->no_cache;
    if (!options->shard.empty()) {
      int i = 0;
      int n = 0;
      char end = 0;
      if (std::sscanf(options->shard.c_str(), "%d/%d%c", &i, &n, &end) != 2 || n < 1 || i < 1 ||
          i > n) {
        throw UsageError("--shard takes I/N with 1 <= I <= N, e.g. 2/4; not \"" + options->shard +
                         "\"");
      }
      test.shard_index = i;
      test.shard_count = n;
    }
    test.stop = &g_stop;
    if (!test.resume.empty() &&
        (!test.suites.empty() || !test.provider.empty() || !test.filters.empty() ||
         !options->shard.empty() || !test.prompt_override.empty())) {
      throw UsageError("--resume takes the run's own suites, --provider, --filter and --shard; "
                       "give none of them with it");
    }
    test.on_warning = [](const std::string& warning) {
      print_note("promptops: warning: " + warning + "\n");
    };
    ProgressBar progress;
    test.on_progress = [&progress](std::size_t done, std::size_t total) {
      progress.update(done, total);
    };
    ::signal(SIGINT, on_interrupt);
    ::signal(SIGTERM, on_interrupt);
    const auto started = std::chrono::steady_clock::now();
    golden::RunOutcome outcome = golden::run_tests(registry, test);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    progress.finish();
    write_reports(registry, outcome.dir, options->reports);
    print_outcome(registry, outcome, seconds, options->json);
    return outcome.exit_code;
  };
}

} // namespace promptops::cli
