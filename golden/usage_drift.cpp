#include "golden/usage_drift.hpp"

#include "golden/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace promptops::golden {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// 4310 as "4,310"; fractions are rounded.
std::string with_commas(double value) {
  const long long n = std::llround(value);
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// Two significant digits, at least two decimals, never an exponent: "$0.00013", "$0.0026",
// "$1.50".
std::string money(double value) {
  int decimals = 2;
  if (value > 0) {
    decimals = std::max(2, 1 - static_cast<int>(std::floor(std::log10(value))));
  }
  char text[64];
  std::snprintf(text, sizeof text, "$%.*f", std::min(decimals, 12), value);
  return text;
}

// "20x", "1.6x", "0.05x".
std::string times(double ratio) {
  char text[64];
  if (ratio >= 9.95) {
    std::snprintf(text, sizeof text, "%sx", with_commas(ratio).c_str());
  } else if (ratio >= 0.995) {
    std::snprintf(text, sizeof text, "%.1fx", ratio);
  } else {
    std::snprintf(text, sizeof text, "%.2gx", ratio);
  }
  return text;
}

// One paired feature: its name, its kind, how it reads, how its values are shown, and the
// unit that the per-case ratio adds to both sides (so that 0 -> 3 tokens is not infinite).
struct UsageFeature {
  const char* feature;
  const char* kind;
  const char* words; // "output tokens per case"
  std::string (*show)(double);
  const char* suffix; // after the values, e.g. " at current pricing"
  double unit;
};

std::optional<DriftFinding> paired_change(const UsageFeature& f, const std::vector<double>& before,
                                          const std::vector<double>& after,
                                          const std::vector<std::size_t>& positions,
                                          const DriftOptions& options) {
  const std::size_t n = before.size();
  if (n == 0 || n < options.min_cases) {
    return std::nullopt;
  }
  std::vector<double> differences(n);
  std::vector<double> ratios(n);
  for (std::size_t i = 0; i < n; ++i) {
    differences[i] = after[i] - before[i];
    ratios[i] = (after[i] + f.unit) / (before[i] + f.unit);
  }
  const double ratio = median(ratios);
  const bool rose = ratio >= k_min_usage_ratio;
  if (!rose && ratio > 1 / k_min_usage_ratio) {
    return std::nullopt;
  }
  const double p = wilcoxon_signed_rank(differences);
  if (p >= options.alpha) {
    return std::nullopt;
  }
  DriftFinding finding;
  for (std::size_t i = 0; i < n; ++i) {
    if (rose ? after[i] > before[i] : after[i] < before[i]) {
      finding.indices.push_back(positions[i]);
    }
  }
  if (finding.indices.size() < options.min_cases) {
    return std::nullopt;
  }
  const double from = median(before);
  const double to = median(after);
  finding.feature = f.feature;
  finding.kind = f.kind;
  finding.baseline = "median " + f.show(from);
  finding.candidate = "median " + f.show(to);
  finding.cases = finding.indices.size();
  finding.p_value = p;
  finding.message = std::string(f.words) + (rose ? " rose" : " fell") + " from a median of " +
                    f.show(from) + " to " + f.show(to) + f.suffix + " (" + times(ratio) + "; " +
                    (rose ? "up" : "down") + " in " + std::to_string(finding.cases) + " of " +
                    std::to_string(n) + " cases, paired)";
  return finding;
}

std::string milliseconds(double ms) {
  return with_commas(ms) + " ms";
}

} // namespace

TokenUsage token_usage_of(const ordered_json& line) {
  const auto usage = line.find("usage");
  return usage == line.end() ? TokenUsage{} : reply::usage_from_json(*usage);
}

