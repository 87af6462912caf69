#include "golden/result.hpp"
#include "golden/usage_drift.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace promptops::golden;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// `n` cases whose baseline used `before(i)` output tokens and the run `after(i)`, with 30
// input tokens on both sides.
struct Pairs {
  std::vector<TokenUsage> baseline;
  std::vector<UsageCase> cases;

  Pairs(int n, const std::function<double(int)>& before, const std::function<double(int)>& after) {
    baseline.reserve(static_cast<std::size_t>(n)); // pointed to: never moved
    for (int i = 0; i < n; ++i) {
      baseline.push_back({30, static_cast<std::int64_t>(before(i))});
      cases.push_back({&baseline.back(), {30, static_cast<std::int64_t>(after(i))}});
    }
  }
};

const Pricing k_pricing{0.5, 1.0};

} // namespace

TEST_CASE("golden::detect_usage_drift, hidden output tokens: tokens and cost rise, in words",
          "[golden][usage_drift]") {
  const Pairs p(
      50, [](int) { return 212; }, [](int) { return 4310; });
  const std::vector<DriftFinding> found = detect_usage_drift(p.cases, k_pricing);
  REQUIRE(found.size() == 2);
  CHECK(found[0].kind == "tokens");
  CHECK(found[0].feature == "output_tokens");
  CHECK(found[0].message == "output tokens per case rose from a median of 212 to 4,310 (20x; up "
                            "in 50 of 50 cases, paired)");
  CHECK(found[0].baseline == "median 212");
  CHECK(found[0].candidate == "median 4,310");
  CHECK(found[0].cases == 50);
  CHECK(found[0].indices.size() == 50);
  CHECK(found[0].p_value < 0.001);
  CHECK(found[1].kind == "cost");
  CHECK(found[1].feature == "cost");
  CHECK(found[1].message == "cost per case rose from a median of $0.00023 to $0.0043 at current "
                            "pricing (19x; up in 50 of 50 cases, paired)");

  SECTION("without pricing there is no cost drift") {
    const std::vector<DriftFinding> unpriced = detect_usage_drift(p.cases, std::nullopt);
    REQUIRE(unpriced.size() == 1);
    CHECK(unpriced[0].feature == "output_tokens");
  }
}

TEST_CASE("golden::detect_usage_drift, falls are reported too", "[golden][usage_drift]") {
  const Pairs p(
      12, [](int) { return 4310; }, [](int) { return 212; });
  const std::vector<DriftFinding> found = detect_usage_drift(p.cases, std::nullopt);
  REQUIRE(found.size() == 1);
  CHECK(found[0].message == "output tokens per case fell from a median of 4,310 to 212 (0.049x; "
                            "down in 12 of 12 cases, paired)");
}

TEST_CASE("golden::detect_usage_drift, ordinary variation and small changes stay quiet",
          "[golden][usage_drift]") {
  const auto base = [](int i) { return 200 + (i * 37) % 50; };
  SECTION("each case within -20%..+20% of its baseline") {
    const Pairs p(200, base, [&](int i) { return base(i) * (0.8 + ((i * 13) % 40) / 100.0); });
    CHECK(detect_usage_drift(p.cases, k_pricing).empty());
  }
  SECTION("every case 30% longer: significant, but under the 1.5x floor") {
    const Pairs p(200, base, [&](int i) { return base(i) * 1.3; });
    CHECK(detect_usage_drift(p.cases, k_pricing).empty());
  }
  SECTION("a few cases much longer: the median case did not move") {
    const Pairs p(50, base, [&](int i) { return i < 10 ? base(i) * 20 : base(i); });
    CHECK(detect_usage_drift(p.cases, k_pricing).empty());
  }
}

TEST_CASE("golden::detect_usage_drift, only paired cases count", "[golden][usage_drift]") {
  SECTION("fewer pairs than min_cases") {
    const Pairs p(
        2, [](int) { return 10; }, [](int) { return 1000; });
    CHECK(detect_usage_drift(p.cases, std::nullopt).empty());
  }
  SECTION("new cases and cases without usage are left out") {
    Pairs p(
        12, [](int) { return 10; }, [](int) { return 1000; });
    for (int i = 0; i < 40; ++i) {
      p.cases.push_back({nullptr, {30, 5}}); // new: nothing to pair with
    }
    p.cases[0].run.output_tokens.reset();
    const std::vector<DriftFinding> found = detect_usage_drift(p.cases, std::nullopt);
    REQUIRE(found.size() == 1);
    CHECK_THAT(found[0].message, Catch::Contains("up in 11 of 11 cases, paired"));
    CHECK(found[0].indices.front() == 1);
    CHECK(found[0].indices.back() == 11);
  }
}

