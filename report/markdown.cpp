#include "report/markdown.hpp"

#include "registry/config.hpp"
#include "report/escape.hpp"
#include "util/json_fields.hpp"
#include "util/line_diff.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace promptops::report {

namespace {

using nlohmann::ordered_json;

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

std::string rate_text(const ordered_json& value) {
  return value.is_number() ? percent(value.get<double>()) : std::string("-");
}

std::string count_text(const ordered_json& object, const char* key) {
  const auto it = object.is_object() ? object.find(key) : object.end();
  return it != object.end() && it->is_number() ? it->dump() : std::string("-");
}

// "3: a, b, c" with at most k_max_ids_in_cell ids, "-" for none.
std::string ids_cell(const ordered_json& ids) {
  if (!ids.is_array() || ids.empty()) {
    return "-";
  }
  std::string out = "**" + std::to_string(ids.size()) + "**: ";
  std::size_t shown = 0;
  for (const auto& id : ids) {
    if (shown == k_max_ids_in_cell) {
      out += ", and " + std::to_string(ids.size() - shown) + " more";
      break;
    }
    out += (shown == 0 ? "" : ", ") + cell(id.is_string() ? id.get<std::string>() : id.dump());
    ++shown;
  }
  return out;
}

std::string totals_line(const ordered_json& summary) {
  const ordered_json& totals =
      summary.contains("totals") ? summary["totals"] : ordered_json::object();
  std::string out = std::to_string(count_field(totals, "cases")) +
                    " cases: " + std::to_string(count_field(totals, "pass")) + " pass, " +
                    std::to_string(count_field(totals, "fail")) + " fail, " +
                    std::to_string(count_field(totals, "error")) + " error";
  if (const auto rate = summary.find("pass_rate"); rate != summary.end() && rate->is_number()) {
    out += " (" + percent(rate->get<double>()) + " pass)";
  }
  return out;
}

std::string usage_line(const ordered_json& summary) {
  std::vector<std::string> parts;
  if (const auto usage = summary.find("usage"); usage != summary.end() && usage->is_object()) {
    parts.push_back("tokens: " + count_text(*usage, "input_tokens") + " in, " +
                    count_text(*usage, "output_tokens") + " out");
  }
  if (const auto cost = summary.find("cost"); cost != summary.end() && cost->is_number()) {
    char text[64];
    std::snprintf(text, sizeof text, "cost: $%.4f", cost->get<double>());
    parts.emplace_back(text);
  }
  if (summary.contains("requests")) {
    parts.push_back("requests: " + count_text(summary, "requests") + " (" +
                    count_text(summary, "cached") + " from the cache)");
  }
  if (const auto judge = summary.find("judge");
      judge != summary.end() && judge->is_object() && count_field(*judge, "calls") > 0) {
    std::string text = "judge calls: " + count_text(*judge, "calls");
    if (const auto cost = judge->find("cost"); cost != judge->end() && cost->is_number()) {
      char money[64];
      std::snprintf(money, sizeof money, " ($%.4f)", cost->get<double>());
      text += money;
    }
    parts.push_back(std::move(text));
  }
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : " · ") + p;
  }
  return out;
}

// Drift findings and provider changes: "- **suite on provider** (feature): message".
void findings(Blocks& blocks, const ordered_json& list, const std::string& heading) {
  if (!list.is_array() || list.empty()) {
    return;
  }
  blocks.add("\n### " + markdown_inline(heading) + "\n\n");
  for (const auto& f : list) {
    std::string item = "- **" + markdown_inline(util::string_field(f, "suite")) + " on " +
                       markdown_inline(util::string_field(f, "provider")) + "**";
    if (const std::string feature = util::string_field(f, "feature"); !feature.empty()) {
      item += " (" + markdown_inline(feature) + ")";
    }
    item += ": " + reason_text(util::string_field(f, "message"));
    blocks.add(item + "\n");
  }
}

