#include "report/terminal.hpp"

#include "report/escape.hpp"
#include "report/run_record.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace promptops::report {
namespace {

const char* k_red = "\x1b[31m";
const char* k_green = "\x1b[32m";
const char* k_yellow = "\x1b[33m";
const char* k_bold = "\x1b[1m";
const char* k_reset = "\x1b[0m";

std::string paint(const std::string& text, const char* code, bool color) {
  return color ? std::string(code) + text + k_reset : text;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

// "PASSED: every gate passed" or "FAILED: the gate failed", then the gate's reasons.
std::string verdict(const golden::RunSummary& s, bool color) {
  const bool passed = s.gate_passed;
  std::string out = paint(passed ? "PASSED" : "FAILED", passed ? k_green : k_red, color) +
                    (passed ? ": every gate passed\n" : ": the gate failed\n");
  for (const std::string& reason : s.gate_reasons) {
    out += "  " + terminal_safe(reason, 300) + "\n";
  }
  return out;
}

// "suite on provider: message" of a drift finding or a provider change.
template <class Finding> std::string finding_line(const Finding& f) {
  return terminal_safe(f.suite, 60) + " on " + terminal_safe(f.provider, 60) + ": " +
         terminal_safe(f.message, 300) + "\n";
}

// What moved against the baseline: regressions, drift, the provider's model.
std::string what_moved(const golden::RunSummary& s, bool color) {
  std::string out;
  for (const golden::SuiteSummary& suite : s.suites) {
    for (const golden::BaselineEntry& b : suite.baselines) {
      if (b.regressed.empty()) {
        continue;
      }
      std::string ids;
      for (std::size_t i = 0; i < b.regressed.size() && i < 10; ++i) {
        ids += (i == 0 ? "" : ", ") + terminal_safe(b.regressed[i], 60);
      }
      if (b.regressed.size() > 10) {
        ids += ", and " + std::to_string(b.regressed.size() - 10) + " more";
      }
      out += paint("regressed", k_red, color) + ": " + terminal_safe(suite.name, 60) + " on " +
             terminal_safe(b.provider, 60) + ": " + ids + "\n";
    }
  }
  for (const golden::DriftEntry& drift : s.drift) {
    out +=
        paint(terminal_safe(drift.kind, 20) + " drift", k_red, color) + ": " + finding_line(drift);
  }
  for (const golden::ProviderChange& change : s.provider_changes) {
    out += paint("provider changed", k_yellow, color) + ": " + finding_line(change);
  }
  return out;
}

// The failed and errored cases (at most `max_rows`) as aligned columns; "" when none failed.
std::string failure_table(const golden::RunOutcome& outcome, std::size_t max_rows, bool color) {
  const auto& failures = outcome.failures;
  if (failures.empty()) {
    return {};
  }
  std::size_t w_suite = 5, w_provider = 8, w_id = 4;
  for (std::size_t i = 0; i < failures.size() && i < max_rows; ++i) {
    w_suite = std::max(w_suite, terminal_safe(failures[i].suite, 40).size());
    w_provider = std::max(w_provider, terminal_safe(failures[i].provider, 30).size());
    w_id = std::max(w_id, terminal_safe(failures[i].id, 40).size());
  }
  std::string out = paint(pad("", 6) + pad("suite", w_suite + 2) + pad("provider", w_provider + 2) +
                              pad("case", w_id + 2) + "reason",
                          k_bold, color) +
                    "\n";
  for (std::size_t i = 0; i < failures.size() && i < max_rows; ++i) {
    const auto& f = failures[i];
    const bool error = f.status == "error";
    out += paint(pad(error ? "ERROR" : "FAIL", 6), error ? k_yellow : k_red, color);
    out += pad(terminal_safe(f.suite, 40), w_suite + 2) +
           pad(terminal_safe(f.provider, 30), w_provider + 2) +
           pad(terminal_safe(f.id, 40), w_id + 2) + terminal_safe(f.reason) + "\n";
  }
  if (failures.size() > max_rows) {
    out += "... and " + std::to_string(failures.size() - max_rows) + " more in " +
           (outcome.dir / "results.jsonl").string() + "\n";
  }
  out += "\n";
  return out;
}

// Each suite's totals and gate, and against the baseline, per provider, what moved.
std::string suite_lines(const golden::RunSummary& s, bool color) {
  std::string out;
  for (const golden::SuiteSummary& suite : s.suites) {
    const golden::CaseTotals& t = suite.totals;
    const bool passed = suite.gate.passed;
    std::string line = terminal_safe(suite.name, 60) + ": " + std::to_string(t.cases) + " cases, " +
                       std::to_string(t.pass) + " pass, " + std::to_string(t.fail) + " fail, " +
                       std::to_string(t.error) + " error";
    if (const auto rate = t.pass_rate()) {
      line += " (" + percent(*rate) + ")";
    }
    line += "; gate (min " + percent(suite.gate.min_pass_rate) + "): ";
    out += line + paint(passed ? "passed" : "FAILED", passed ? k_green : k_red, color) + "\n";
    for (const golden::BaselineEntry& b : suite.baselines) {
      std::string moved = "  vs " + terminal_safe(b.file, 120) + ": " +
                          std::to_string(b.regressed.size()) + " regressed, " +
                          std::to_string(b.fixed.size()) + " fixed, " +
                          std::to_string(b.still_failing) + " still failing, " +
                          std::to_string(b.new_cases) + " new";
      if (b.removed) {
        moved += ", " + std::to_string(*b.removed) + " removed";
      }
      moved += "; " + std::to_string(b.changed_outputs) + " of " + std::to_string(b.compared) +
               " outputs changed";
      out += moved + "\n";
    }
  }
  return out;
}

// "; cost 0.1234", or "" when nothing had a price.
std::string cost_text(const std::optional<double>& cost) {
  if (!cost) {
    return {};
  }
  char text[64];
  std::snprintf(text, sizeof text, "; cost %.4f", *cost);
  return text;
}

// The run's totals, tokens, cost, time, the judges' share, and where its files are.
std::string run_totals(const golden::RunOutcome& outcome, double seconds, bool color) {
  const golden::RunSummary& s = outcome.summary;
  const golden::CaseTotals& t = s.totals;
  char tail[512];
  std::snprintf(tail, sizeof tail,
                "%zu cases: %zu pass, %zu fail, %zu error; %lld tokens in, %lld out", t.cases,
                t.pass, t.fail, t.error, static_cast<long long>(s.input_tokens),
                static_cast<long long>(s.output_tokens));
  std::string out = paint(tail, k_bold, color) + cost_text(s.cost);
  char timing[160];
  std::snprintf(timing, sizeof timing, "; %.2f s; %zu requests sent, %zu cached\n", seconds,
                outcome.requests_sent, outcome.cached);
  out += timing;
  if (const golden::JudgeUsage& j = s.judge; j.calls > 0) {
    char judged[256];
    std::snprintf(judged, sizeof judged,
                  "judges: %zu calls (%zu requests sent, %zu cached); %lld tokens in, %lld out",
                  j.calls, j.requests, j.cached, static_cast<long long>(j.input_tokens),
                  static_cast<long long>(j.output_tokens));
    out += judged + cost_text(j.cost) + "\n";
  }
  out += "run " + outcome.run_id + ": " + outcome.dir.string() + "\n";
  if (outcome.interrupted) {
    out += "interrupted: finish it with promptops test --resume " + outcome.run_id + "\n";
  }
  return out;
}

} // namespace

std::string progress_bar(std::size_t done, std::size_t total) {
  constexpr std::size_t width = 30;
  const std::size_t filled = total == 0 ? 0 : std::min(done, total) * width / total;
  std::string bar(filled, '#');
  bar.append(width - filled, '.');
  return "[" + bar + "] " + std::to_string(done) + "/" + std::to_string(total) + " cases";
}

std::string format_outcome(const golden::RunOutcome& outcome, double seconds, bool color,
                           std::size_t max_rows) {
  const auto& summary = outcome.summary;
  return verdict(summary, color) + what_moved(summary, color) + "\n" +
         failure_table(outcome, max_rows, color) + suite_lines(summary, color) +
         run_totals(outcome, seconds, color);
}

} // namespace promptops::report
