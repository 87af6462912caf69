#include "cli/reports.hpp"

#include "cli/output.hpp"
#include "golden/baseline.hpp"
#include "report/html.hpp"
#include "report/junit.hpp"
#include "report/markdown.hpp"
#include "report/terminal.hpp"
#include "util/file.hpp"
#include "util/free_at_exit.hpp"

#include <set>

// What a command shows of a run and which report files it writes: the one place cli/ turns
// runs into output.
namespace promptops::cli {

void print_outcome(const registry::Registry& registry, const golden::RunOutcome& outcome,
                   double seconds, bool json) {
  if (json) {
    print(golden::to_json(outcome.summary)
              .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
          "\n");
    return;
  }
  golden::RunOutcome shown = outcome;
  shown.dir = registry.display(".promptops/runs/" + outcome.run_id);
  print(report::format_outcome(shown, seconds, want_color()));
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
    for (const golden::SuiteSummary& suite : run.summary.suites) {
      std::set<std::string> providers; // a suite may run several prompts on one provider
      for (const golden::CandidateEntry& c : suite.candidates) {
        if (!providers.insert(c.provider).second) {
          continue;
        }
        if (auto b = golden::load_baseline(registry, suite.name, c.provider,
                                           /*read_fingerprints=*/false)) {
          for (auto& [id, bc] : b->cases) {
            from_files.outputs[{suite.name, c.provider, id}] = std::move(bc.output);
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

} // namespace promptops::cli