// The suite table's gate cell: ✅ and the minimum pass rate when the gate passed, else ❌ and
// why, briefly: the first reason the gate gives (the pass rate below its minimum, more
// regressions than it allows, drift of a kind listed in fail_on_drift, cases in error).
std::string gate_cell(const ordered_json& suite, const ordered_json& summary) {
  const auto g = suite.find("gate");
  if (g == suite.end() || !g->is_object()) {
    return "-";
  }
  const auto p = g->find("passed");
  const bool passed = p != g->end() && p->is_boolean() && p->get<bool>();
  const auto min = g->find("min_pass_rate");
  const bool has_min = min != g->end() && min->is_number();
  const std::string min_text =
      has_min ? std::string("min ") + percent(min->get<double>()) : std::string();
  if (passed) {
    return has_min ? std::string("✅ ") + min_text : std::string("✅");
  }
  const ordered_json& totals = suite.contains("totals") ? suite["totals"] : ordered_json::object();
  const std::size_t cases = count_field(totals, "cases");
  const double rate =
      cases == 0 ? 1.0
                 : static_cast<double>(count_field(totals, "pass")) / static_cast<double>(cases);
  if (has_min && rate + 1e-12 < min->get<double>()) {
    return std::string("❌ ") + min_text;
  }
  std::size_t regressed = 0;
  for (const auto& b : array_field(suite, "baselines")) {
    regressed += array_field(b, "regressed").size();
  }
  if (const auto max = g->find("max_regressions");
      max != g->end() && max->is_number_integer() &&
      static_cast<long long>(regressed) > max->get<long long>()) {
    return std::string("❌ ") + std::to_string(regressed) + " regressed (max " + max->dump() + ")";
  }
  if (const auto kinds = g->find("fail_on_drift"); kinds != g->end()) {
    // A list of kinds; a summary.json of before the other kinds says true or false.
    const std::string name = util::string_field(suite, "name");
    for (const std::string& kind : registry::drift_kinds(nlohmann::json(*kinds))) {
      for (const auto& d : array_field(summary, "drift")) {
        if (util::string_field(d, "suite") == name && drift_kind(d) == kind) {
          return "❌ " + kind + " drift";
        }
      }
    }
  }
  if (const std::size_t errors = count_field(totals, "error"); errors > 0) {
    return std::string("❌ ") + std::to_string(errors) + (errors == 1 ? " error" : " errors");
  }
  return "❌ failed";
}

struct Failure {
  const ResultGroup* group;
  const ordered_json* result;
  bool regressed;
};

// A folded case's <summary>: group, case id and whether it regressed, on one HTML line.
std::string case_summary(const ResultGroup& group, const ordered_json& result, bool regressed) {
  return "<details><summary>" +
         markdown_html_line(clean_cut(group_name(group) + ": " + util::string_field(result, "id") +
                                          (regressed ? " (regressed)" : ""),
                                      k_max_cell_bytes, " [...]")) +
         "</summary>\n\n";
}

std::string case_key(const ResultGroup& group, const std::string& id) {
  return group.suite + '\x1f' + group.provider + '\x1f' + id;
}

// What the run is compared with, as Markdown: "run <id>" for `promptops report RUN --against
// OTHER`, else the baseline.
std::string reference_of(const ordered_json& summary) {
  const std::string against = util::string_field(summary, "against");
  return against.empty() ? std::string("the baseline")
                         : std::string("run ") + markdown_inline(against);
}

// The hidden marker, the verdict, the run's totals, the gate's reasons and the usage.
void add_verdict(Blocks& blocks, const RunRecord& record, const std::string& reference) {
  const ordered_json& summary = record.summary;
  const auto gate = summary.find("gate");
  const bool has_gate = gate != summary.end() && gate->is_object();
  const auto passed_it = has_gate ? gate->find("passed") : summary.end();
  const bool passed =
      has_gate && passed_it != gate->end() && passed_it->is_boolean() && passed_it->get<bool>();
  blocks.add("<!-- promptops:report -->\n");
  blocks.add(passed ? "## ✅ promptops: gate passed\n\n" : "## ❌ promptops: gate FAILED\n\n");
  std::string headline = "Run " + markdown_inline(record.run_id);
  if (!util::string_field(summary, "against").empty()) {
    headline += std::string(" against ") + reference;
  }
  headline += " · " + totals_line(summary);
  if (const auto interrupted = summary.find("interrupted");
      interrupted != summary.end() && interrupted->is_boolean() && interrupted->get<bool>()) {
    headline += ". **The run was interrupted**: complete it with `promptops test --resume`";
  }
  blocks.add(headline + "\n");
  if (has_gate) {
    const ordered_json& reasons = array_field(*gate, "reasons");
    if (!reasons.empty()) {
      blocks.add("\n");
    }
    for (const auto& reason : reasons) {
      blocks.add("- " +
                 reason_text(reason.is_string() ? reason.get<std::string>() : reason.dump()) +
                 "\n");
    }
  }
  if (const std::string usage = usage_line(summary); !usage.empty()) {
    blocks.add("\n" + usage + "\n");
  }
}