std::optional<Pricing> pricing_of(const registry::Config& config, const std::string& provider) {
  const registry::ProviderConfig* p = config.find_provider(provider);
  if (p == nullptr || !p->settings.is_object()) {
    return std::nullopt;
  }
  const auto pricing = p->settings.find("pricing");
  if (pricing == p->settings.end()) {
    return std::nullopt;
  }
  Pricing out = reply::pricing_from_json(*pricing, p->type);
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

std::optional<LatencySummary> summarize_latency(const std::vector<double>& latencies_ms,
                                                const std::string& run_id) {
  if (latencies_ms.empty()) {
    return std::nullopt;
  }
  LatencySummary s;
  s.calls = latencies_ms.size();
  s.p50_ms = quantile(latencies_ms, 0.5);
  s.p95_ms = quantile(latencies_ms, 0.95);
  s.run_id = run_id;
  return s;
}

ordered_json to_json(const LatencySummary& summary) {
  ordered_json j;
  j["calls"] = summary.calls;
  j["p50_ms"] = summary.p50_ms;
  j["p95_ms"] = summary.p95_ms;
  j["run_id"] = summary.run_id;
  return j;
}

std::optional<LatencySummary> latency_summary_from_json(const json& value) {
  if (!value.is_object()) {
    return std::nullopt;
  }
  const auto calls = value.find("calls");
  const auto p50 = value.find("p50_ms");
  const auto p95 = value.find("p95_ms");
  const auto run_id = value.find("run_id");
  if (calls == value.end() || !calls->is_number_unsigned() || calls->get<std::size_t>() == 0 ||
      p50 == value.end() || !p50->is_number() || p50->get<double>() < 0 || p95 == value.end() ||
      !p95->is_number() || p95->get<double>() < 0 ||
      (run_id != value.end() && !run_id->is_string())) {
    return std::nullopt;
  }
  LatencySummary s;
  s.calls = calls->get<std::size_t>();
  s.p50_ms = p50->get<double>();
  s.p95_ms = p95->get<double>();
  s.run_id = run_id == value.end() ? std::string() : run_id->get<std::string>();
  return s;
}

std::vector<DriftFinding> detect_usage_drift(const std::vector<UsageCase>& cases,
                                             const std::optional<Pricing>& pricing,
                                             const DriftOptions& options) {
  const auto tokens = [](double x) { return with_commas(x); };
  const UsageFeature output{"output_tokens", "tokens", "output tokens per case", +tokens, "", 1};
  const UsageFeature input{"input_tokens", "tokens", "input tokens per case", +tokens, "", 1};
  std::vector<DriftFinding> out;
  const auto compare = [&](const UsageFeature& f, auto value_of) {
    std::vector<double> before;
    std::vector<double> after;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].baseline == nullptr) {
        continue;
      }
      const std::optional<double> b = value_of(*cases[i].baseline);
      const std::optional<double> r = value_of(cases[i].run);
      if (b && r) {
        before.push_back(*b);
        after.push_back(*r);
        positions.push_back(i);
      }
    }
    if (auto finding = paired_change(f, before, after, positions, options)) {
      out.push_back(std::move(*finding));
    }
  };
  const auto count = [](const std::optional<std::int64_t>& n) {
    return n ? std::optional<double>(static_cast<double>(*n)) : std::nullopt;
  };
  compare(output, [&](const TokenUsage& u) { return count(u.output_tokens); });
  compare(input, [&](const TokenUsage& u) { return count(u.input_tokens); });
  if (pricing) {
    // The unit is the dearer token's price: a case's ratio then moves as its tokens do.
    const double unit =
        std::max(pricing->input_per_mtok.value_or(0), pricing->output_per_mtok.value_or(0)) / 1e6;
    const UsageFeature cost{
        "cost", "cost", "cost per case", money, " at current pricing", unit > 0 ? unit : 1e-9};
    compare(cost, [&](const TokenUsage& u) { return reply::cost(*pricing, u); });
  }
  return out;
}

std::optional<DriftFinding> detect_latency_drift(const std::vector<double>& run_ms,
                                                 const LatencySummary& baseline,
                                                 const DriftOptions& options) {
  const std::size_t n = run_ms.size();
  if (n == 0 || n < options.min_cases || baseline.calls == 0) {
    return std::nullopt;
  }
  std::size_t above = 0;
  std::size_t below = 0;
  for (const double ms : run_ms) {
    above += ms > baseline.p50_ms ? 1 : 0;
    below += ms < baseline.p50_ms ? 1 : 0;
  }
  const bool rose = above > below;
  const double p50 = quantile(run_ms, 0.5);
  const double p95 = quantile(run_ms, 0.95);
  // On ms + 1, so that a baseline of 0 ms (a local exec provider) compares.
  const double ratio50 = (p50 + 1) / (baseline.p50_ms + 1);
  const double ratio95 = (p95 + 1) / (baseline.p95_ms + 1);
  const auto moved = [&](double ratio, double from, double to) {
    return std::abs(to - from) >= k_min_latency_change_ms &&
           (rose ? ratio >= k_min_latency_ratio : ratio <= 1 / k_min_latency_ratio);
  };
  const bool large = moved(ratio50, baseline.p50_ms, p50) || moved(ratio95, baseline.p95_ms, p95);
  if (!large) {
    return std::nullopt;
  }
  const double p = sign_test(above, above + below);
  if (p >= options.alpha) {
    return std::nullopt;
  }
  DriftFinding finding;
  for (std::size_t i = 0; i < n; ++i) {
    if (rose ? run_ms[i] > baseline.p50_ms : run_ms[i] < baseline.p50_ms) {
      finding.indices.push_back(i);
    }
  }
  finding.feature = "latency";
  finding.kind = "latency";
  finding.baseline = "p50 " + milliseconds(baseline.p50_ms) + ", p95 " +
                     milliseconds(baseline.p95_ms) + " (" +
                     with_commas(static_cast<double>(baseline.calls)) + " calls)";
  finding.candidate = "p50 " + milliseconds(p50) + ", p95 " + milliseconds(p95) + " (" +
                      with_commas(static_cast<double>(n)) + " calls)";
  finding.cases = finding.indices.size();
  finding.p_value = p;
  finding.message = std::string("uncached latency ") + (rose ? "rose" : "fell") + ": p50 " +
                    milliseconds(baseline.p50_ms) + " to " + milliseconds(p50) + " (" +
                    times(ratio50) + "), p95 " + milliseconds(baseline.p95_ms) + " to " +
                    milliseconds(p95) + " (" + times(ratio95) + "); " +
                    std::to_string(finding.cases) + " of " + std::to_string(n) + " calls " +
                    (rose ? "above" : "below") +
                    " the baseline's p50 (baseline: " + std::to_string(baseline.calls) + " calls)";
  return finding;
}

} // namespace promptops::golden
