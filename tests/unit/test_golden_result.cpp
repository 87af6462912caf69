// The result model: CaseResult and RunSummary through their JSON (results.jsonl lines and
// summary.json), read leniently and by format version, and the two rules every report
// follows (failure_reason, exit_code).
#include "golden/fingerprint.hpp"
#include "golden/result.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

namespace golden = promptops::golden;
using golden::CaseResult;
using golden::CaseStatus;
using golden::EvaluationResult;
using golden::RunSummary;
using nlohmann::ordered_json;

// A result with every member set to something other than its default.
CaseResult full_result() {
  CaseResult r;
  r.id = "refund-1";
  r.suite = "classify";
  r.prompt = "support/classify";
  r.provider = "openai";
  r.model = "gpt-4o-2024-08-06";
  r.prompt_version = "3f2a9c1e0b7d";
  r.output = "{\"category\": \"billing\"}";
  r.status = CaseStatus::error;
  r.score = 0.25;
  r.evaluations = {{"is_json", true, 1.0, "valid JSON", true, false},
                   {"similarity", false, 0.5, "0.5 < 0.8", false, false},
                   {"llm_judge", false, 0.0, "could not decide", true, true}};
  r.latency_ms = 1234.5;
  r.usage = {120, 8};
  r.cost = 0.0042;
  r.fingerprint = golden::fingerprint(*r.output);
  r.system_fingerprint = "fp_abc123";
  r.attempts = 3;
  r.cached = false;
  golden::JudgeUsage judge;
  judge.calls = 3;
  judge.requests = 4;
  judge.cached = 1;
  judge.input_tokens = 900;
  judge.output_tokens = 60;
  judge.cost = 0.01;
  r.judge = judge;
  r.error = "llm_judge: could not decide";
  return r;
}

// A summary with every member (and every member of its parts) set to something other than its
// default.
RunSummary full_summary() {
  RunSummary s;
  s.run_id = "20260102-030405-abcd";
  s.against = "20260101-000000-0000";
  golden::SuiteSummary suite;
  suite.name = "classify";
  suite.file = "golden/classify.yaml";
  suite.candidates = {{"support/classify", "prod", "3f2a9c1e0b7d", "openai"},
                      {"support/classify", "", "9e8d7c6b5a4f", "anthropic"}};
  suite.totals = {4, 2, 1, 1};
  golden::BaselineEntry baseline;
  baseline.provider = "openai";
  baseline.file = "golden/baselines/classify/openai.jsonl";
  baseline.compared = 3;
  baseline.regressed = {"c2"};
  baseline.fixed = {"c7"};
  baseline.still_failing = 1;
  baseline.new_cases = 2;
  baseline.removed = 5;
  baseline.changed_outputs = 6;
  baseline.mean_score_delta = -0.25;
  suite.baselines = {baseline};
  suite.gate.passed = false;
  suite.gate.min_pass_rate = 0.9;
  suite.gate.max_regressions = 2;
  suite.gate.fail_on_drift = {"format", "latency"};
  suite.gate.drift_sensitivity = "strict";
  suite.gate.reasons = {"classify: pass rate 50.0% (2 of 4) is below the gate's 90.0%"};
  s.suites = {suite};
  s.totals = {4, 2, 1, 1};
  s.regressions = {"c2"};
  s.fixed = {"c7"};
  golden::DriftEntry drift;
  drift.suite = "classify";
  drift.provider = "openai";
  drift.kind = "latency";
  drift.feature = "latency_ms";
  drift.baseline = "median 800 ms";
  drift.candidate = "median 2400 ms";
  drift.count = 40;
  drift.cases = {"c1", "c2"};
  drift.message = "latency tripled";
  drift.p_value = 0.001;
  s.drift = {drift};
  s.provider_changes = {{"classify", "openai", "model", "gpt-4o-2024-05-13", "gpt-4o-2024-08-06", 2,
                         "the provider now answers as gpt-4o-2024-08-06"}};
  s.gate_passed = false;
  s.gate_reasons = {"classify: pass rate 50.0% (2 of 4) is below the gate's 90.0%"};
  s.input_tokens = 1000;
  s.output_tokens = 200;
  s.cost = 0.5;
  s.requests = 3;
  s.cached = 1;
  s.judge.calls = 2;
  s.judge.requests = 2;
  s.judge.cached = 0;
  s.judge.input_tokens = 300;
  s.judge.output_tokens = 30;
  s.judge.cost = 0.02;
  s.interrupted = true;
  s.finished = "2026-01-02T03:04:10Z";
  return s;
}