// The cases that regressed against the baselines: suite \x1f provider \x1f id.
std::set<std::string> regressed_cases(const ordered_json& summary) {
  std::set<std::string> regressed;
  for (const auto& suite : array_field(summary, "suites")) {
    for (const auto& b : array_field(suite, "baselines")) {
      for (const auto& id : array_field(b, "regressed")) {
        if (id.is_string()) {
          regressed.insert(util::string_field(suite, "name") + '\x1f' +
                           util::string_field(b, "provider") + '\x1f' + id.get<std::string>());
        }
      }
    }
  }
  return regressed;
}

// The comparison with the baselines (or the other run), a row per suite and provider.
void add_baselines(Blocks& blocks, const ordered_json& summary, const std::string& reference) {
  const ordered_json& suites = array_field(summary, "suites");
  const bool any_baseline = std::any_of(suites.begin(), suites.end(), [](const ordered_json& s) {
    return !array_field(s, "baselines").empty();
  });
  if (!any_baseline) {
    blocks.add(util::string_field(summary, "against").empty()
                   ? "\nNo baseline to compare with: record one with `promptops baseline record`.\n"
                   : std::string("\nNothing to compare with: ") + reference +
                         " has no result of these suites on these providers.\n");
    return;
  }
  blocks.add(std::string("\n### Against ") + reference + "\n\n");
  blocks.add("| suite | provider | regressed (passed before, not now) | fixed | compared | "
             "still failing | changed outputs |\n|---|---|---|---|--:|--:|--:|\n");
  for (const auto& suite : suites) {
    for (const auto& b : array_field(suite, "baselines")) {
      blocks.add("| " + cell(util::string_field(suite, "name")) + " | " +
                 cell(util::string_field(b, "provider")) + " | " +
                 ids_cell(array_field(b, "regressed")) + " | " + ids_cell(array_field(b, "fixed")) +
                 " | " + count_text(b, "compared") + " | " + count_text(b, "still_failing") +
                 " | " + count_text(b, "changed_outputs") + " |\n");
    }
  }
}

// Each suite's totals and gate.
void add_suites(Blocks& blocks, const ordered_json& summary) {
  const ordered_json& suites = array_field(summary, "suites");
  if (suites.empty()) {
    return;
  }
  blocks.add("\n### Suites\n\n| suite | providers | cases | pass | fail | error | pass rate | "
             "gate |\n|---|---|--:|--:|--:|--:|--:|---|\n");
  for (const auto& s : suites) {
    const std::string provider_list = suite_providers(s);
    const ordered_json& totals = s.contains("totals") ? s["totals"] : ordered_json::object();
    blocks.add("| " + cell(util::string_field(s, "name")) + " | " + cell(provider_list) + " | " +
               count_text(totals, "cases") + " | " + count_text(totals, "pass") + " | " +
               count_text(totals, "fail") + " | " + count_text(totals, "error") + " | " +
               rate_text(s.contains("pass_rate") ? s["pass_rate"] : ordered_json()) + " | " +
               gate_cell(s, summary) + " |\n");
  }
}

