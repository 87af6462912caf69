// Evidence bound to what was tested (issue 18, item 5): a run of a weakened or stale suite is
// not evidence for a protected promotion, whatever its pass rate.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using promptops::test::run_promptops;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

// A committed registry whose suite fails greet: the echo provider answers "Hello Ada", and the
// suite wants "Goodbye". prod is protected.
struct Registry {
  TempDir dir;
  std::unique_ptr<TestRepo> repo;
  static constexpr const char* k_suite = "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                                         "evaluators:\n  - {type: contains, value: Goodbye}\n";
  // The attack of the issue: the same suite made easy (the echo's "Hello Ada" passes).
  static constexpr const char* k_easy_suite =
      "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
      "evaluators:\n  - {type: contains, value: Hello}\n";
  static constexpr const char* k_cases = "{\"id\": \"ada\", \"vars\": {\"name\": \"Ada\"}}\n";
  Registry() {
    dir.write("promptops.yaml", "version: 1\nenvironments: [staging, prod]\nprotected: [prod]\n"
                                "providers:\n  default: {type: echo}\n");
    dir.write("prompts/greet.yaml", "template: \"Hello {{name}}\"\ninput: {required: [name]}\n");
    dir.write("golden/g.yaml", k_suite);
    dir.write("golden/g.jsonl", k_cases);
    repo = std::make_unique<TestRepo>(dir.path());
    repo->commit_all("first");
    REQUIRE(run({"promote", "greet", "--to", "staging"}).exit_code == 0); // prod's source
  }
  promptops::test::ProcessResult run(const std::vector<std::string>& args) const {
    return run_promptops(args, dir.path());
  }
  // Run g and return the run id; the gate must pass.
  std::string passing_run() const {
    const auto r = run({"test", "g", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out)["run_id"].get<std::string>();
  }
  // The suite made easy, run (its gate passes), and put back as committed: the run's id.
  std::string weakened_run() {
    dir.write("golden/g.yaml", k_easy_suite);
    const std::string id = passing_run();
    dir.write("golden/g.yaml", k_suite);
    return id;
  }
  nlohmann::json run_record(const std::string& id) const {
    return nlohmann::json::parse(dir.read(".promptops/runs/" + id + "/run.json"));
  }
};

} // namespace

TEST_CASE("attacks: a run of a weakened, uncommitted suite is not evidence",
          "[attacks][evidence]") {
  Registry r;
  // The attack of the issue: make the suite easy, run it, put it back, promote.
  const std::string run_id = r.weakened_run();

  auto p = r.run({"promote", "greet", "--to", "prod"});
  INFO(p.err);
  CHECK(p.exit_code == 1);
  CHECK_THAT(p.err, Catch::Contains("no passing run of g covers greet"));
  CHECK_THAT(p.err, Catch::Contains("run " + run_id +
                                    " tested inputs that differ from the last "
                                    "commit: suite golden/g.yaml"));
  // Nothing was written into prod.
  CHECK(r.run({"env", "history", "prod", "--json"}).out.find("Evidence-Run") == std::string::npos);
  // What the run tested, in run.json.
  const nlohmann::json record = r.run_record(run_id);
  REQUIRE(record.contains("evidence"));
  CHECK(record["evidence"]["g"]["hash"].is_string());
  CHECK(record["evidence"]["g"]["inputs"].contains("suite golden/g.yaml"));
}