// require_same(a, b) checks every member of two values of one of the model's types.
template <class T> void require_same(const std::vector<T>& a, const std::vector<T>& b);

void require_same(const EvaluationResult& a, const EvaluationResult& b) {
  CHECK(a.type == b.type);
  CHECK(a.pass == b.pass);
  CHECK(a.score == b.score);
  CHECK(a.reason == b.reason);
  CHECK(a.required == b.required);
  CHECK(a.error == b.error);
}

void require_same(const golden::JudgeUsage& a, const golden::JudgeUsage& b) {
  CHECK(a.calls == b.calls);
  CHECK(a.requests == b.requests);
  CHECK(a.cached == b.cached);
  CHECK(a.input_tokens == b.input_tokens);
  CHECK(a.output_tokens == b.output_tokens);
  CHECK(a.cost == b.cost);
}

void require_same(const golden::CaseTotals& a, const golden::CaseTotals& b) {
  CHECK(a.cases == b.cases);
  CHECK(a.pass == b.pass);
  CHECK(a.fail == b.fail);
  CHECK(a.error == b.error);
}

void require_same(const CaseResult& a, const CaseResult& b) {
  CHECK(a.id == b.id);
  CHECK(a.suite == b.suite);
  CHECK(a.prompt == b.prompt);
  CHECK(a.provider == b.provider);
  CHECK(a.model == b.model);
  CHECK(a.prompt_version == b.prompt_version);
  CHECK(a.output == b.output);
  CHECK(a.status == b.status);
  CHECK(a.score == b.score);
  require_same(a.evaluations, b.evaluations);
  CHECK(a.latency_ms == b.latency_ms);
  CHECK(a.usage.input_tokens == b.usage.input_tokens);
  CHECK(a.usage.output_tokens == b.usage.output_tokens);
  CHECK(a.cost == b.cost);
  CHECK(a.fingerprint == b.fingerprint);
  CHECK(a.system_fingerprint == b.system_fingerprint);
  CHECK(a.attempts == b.attempts);
  CHECK(a.cached == b.cached);
  REQUIRE(a.judge.has_value() == b.judge.has_value());
  if (a.judge) {
    require_same(*a.judge, *b.judge);
  }
  CHECK(a.error == b.error);
}

void require_same(const golden::CandidateEntry& a, const golden::CandidateEntry& b) {
  CHECK(a.prompt == b.prompt);
  CHECK(a.ref == b.ref);
  CHECK(a.prompt_version == b.prompt_version);
  CHECK(a.provider == b.provider);
}

void require_same(const golden::BaselineEntry& a, const golden::BaselineEntry& b) {
  CHECK(a.provider == b.provider);
  CHECK(a.file == b.file);
  CHECK(a.compared == b.compared);
  CHECK(a.regressed == b.regressed);
  CHECK(a.fixed == b.fixed);
  CHECK(a.still_failing == b.still_failing);
  CHECK(a.new_cases == b.new_cases);
  CHECK(a.removed == b.removed);
  CHECK(a.changed_outputs == b.changed_outputs);
  CHECK(a.mean_score_delta == b.mean_score_delta);
}

