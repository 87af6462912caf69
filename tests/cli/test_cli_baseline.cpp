// End-to-end: `promptops baseline record|accept` and every run's comparison with its baseline,
// against the project's fake provider over real HTTP.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/drift_entries.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A registry with one suite "s" on provider "p" (the fake): case i asks "{{question}}" and
// passes when the reply contains "ok". `answers` are the replies, by case id.
struct BaselineFixture {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  explicit BaselineFixture(const FakeProvider& server) {
    root = dir.path() / "reg";
    point_at(server);
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [p]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: contains, value: ok}\n"
                                   "gate: {min_pass_rate: 0, max_regressions: 0}\n");
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()},
           {"PROMPTOPS_TEST_KEY", "sk-test"},
           {"NO_COLOR", ""}};
  }

  void point_at(const FakeProvider& server) const {
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  p:\n    type: openai\n"
                                    "    base_url: " +
                                        server.base_url() +
                                        "/v1\n    api_key_env: PROMPTOPS_TEST_KEY\n"
                                        "    model: m\n");
  }

  void answers(const std::map<std::string, std::string>& replies) const {
    std::string lines;
    for (const auto& [id, reply] : replies) {
      lines +=
          json({{"id", id}, {"vars", {{"question", id + " [[reply: " + reply + "]]"}}}}).dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
  }

  promptops::test::ProcessResult run(const std::vector<std::string>& args) const {
    return run_promptops(args, root, env);
  }

  json summary() const {
    fs::path newest;
    fs::file_time_type newest_time;
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      const auto t = fs::last_write_time(e.path() / "run.json");
      if (newest.empty() || t > newest_time) {
        newest = e.path();
        newest_time = t;
      }
    }
    std::ifstream in(newest / "summary.json");
    return json::parse(in);
  }

  std::vector<json> baseline_lines() const {
    std::ifstream in(root / "golden/baselines/s/p.jsonl");
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line)) {
      out.push_back(json::parse(line));
    }
    return out;
  }
};

} // namespace

