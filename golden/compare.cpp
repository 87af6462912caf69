#include "golden/compare.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

namespace promptops::golden {

BaselineComparison::BaselineComparison(const Baseline& baseline) : m_baseline(baseline) {}

void BaselineComparison::add(const CaseResult& r, std::optional<Fingerprint> print) {
  if (!r.model.empty()) {
    ++m_models[r.model];
  }
  if (!r.system_fingerprint.empty()) {
    ++m_system_fingerprints[r.system_fingerprint];
  }
  const std::string* text = r.output ? &*r.output : nullptr;
  if (text != nullptr) {
    if (!print) { // a result of a stored run: its stored fingerprint, else the output's
      print = r.fingerprint;
    }
    m_prints.push_back(print ? std::move(*print)
                             : fingerprint(*text, tool_names(r.facts.tool_calls)));
    m_print_ids.push_back(r.id);
  }
  const auto it = m_baseline.cases.find(r.id);
  if (text != nullptr) {
    m_print_baselines.push_back(it == m_baseline.cases.end() ? nullptr : &it->second);
    m_usage.push_back(r.usage);
    if (const auto ms = uncached_latency_ms(r)) {
      m_latencies.push_back(*ms);
      m_latency_at.push_back(m_prints.size() - 1);
    }
  }
  if (it == m_baseline.cases.end()) {
    ++m_new;
    return;
  }
  const BaselineCase& before = it->second;
  m_seen.push_back(&before);
  ++m_compared;
  if (text != nullptr && *text != before.output) {
    ++m_changed_outputs;
  }
  // A case in error now is inconclusive (the run exits 3), not a regression.
  if (before.status && r.status != CaseStatus::error) {
    const bool was = *before.status == "pass";
    const bool is = r.status == CaseStatus::pass;
    if (was && !is) {
      m_regressed.push_back(r.id);
    } else if (!was && is) {
      m_fixed.push_back(r.id);
    } else if (!was && !is) {
      ++m_still_failing;
    }
  }
  if (before.score && r.score) {
    m_score_delta += *r.score - *before.score;
    ++m_scored;
  }
}

const std::vector<const BaselineCase*>& BaselineComparison::seen() const {
  std::sort(m_seen.begin(), m_seen.end());
  m_seen.erase(std::unique(m_seen.begin(), m_seen.end()), m_seen.end());
  return m_seen;
}

BaselineEntry BaselineComparison::entry(const std::string& provider, bool complete) const {
  BaselineEntry e;
  e.provider = provider;
  e.file = m_baseline.shown;
  e.compared = m_compared;
  e.regressed = m_regressed;
  e.fixed = m_fixed;
  e.still_failing = m_still_failing;
  e.new_cases = m_new;
  if (complete) {
    e.removed = m_baseline.cases.size() - seen().size();
  }
  e.changed_outputs = m_changed_outputs;
  if (m_scored > 0) {
    e.mean_score_delta = m_score_delta / static_cast<double>(m_scored);
  }
  return e;
}

void BaselineComparison::provider_changes(const std::string& suite, const std::string& provider,
                                          std::vector<ProviderChange>& out) const {
  const auto most_common = [](const std::map<std::string, std::size_t>& counts) {
    std::pair<std::string, std::size_t> best;
    for (const auto& [value, n] : counts) {
      if (n > best.second) {
        best = {value, n};
      }
    }
    return best;
  };
  std::map<std::string, std::size_t> base_models;
  std::map<std::string, std::size_t> base_fps;
  for (const auto& [_, bc] : m_baseline.cases) {
    if (!bc.model.empty()) {
      ++base_models[bc.model];
    }
    if (!bc.system_fingerprint.empty()) {
      ++base_fps[bc.system_fingerprint];
    }
  }
  for (const bool model : {true, false}) {
    const auto before = most_common(model ? base_models : base_fps);
    const auto now = most_common(model ? m_models : m_system_fingerprints);
    if (before.first.empty() || now.first.empty() || before.first == now.first) {
      continue;
    }
    ProviderChange change{
        suite,      provider, model ? "model" : "system_fingerprint", before.first, now.first,
        now.second, ""};
    change.message = model ? "the provider now answers as " + now.first +
                                 "; the baseline was recorded from " + before.first
                           : "the provider's system fingerprint is now " + now.first +
                                 "; the baseline was recorded with " + before.first;
    out.push_back(std::move(change));
  }
}

BaselineComparison::Drift BaselineComparison::drift(const std::string& suite,
                                                    const std::string& provider,
                                                    const DriftOptions& options,
                                                    const std::optional<Pricing>& pricing) const {
  // Each run output paired with its case's baseline fingerprint: the stored one in place, the
  // missing ones made here, once a case (a case may come once per prompt on one provider).
  std::unordered_map<const BaselineCase*, const Fingerprint*> base_prints;
  base_prints.reserve(m_baseline.cases.size());
  for (const BaselineCase* bc : m_print_baselines) {
    if (bc != nullptr) {
      base_prints.emplace(bc, bc->print ? &*bc->print : nullptr);
    }
  }
  std::vector<Fingerprint> made; // not moved while pointed to: reserved in full
  made.reserve(static_cast<std::size_t>(std::count_if(
      base_prints.begin(), base_prints.end(), [](const auto& e) { return e.second == nullptr; })));
  for (auto& [bc, fp] : base_prints) {
    if (fp == nullptr) {
      made.push_back(fingerprint(bc->output, bc->tool_names));
      fp = &made.back();
    }
  }
  std::vector<DriftCase> pairs(m_prints.size());
  std::vector<UsageCase> usage(m_prints.size());
  for (std::size_t i = 0; i < m_prints.size(); ++i) {
    const BaselineCase* bc = m_print_baselines[i];
    pairs[i].baseline = bc == nullptr ? nullptr : base_prints.at(bc);
    pairs[i].run = &m_prints[i];
    usage[i].baseline = bc == nullptr ? nullptr : &bc->usage;
    usage[i].run = m_usage[i];
  }
  Drift out;
  out.findings = detect_drift(pairs, options);
  for (DriftFinding& finding : detect_usage_drift(usage, pricing, options)) {
    out.findings.push_back(std::move(finding));
  }
  if (m_baseline.latency) {
    if (auto finding = detect_latency_drift(m_latencies, *m_baseline.latency, options)) {
      // Its indices count the uncached calls: made positions among the run's outputs, as the
      // other findings' are.
      for (std::size_t& i : finding->indices) {
        i = m_latency_at[i];
      }
      out.findings.push_back(std::move(*finding));
    }
  }
  for (const DriftFinding& finding : out.findings) {
    DriftEntry d;
    d.suite = suite;
    d.provider = provider;
    d.kind = finding.kind;
    d.feature = finding.feature;
    d.baseline = finding.baseline;
    d.candidate = finding.candidate;
    d.count = finding.cases;
    // The first 1,000: a finding over 100,000 cases would otherwise list them all.
    for (const std::size_t i : finding.indices) {
      if (d.cases.size() == 1000) {
        break;
      }
      if (i < m_print_ids.size()) {
        d.cases.push_back(m_print_ids[i]);
      }
    }
    d.message = finding.message;
    d.p_value = finding.p_value;
    out.entries.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> gate_reasons(const SuiteGate& gate) {
  std::vector<std::string> reasons;
  // A pass rate of no case is no evidence: a run interrupted before any of the suite's cases
  // ended, or a suite without cases, does not pass its gate.
  if (gate.cases == 0) {
    reasons.push_back(gate.suite + ": no case ran, so nothing shows it passes");
  }
  const double rate =
      gate.cases == 0 ? 1.0 : static_cast<double>(gate.pass) / static_cast<double>(gate.cases);
  if (rate + 1e-12 < gate.min_pass_rate) {
    char text[256];
    std::snprintf(text, sizeof text, "%s: pass rate %.1f%% (%zu of %zu) is below the gate's %.1f%%",
                  gate.suite.c_str(), rate * 100, gate.pass, gate.cases, gate.min_pass_rate * 100);
    reasons.emplace_back(text);
  }
  if (gate.max_regressions &&
      static_cast<long long>(gate.regressed.size()) > *gate.max_regressions) {
    std::string list;
    for (std::size_t i = 0; i < gate.regressed.size() && i < 5; ++i) {
      list += (i == 0 ? "" : ", ") + gate.regressed[i];
    }
    if (gate.regressed.size() > 5) {
      list += ", ...";
    }
    reasons.push_back(gate.suite + ": " + std::to_string(gate.regressed.size()) +
                      " cases regressed against " + gate.reference + " (pass before, not now: " +
                      list + "); the gate allows " + std::to_string(*gate.max_regressions));
  }
  for (const std::string& kind : gate.fail_on_drift) {
    std::vector<const std::string*> messages;
    for (const SuiteGate::DriftMessage& d : gate.drift) {
      if (d.kind == kind) {
        messages.push_back(&d.message);
      }
    }
    if (messages.empty()) {
      continue;
    }
    const std::size_t more = messages.size() - 1;
    const std::string what = kind == "format" ? "the outputs' format" : kind;
    reasons.push_back(gate.suite + ": " + what + " drifted from " + gate.reference + ": " +
                      *messages.front() +
                      (more > 0 ? " (and " + std::to_string(more) + " more)" : ""));
  }
  if (gate.error > 0) {
    reasons.push_back(gate.suite + ": " + std::to_string(gate.error) + " of " +
                      std::to_string(gate.cases) +
                      " cases could not run (provider errors); they count as failures");
  }
  return reasons;
}

GateVerdict gate_verdict(const SuiteGate& gate) {
  GateVerdict v;
  v.reasons = gate_reasons(gate);
  v.passed = v.reasons.empty();
  v.min_pass_rate = gate.min_pass_rate;
  v.max_regressions = gate.max_regressions;
  v.fail_on_drift = gate.fail_on_drift;
  v.drift_sensitivity = std::string(to_string(gate.drift_sensitivity));
  return v;
}

void RunComparisons::add(const std::string& suite, const std::string& provider,
                         const BaselineComparison& comparison, bool complete,
                         std::vector<BaselineEntry>& baselines, SuiteGate& gate,
                         const std::optional<Pricing>& pricing) {
  baselines.push_back(comparison.entry(provider, complete));
  for (const auto& id : comparison.regressed()) {
    gate.regressed.push_back(id);
    regressions.push_back(id);
  }
  for (const auto& id : comparison.fixed()) {
    fixed.push_back(id);
  }
  comparison.provider_changes(suite, provider, provider_changes);
  BaselineComparison::Drift found = comparison.drift(
      suite, provider, DriftOptions::for_sensitivity(gate.drift_sensitivity), pricing);
  for (const DriftFinding& finding : found.findings) {
    gate.drift.push_back({finding.kind, finding.message});
  }
  for (auto& entry : found.entries) {
    drift.push_back(std::move(entry));
  }
}

} // namespace promptops::golden
