#pragma once

#include "golden/runner.hpp"
#include "registry/registry.hpp"
#include "report/run_record.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

// A run shown on the terminal and written as report files, for every command that makes or
// reads runs (test, merge, baseline, report).
namespace promptops::cli {

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