void require_same(const golden::SuiteSummary& a, const golden::SuiteSummary& b) {
  CHECK(a.name == b.name);
  CHECK(a.file == b.file);
  require_same(a.candidates, b.candidates);
  require_same(a.totals, b.totals);
  require_same(a.baselines, b.baselines);
  CHECK(a.gate.passed == b.gate.passed);
  CHECK(a.gate.min_pass_rate == b.gate.min_pass_rate);
  CHECK(a.gate.max_regressions == b.gate.max_regressions);
  CHECK(a.gate.fail_on_drift == b.gate.fail_on_drift);
  CHECK(a.gate.drift_sensitivity == b.gate.drift_sensitivity);
  CHECK(a.gate.reasons == b.gate.reasons);
}

void require_same(const golden::DriftEntry& a, const golden::DriftEntry& b) {
  CHECK(a.suite == b.suite);
  CHECK(a.provider == b.provider);
  CHECK(a.kind == b.kind);
  CHECK(a.feature == b.feature);
  CHECK(a.baseline == b.baseline);
  CHECK(a.candidate == b.candidate);
  CHECK(a.count == b.count);
  CHECK(a.cases == b.cases);
  CHECK(a.message == b.message);
  CHECK(a.p_value == b.p_value);
}

void require_same(const golden::ProviderChange& a, const golden::ProviderChange& b) {
  CHECK(a.suite == b.suite);
  CHECK(a.provider == b.provider);
  CHECK(a.feature == b.feature);
  CHECK(a.baseline == b.baseline);
  CHECK(a.candidate == b.candidate);
  CHECK(a.cases == b.cases);
  CHECK(a.message == b.message);
}

void require_same(const RunSummary& a, const RunSummary& b) {
  CHECK(a.format_version == b.format_version);
  CHECK(a.run_id == b.run_id);
  CHECK(a.against == b.against);
  require_same(a.suites, b.suites);
  require_same(a.totals, b.totals);
  CHECK(a.regressions == b.regressions);
  CHECK(a.fixed == b.fixed);
  require_same(a.drift, b.drift);
  require_same(a.provider_changes, b.provider_changes);
  CHECK(a.gate_passed == b.gate_passed);
  CHECK(a.gate_reasons == b.gate_reasons);
  CHECK(a.input_tokens == b.input_tokens);
  CHECK(a.output_tokens == b.output_tokens);
  CHECK(a.cost == b.cost);
  CHECK(a.requests == b.requests);
  CHECK(a.cached == b.cached);
  require_same(a.judge, b.judge);
  CHECK(a.interrupted == b.interrupted);
  CHECK(a.finished == b.finished);
}

template <class T> void require_same(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("item " << i);
    require_same(a[i], b[i]);
  }
}

ordered_json without_version(ordered_json j) {
  j.erase("format_version");
  return j;
}

} // namespace

TEST_CASE("golden::case_result_from_json, every member of to_json's line reads back", "[result]") {
  const CaseResult r = full_result();
  const ordered_json line = golden::to_json(r);
  CHECK(line["format_version"] == golden::k_results_format_version);
  CHECK(ordered_json::parse(golden::result_line(r)) == line);
  require_same(golden::case_result_from_json(line, golden::Fingerprints::read), r);

  SECTION("the fingerprint only when asked for") {
    CHECK_FALSE(golden::case_result_from_json(line, golden::Fingerprints::skip).fingerprint);
  }
  SECTION("unset members are written as null and read back unset") {
    CaseResult bare;
    bare.id = "c1";
    bare.status = CaseStatus::pass;
    const ordered_json j = golden::to_json(bare);
    CHECK(j["output"].is_null());
    CHECK(j["model"].is_null());
    CHECK(j["score"].is_null());
    CHECK(j["cost"].is_null());
    CHECK_FALSE(j.contains("judge"));
    CHECK_FALSE(j.contains("error")); // only an error has one
    require_same(golden::case_result_from_json(j, golden::Fingerprints::read), bare);
  }
}

TEST_CASE("golden::run_summary_from_json, every member of to_json's summary reads back",
          "[result]") {
  const RunSummary s = full_summary();
  const ordered_json j = golden::to_json(s);
  CHECK(j["format_version"] == golden::k_results_format_version);
  CHECK(j["pass_rate"] == 0.5);
  require_same(golden::run_summary_from_json(j), s);
}

