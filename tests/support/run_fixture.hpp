#pragma once

// Runs written to a temp folder the way `promptops test` leaves them (run.json, summary.json,
// results.jsonl), or built in memory and read as load_run reads them, for the report tests.

#include "golden/result.hpp"
#include "report/run_record.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace promptops::test {

using ordered_json = nlohmann::ordered_json;

inline ordered_json evaluation(const std::string& type, bool pass, const std::string& reason,
                               bool required = true) {
  ordered_json e;
  e["type"] = type;
  e["pass"] = pass;
  e["score"] = pass ? 1.0 : 0.0;
  e["reason"] = reason;
  if (!required) {
    e["required"] = false;
  }
  return e;
}

inline ordered_json result(const std::string& id, const std::string& suite,
                           const std::string& provider, const std::string& status,
                           const std::string& output,
                           ordered_json evaluations = ordered_json::array(),
                           double latency_ms = 100) {
  ordered_json r;
  r["id"] = id;
  r["suite"] = suite;
  r["prompt"] = "support/" + suite;
  r["provider"] = provider;
  r["model"] = provider + "-model";
  r["prompt_version"] = "v-" + suite;
  r["output"] = status == "error" ? ordered_json(nullptr) : ordered_json(output);
  r["status"] = status;
  r["score"] = status == "pass" ? 1.0 : 0.0;
  r["evaluations"] = std::move(evaluations);
  r["latency_ms"] = status == "error" ? ordered_json(nullptr) : ordered_json(latency_ms);
  r["usage"] = {{"input_tokens", 10}, {"output_tokens", 5}};
  r["cost"] = nullptr;
  r["fingerprint"] = nullptr;
  r["system_fingerprint"] = nullptr;
  r["attempts"] = status == "error" ? 3 : 1;
  r["cached"] = false;
  if (status == "error") {
    r["error"] = output;
  }
  return r;
}

inline ordered_json suite_json(const std::string& name, const std::vector<std::string>& providers,
                               std::size_t pass, std::size_t fail, std::size_t error, bool passed,
                               ordered_json baselines = ordered_json::array(),
                               ordered_json reasons = ordered_json::array()) {
  ordered_json s;
  s["name"] = name;
  s["file"] = "golden/" + name + ".yaml";
  s["candidates"] = ordered_json::array();
  for (const auto& p : providers) {
    s["candidates"].push_back({{"prompt", "support/" + name},
                               {"ref", ""},
                               {"prompt_version", "v-" + name},
                               {"provider", p}});
  }
  const std::size_t cases = pass + fail + error;
  s["totals"] = {{"cases", cases}, {"pass", pass}, {"fail", fail}, {"error", error}};
  s["pass_rate"] = cases == 0 ? 1.0 : static_cast<double>(pass) / static_cast<double>(cases);
  s["baselines"] = std::move(baselines);
  s["gate"] = {{"passed", passed},
               {"min_pass_rate", 1.0},
               {"max_regressions", 0},
               {"reasons", std::move(reasons)}};
  return s;
}

inline ordered_json summary_json(const std::string& run_id, ordered_json suites, bool passed,
                                 ordered_json reasons) {
  std::size_t cases = 0;
  std::size_t pass = 0;
  std::size_t fail = 0;
  std::size_t error = 0;
  for (const auto& s : suites) {
    cases += s["totals"]["cases"].get<std::size_t>();
    pass += s["totals"]["pass"].get<std::size_t>();
    fail += s["totals"]["fail"].get<std::size_t>();
    error += s["totals"]["error"].get<std::size_t>();
  }
  ordered_json j;
  j["run_id"] = run_id;
  j["suites"] = std::move(suites);
  j["totals"] = {{"cases", cases}, {"pass", pass}, {"fail", fail}, {"error", error}};
  j["pass_rate"] = cases == 0 ? 1.0 : static_cast<double>(pass) / static_cast<double>(cases);
  j["regressions"] = ordered_json::array();
  j["fixed"] = ordered_json::array();
  j["drift"] = ordered_json::array();
  j["provider_changes"] = ordered_json::array();
  j["gate"] = {{"passed", passed}, {"reasons", std::move(reasons)}};
  j["usage"] = {{"input_tokens", 10 * cases}, {"output_tokens", 5 * cases}};
  j["cost"] = nullptr;
  j["requests"] = cases;
  j["cached"] = 0;
  j["judge"] = {{"calls", 0}, {"requests", 0}, {"cached", 0}, {"cost", nullptr}};
  j["interrupted"] = false;
  j["finished"] = "2026-01-02T03:04:10Z";
  return j;
}

// A result line read as load_run reads one (without its fingerprint).
inline golden::CaseResult read_result(const ordered_json& line) {
  return golden::case_result_from_json(line, golden::Fingerprints::skip);
}

