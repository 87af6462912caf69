#include "report/markdown.hpp"

#include "report/escape.hpp"
#include "report/reply_facts.hpp"
#include "util/line_diff.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

namespace promptops::report {

namespace {

constexpr std::size_t k_max_failure_rows = 50;
constexpr std::size_t k_max_ids_in_cell = 20;
constexpr std::size_t k_max_cell_bytes = 300;
constexpr std::size_t k_max_reason_bytes = 1000;
constexpr std::size_t k_max_output_bytes = 4000;

// A report in blocks (a heading, a paragraph, a table row, a folded case), so that a report
// too long for a comment is cut between blocks and never inside a fence or an HTML element.
class Blocks {
public:
  void add(std::string block) { m_blocks.push_back(std::move(block)); }

  std::string join(std::size_t max_bytes, const std::string& cut_note) const {
    std::size_t total = 0;
    for (const auto& b : m_blocks) {
      total += b.size();
    }
    std::string out;
    if (total <= max_bytes) {
      out.reserve(total);
      for (const auto& b : m_blocks) {
        out += b;
      }
      return out;
    }
    const std::size_t room = max_bytes > cut_note.size() ? max_bytes - cut_note.size() : 0;
    for (const auto& b : m_blocks) {
      if (out.size() + b.size() > room) {
        break;
      }
      out += b;
    }
    out += cut_note;
    return out;
  }

private:
  std::vector<std::string> m_blocks;
};

std::string cell(std::string_view text) {
  return markdown_inline(clean_cut(text, k_max_cell_bytes, " [...]"), LineBreaks::br);
}

// The gate's reasons, findings' messages and evaluations' reasons: cleaned, cut, inline.
std::string reason_text(std::string_view text) {
  return markdown_inline(clean_cut(text, k_max_reason_bytes, " [...]"));
}

std::string rate_text(const std::optional<double>& rate) {
  return rate ? percent(*rate) : std::string("-");
}

// "3: a, b, c" with at most k_max_ids_in_cell ids, "-" for none.
std::string ids_cell(const std::vector<std::string>& ids) {
  if (ids.empty()) {
    return "-";
  }
  std::string out = "**" + std::to_string(ids.size()) + "**: ";
  for (std::size_t shown = 0; shown < ids.size(); ++shown) {
    if (shown == k_max_ids_in_cell) {
      out += ", and " + std::to_string(ids.size() - shown) + " more";
      break;
    }
    out += (shown == 0 ? "" : ", ") + cell(ids[shown]);
  }
  return out;
}

std::string totals_line(const golden::RunSummary& summary) {
  const golden::CaseTotals& totals = summary.totals;
  std::string out = std::to_string(totals.cases) + " cases: " + std::to_string(totals.pass) +
                    " pass, " + std::to_string(totals.fail) + " fail, " +
                    std::to_string(totals.error) + " error";
  if (const auto rate = totals.pass_rate()) {
    out += " (" + percent(*rate) + " pass)";
  }
  return out;
}

// Drift findings and provider changes: "- **suite on provider** (feature): message".
template <class Finding>
void findings(Blocks& blocks, const std::vector<Finding>& list, const std::string& heading) {
  if (list.empty()) {
    return;
  }
  blocks.add("\n### " + markdown_inline(heading) + "\n\n");
  for (const Finding& f : list) {
    std::string item =
        "- **" + markdown_inline(f.suite) + " on " + markdown_inline(f.provider) + "**";
    if (!f.feature.empty()) {
      item += " (" + markdown_inline(f.feature) + ")";
    }
    item += ": " + reason_text(f.message);
    blocks.add(item + "\n");
  }
}

// The suite table's gate cell: ✅ and the minimum pass rate when the gate passed, else ❌ and
// why, briefly: the first reason the gate gives (the pass rate below its minimum, more
// regressions than it allows, drift of a kind listed in fail_on_drift, cases in error).
std::string gate_cell(const golden::SuiteSummary& suite, const golden::RunSummary& summary) {
  const golden::GateVerdict& gate = suite.gate;
  const std::string min_text = std::string("min ") + percent(gate.min_pass_rate);
  if (gate.passed) {
    return std::string("✅ ") + min_text;
  }
  const golden::CaseTotals& totals = suite.totals;
  if (totals.pass_rate().value_or(1.0) + 1e-12 < gate.min_pass_rate) {
    return std::string("❌ ") + min_text;
  }
  std::size_t regressed = 0;
  for (const golden::BaselineEntry& b : suite.baselines) {
    regressed += b.regressed.size();
  }
  if (gate.max_regressions && static_cast<long long>(regressed) > *gate.max_regressions) {
    return std::string("❌ ") + std::to_string(regressed) + " regressed (max " +
           std::to_string(*gate.max_regressions) + ")";
  }
  for (const std::string& kind : gate.fail_on_drift) {
    for (const golden::DriftEntry& d : summary.drift) {
      if (d.suite == suite.name && d.kind == kind) {
        return "❌ " + kind + " drift";
      }
    }
  }
  if (totals.error > 0) {
    return std::string("❌ ") + std::to_string(totals.error) +
           (totals.error == 1 ? " error" : " errors");
  }
  return "❌ failed";
}

struct Failure {
  const ResultGroup* group;
  const golden::CaseResult* result;
  bool regressed;
};

// A folded case's <summary>: group, case id and whether it regressed, on one HTML line.
std::string case_summary(const ResultGroup& group, const golden::CaseResult& result,
                         bool regressed) {
  return "<details><summary>" +
         markdown_html_line(
             clean_cut(group_name(group) + ": " + result.id + (regressed ? " (regressed)" : ""),
                       k_max_cell_bytes, " [...]")) +
         "</summary>\n\n";
}

std::string case_key(const std::string& suite, const std::string& provider, const std::string& id) {
  return suite + '\x1f' + provider + '\x1f' + id;
}

// What the run is compared with, as Markdown: "run <id>" for `promptops report RUN --against
// OTHER`, else the baseline.
std::string reference_of(const golden::RunSummary& summary) {
  return summary.against.empty() ? std::string("the baseline")
                                 : std::string("run ") + markdown_inline(summary.against);
}

// The hidden marker, the verdict, the run's totals, the gate's reasons and the usage.
void add_verdict(Blocks& blocks, const RunRecord& record, const std::string& reference) {
  const golden::RunSummary& summary = record.summary;
  blocks.add("<!-- promptops:report -->\n");
  blocks.add(summary.gate_passed ? "## ✅ promptops: gate passed\n\n"
                                 : "## ❌ promptops: gate FAILED\n\n");
  std::string headline = "Run " + markdown_inline(record.run_id);
  if (!summary.against.empty()) {
    headline += std::string(" against ") + reference;
  }
  headline += " · " + totals_line(summary);
  if (summary.interrupted) {
    headline += ". **The run was interrupted**: complete it with `promptops test --resume`";
  }
  blocks.add(headline + "\n");
  if (!summary.gate_reasons.empty()) {
    blocks.add("\n");
  }
  for (const std::string& reason : summary.gate_reasons) {
    blocks.add("- " + reason_text(reason) + "\n");
  }
  blocks.add("\n" + usage_line(summary, ": ") + "\n");
}

// The cases that regressed against the baselines: suite \x1f provider \x1f id.
std::set<std::string> regressed_cases(const golden::RunSummary& summary) {
  std::set<std::string> regressed;
  for (const golden::SuiteSummary& suite : summary.suites) {
    for (const golden::BaselineEntry& b : suite.baselines) {
      for (const std::string& id : b.regressed) {
        regressed.insert(case_key(suite.name, b.provider, id));
      }
    }
  }
  return regressed;
}

// The comparison with the baselines (or the other run), a row per suite and provider.
void add_baselines(Blocks& blocks, const golden::RunSummary& summary,
                   const std::string& reference) {
  const bool any_baseline =
      std::any_of(summary.suites.begin(), summary.suites.end(),
                  [](const golden::SuiteSummary& s) { return !s.baselines.empty(); });
  if (!any_baseline) {
    blocks.add(summary.against.empty()
                   ? "\nNo baseline to compare with: record one with `promptops baseline record`.\n"
                   : std::string("\nNothing to compare with: ") + reference +
                         " has no result of these suites on these providers.\n");
    return;
  }
  blocks.add(std::string("\n### Against ") + reference + "\n\n");
  blocks.add("| suite | provider | regressed (passed before, not now) | fixed | compared | "
             "still failing | changed outputs |\n|---|---|---|---|--:|--:|--:|\n");
  for (const golden::SuiteSummary& suite : summary.suites) {
    for (const golden::BaselineEntry& b : suite.baselines) {
      blocks.add("| " + cell(suite.name) + " | " + cell(b.provider) + " | " +
                 ids_cell(b.regressed) + " | " + ids_cell(b.fixed) + " | " +
                 std::to_string(b.compared) + " | " + std::to_string(b.still_failing) + " | " +
                 std::to_string(b.changed_outputs) + " |\n");
    }
  }
}

// Each suite's totals and gate.
void add_suites(Blocks& blocks, const golden::RunSummary& summary) {
  if (summary.suites.empty()) {
    return;
  }
  blocks.add("\n### Suites\n\n| suite | providers | cases | pass | fail | error | pass rate | "
             "gate |\n|---|---|--:|--:|--:|--:|--:|---|\n");
  for (const golden::SuiteSummary& s : summary.suites) {
    const golden::CaseTotals& totals = s.totals;
    blocks.add("| " + cell(s.name) + " | " + cell(suite_providers(s)) + " | " +
               std::to_string(totals.cases) + " | " + std::to_string(totals.pass) + " | " +
               std::to_string(totals.fail) + " | " + std::to_string(totals.error) + " | " +
               rate_text(totals.pass_rate()) + " | " + gate_cell(s, summary) + " |\n");
  }
}

// The cases that did not pass: regressions first, then failed cases, then errors.
std::vector<Failure> failures_of(const std::vector<ResultGroup>& groups,
                                 const std::set<std::string>& regressed) {
  std::vector<Failure> failures;
  for (const ResultGroup& g : groups) {
    for (const golden::CaseResult* r : g.results) {
      if (r->status != golden::CaseStatus::pass) {
        failures.push_back({&g, r, regressed.count(case_key(g.suite, g.provider, r->id)) > 0});
      }
    }
  }
  const auto rank = [](const Failure& f) {
    return f.regressed ? 0 : f.result->status == golden::CaseStatus::fail ? 1 : 2;
  };
  std::stable_sort(failures.begin(), failures.end(),
                   [&rank](const Failure& a, const Failure& b) { return rank(a) < rank(b); });
  return failures;
}

// A table of the failures, at most k_max_failure_rows.
void add_failure_table(Blocks& blocks, const std::vector<Failure>& failures,
                       const std::string& run_id) {
  if (failures.empty()) {
    return;
  }
  blocks.add("\n### Failures (" + std::to_string(failures.size()) +
             ")\n\n| suite | provider | case | reason |\n|---|---|---|---|\n");
  for (std::size_t i = 0; i < failures.size() && i < k_max_failure_rows; ++i) {
    const Failure& f = failures[i];
    std::string reason = f.regressed ? "**regressed** " : "";
    if (f.result->status != golden::CaseStatus::fail) {
      reason += "**error** ";
    }
    reason += cell(golden::failure_reason(*f.result));
    blocks.add("| " + cell(f.group->suite) + " | " +
               cell(f.group->provider +
                    (f.group->shares_provider ? " (" + f.group->prompt + ")" : std::string())) +
               " | " + cell(f.result->id) + " | " + reason + " |\n");
  }
  if (failures.size() > k_max_failure_rows) {
    blocks.add("\n… and " + std::to_string(failures.size() - k_max_failure_rows) +
               " more: see the JUnit report or `promptops report` " + markdown_inline(run_id) +
               ".\n");
  }
}

// One failed case, folded, with its error, its evaluations and its output.
std::string failed_case(const Failure& f) {
  const golden::CaseResult& r = *f.result;
  // Inside an HTML block: HTML escapes, and no line break (a blank line would end it).
  std::string block = case_summary(*f.group, r, f.regressed);
  if (r.status != golden::CaseStatus::fail) {
    block += "**error**: " + reason_text(golden::failure_reason(r)) + "\n\n";
  }
  for (const golden::EvaluationResult& e : r.evaluations) {
    block += std::string("- ") + (e.pass ? "✅ " : "❌ ") + markdown_inline(e.type) + ": " +
             reason_text(e.reason) + "\n";
  }
  if (r.output) {
    block += "\nOutput";
    if (!r.model.empty()) {
      block += " of " + markdown_inline(r.model);
    }
    block += ":\n\n" + markdown_fence(clean_cut(*r.output, k_max_output_bytes,
                                                "\n[... output cut; the whole output is in "
                                                "results.jsonl]"));
  } else {
    block += "\nNo output: the provider did not answer.\n";
  }
  if (const std::string facts = reply_facts_text(r); !facts.empty()) {
    block += "\nReply:\n\n" + markdown_fence(clean_cut(facts, k_max_output_bytes, ""));
  }
  block += "\n</details>\n";
  return block;
}

// The first `max_diffs` failed cases, folded.
void add_failed_cases(Blocks& blocks, const std::vector<Failure>& failures, std::size_t max_diffs) {
  const std::size_t folded = std::min(max_diffs, failures.size());
  if (folded == 0) {
    return;
  }
  blocks.add(
      "\n### Failed cases" +
      (folded < failures.size() ? " (the first " + std::to_string(folded) + ")" : std::string()) +
      "\n\n");
  for (std::size_t i = 0; i < folded; ++i) {
    blocks.add(failed_case(failures[i]));
  }
}

struct Changed {
  const ResultGroup* group;
  const golden::CaseResult* result;
  const std::string* before;
  bool regressed;
};

// The cases whose output differs from the baseline's: regressions first.
std::vector<Changed> changed_outputs(const std::vector<ResultGroup>& groups,
                                     const BaselineOutputs& baseline,
                                     const std::set<std::string>& regressed) {
  std::vector<Changed> changed;
  for (const ResultGroup& g : groups) {
    for (const golden::CaseResult* r : g.results) {
      const auto b = baseline.outputs.find({g.suite, g.provider, r->id});
      if (b != baseline.outputs.end() && r->output && *r->output != b->second) {
        changed.push_back(
            {&g, r, &b->second, regressed.count(case_key(g.suite, g.provider, r->id)) > 0});
      }
    }
  }
  std::stable_sort(changed.begin(), changed.end(),
                   [](const Changed& a, const Changed& b) { return a.regressed && !b.regressed; });
  return changed;
}

// One changed output as a folded unified diff of the baseline's output against this run's.
std::string changed_output(const Changed& c) {
  std::string diff;
  for (const auto& hunk : util::diff_lines(clean_text(*c.before), clean_text(*c.result->output))) {
    diff += hunk.header() + "\n";
    for (const auto& line : hunk.lines) {
      diff += std::string(1, line.op) + line.text + "\n";
    }
  }
  return case_summary(*c.group, *c.result, c.regressed) +
         markdown_fence(util::text::truncate_utf8(diff, k_max_output_bytes,
                                                  "\n[... diff cut; see the HTML report]")) +
         "\n</details>\n";
}

// Up to `max_diffs` outputs that changed against the baseline, as unified diffs.
void add_changed_outputs(Blocks& blocks, const std::vector<ResultGroup>& groups,
                         const BaselineOutputs& baseline, const std::set<std::string>& regressed,
                         const std::string& reference, std::size_t max_diffs) {
  if (baseline.outputs.empty() || max_diffs == 0) {
    return;
  }
  const std::vector<Changed> changed = changed_outputs(groups, baseline, regressed);
  if (changed.empty()) {
    return;
  }
  blocks.add("\n### Changed outputs (" + std::to_string(changed.size()) + " against " + reference +
             ")\n\n");
  for (std::size_t i = 0; i < changed.size() && i < max_diffs; ++i) {
    blocks.add(changed_output(changed[i]));
  }
  if (changed.size() > max_diffs) {
    blocks.add("\n… and " + std::to_string(changed.size() - max_diffs) +
               " more: the HTML report (--html) shows them side by side.\n");
  }
}

} // namespace

std::string markdown_report(const RunRecord& record, std::size_t max_diffs, std::size_t max_bytes,
                            const BaselineOutputs& baseline) {
  const golden::RunSummary& summary = record.summary;
  const std::vector<ResultGroup> groups = group_results(record);
  const std::string reference = reference_of(summary);
  const std::set<std::string> regressed = regressed_cases(summary);
  Blocks blocks;
  add_verdict(blocks, record, reference);
  add_baselines(blocks, summary, reference);
  for (const DriftGroup& group : drift_groups(summary.drift)) {
    findings(blocks, group.entries, drift_heading(group.kind));
  }
  findings(blocks, summary.provider_changes, "Provider changes");
  add_suites(blocks, summary);
  const std::vector<Failure> failures = failures_of(groups, regressed);
  add_failure_table(blocks, failures, record.run_id);
  add_failed_cases(blocks, failures, max_diffs);
  add_changed_outputs(blocks, groups, baseline, regressed, reference, max_diffs);
  return blocks.join(max_bytes, "\n\n_The report was cut to fit " + std::to_string(max_bytes) +
                                    " bytes: see `promptops report` " +
                                    markdown_inline(record.run_id) +
                                    " or the JUnit report for the rest._\n");
}

} // namespace promptops::report