TEST_CASE("golden::case_result_from_json, members of the wrong type are left unset", "[result]") {
  const ordered_json line = ordered_json::parse(R"({
    "id": 7, "suite": "s", "output": 3, "status": "pass", "score": "high",
    "evaluations": [1, {"type": "contains", "pass": "no", "score": "x", "required": 0}],
    "latency_ms": "fast", "usage": {"input_tokens": 1.5, "output_tokens": -2},
    "cost": "free", "attempts": "2", "judge": [], "model": null
  })");
  const CaseResult r = golden::case_result_from_json(line, golden::Fingerprints::read);
  CHECK(r.id.empty());
  CHECK(r.suite == "s");
  CHECK_FALSE(r.output);
  CHECK(r.status == CaseStatus::pass);
  CHECK_FALSE(r.score);
  REQUIRE(r.evaluations.size() == 1); // the item that is not an object is skipped
  CHECK(r.evaluations[0].type == "contains");
  CHECK(r.evaluations[0].pass); // a mistyped pass reads as the safe side for failure_reason
  CHECK(r.evaluations[0].score == 0);
  CHECK(r.evaluations[0].required);
  CHECK_FALSE(r.latency_ms);
  CHECK_FALSE(r.usage.input_tokens);
  CHECK_FALSE(r.usage.output_tokens); // a negative count makes the whole usage unknown
  CHECK_FALSE(r.usage.invalid.empty());
  CHECK_FALSE(r.cost);
  CHECK(r.attempts == 0);
  CHECK(r.cached); // no "cached": not a call of this run
  CHECK_FALSE(r.judge);
  CHECK(r.model.empty());

  SECTION("a missing or unknown status is an error") {
    for (const ordered_json& status : {ordered_json(nullptr), ordered_json("passed"),
                                       ordered_json(true), ordered_json("PASS")}) {
      INFO(status.dump());
      ordered_json j = line;
      if (status.is_null()) {
        j.erase("status");
      } else {
        j["status"] = status;
      }
      CHECK(golden::case_result_from_json(j, golden::Fingerprints::skip).status ==
            CaseStatus::error);
    }
  }
  SECTION("not an object at all reads as an empty error") {
    const CaseResult none =
        golden::case_result_from_json(ordered_json::array({1, 2}), golden::Fingerprints::skip);
    CHECK(none.id.empty());
    CHECK(none.status == CaseStatus::error);
  }
}

TEST_CASE("golden::run_summary_from_json, members of the wrong type are left at their default",
          "[result]") {
  const RunSummary s = golden::run_summary_from_json(ordered_json::parse(R"({
    "run_id": 1, "suites": [{"name": "s", "totals": {"cases": "4", "pass": -1},
                             "gate": {"passed": "yes", "fail_on_drift": true}}, 3],
    "totals": {"cases": 2.5, "pass": 2}, "gate": {"reasons": ["r", 4]},
    "requests": -3, "interrupted": "no", "judge": {"calls": 2, "usage": {"input_tokens": "9"}}
  })"));
  CHECK(s.format_version == 1);
  CHECK(s.run_id.empty());
  REQUIRE(s.suites.size() == 1);
  CHECK(s.suites[0].name == "s");
  CHECK(s.suites[0].totals.cases == 0);
  CHECK(s.suites[0].totals.pass == 0);
  CHECK_FALSE(s.suites[0].gate.passed); // a gate that does not say it passed did not
  CHECK(s.suites[0].gate.fail_on_drift == std::vector<std::string>{"format"});
  CHECK(s.totals.cases == 0);
  CHECK(s.totals.pass == 2);
  CHECK_FALSE(s.gate_passed);
  CHECK(s.gate_reasons == std::vector<std::string>{"r"});
  CHECK(s.requests == 0);
  CHECK_FALSE(s.interrupted);
  CHECK(s.judge.calls == 2);
  CHECK(s.judge.input_tokens == 0);
}