// A run built in memory as the JSON of its files (for texts a file could not hold: invalid
// UTF-8), then read through golden's typed readers as load_run reads the files.
struct RunJson {
  std::string run_id;
  ordered_json run = ordered_json::object();
  ordered_json summary = ordered_json::object();
  std::vector<ordered_json> results;

  report::RunRecord read() const {
    report::RunRecord record;
    record.run_id = run_id;
    record.run = golden::run_start_from_json(run);
    record.summary = golden::run_summary_from_json(summary);
    record.results.reserve(results.size());
    for (const ordered_json& line : results) {
      record.results.push_back(read_result(line));
    }
    return record;
  }
};

// Write run.json, summary.json and results.jsonl under runs/<run_id> and return the folder.
inline std::filesystem::path write_run(const TempDir& dir, const std::string& run_id,
                                       const ordered_json& summary,
                                       const std::vector<ordered_json>& results) {
  const std::string base = "runs/" + run_id + "/";
  dir.write(base + "run.json", ordered_json{{"run_id", run_id},
                                            {"started", "2026-01-02T03:04:05Z"},
                                            {"filters", ordered_json::array()}}
                                       .dump(2) +
                                   "\n");
  dir.write(base + "summary.json", summary.dump(2) + "\n");
  std::string lines;
  for (const auto& r : results) {
    lines += r.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
  }
  dir.write(base + "results.jsonl", lines);
  return dir.path() / "runs" / run_id;
}

// A run of two suites: "classify" on openai and anthropic, "summarize" on openai, with a
// pass, a failure (with an optional evaluation failing before the required one), a regression
// and a provider error.
inline std::filesystem::path write_mixed_run(const TempDir& dir) {
  std::vector<ordered_json> results = {
      result("c10", "classify", "openai", "pass", "{\"label\": \"billing\"}",
             ordered_json::array({evaluation("is_json", true, "valid JSON")}), 1234),
      result("c2", "classify", "openai", "fail", "Sure! Here is the JSON",
             ordered_json::array({evaluation("similarity", false, "0.41 < 0.8", false),
                                  evaluation("is_json", false, "not JSON: unexpected 'S'"),
                                  evaluation("contains", false, "no \"label\"")}),
             2000),
      result("c1", "classify", "anthropic", "error", "provider error 529 overloaded after 3 tries"),
      result("c2", "classify", "anthropic", "pass", "{\"label\": \"refund\"}",
             ordered_json::array({evaluation("is_json", true, "valid JSON")}), 500),
      result("s1", "summarize", "openai", "fail", "A summary.",
             ordered_json::array({evaluation("max_length", false, "12 > 10 characters")}), 250),
  };
  ordered_json baselines = ordered_json::array({{{"provider", "openai"},
                                                 {"file", "golden/baselines/classify/openai.jsonl"},
                                                 {"compared", 2},
                                                 {"regressed", {"c2"}},
                                                 {"fixed", ordered_json::array()},
                                                 {"still_failing", 0},
                                                 {"new", 0},
                                                 {"removed", 0},
                                                 {"changed_outputs", 1},
                                                 {"mean_score_delta", -0.5}}});
  ordered_json suites = ordered_json::array(
      {suite_json("classify", {"openai", "anthropic"}, 2, 1, 1, false, baselines,
                  {"classify: 1 cases regressed against the baseline (pass before, not now: c2); "
                   "the gate allows 0"}),
       suite_json("summarize", {"openai"}, 0, 1, 0, false)});
  ordered_json summary =
      summary_json("20260102-030405-abcd", suites, false,
                   {"classify: pass rate 50.0% (2 of 4) is below the gate's 100.0%",
                    "classify: 1 cases regressed against the baseline (pass before, not now: "
                    "c2); the gate allows 0"});
  summary["regressions"] = {"c2"};
  summary["drift"] = ordered_json::array(
      {{{"suite", "classify"},
        {"provider", "openai"},
        {"feature", "code_fence"},
        {"baseline", "0 of 2"},
        {"candidate", "2 of 2"},
        {"cases", 2},
        {"message", "2 of 2 outputs now wrap JSON in ```json fences; baseline 0 of 2"}}});
  summary["provider_changes"] = ordered_json::array(
      {{{"suite", "classify"},
        {"provider", "openai"},
        {"feature", "model"},
        {"baseline", "gpt-4o-2024-05-13"},
        {"candidate", "gpt-4o-2024-08-06"},
        {"cases", 2},
        {"message", "the provider now answers as gpt-4o-2024-08-06; the baseline was recorded "
                    "from gpt-4o-2024-05-13"}}});
  return write_run(dir, "20260102-030405-abcd", summary, results);
}

// How often `what` occurs in `text` (overlapping occurrences counted).
inline std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

} // namespace promptops::test
