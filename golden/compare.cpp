#include "golden/compare.hpp"

#include "util/json_fields.hpp"

#include <algorithm>
#include <cstdio>

namespace promptops::golden {

using nlohmann::json;
using nlohmann::ordered_json;

BaselineComparison::BaselineComparison(const Baseline& baseline) : m_baseline(baseline) {}

void BaselineComparison::add(const ordered_json& r, std::optional<Fingerprint> print) {
  const std::string id = util::string_field(r, "id");
  if (const std::string model = util::string_field(r, "model"); !model.empty()) {
    ++m_models[model];
  }
  if (const std::string fp = util::string_field(r, "system_fingerprint"); !fp.empty()) {
    ++m_system_fingerprints[fp];
  }
  const auto output = r.find("output");
  const std::string* text =
      output != r.end() && output->is_string() ? output->get_ptr<const std::string*>() : nullptr;
  if (text != nullptr) {
    if (!print) { // a line of a stored run: its stored fingerprint, else the output's
      const auto stored = r.find("fingerprint");
      print = stored != r.end() ? fingerprint_from_json(*stored) : std::nullopt;
    }
    m_prints.push_back(print ? std::move(*print) : fingerprint(*text));
    m_print_ids.push_back(id);
  }
  const auto it = m_baseline.cases.find(id);
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
  const std::string status = util::string_field(r, "status");
  // A case in error now is inconclusive (the run exits 3), not a regression.
  if (before.status && status != "error") {
    const bool was = *before.status == "pass";
    const bool is = status == "pass";
    if (was && !is) {
      m_regressed.push_back(id);
    } else if (!was && is) {
      m_fixed.push_back(id);
    } else if (!was && !is) {
      ++m_still_failing;
    }
  }
  const auto score = r.find("score");
  if (before.score && score != r.end() && score->is_number()) {
    m_score_delta += score->get<double>() - *before.score;
    ++m_scored;
  }
}

const std::vector<const BaselineCase*>& BaselineComparison::seen() const {
  std::sort(m_seen.begin(), m_seen.end());
  m_seen.erase(std::unique(m_seen.begin(), m_seen.end()), m_seen.end());
  return m_seen;
}

ordered_json BaselineComparison::to_json(const std::string& provider, bool complete) const {
  ordered_json j;
  j["provider"] = provider;
  j["file"] = m_baseline.shown;
  j["compared"] = m_compared;
  j["regressed"] = m_regressed;
  j["fixed"] = m_fixed;
  j["still_failing"] = m_still_failing;
  j["new"] = m_new;
  j["removed"] =
      complete ? ordered_json(m_baseline.cases.size() - seen().size()) : ordered_json(nullptr);
  j["changed_outputs"] = m_changed_outputs;
  j["mean_score_delta"] = m_scored == 0
                              ? ordered_json(nullptr)
                              : ordered_json(m_score_delta / static_cast<double>(m_scored));
  return j;
}

void BaselineComparison::provider_changes(const std::string& suite, const std::string& provider,
                                          ordered_json& out) const {
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
    ordered_json j;
    j["suite"] = suite;
    j["provider"] = provider;
    j["feature"] = model ? "model" : "system_fingerprint";
    j["baseline"] = before.first;
    j["candidate"] = now.first;
    j["cases"] = now.second;
    j["message"] = model ? "the provider now answers as " + now.first +
                               "; the baseline was recorded from " + before.first
                         : "the provider's system fingerprint is now " + now.first +
                               "; the baseline was recorded with " + before.first;
    out.push_back(std::move(j));
  }
}

BaselineComparison::Drift BaselineComparison::drift(const std::string& suite,
                                                    const std::string& provider) const {
  // The baseline's stored fingerprints are used in place; the missing ones are made here.
  const std::vector<const BaselineCase*>& cases = seen();
  std::vector<Fingerprint> made; // not moved while pointed to: reserved in full
  made.reserve(static_cast<std::size_t>(std::count_if(
      cases.begin(), cases.end(), [](const BaselineCase* bc) { return !bc->print; })));
  std::vector<const Fingerprint*> before;
  before.reserve(cases.size());
  for (const BaselineCase* bc : cases) {
    if (bc->print) {
      before.push_back(&*bc->print);
    } else {
      made.push_back(fingerprint(bc->output));
      before.push_back(&made.back());
    }
  }
  std::vector<const Fingerprint*> run;
  run.reserve(m_prints.size());
  for (const Fingerprint& fp : m_prints) {
    run.push_back(&fp);
  }
  Drift out;
  out.findings = detect_drift(before, run);
  for (const DriftFinding& finding : out.findings) {
    ordered_json d;
    d["suite"] = suite;
    d["provider"] = provider;
    d["feature"] = finding.feature;
    d["baseline"] = finding.baseline;
    d["candidate"] = finding.candidate;
    d["count"] = finding.cases;
    ordered_json ids = ordered_json::array();
    // The first 1,000: a finding over 100,000 cases would otherwise list them all.
    for (const std::size_t i : finding.indices) {
      if (ids.size() == 1000) {
        break;
      }
      if (i < m_print_ids.size()) {
        ids.push_back(m_print_ids[i]);
      }
    }
    d["cases"] = std::move(ids);
    d["message"] = finding.message;
    d["p_value"] = finding.p_value;
    out.entries.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> gate_reasons(const SuiteGate& gate) {
  std::vector<std::string> reasons;
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
  if (gate.fail_on_drift && !gate.drift_messages.empty()) {
    const std::size_t more = gate.drift_messages.size() - 1;
    reasons.push_back(gate.suite + ": the outputs' format drifted from " + gate.reference + ": " +
                      gate.drift_messages.front() +
                      (more > 0 ? " (and " + std::to_string(more) + " more)" : ""));
  }
  if (gate.error > 0) {
    reasons.push_back(gate.suite + ": " + std::to_string(gate.error) + " of " +
                      std::to_string(gate.cases) +
                      " cases could not run (provider errors); they count as failures");
  }
  return reasons;
}

ordered_json gate_json(const SuiteGate& gate, ordered_json& all_reasons) {
  ordered_json reasons = ordered_json::array();
  for (std::string& reason : gate_reasons(gate)) {
    all_reasons.push_back(reason);
    reasons.push_back(std::move(reason));
  }
  ordered_json j;
  j["passed"] = reasons.empty();
  j["min_pass_rate"] = gate.min_pass_rate;
  j["max_regressions"] =
      gate.max_regressions ? ordered_json(*gate.max_regressions) : ordered_json(nullptr);
  j["fail_on_drift"] = gate.fail_on_drift;
  j["reasons"] = std::move(reasons);
  return j;
}

void RunComparisons::add(const std::string& suite, const std::string& provider,
                         const BaselineComparison& comparison, bool complete,
                         ordered_json& baselines, SuiteGate& gate) {
  baselines.push_back(comparison.to_json(provider, complete));
  for (const auto& id : comparison.regressed()) {
    gate.regressed.push_back(id);
    regressions.push_back(id);
  }
  for (const auto& id : comparison.fixed()) {
    fixed.push_back(id);
  }
  comparison.provider_changes(suite, provider, provider_changes);
  BaselineComparison::Drift found = comparison.drift(suite, provider);
  for (const DriftFinding& finding : found.findings) {
    gate.drift_messages.push_back(finding.message);
  }
  for (auto& entry : found.entries) {
    drift.push_back(std::move(entry));
  }
}

} // namespace promptops::golden