TEST_CASE("golden::case_result_from_json, format_version 1 (none written) reads the same",
          "[result]") {
  const CaseResult r = full_result();
  const ordered_json line = golden::to_json(r);
  require_same(golden::case_result_from_json(without_version(line), golden::Fingerprints::read),
               golden::case_result_from_json(line, golden::Fingerprints::read));

  const RunSummary s = full_summary();
  const ordered_json summary = golden::to_json(s);
  RunSummary v1 = golden::run_summary_from_json(without_version(summary));
  CHECK(v1.format_version == 1);
  v1.format_version = golden::k_results_format_version;
  require_same(v1, golden::run_summary_from_json(summary));
}

TEST_CASE("golden::case_result_from_json, a newer format_version is refused by name", "[result]") {
  ordered_json line = golden::to_json(full_result());
  line["format_version"] = golden::k_results_format_version + 1;
  REQUIRE_THROWS_MATCHES(golden::case_result_from_json(line, golden::Fingerprints::skip),
                         promptops::InputError,
                         Catch::Message("a result line is of format_version 3, newer than this "
                                        "promptops reads (2): upgrade promptops"));
  ordered_json summary = golden::to_json(full_summary());
  summary["format_version"] = 3;
  REQUIRE_THROWS_MATCHES(golden::run_summary_from_json(summary), promptops::InputError,
                         Catch::Message("summary.json is of format_version 3, newer than this "
                                        "promptops reads (2): upgrade promptops"));
  // The current version and older ones read.
  summary["format_version"] = 1;
  CHECK(golden::run_summary_from_json(summary).format_version == 1);
}

TEST_CASE("golden::failure_reason, the first failed required evaluation, then the rest",
          "[result]") {
  CaseResult r;
  r.status = CaseStatus::fail;
  const EvaluationResult optional_fail{"similarity", false, 0.4, "0.4 < 0.8", false, false};
  const EvaluationResult passed{"is_json", true, 1, "valid JSON", true, false};
  const EvaluationResult required_fail{"contains", false, 0, "no \"label\"", true, false};
  const EvaluationResult second_required{"max_length", false, 0, "12 > 10", true, false};

  SECTION("a required failure wins over an optional one listed before it") {
    r.evaluations = {optional_fail, passed, required_fail, second_required};
    r.error = "ignored";
    CHECK(golden::failure_reason(r) == "contains: no \"label\"");
  }
  SECTION("else the first failed evaluation") {
    r.evaluations = {passed, optional_fail, {"regex", false, 0, "no match", false, false}};
    CHECK(golden::failure_reason(r) == "similarity: 0.4 < 0.8");
  }
  SECTION("else the provider's error") {
    r.status = CaseStatus::error;
    r.evaluations = {passed};
    r.error = "HTTP 529: overloaded after 3 attempts";
    CHECK(golden::failure_reason(r) == "HTTP 529: overloaded after 3 attempts");
  }
  SECTION("else the case could not be run") {
    r.status = CaseStatus::error;
    CHECK(golden::failure_reason(r) == "the case could not be run");
  }
  SECTION("nothing for a pass, whatever it holds") {
    r.status = CaseStatus::pass;
    r.evaluations = {optional_fail};
    r.error = "stale";
    CHECK(golden::failure_reason(r).empty());
  }
}

TEST_CASE("golden::exit_code, 3 for an incomplete verdict, else 1 for a failed gate", "[result]") {
  RunSummary s;
  s.totals = {3, 3, 0, 0};
  CHECK(golden::exit_code(s) == 0);
  s.gate_passed = false;
  CHECK(golden::exit_code(s) == 1);
  s.interrupted = true;
  CHECK(golden::exit_code(s) == 3);
  s.interrupted = false;
  s.totals.error = 1;
  CHECK(golden::exit_code(s) == 3);
  s.gate_passed = true; // an error outranks a gate that passed
  CHECK(golden::exit_code(s) == 3);
  s.totals.error = 0;
  s.interrupted = true;
  CHECK(golden::exit_code(s) == 3);
}
