#pragma once

#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/run_record.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

// Each subcommand lives in cmd_<name>.cpp: it adds its options to the app and returns the
// function that runs it, which returns the exit code.
namespace promptops::cli {

using Action = std::function<int()>;

Action add_init(CLI::App& app);
Action add_validate(CLI::App& app);
Action add_list(CLI::App& app);
Action add_show(CLI::App& app);
Action add_render(CLI::App& app);
Action add_diff(CLI::App& app);
Action add_log(CLI::App& app);
Action add_promote(CLI::App& app);
Action add_rollback(CLI::App& app);
Action add_env(CLI::App& app);
Action add_export(CLI::App& app);
Action add_serve(CLI::App& app);
Action add_push(CLI::App& app);
Action add_pull(CLI::App& app);
Action add_test(CLI::App& app);
Action add_cache(CLI::App& app);
Action add_baseline(CLI::App& app);
Action add_report(CLI::App& app);
Action add_merge(CLI::App& app);

// The report files a command was asked for ("" : not that one).
struct ReportFiles {
  std::string junit;
  std::string markdown;
  std::string html;
  void add_options(CLI::App* cmd);
};

// Print a run's outcome: summary.json with `json`, else the terminal report (its folder shown
// relative to the current one).
void print_outcome(const registry::Registry& registry, const golden::RunOutcome& outcome,
                   double seconds, bool json);

// Write the reports of `run` that `files` names. The Markdown and HTML reports show diffs
// against `baseline` (by suite, provider and case id: `promptops report --against` gives the
// other run's outputs), else against the suites' baseline files. Throws Error (exit 3) when a
// file cannot be written.
void write_reports(const registry::Registry& registry, const report::RunRecord& run,
                   const ReportFiles& files, const report::BaselineOutputs* baseline = nullptr);

// The same for the run in `run_dir`, read only when a report is asked for.
void write_reports(const registry::Registry& registry, const std::filesystem::path& run_dir,
                   const ReportFiles& files);

} // namespace promptops::cli