TEST_CASE("attacks: weakened cases, evaluator scripts, providers and gates are not evidence",
          "[attacks][evidence]") {
  Registry r;
  SECTION("a failing case removed") {
    r.dir.write("golden/g.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n");
    const std::string cases = std::string(Registry::k_cases) +
                              "{\"id\": \"bob\", \"vars\": {\"name\": \"Bob\"}, \"evaluators\": "
                              "[{\"type\": \"contains\", \"value\": \"Goodbye\"}]}\n";
    r.dir.write("golden/g.jsonl", cases);
    r.repo->commit_all("bob fails");
    r.dir.write("golden/g.jsonl", Registry::k_cases);
    r.passing_run();
    r.dir.write("golden/g.jsonl", cases);
    const auto p = r.run({"promote", "greet", "--to", "prod"});
    CHECK(p.exit_code == 1);
    CHECK_THAT(p.err, Catch::Contains("cases golden/g.jsonl"));
  }
  SECTION("the script an exec evaluator runs, edited and restored") {
    constexpr const char* k_strict =
        "if grep -q Goodbye; then echo '{\"pass\": true}'; else echo '{\"pass\": false}'; fi\n";
    r.dir.write("scripts/check.sh", k_strict);
    r.dir.write("golden/g.yaml",
                "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                "evaluators:\n  - {type: exec, command: [sh, scripts/check.sh]}\n");
    r.repo->commit_all("checked by a script");
    r.dir.write("scripts/check.sh", "echo '{\"pass\": true}'\n");
    r.passing_run();
    r.dir.write("scripts/check.sh", k_strict);
    const auto p = r.run({"promote", "greet", "--to", "prod"});
    CHECK(p.exit_code == 1);
    CHECK_THAT(p.err, Catch::Contains("file scripts/check.sh"));
  }
  SECTION("the gate in promptops.yaml, lowered and restored") {
    const std::string config = r.dir.read("promptops.yaml");
    r.dir.write("promptops.yaml", config + "gate: {min_pass_rate: 0}\n");
    r.passing_run();
    r.dir.write("promptops.yaml", config);
    const auto p = r.run({"promote", "greet", "--to", "prod"});
    CHECK(p.exit_code == 1);
    CHECK_THAT(p.err, Catch::Contains("gate"));
  }
  SECTION("the provider's entry, changed and restored") {
    // An exec provider that says what the suite wants, in place of echo.
    const std::string config = r.dir.read("promptops.yaml");
    r.dir.write("promptops.yaml",
                "version: 1\nenvironments: [staging, prod]\nprotected: [prod]\n"
                "providers:\n  default: {type: exec, command: \"echo Goodbye\"}\n");
    r.passing_run();
    r.dir.write("promptops.yaml", config);
    const auto p = r.run({"promote", "greet", "--to", "prod"});
    CHECK(p.exit_code == 1);
    CHECK_THAT(p.err, Catch::Contains("provider default"));
  }
}

TEST_CASE("attacks: a suite only in the work tree covers nothing; a committed one does",
          "[attacks][evidence]") {
  Registry r;
  // The committed suite runs another prompt; the work tree's runs greet.
  r.dir.write("prompts/other.yaml", "template: other\n");
  r.dir.write("golden/g.yaml", "prompt: other\nproviders: [default]\ncases: g.jsonl\n");
  r.repo->commit_all("g tests other");
  r.dir.write("golden/h.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n");
  const auto t = r.run({"test", "h"});
  REQUIRE(t.exit_code == 0);
  auto p = r.run({"promote", "greet", "--to", "prod"});
  CHECK(p.exit_code == 1);
  CHECK_THAT(p.err, Catch::Contains("no suite under golden/ in the last commit runs \"greet\""));

  // Committed, the same suite's passing run is evidence, and the promotion names it.
  r.repo->commit_all("h tests greet");
  const auto again = r.run({"test", "h", "--json"});
  REQUIRE(again.exit_code == 0);
  const std::string run_id = nlohmann::json::parse(again.out)["run_id"].get<std::string>();
  p = r.run({"promote", "greet", "--to", "prod"});
  INFO(p.err);
  CHECK(p.exit_code == 0);
  const auto history = nlohmann::json::parse(r.run({"env", "history", "prod", "--json"}).out);
  REQUIRE(history.size() == 1);
  CHECK(history[0]["trailers"]["Evidence-Run"] == run_id);
}

TEST_CASE("attacks: a run.json whose recorded inputs were edited is not evidence",
          "[attacks][evidence]") {
  Registry r;
  const std::string run_id = r.weakened_run();
  // Claim the committed suite's digest without fixing the hash over the inputs.
  nlohmann::json record = r.run_record(run_id);
  record["evidence"]["g"]["inputs"]["suite golden/g.yaml"] = "0";
  r.dir.write(".promptops/runs/" + run_id + "/run.json", record.dump(2));
  const auto p = r.run({"promote", "greet", "--to", "prod"});
  CHECK(p.exit_code == 1);
  CHECK_THAT(p.err, Catch::Contains("does not record what it tested"));
}

TEST_CASE("attacks: a run is not resumed over a changed suite", "[attacks][evidence]") {
  Registry r;
  // A run cut short: its run.json and no summary, as an interrupted run leaves it.
  const auto t = r.run({"test", "g", "--json"});
  REQUIRE(t.exit_code == 1);
  const std::string run_id = nlohmann::json::parse(t.out)["run_id"].get<std::string>();
  std::filesystem::remove(r.dir.path() / ".promptops/runs" / run_id / "summary.json");
  r.dir.write("golden/g.yaml", Registry::k_easy_suite);
  const auto resumed = r.run({"test", "--resume", run_id});
  CHECK(resumed.exit_code == 2);
  CHECK_THAT(resumed.err,
             Catch::Contains("suite g changed since it started (suite golden/g.yaml)"));
}