TEST_CASE("cli baseline record, then runs compare with it: regressed, fixed, new, removed",
          "[cli][baseline]") {
  FakeProvider server;
  BaselineFixture f(server);
  f.answers({{"a", "ok 1"}, {"b", "ok 2"}, {"c", "bad 3"}, {"d", "ok 4"}});
  auto r = f.run({"baseline", "record"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("recorded golden/baselines/s/p.jsonl (4 cases)"));
  const auto lines = f.baseline_lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["id"] == "a"); // sorted by id: a re-recorded baseline diffs cleanly
  CHECK(lines[2]["id"] == "c");
  CHECK(lines[2]["status"] == "fail");
  CHECK(lines[0]["output"] == "ok 1");
  CHECK(lines[0]["model"] == "m-fake");
  // What changes on every run is not recorded.
  CHECK_FALSE(lines[0].contains("latency_ms"));
  CHECK_FALSE(lines[0].contains("attempts"));

  SECTION("nothing changed: nothing regressed, no output changed, exit 0") {
    r = f.run({"test"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json s = f.summary();
    const json& b = s["suites"][0]["baselines"][0];
    CHECK(b["compared"] == 4);
    CHECK(b["regressed"].empty());
    CHECK(b["still_failing"] == 1);
    CHECK(b["changed_outputs"] == 0);
    CHECK(b["removed"] == 0);
    CHECK(s["regressions"].empty());
  }
  SECTION("a regression, a fix, a new case and a removed one; the gate counts regressions") {
    f.answers({{"a", "bad now"}, {"b", "ok 2, reworded"}, {"c", "ok now"}, {"e", "ok new"}});
    r = f.run({"test"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    const json s = f.summary();
    CHECK(s["regressions"] == json::array({"a"}));
    CHECK(s["fixed"] == json::array({"c"}));
    const json& b = s["suites"][0]["baselines"][0];
    CHECK(b["file"] == "golden/baselines/s/p.jsonl");
    CHECK(b["compared"] == 3);
    CHECK(b["new"] == 1);
    CHECK(b["removed"] == 1); // d
    CHECK(b["changed_outputs"] == 3);
    CHECK(b["mean_score_delta"].get<double>() == Approx(0.0)); // -1 + 0 + 1 over 3
    CHECK(s["gate"]["passed"] == false);
    CHECK_THAT(r.out, Catch::Contains("1 cases regressed against the baseline (pass before, not "
                                      "now: a); the gate allows 0"));
    CHECK_THAT(r.out, Catch::Contains("vs golden/baselines/s/p.jsonl: 1 regressed, 1 fixed, 0 "
                                      "still failing, 1 new, 1 removed; 3 of 3 outputs changed"));

    // Accepted after review, the same outputs are the new reference.
    r = f.run({"baseline", "accept"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("accepted run "));
    CHECK(f.baseline_lines().size() == 4);
    r = f.run({"test"});
    CHECK(r.exit_code == 0);
    CHECK(f.summary()["regressions"].empty());
  }
  SECTION("a filtered run cannot report removed cases, nor become a baseline") {
    r = f.run({"test", "--filter", "a"});
    CHECK(f.summary()["suites"][0]["baselines"][0]["removed"].is_null());
    r = f.run({"baseline", "accept"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("ran only the cases matching --filter"));
  }
}

TEST_CASE("cli baseline, a provider that starts answering as another model is reported",
          "[cli][baseline]") {
  FakeProvider before(
      FakeProviderOptions{.reported_model = "gpt-4o-2024-05-13", .system_fingerprint = "fp_old"});
  BaselineFixture f(before);
  f.answers({{"a", "ok"}, {"b", "ok"}});
  REQUIRE(f.run({"baseline", "record"}).exit_code == 0);
  FakeProvider after(
      FakeProviderOptions{.reported_model = "gpt-4o-2024-08-06", .system_fingerprint = "fp_new"});
  f.point_at(after);
  const auto r = f.run({"test", "--no-cache"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0); // the outputs held: a change of model alone does not fail the gate
  const json s = f.summary();
  REQUIRE(s["provider_changes"].size() == 2);
  CHECK(s["provider_changes"][0]["feature"] == "model");
  CHECK(s["provider_changes"][0]["message"] ==
        "the provider now answers as gpt-4o-2024-08-06; the baseline was recorded from "
        "gpt-4o-2024-05-13");
  CHECK(s["provider_changes"][1]["feature"] == "system_fingerprint");
  CHECK_THAT(r.out, Catch::Contains("provider changed: s on p: the provider now answers as "
                                    "gpt-4o-2024-08-06"));
}

TEST_CASE("cli baseline, refusals: errors, no run, unknown run, bad baseline lines",
          "[cli][baseline]") {
  FakeProvider server;
  BaselineFixture f(server);
  SECTION("no run to accept") {
    f.answers({{"a", "ok"}});
    const auto r = f.run({"baseline", "accept"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no run to accept"));
  }
  SECTION("an unknown run") {
    f.answers({{"a", "ok"}});
    const auto r = f.run({"baseline", "record", "--from", "20990101-000000-beef"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no run \"20990101-000000-beef\""));
  }
  SECTION("a run with a case in error records nothing: exit 3") {
    f.dir.write("reg/golden/s.jsonl", R"({"id": "a", "vars": {"question": "x [[fault: 400 x*]]"}})"
                                      "\n"
                                      R"({"id": "b", "vars": {"question": "y [[reply: ok]]"}})"
                                      "\n");
    const auto r = f.run({"baseline", "record"});
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::Contains("1 cases in error"));
    CHECK_FALSE(fs::exists(f.root / "golden/baselines/s/p.jsonl"));
  }
  SECTION("a bad baseline line: exit 2 naming the file and line") {
    f.answers({{"a", "ok"}});
    f.dir.write("reg/golden/baselines/s/p.jsonl", R"({"id": "a", "output": "ok"})"
                                                  "\n"
                                                  R"({"output": "no id"})"
                                                  "\n");
    const auto r = f.run({"test"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("golden/baselines/s/p.jsonl:2:1: a baseline line needs a "
                                      "string \"id\""));
  }
}

TEST_CASE("cli baseline, format drift is found, named and gated, and content changes are not",
          "[cli][baseline][drift]") {
  FakeProvider server;
  BaselineFixture f(server);
  f.dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [p]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: contains, value: ok}\n"
                                   "gate: {min_pass_rate: 0, fail_on_drift: true}\n");
  const auto answers = [&](const std::string& before, const std::string& after) {
    std::map<std::string, std::string> replies;
    for (int i = 0; i < 12; ++i) {
      const std::string id = "c" + std::to_string(10 + i);
      replies[id] = before + R"({"label": "ok-)" + std::to_string(i) + R"(", "score": )" +
                    std::to_string(i) + "}" + after;
    }
    f.answers(replies);
  };
  answers("", "");
  REQUIRE(f.run({"baseline", "record"}).exit_code == 0);

  SECTION("new values, same form: no drift") {
    std::map<std::string, std::string> replies;
    for (int i = 0; i < 12; ++i) {
      replies["c" + std::to_string(10 + i)] = R"({"label": "ok-other-)" + std::to_string(i * 7) +
                                              R"(", "score": )" + std::to_string(100 + i) + "}";
    }
    f.answers(replies);
    const auto r = f.run({"test"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(promptops::test::drift_of_kind(f.summary()).empty());
  }
  SECTION("every answer now in a code fence: drift, in words, and the gate fails") {
    answers("```json\n", "\n```");
    const auto r = f.run({"test", "--markdown", "drift.md"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    const json s = f.summary();
    const json format = promptops::test::drift_of_kind(s);
    REQUIRE_FALSE(format.empty());
    const json& d = format[0];
    CHECK(d["suite"] == "s");
    CHECK(d["provider"] == "p");
    CHECK(d["feature"] == "code_fence");
    CHECK(d["count"] == 12);
    CHECK(d["cases"].size() == 12);
    CHECK_THAT(d["message"].get<std::string>(),
               Catch::Contains("12 of 12 outputs now wrap JSON in ```json fences (baseline 0 of "
                               "12)"));
    CHECK_THAT(r.out, Catch::Contains("drift: s on p: 12 of 12 outputs now wrap JSON"));
    CHECK_THAT(r.out, Catch::Contains("s: the outputs' format drifted from the baseline"));
    CHECK(d["p_value"].get<double>() < 0.001);
    // The Markdown report folds the changed outputs as diffs against the baseline.
    const std::string md = f.dir.read("reg/drift.md");
    CHECK_THAT(md, Catch::Contains("### Changed outputs (12 against the baseline)"));
    CHECK_THAT(md, Catch::Contains("+&#96;&#96;&#96;json") || Catch::Contains("+```json"));

    // Accepting the run takes the new format in: no drift next time.
    REQUIRE(f.run({"baseline", "accept"}).exit_code == 0);
    const auto again = f.run({"test"});
    CHECK(again.exit_code == 0);
    CHECK(promptops::test::drift_of_kind(f.summary()).empty());
  }
}

TEST_CASE("cli test --junit and --markdown, and promptops report", "[cli][baseline][report]") {
  FakeProvider server;
  BaselineFixture f(server);
  f.dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [p]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: contains, value: ok}\n"
                                   "gate: {min_pass_rate: 1}\n");
  f.answers({{"a", "ok"}, {"b", "no <script>alert(1)</script>"}});
  const auto r = f.run({"test", "--junit", "out/junit.xml", "--markdown", "out/report.md", "--html",
                        "out/report.html"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const std::string xml = f.dir.read("reg/out/junit.xml");
  CHECK_THAT(xml, Catch::Contains("<testcase name=\"b\""));
  CHECK_THAT(xml, Catch::Contains("&lt;script&gt;"));
  CHECK_THAT(xml, !Catch::Contains("<script>"));
  const std::string md = f.dir.read("reg/out/report.md");
  // Outside code blocks the output is escaped (inside one, GitHub shows it as text).
  CHECK_THAT(md, Catch::Contains("| b | contains: missing \"ok\" in \"no &lt;script&gt;"));
  CHECK_THAT(md, Catch::Contains("FAILED"));

  const std::string html = f.dir.read("reg/out/report.html");
  CHECK_THAT(html, Catch::Contains("Content-Security-Policy"));
  CHECK_THAT(html, Catch::Contains("no &lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_THAT(html, !Catch::Contains("<script>alert(1)"));

  // The stored run again: same verdict (exit 1), and its reports on demand.
  const auto again = f.run({"report", "--junit", "again.xml"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.out, Catch::Contains("2 cases: 1 pass, 1 fail, 0 error"));
  CHECK(f.dir.read("reg/again.xml") == xml);
  const auto as_json = f.run({"report", "--json"});
  CHECK(json::parse(as_json.out)["totals"]["fail"] == 1);
  CHECK(f.run({"report", "no-such-run"}).exit_code == 2);
}

TEST_CASE("cli baseline, examples/drift: every evaluator passes, the drift still fails the gate",
          "[cli][baseline][drift]") {
  TempDir dir;
  fs::copy(fs::path(PROMPTOPS_SOURCE_DIR) / "examples" / "drift", dir.path() / "drift",
           fs::copy_options::recursive);
  const auto r = run_promptops({"test", "--json"}, dir.path() / "drift",
                               {{"XDG_CACHE_HOME", (dir.path() / "cache").string()}});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const json s = json::parse(r.out);
  CHECK(s["totals"]["pass"] == 12);
  REQUIRE_FALSE(s["drift"].empty());
  CHECK(s["drift"][0]["feature"] == "code_fence");
  CHECK(s["drift"][0]["message"] ==
        "12 of 12 outputs now wrap JSON in ```json fences (baseline 0 of 12)");
  REQUIRE(s["provider_changes"].size() == 1);
  CHECK(s["provider_changes"][0]["candidate"] == "acme-large-2025-03");
  CHECK_THAT(s["gate"]["reasons"][0].get<std::string>(),
             Catch::StartsWith("orders: the outputs' format drifted from the baseline"));
}
