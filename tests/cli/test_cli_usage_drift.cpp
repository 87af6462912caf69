// End-to-end: tokens, cost and latency drift, against the project's fake provider over real
// HTTP: the same text, with hidden output tokens and a slower answer.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr int k_cases = 16;

// A registry with suite "s" on provider "p" (a fake, priced): case i always answers
// "ok, answer i", whatever the server bills or how long it takes.
struct UsageFixture {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  UsageFixture() {
    root = dir.path() / "reg";
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    suite_gate("{min_pass_rate: 1}");
    std::string lines;
    for (int i = 0; i < k_cases; ++i) {
      const std::string id = "c" + std::to_string(10 + i);
      lines +=
          json({{"id", id},
                {"vars", {{"question", id + " [[reply: ok, answer " + std::to_string(i) + "]]"}}}})
              .dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()},
           {"PROMPTOPS_TEST_KEY", "sk-test"},
           {"NO_COLOR", ""}};
  }

  void point_at(const FakeProvider& server) const {
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  p:\n    type: openai\n"
                                    "    base_url: " +
                                        server.base_url() +
                                        "/v1\n    api_key_env: PROMPTOPS_TEST_KEY\n"
                                        "    model: m\n    concurrency: 16\n"
                                        "    pricing: {input_per_mtok: 0.5, output_per_mtok: 2}\n");
  }

  void suite_gate(const std::string& gate) const {
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [p]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: contains, value: ok}\n"
                                   "gate: " +
                                       gate + "\n");
  }

  promptops::test::ProcessResult run(const std::vector<std::string>& args) const {
    return run_promptops(args, root, env);
  }

  fs::path newest_run() const {
    fs::path newest;
    fs::file_time_type newest_time;
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      const auto t = fs::last_write_time(e.path() / "run.json");
      if (newest.empty() || t > newest_time) {
        newest = e.path();
        newest_time = t;
      }
    }
    return newest;
  }

  json summary() const {
    std::ifstream in(newest_run() / "summary.json");
    return json::parse(in);
  }

  json latency_file() const {
    return json::parse(dir.read("reg/golden/baselines/s/p.latency.json"));
  }
};

std::set<std::string> kinds_of(const json& summary) {
  std::set<std::string> kinds;
  for (const auto& d : summary["drift"]) {
    kinds.insert(d.value("kind", "?"));
  }
  return kinds;
}

const json* finding(const json& summary, const std::string& feature) {
  for (const auto& d : summary["drift"]) {
    if (d["feature"] == feature) {
      return &d;
    }
  }
  return nullptr;
}

} // namespace

