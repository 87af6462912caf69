// End-to-end: `promptops report RUN --against OTHER`, two stored runs compared with each other as
// if OTHER's outputs were the baseline (no baseline file), on a replay provider whose outputs
// and model each test sets.
#include "tests/support/drift_entries.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

using nlohmann::json;
using nlohmann::ordered_json;
using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A registry with suite "s" on provider "p", which replays reg/replies.jsonl: case i asks
// "{{question}}" and passes when the reply contains "ok". A suite's gate is as given.
struct AgainstFixture {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  explicit AgainstFixture(const std::string& gate = "{min_pass_rate: 0, max_regressions: 0}") {
    root = dir.path() / "reg";
    dir.write("reg/promptops.yaml",
              "version: 1\nproviders:\n  p:\n    type: replay\n    from: replies.jsonl\n"
              "  e:\n    type: echo\n");
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    suite("s", gate);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()}};
  }

  void suite(const std::string& name, const std::string& gate) const {
    dir.write("reg/golden/" + name + ".yaml", "prompt: ask\nproviders: [p]\ncases: " + name +
                                                  ".jsonl\nevaluators:\n"
                                                  "  - {type: contains, value: ok}\n"
                                                  "gate: " +
                                                  gate + "\n");
  }

  // The cases of suite `name`, one per id.
  void cases(const std::string& name, const std::vector<std::string>& ids) const {
    std::string lines;
    for (const auto& id : ids) {
      lines += json({{"id", id}, {"vars", {{"question", id}}}}).dump() + "\n";
    }
    dir.write("reg/golden/" + name + ".jsonl", lines);
  }

  // What the provider answers, by case id, as `model`.
  void replies(const std::map<std::string, std::string>& outputs,
               const std::string& model = "m-1") const {
    std::string lines;
    for (const auto& [id, output] : outputs) {
      lines += json({{"id", id}, {"output", output}, {"model", model}}).dump() + "\n";
    }
    dir.write("reg/replies.jsonl", lines);
  }

  ProcessResult run(const std::vector<std::string>& args) const {
    return run_promptops(args, root, env);
  }

  // `promptops test ARGS`: the new run's id.
  std::string test(std::vector<std::string> args = {}) const {
    args.insert(args.begin(), "test");
    args.emplace_back("--json");
    const ProcessResult r = run(args);
    INFO(r.out << r.err);
    REQUIRE((r.exit_code == 0 || r.exit_code == 1));
    return json::parse(r.out).at("run_id").get<std::string>();
  }

  json stored_summary(const std::string& run) const {
    return json::parse(dir.read("reg/.promptops/runs/" + run + "/summary.json"));
  }
};

// Twelve cases c10..c21 answering JSON, as run A gives them.
std::map<std::string, std::string> json_answers(const std::string& before = "",
                                                const std::string& after = "") {
  std::map<std::string, std::string> out;
  for (int i = 0; i < 12; ++i) {
    std::string id = "c";
    id += std::to_string(10 + i);
    out[id] = before + R"({"label": "ok-)" + std::to_string(i) + R"(", "score": )" +
              std::to_string(i) + "}" + after;
  }
  return out;
}

std::vector<std::string> json_case_ids() {
  std::vector<std::string> ids;
  for (const auto& [id, _] : json_answers()) {
    ids.push_back(id);
  }
  return ids;
}

// Run B's answers: every one now in a ```json fence, c10 and c11 no longer "ok".
std::map<std::string, std::string> fenced_answers_with_two_regressions() {
  auto out = json_answers("```json\n", "\n```");
  out["c10"] = "```json\n{\"label\": \"no-10\", \"score\": 0}\n```";
  out["c11"] = "```json\n{\"label\": \"no-11\", \"score\": 1}\n```";
  return out;
}

const json* suite_named(const json& summary, const std::string& name) {
  for (const auto& s : summary.at("suites")) {
    if (s.at("name") == name) {
      return &s;
    }
  }
  return nullptr;
}

} // namespace