// The cases that did not pass: regressions first, then failed cases, then errors.
std::vector<Failure> failures_of(const std::vector<ResultGroup>& groups,
                                 const std::set<std::string>& regressed) {
  std::vector<Failure> failures;
  for (const ResultGroup& g : groups) {
    for (const ordered_json* r : g.results) {
      if (util::string_field(*r, "status") != "pass") {
        failures.push_back({&g, r, regressed.count(case_key(g, util::string_field(*r, "id"))) > 0});
      }
    }
  }
  const auto rank = [](const Failure& f) {
    return f.regressed ? 0 : util::string_field(*f.result, "status") == "fail" ? 1 : 2;
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
    const std::string status = util::string_field(*f.result, "status");
    std::string reason = f.regressed ? "**regressed** " : "";
    if (status != "fail") {
      reason += "**error** ";
    }
    reason += cell(failure_reason(*f.result));
    blocks.add("| " + cell(f.group->suite) + " | " +
               cell(f.group->provider +
                    (f.group->shares_provider ? " (" + f.group->prompt + ")" : std::string())) +
               " | " + cell(util::string_field(*f.result, "id")) + " | " + reason + " |\n");
  }
  if (failures.size() > k_max_failure_rows) {
    blocks.add("\n… and " + std::to_string(failures.size() - k_max_failure_rows) +
               " more: see the JUnit report or `promptops report` " + markdown_inline(run_id) +
               ".\n");
  }
}

// One failed case, folded, with its error, its evaluations and its output.
std::string failed_case(const Failure& f) {
  const ordered_json& r = *f.result;
  // Inside an HTML block: HTML escapes, and no line break (a blank line would end it).
  std::string block = case_summary(*f.group, r, f.regressed);
  if (util::string_field(r, "status") != "fail") {
    block += "**error**: " + reason_text(failure_reason(r)) + "\n\n";
  }
  for (const auto& e : array_field(r, "evaluations")) {
    const auto pass = e.find("pass");
    const bool ok = pass != e.end() && pass->is_boolean() && pass->get<bool>();
    block += std::string("- ") + (ok ? "✅ " : "❌ ") +
             markdown_inline(util::string_field(e, "type")) + ": " +
             reason_text(util::string_field(e, "reason")) + "\n";
  }
  const auto output = r.find("output");
  // get_ptr, not is_string() + get_ref(): GCC 12 -O2 sees a null dereference in the latter.
  const std::string* text = output == r.end() ? nullptr : output->get_ptr<const std::string*>();
  if (text != nullptr) {
    block += "\nOutput";
    if (const std::string model = util::string_field(r, "model"); !model.empty()) {
      block += " of " + markdown_inline(model);
    }
    block += ":\n\n" + markdown_fence(clean_cut(*text, k_max_output_bytes,
                                                "\n[... output cut; the whole output is in "
                                                "results.jsonl]"));
  } else {
    block += "\nNo output: the provider did not answer.\n";
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
  const ordered_json* result;
  const std::string* before;
  bool regressed;
};

// The cases whose output differs from the baseline's: regressions first.
std::vector<Changed> changed_outputs(const std::vector<ResultGroup>& groups,
                                     const BaselineOutputs& baseline,
                                     const std::set<std::string>& regressed) {
  std::vector<Changed> changed;
  for (const ResultGroup& g : groups) {
    for (const ordered_json* r : g.results) {
      const std::string id = util::string_field(*r, "id");
      const auto b = baseline.outputs.find({g.suite, g.provider, id});
      const auto output = r->find("output");
      const std::string* now = output == r->end() ? nullptr : output->get_ptr<const std::string*>();
      if (b != baseline.outputs.end() && now != nullptr && *now != b->second) {
        changed.push_back({&g, r, &b->second, regressed.count(case_key(g, id)) > 0});
      }
    }
  }
  std::stable_sort(changed.begin(), changed.end(),
                   [](const Changed& a, const Changed& b) { return a.regressed && !b.regressed; });
  return changed;
}

// One changed output as a folded unified diff of the baseline's output against this run's.
std::string changed_output(const Changed& c) {
  const auto* output = c.result->find("output")->get_ptr<const std::string*>();
  std::string diff;
  for (const auto& hunk : util::diff_lines(clean_text(*c.before), clean_text(*output))) {
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
  const ordered_json& summary = record.summary;
  const std::vector<ResultGroup> groups = group_results(record);
  const std::string reference = reference_of(summary);
  const std::set<std::string> regressed = regressed_cases(summary);
  Blocks blocks;
  add_verdict(blocks, record, reference);
  add_baselines(blocks, summary, reference);
  for (const DriftGroup& group :
       drift_groups(summary.contains("drift") ? summary["drift"] : ordered_json())) {
    findings(blocks, group.entries, drift_heading(group.kind));
  }
  findings(blocks,
           summary.contains("provider_changes") ? summary["provider_changes"] : ordered_json(),
           "Provider changes");
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