TEST_CASE("cli test, hidden output tokens and a 160x slower answer with the same text: tokens, "
          "cost and latency drift, gated only when listed",
          "[cli][drift][usage]") {
  FakeProvider normal(FakeProviderOptions{.latency_ms = 5});
  FakeProvider heavy(FakeProviderOptions{.latency_ms = 800, .extra_output_tokens = 4000});
  UsageFixture f;
  f.point_at(normal);
  const auto recorded = f.run({"baseline", "record"});
  INFO(recorded.out << recorded.err);
  REQUIRE(recorded.exit_code == 0);
  const std::string baseline_run = f.newest_run().filename().string();
  // The baseline keeps each line's usage, and the latency of its uncached calls beside it.
  const json latency = f.latency_file();
  CHECK(latency["calls"] == k_cases);
  CHECK(latency["run_id"] == baseline_run);
  CHECK(latency["p50_ms"].get<double>() >= 5);
  CHECK(latency["p50_ms"].get<double>() < 300);

  SECTION("a cached rerun, accepted, keeps the latency of the calls that were made") {
    const auto again = f.run({"test"});
    REQUIRE(again.exit_code == 0);
    CHECK(f.summary()["cached"] == k_cases);
    CHECK(f.summary()["drift"].empty());
    REQUIRE(f.run({"baseline", "accept"}).exit_code == 0);
    CHECK(f.latency_file() == latency);
  }

  f.point_at(heavy);
  SECTION("the default gate reports the drift and passes") {
    const auto r = f.run({"test", "--no-cache", "--markdown", "report.md"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json s = f.summary();
    CHECK(kinds_of(s) == std::set<std::string>{"tokens", "cost", "latency"});
    const json* tokens = finding(s, "output_tokens");
    REQUIRE(tokens != nullptr);
    CHECK((*tokens)["kind"] == "tokens");
    CHECK((*tokens)["count"] == k_cases);
    CHECK((*tokens)["cases"].size() == k_cases);
    CHECK_THAT((*tokens)["message"].get<std::string>(),
               Catch::StartsWith("output tokens per case rose from a median of 3 to 4,003 ("));
    CHECK(finding(s, "input_tokens") == nullptr); // the same prompts
    const json* cost = finding(s, "cost");
    REQUIRE(cost != nullptr);
    CHECK_THAT((*cost)["message"].get<std::string>(),
               Catch::Contains("at current pricing") && Catch::Contains("up in 16 of 16 cases"));
    const json* slow = finding(s, "latency");
    REQUIRE(slow != nullptr);
    CHECK_THAT((*slow)["message"].get<std::string>(),
               Catch::StartsWith("uncached latency rose: p50 ") &&
                   Catch::Contains("16 of 16 calls above the baseline's p50"));
    const json& gate = s["suites"][0]["gate"];
    CHECK(gate["passed"] == true);
    CHECK(gate["fail_on_drift"] == json::array());
    CHECK(gate["drift_sensitivity"] == "default");
    // The terminal names each kind.
    CHECK_THAT(r.out, Catch::Contains("tokens drift: s on p: output tokens per case rose"));
    CHECK_THAT(r.out, Catch::Contains("cost drift: s on p: cost per case rose"));
    CHECK_THAT(r.out, Catch::Contains("latency drift: s on p: uncached latency rose"));
    CHECK_THAT(r.out, !Catch::Contains("format drift"));
    const std::string md = f.dir.read("reg/report.md");
    CHECK_THAT(md, Catch::Contains("### Token drift") && Catch::Contains("### Cost drift") &&
                       Catch::Contains("### Latency drift"));
    CHECK_THAT(md, !Catch::Contains("### Format drift"));

    // report --against the baseline's run finds the same, with OTHER's latency and usage.
    const std::string heavy_run = f.newest_run().filename().string();
    const auto against = f.run({"report", heavy_run, "--against", baseline_run, "--json"});
    INFO(against.err);
    CHECK(against.exit_code == 0);
    const json compared = json::parse(against.out);
    CHECK(kinds_of(compared) == std::set<std::string>{"tokens", "cost", "latency"});
  }
  SECTION("fail_on_drift: [tokens] fails the gate, naming tokens") {
    f.suite_gate("{min_pass_rate: 1, fail_on_drift: [tokens]}");
    const auto r = f.run({"test", "--no-cache"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    const json s = f.summary();
    const json& gate = s["suites"][0]["gate"];
    CHECK(gate["fail_on_drift"] == json::array({"tokens"}));
    REQUIRE(gate["reasons"].size() == 1);
    CHECK_THAT(gate["reasons"][0].get<std::string>(),
               Catch::StartsWith("s: tokens drifted from the baseline: output tokens per case "
                                 "rose from a median of 3 to 4,003"));
    CHECK_THAT(r.out, Catch::Contains("s: tokens drifted from the baseline"));

    // report --against re-decides the gate from what summary.json recorded: still failed.
    const std::string heavy_run = f.newest_run().filename().string();
    const auto against = f.run({"report", heavy_run, "--against", baseline_run, "--json"});
    CHECK(against.exit_code == 1);
  }
  SECTION("fail_on_drift: true still means format drift only: exit 0") {
    f.suite_gate("{min_pass_rate: 1, fail_on_drift: true}");
    const auto r = f.run({"test", "--no-cache"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(f.summary()["suites"][0]["gate"]["fail_on_drift"] == json::array({"format"}));
    CHECK(kinds_of(f.summary()).count("tokens") == 1);
  }
  SECTION("a bad fail_on_drift is exit 2 naming the file and line") {
    f.suite_gate("{min_pass_rate: 1, fail_on_drift: [tokens, speed]}");
    const auto r = f.run({"test", "--no-cache"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("golden/s.yaml:6:41: gate.fail_on_drift"));
    CHECK(heavy.request_count() == 0);
  }
}