TEST_CASE("golden::detect_latency_drift, a run 60x slower is found, noise is not",
          "[golden][usage_drift]") {
  const LatencySummary baseline{50, 5, 6, "run-1"};
  const std::optional<DriftFinding> slow =
      detect_latency_drift(std::vector<double>(50, 300), baseline);
  REQUIRE(slow);
  CHECK(slow->kind == "latency");
  CHECK(slow->feature == "latency");
  CHECK(slow->message == "uncached latency rose: p50 5 ms to 300 ms (50x), p95 6 ms to 300 ms "
                         "(43x); 50 of 50 calls above the baseline's p50 (baseline: 50 calls)");
  CHECK(slow->baseline == "p50 5 ms, p95 6 ms (50 calls)");
  CHECK(slow->candidate == "p50 300 ms, p95 300 ms (50 calls)");
  CHECK(slow->cases == 50);

  SECTION("faster is reported too") {
    const LatencySummary was{40, 800, 1200, "run-1"};
    const auto fast = detect_latency_drift(std::vector<double>(40, 100), was);
    REQUIRE(fast);
    CHECK_THAT(fast->message, Catch::StartsWith("uncached latency fell: p50 800 ms to 100 ms"));
  }
  SECTION("calls 20% to 80% slower: under the 2x floor") {
    const LatencySummary was{100, 800, 1000, "run-1"};
    std::vector<double> run;
    for (int i = 0; i < 100; ++i) {
      run.push_back(800 * (1.2 + (i % 7) / 10.0));
    }
    CHECK_FALSE(detect_latency_drift(run, was));
  }
  SECTION("a slow tail in a few calls is not significant") {
    std::vector<double> run(30, 5);
    run[0] = run[1] = 900;
    CHECK_FALSE(detect_latency_drift(run, baseline));
  }
  SECTION("a local provider 3x slower by a few milliseconds: under the 50 ms floor") {
    const LatencySummary local{50, 2, 3, "run-1"};
    CHECK_FALSE(detect_latency_drift(std::vector<double>(50, 8), local));
  }
  SECTION("fewer calls than min_cases") {
    CHECK_FALSE(detect_latency_drift({300, 300}, baseline));
  }
}

TEST_CASE("golden::summarize_latency and its JSON", "[golden][usage_drift]") {
  CHECK_FALSE(summarize_latency({}, "r"));
  std::vector<double> ms;
  for (int i = 1; i <= 100; ++i) {
    ms.push_back(i);
  }
  const std::optional<LatencySummary> s = summarize_latency(ms, "run-7");
  REQUIRE(s);
  CHECK(s->calls == 100);
  CHECK(s->p50_ms == 50);
  CHECK(s->p95_ms == 95);
  const ordered_json j = to_json(*s);
  CHECK(j.dump() == R"({"calls":100,"p50_ms":50.0,"p95_ms":95.0,"run_id":"run-7"})");
  const auto back = latency_summary_from_json(json::parse(j.dump()));
  REQUIRE(back);
  CHECK(back->p95_ms == 95);
  CHECK(back->run_id == "run-7");
  CHECK_FALSE(latency_summary_from_json(json::parse(R"({"calls": 0, "p50_ms": 1, "p95_ms": 2})")));
  CHECK_FALSE(latency_summary_from_json(json::parse(R"({"calls": 3, "p50_ms": "1"})")));
  CHECK_FALSE(latency_summary_from_json(json::parse("[]")));
}

TEST_CASE("golden::token_usage_of and uncached_latency_ms read result lines",
          "[golden][usage_drift]") {
  const auto line = [](const char* text) { return ordered_json::parse(text); };
  const TokenUsage u =
      token_usage_of(line(R"({"usage": {"input_tokens": 12, "output_tokens": null}})"));
  CHECK(u.input_tokens == 12);
  CHECK_FALSE(u.output_tokens);
  CHECK_FALSE(token_usage_of(line(R"({"usage": "x"})")).input_tokens);
  // The latency rule is the result model's, on the line read as a CaseResult.
  const auto uncached_latency_ms = [](const ordered_json& l) {
    return promptops::golden::uncached_latency_ms(case_result_from_json(l, Fingerprints::skip));
  };
  CHECK(uncached_latency_ms(line(R"({"latency_ms": 820, "cached": false})")) == 820);
  CHECK_FALSE(uncached_latency_ms(line(R"({"latency_ms": 3, "cached": true})")));
  CHECK_FALSE(uncached_latency_ms(line(R"({"latency_ms": 3})")));
  CHECK_FALSE(uncached_latency_ms(line(R"({"latency_ms": null, "cached": false})")));
}

TEST_CASE("golden::pricing_of, a provider's current pricing from promptops.yaml",
          "[golden][usage_drift]") {
  const promptops::registry::Config config = promptops::registry::parse_config(
      "version: 1\nproviders:\n  a:\n    type: echo\n    pricing: {input_per_mtok: 0.5}\n"
      "  b:\n    type: echo\n",
      "promptops.yaml");
  const std::optional<Pricing> a = pricing_of(config, "a");
  REQUIRE(a);
  CHECK(a->input_per_mtok == 0.5);
  CHECK_FALSE(a->output_per_mtok);
  CHECK_FALSE(pricing_of(config, "b"));
  CHECK_FALSE(pricing_of(config, "c"));
}
