#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "golden/baseline.hpp"
#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/html.hpp"
#include "report/junit.hpp"
#include "report/markdown.hpp"
#include "report/run_record.hpp"
#include "report/terminal.hpp"
#include "util/file.hpp"
#include "util/free_at_exit.hpp"
#include "util/json_fields.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
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

void print_outcome(const registry::Registry& registry, const golden::RunOutcome& outcome,
                   double seconds, bool json) {
  if (json) {
    print(outcome.summary.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
          "\n");
    return;
  }
  golden::RunOutcome shown = outcome;
  shown.dir = registry.display(".promptops/runs/" + outcome.run_id);
  print(report::format_outcome(shown, seconds, report::want_color()));
}

void ReportFiles::add_options(CLI::App* cmd) {
  cmd->add_option("--junit", junit,
                  "Also write the results as JUnit XML (one testcase per case and provider)")
      ->type_name("FILE");
  cmd->add_option("--markdown", markdown,
                  "Also write a Markdown report (for a PR comment or $GITHUB_STEP_SUMMARY)")
      ->type_name("FILE");
  cmd->add_option("--html", html,
                  "Also write one self-contained HTML page, with diffs against the baseline")
      ->type_name("FILE");
}

void write_reports(const registry::Registry& registry, const report::RunRecord& run,
                   const ReportFiles& files, const report::BaselineOutputs* baseline) {
  if (files.junit.empty() && files.markdown.empty() && files.html.empty()) {
    return;
  }
  if (!files.junit.empty()) {
    util::write_file_atomic(files.junit, report::junit_xml(run));
  }
  if (files.markdown.empty() && files.html.empty()) {
    return;
  }
  // The outputs the diffs of the Markdown and HTML reports are against: the caller's, else the
  // suites' baseline files.
  report::BaselineOutputs from_files;
  if (baseline == nullptr) {
    for (const auto& suite : run.summary.value("suites", nlohmann::ordered_json::array())) {
      const std::string name = util::string_field(suite, "name");
      std::set<std::string> providers; // a suite may run several prompts on one provider
      for (const auto& c : suite.value("candidates", nlohmann::ordered_json::array())) {
        const std::string provider = util::string_field(c, "provider");
        if (!providers.insert(provider).second) {
          continue;
        }
        if (auto b = golden::load_baseline(registry, name, provider, /*read_fingerprints=*/false)) {
          for (auto& [id, bc] : b->cases) {
            from_files.outputs[{name, provider, id}] = std::move(bc.output);
          }
        }
      }
    }
    baseline = &from_files;
  }
  if (!files.markdown.empty()) {
    util::write_file_atomic(
        files.markdown, report::markdown_report(run, 10, report::k_markdown_max_bytes, *baseline));
  }
  if (!files.html.empty()) {
    util::write_file_atomic(files.html, report::html_report(run, *baseline));
  }
}

void write_reports(const registry::Registry& registry, const std::filesystem::path& run_dir,
                   const ReportFiles& files) {
  if (files.junit.empty() && files.markdown.empty() && files.html.empty()) {
    return;
  }
  report::RunRecord run = report::load_run(run_dir);
  write_reports(registry, run, files);
  util::free_at_exit(std::move(run)); // the command ends next
}

Action add_test(CLI::App& app) {
  struct Options {
    std::vector<std::string> suites;
    std::string provider;
    std::vector<std::string> filters;
    int concurrency = 0;
    bool no_cache = false;
    std::string resume;
    bool json = false;
    ReportFiles reports;
    std::string shard;
    std::string prompt;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "test", "Run suites' cases against their providers, score them and check the gates");
  cmd->add_option("suites", options->suites, "Suites to run (names under golden/); default: all")
      ->type_name("SUITE");
  cmd->add_option("--provider", options->provider, "Only the candidates on this provider")
      ->type_name("NAME");
  cmd->add_option("--filter", options->filters,
                  "Only cases with this id or tag (repeatable: any of them)")
      ->type_name("TAG|ID");
  cmd->add_option("--concurrency", options->concurrency,
                  "Requests in flight per provider (overrides each provider's concurrency)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-cache", options->no_cache,
                "Ask the providers again instead of reusing cached replies");
  cmd->add_option("--resume", options->resume,
                  "Finish run RUN (e.g. one that was killed): only its missing cases run")
      ->type_name("RUN");
  cmd->add_option("--prompt", options->prompt,
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
    golden::TestOptions test;
    test.suites = options->suites;
    test.provider = options->provider;
    test.filters = options->filters;
    test.concurrency = options->concurrency;
    test.use_cache = !options->no_cache;
    test.resume = options->resume;
    test.prompt_override = options->prompt;
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
    if (!options->resume.empty() &&
        (!options->suites.empty() || !options->provider.empty() || !options->filters.empty() ||
         !options->shard.empty() || !options->prompt.empty())) {
      throw UsageError("--resume takes the run's own suites, --provider, --filter and --shard; "
                       "give none of them with it");
    }
    report::ProgressBar progress;
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