TEST_CASE("cli report --against, B against A: regressed ids, drift and a new model, gated",
          "[cli][report][against]") {
  AgainstFixture f;
  f.cases("s", json_case_ids());
  f.replies(json_answers(), "m-1");
  const std::string a = f.test();

  SECTION("max_regressions 0: the two regressions fail the gate, exit 1") {
    f.replies(fenced_answers_with_two_regressions(), "m-2");
    const std::string b = f.test();
    // Without a baseline file, B's own verdict passes (min_pass_rate 0)...
    const auto own = f.run({"report", b});
    INFO(own.out << own.err);
    CHECK(own.exit_code == 0);
    CHECK_THAT(own.out, !Catch::Contains("regressed"));

    // ... against A it does not.
    const auto r = f.run({"report", b, "--against", a, "--markdown", "b.md"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::StartsWith("FAILED"));
    // The Markdown suite table says why the gate failed: not the pass rate (its minimum is 0).
    CHECK_THAT(f.dir.read("reg/b.md"),
               Catch::Contains("| s | p | 12 | 10 | 2 | 0 | 83.3% | ❌ 2 regressed (max 0) |\n"));
    CHECK_THAT(r.out, Catch::Contains("regressed: s on p: c10, c11\n"));
    CHECK_THAT(r.out, Catch::Contains("s: 2 cases regressed against run " + a +
                                      " (pass before, "
                                      "not now: c10, c11); the gate allows 0"));
    CHECK_THAT(r.out, Catch::Contains("drift: s on p: 12 of 12 outputs now wrap JSON in ```json "
                                      "fences (baseline 0 of 12)"));
    CHECK_THAT(r.out, Catch::Contains("provider changed: s on p: the provider now answers as "
                                      "m-2; the baseline was recorded from m-1"));
    CHECK_THAT(r.out, Catch::Contains("vs run " + a +
                                      ": 2 regressed, 0 fixed, 0 still failing, 0 new, 0 "
                                      "removed; 12 of 12 outputs changed"));
    // Drift alone does not fail this gate (no fail_on_drift): only the regressions are reasons.
    CHECK_THAT(r.out, !Catch::Contains("format drifted"));

    // The stored run is not changed by being compared.
    CHECK_FALSE(f.stored_summary(b).contains("against"));
    CHECK(f.stored_summary(b)["gate"]["passed"] == true);
  }
  SECTION("fail_on_drift: the drift alone fails the gate, exit 1") {
    f.suite("s", "{min_pass_rate: 0, fail_on_drift: true}");
    f.replies(json_answers("```json\n", "\n```"), "m-1");
    const std::string b = f.test();
    const auto r = f.run({"report", b, "--against", a, "--json", "--markdown", "drift.md"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(f.dir.read("reg/drift.md"),
               Catch::Contains("| s | p | 12 | 12 | 0 | 0 | 100.0% | ❌ format drift |\n"));
    const json s = json::parse(r.out);
    CHECK(s["regressions"].empty());
    CHECK(s["provider_changes"].empty());
    const json format = promptops::test::drift_of_kind(s);
    REQUIRE(format.size() == 1);
    CHECK(format[0]["feature"] == "code_fence");
    CHECK(format[0]["cases"].size() == 12);
    const json& gate = s["suites"][0]["gate"];
    CHECK(gate["passed"] == false);
    CHECK(gate["fail_on_drift"] == json::array({"format"}));
    CHECK(gate["drift_sensitivity"] == "default");
    REQUIRE(gate["reasons"].size() == 1);
    CHECK_THAT(gate["reasons"][0].get<std::string>(),
               Catch::StartsWith("s: the outputs' format drifted from run " + a + ": 12 of 12"));
    CHECK(s["gate"]["reasons"] == gate["reasons"]);

    // A summary.json of before the other kinds recorded true: it still means format drift.
    json old = f.stored_summary(b);
    old["suites"][0]["gate"]["fail_on_drift"] = true;
    old["suites"][0]["gate"].erase("drift_sensitivity");
    f.dir.write("reg/.promptops/runs/" + b + "/summary.json", old.dump(2));
    const auto again = f.run({"report", b, "--against", a, "--json", "--markdown", "old.md"});
    CHECK(again.exit_code == 1);
    CHECK(json::parse(again.out)["suites"][0]["gate"]["fail_on_drift"] == json::array({"format"}));
    CHECK_THAT(f.dir.read("reg/old.md"), Catch::Contains("| ❌ format drift |\n"));
  }
  SECTION("no max_regressions: regressions are reported, the gate passes, exit 0") {
    f.suite("s", "{min_pass_rate: 0}");
    f.replies(fenced_answers_with_two_regressions(), "m-2");
    const std::string b = f.test();
    const auto r = f.run({"report", b, "--against", a, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json s = json::parse(r.out);
    CHECK(s["regressions"] == json::array({"c10", "c11"}));
    CHECK(s["suites"][0]["gate"]["max_regressions"].is_null());
    CHECK(s["gate"]["passed"] == true);
  }
  SECTION("the other way round: A against B has the two fixed, exit 0") {
    f.replies(fenced_answers_with_two_regressions(), "m-2");
    const std::string b = f.test();
    const auto r = f.run({"report", a, "--against", b, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json s = json::parse(r.out);
    CHECK(s["regressions"].empty());
    CHECK(s["fixed"] == json::array({"c10", "c11"}));
    CHECK(s["provider_changes"][0]["candidate"] == "m-1");
    CHECK(s["provider_changes"][0]["baseline"] == "m-2");
  }
}

TEST_CASE("cli report --against, A against A: nothing regressed, no drift, exit 0",
          "[cli][report][against]") {
  AgainstFixture f("{min_pass_rate: 0, max_regressions: 0, fail_on_drift: true}");
  f.cases("s", json_case_ids());
  auto answers = json_answers();
  answers["c21"] = "not this time"; // a failure in both: still failing, not regressed
  f.replies(answers);
  const std::string a = f.test();
  const auto r = f.run({"report", a, "--against", a, "--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const json s = json::parse(r.out);
  CHECK(s["against"] == a);
  CHECK(s["regressions"].empty());
  CHECK(s["fixed"].empty());
  CHECK(s["drift"].empty());
  CHECK(s["provider_changes"].empty());
  CHECK(s["gate"]["passed"] == true);
  REQUIRE(s["suites"][0]["baselines"].size() == 1);
  const json& b = s["suites"][0]["baselines"][0];
  CHECK(b["file"] == "run " + a);
  CHECK(b["compared"] == 12);
  CHECK(b["still_failing"] == 1);
  CHECK(b["new"] == 0);
  CHECK(b["removed"] == 0);
  CHECK(b["changed_outputs"] == 0);
  CHECK(b["mean_score_delta"].get<double>() == Approx(0.0));

  const auto table = f.run({"report", a, "--against", a});
  CHECK(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::StartsWith("PASSED"));
  CHECK_THAT(table.out, Catch::Contains("vs run " + a +
                                        ": 0 regressed, 0 fixed, 1 still "
                                        "failing, 0 new, 0 removed; 0 of 12 outputs changed"));
}

TEST_CASE("cli report --against --json prints the rewritten summary, with against",
          "[cli][report][against]") {
  AgainstFixture f;
  f.cases("s", json_case_ids());
  f.replies(json_answers(), "m-1");
  const std::string a = f.test();
  f.replies(fenced_answers_with_two_regressions(), "m-2");
  const std::string b = f.test();

  const auto r = f.run({"report", b, "--against", a, "--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const ordered_json s = ordered_json::parse(r.out);
  // "against" right after "run_id".
  auto key = s.items().begin();
  CHECK(key.key() == "run_id");
  CHECK(key.value() == b);
  ++key;
  CHECK(key.key() == "against");
  CHECK(key.value() == a);
  CHECK(s["regressions"] == ordered_json::array({"c10", "c11"}));
  CHECK(s["fixed"].empty());
  CHECK(s["totals"]["fail"] == 2); // the run's own counts stay
  const ordered_json& b0 = s["suites"][0]["baselines"][0];
  CHECK(b0["provider"] == "p");
  CHECK(b0["file"] == "run " + a);
  CHECK(b0["regressed"] == ordered_json::array({"c10", "c11"}));
  CHECK(b0["changed_outputs"] == 12);
  CHECK(b0["mean_score_delta"].get<double>() == Approx(-2.0 / 12));
  CHECK(s["drift"][0]["feature"] == "code_fence");
  CHECK(s["provider_changes"][0]["feature"] == "model");
  CHECK(s["provider_changes"][0]["candidate"] == "m-2");
  CHECK(s["suites"][0]["gate"]["passed"] == false);
  CHECK(s["suites"][0]["gate"]["max_regressions"] == 0);
  CHECK(s["gate"]["passed"] == false);
  CHECK(s["gate"]["reasons"].size() == 1);
}

TEST_CASE("cli report --against, the Markdown and HTML reports diff against the other run",
          "[cli][report][against]") {
  AgainstFixture f;
  f.cases("s", {"a", "b"});
  f.replies({{"a", "ok <img src=x onerror=alert(1)> before ```"}, {"b", "ok same"}});
  const std::string first = f.test();
  f.replies({{"a", "ok <img src=x onerror=alert(2)> after ```"}, {"b", "ok same"}});
  const std::string second = f.test();

  const auto r =
      f.run({"report", second, "--against", first, "--markdown", "out.md", "--html", "out.html"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);

  const std::string md = f.dir.read("reg/out.md");
  CHECK_THAT(md, Catch::Contains("Run " + second + " against run " + first + " · 2 cases"));
  CHECK_THAT(md, Catch::Contains("### Against run " + first + "\n"));
  CHECK_THAT(md, Catch::Contains("### Changed outputs (1 against run " + first + ")"));
  // The diff, in a fence longer than the output's own backticks (so nothing in it is markup).
  CHECK_THAT(md, Catch::Contains("<details><summary>s on p: a</summary>\n\n````\n@@"));
  CHECK_THAT(md, Catch::Contains("-ok <img src=x onerror=alert(1)> before ```\n"
                                 "+ok <img src=x onerror=alert(2)> after ```\n"));
  CHECK_THAT(md, !Catch::Contains("s on p: b</summary>"));
  CHECK_THAT(md, !Catch::Contains("No baseline to compare with"));

  const std::string html = f.dir.read("reg/out.html");
  CHECK_THAT(html, Catch::Contains("run " + first));
  CHECK_THAT(html, Catch::Contains("Changed against run " + first));
  CHECK_THAT(html, Catch::Contains("<h2>Against run " + first + "</h2>"));
  CHECK_THAT(html, Catch::Contains("&lt;img src=x onerror=alert(1)&gt; before"));
  CHECK_THAT(html, Catch::Contains("&lt;img src=x onerror=alert(2)&gt; after"));
  CHECK_THAT(html, !Catch::Contains("<img src=x"));

  // Without --against, the same run has no baseline to diff with.
  REQUIRE(f.run({"report", second, "--markdown", "own.md"}).exit_code == 0);
  CHECK_THAT(f.dir.read("reg/own.md"), Catch::Contains("No baseline to compare with"));
}

TEST_CASE("cli report --against, an unknown or unfinished OTHER: exit 2 naming it",
          "[cli][report][against]") {
  AgainstFixture f;
  f.cases("s", {"a"});
  f.replies({{"a", "ok"}});
  const std::string a = f.test();

  SECTION("unknown") {
    const auto r = f.run({"report", a, "--against", "20990101-000000-beef"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no run \"20990101-000000-beef\" in .promptops/runs"));
    CHECK(r.out.empty());
  }
  SECTION("a path is no run id") {
    const auto r = f.run({"report", a, "--against", "../runs"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no run \"../runs\""));
  }
  SECTION("empty") {
    const auto r = f.run({"report", a, "--against", ""});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--against takes the id of a run"));
  }
  SECTION("one that did not finish (no summary.json)") {
    const std::string other = f.test();
    fs::remove(f.root / ".promptops" / "runs" / other / "summary.json");
    const auto r = f.run({"report", a, "--against", other});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("run " + other + " did not finish"));
  }
  SECTION("one that was interrupted") {
    const std::string other = f.test();
    json s = f.stored_summary(other);
    s["interrupted"] = true;
    f.dir.write("reg/.promptops/runs/" + other + "/summary.json", s.dump(2));
    const auto r = f.run({"report", a, "--against", other});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("run " + other + " was interrupted"));
    CHECK_THAT(r.err, Catch::Contains("--resume " + other));
  }
}

TEST_CASE("cli report --against, a suite the other run lacks has no baseline entry",
          "[cli][report][against]") {
  AgainstFixture f;
  f.suite("t", "{min_pass_rate: 0, max_regressions: 0}");
  f.cases("s", {"a", "b"});
  f.cases("t", {"t1", "t2"});
  f.replies({{"a", "ok"}, {"b", "ok"}, {"t1", "ok"}, {"t2", "ok"}});
  const std::string only_s = f.test({"s"});
  f.replies({{"a", "ok"}, {"b", "ok"}, {"t1", "no"}, {"t2", "ok"}});
  const std::string both = f.test();

  const auto r = f.run({"report", both, "--against", only_s, "--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0); // t1 fails, but nothing of t passed before in run only_s
  const json s = json::parse(r.out);
  const json* s_suite = suite_named(s, "s");
  const json* t_suite = suite_named(s, "t");
  REQUIRE(s_suite != nullptr);
  REQUIRE(t_suite != nullptr);
  REQUIRE((*s_suite)["baselines"].size() == 1);
  CHECK((*s_suite)["baselines"][0]["compared"] == 2);
  CHECK((*t_suite)["baselines"].empty());
  CHECK(s["regressions"].empty());

  // The other way round: run only_s's suite is compared, t is not in it at all.
  const auto back = f.run({"report", only_s, "--against", both, "--json"});
  CHECK(back.exit_code == 0);
  const json sb = json::parse(back.out);
  REQUIRE(sb["suites"].size() == 1);
  CHECK(sb["suites"][0]["baselines"][0]["compared"] == 2);
}

TEST_CASE("cli report --against, removed cases only when the run is whole",
          "[cli][report][against]") {
  AgainstFixture f;
  f.cases("s", json_case_ids());
  f.replies(json_answers());
  const std::string all = f.test();
  const std::string filtered = f.test({"--filter", "c10"});

  const auto r = f.run({"report", filtered, "--against", all, "--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const json b = json::parse(r.out)["suites"][0]["baselines"][0];
  CHECK(b["compared"] == 1);
  CHECK(b["removed"].is_null()); // the filtered run did not run the other eleven

  const auto back = f.run({"report", all, "--against", filtered, "--json"});
  CHECK(back.exit_code == 0);
  const json bb = json::parse(back.out)["suites"][0]["baselines"][0];
  CHECK(bb["compared"] == 1);
  CHECK(bb["new"] == 11);
  CHECK(bb["removed"] == 0);
}

TEST_CASE("cli report --against, a suite of several prompts on one provider: RUN's prompt",
          "[cli][report][against]") {
  AgainstFixture f;
  // The echo provider answers with the prompt as rendered: each prompt its own outputs.
  f.dir.write("reg/prompts/ask2.yaml", "messages:\n  - role: user\n"
                                       "    content: \"ok, v2: {{question}}\"\n"
                                       "input:\n  required: [question]\n");
  f.dir.write("reg/prompts/ask3.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                       "input:\n  required: [question]\n");
  const auto suite = [&](const std::string& prompts) {
    f.dir.write("reg/golden/m.yaml", "candidates:\n" + prompts +
                                         "cases: m.jsonl\nevaluators:\n"
                                         "  - {type: contains, value: ok}\n"
                                         "gate: {min_pass_rate: 0}\n");
  };
  f.cases("s", {"a"});
  f.replies({{"a", "ok"}});
  f.cases("m", {"ok-1", "ok-2"});
  suite("  - {prompt: ask, provider: e}\n  - {prompt: ask2, provider: e}\n");
  const std::string two = f.test({"m"});

  SECTION("the same prompt as RUN's, though not the first") {
    suite("  - {prompt: ask2, provider: e}\n");
    const std::string one = f.test({"m"});
    const auto r = f.run({"report", one, "--against", two, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json b = json::parse(r.out)["suites"][0]["baselines"][0];
    CHECK(b["compared"] == 2);
    CHECK(b["changed_outputs"] == 0); // against ask's outputs, both would have changed
  }
  SECTION("a prompt the other run lacks: the other run's first prompt") {
    suite("  - {prompt: ask3, provider: e}\n");
    const std::string three = f.test({"m"});
    const auto r = f.run({"report", three, "--against", two, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json b = json::parse(r.out)["suites"][0]["baselines"][0];
    CHECK(b["compared"] == 2);
    CHECK(b["changed_outputs"] == 0); // ask renders as ask3 does; ask2 does not
  }
}

TEST_CASE("cli report --json exits with the run's verdict", "[cli][report][against]") {
  AgainstFixture f("{min_pass_rate: 1}");
  f.cases("s", {"a", "b"});
  f.replies({{"a", "ok"}, {"b", "no"}});
  const std::string run = f.test();

  const auto r = f.run({"report", "--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1); // as `promptops test --json` did
  CHECK(json::parse(r.out)["gate"]["passed"] == false);
  const auto against_itself = f.run({"report", run, "--against", run, "--json"});
  CHECK(against_itself.exit_code == 1); // the pass rate is still below the gate's

  f.replies({{"a", "ok"}, {"b", "ok"}});
  const std::string passing = f.test();
  const auto ok = f.run({"report", passing, "--json"});
  CHECK(ok.exit_code == 0);
  CHECK(json::parse(ok.out)["run_id"] == passing);
}
