// End-to-end: llm_judge in `promptops test`, with the project's fake provider as both the
// candidate and the judge, over real HTTP.
#include "tests/fake_provider/fake_provider.hpp"
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
using promptops::fake::Rule;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string verdict(double score, bool pass, const std::string& reason) {
  return json({{"score", score}, {"pass", pass}, {"reason", reason}}).dump();
}

std::string preference(const std::string& winner, const std::string& reason) {
  return json({{"winner", winner}, {"reason", reason}}).dump();
}

// A registry whose candidate ("cand") and judge ("judge") are both the fake server. Each case
// is (id, the candidate's reply, the case's own evaluators as YAML-free JSON).
struct JudgeFixture {
  TempDir dir;
  fs::path root;
  std::map<std::string, std::string> env;

  JudgeFixture(const FakeProvider& server, const std::vector<json>& cases,
               const std::string& judge_extra = "") {
    root = dir.path() / "reg";
    const std::string url = server.base_url() + "/v1";
    dir.write("reg/promptops.yaml",
              "version: 1\nproviders:\n"
              "  cand:\n    type: openai\n    base_url: " +
                  url +
                  "\n    api_key_env: PROMPTOPS_TEST_KEY\n    model: cand-model\n"
                  "  judge:\n    type: openai\n    base_url: " +
                  url +
                  "\n    api_key_env: PROMPTOPS_TEST_KEY\n    model: judge-model\n"
                  "    pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}\n" +
                  judge_extra);
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [cand]\ncases: s.jsonl\n"
                                   "gate: {min_pass_rate: 0.5}\n");
    std::string lines;
    for (const auto& c : cases) {
      lines += c.dump() + "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()},
           {"PROMPTOPS_TEST_KEY", "sk-test-judge"},
           {"NO_COLOR", ""}};
  }

  promptops::test::ProcessResult test(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"test"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_promptops(args, root, env);
  }

  // The newest run's results, by case id.
  std::map<std::string, json> results() const {
    // Run ids sort by the second they started: two runs in one second need the clock.
    fs::path newest;
    fs::file_time_type newest_time;
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      if (e.is_directory() && fs::exists(e.path() / "run.json")) {
        const auto t = fs::last_write_time(e.path() / "run.json");
        if (newest.empty() || t > newest_time) {
          newest = e.path();
          newest_time = t;
        }
      }
    }
    m_last_run = newest;
    std::ifstream in(newest / "results.jsonl");
    std::map<std::string, json> out;
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line);
      out[j["id"].get<std::string>()] = j;
    }
    return out;
  }

  json summary() const {
    results();
    std::ifstream in(m_last_run / "summary.json");
    return json::parse(in);
  }

  mutable fs::path m_last_run;
};

// A case whose candidate replies `reply` and which one llm_judge with `judge` options scores.
json judged_case(const std::string& id, const std::string& reply, json judge,
                 json expected = nullptr) {
  judge["type"] = "llm_judge";
  if (!judge.contains("provider")) {
    judge["provider"] = "judge";
  }
  json c = {{"id", id},
            {"vars", {{"question", "Q " + id + " [[reply: " + reply + "]]"}}},
            {"evaluators", json::array({judge})}};
  if (!expected.is_null()) {
    c["expected"] = expected;
  }
  return c;
}

// The judge requests the server saw (those for model judge-model), as parsed bodies.
std::vector<json> judge_requests(const FakeProvider& server) {
  std::vector<json> out;
  for (const auto& r : server.requests()) {
    json body = json::parse(r.body);
    if (body["model"] == "judge-model") {
      out.push_back(std::move(body));
    }
  }
  return out;
}

std::string last_user(const json& body) {
  return body["messages"].back()["content"].get<std::string>();
}

} // namespace

TEST_CASE("cli llm_judge, pass, fail, fenced and unparseable verdicts", "[cli][judge]") {
  FakeProvider server(FakeProviderOptions{
      .rules = {{"RUBRIC-PASS", verdict(0.9, true, "names the product")},
                {"RUBRIC-FENCED", "Here is my verdict:\n```json\n" +
                                      verdict(0.8, true, "fenced but fine") + "\n```"},
                {"RUBRIC-FAIL", verdict(0.1, false, "no product named")},
                {"RUBRIC-GARBAGE", "I think this answer is quite good."},
                {"RUBRIC-HALF", R"({"score": 0.7, "reason": "no pass field"})"},
                {"RUBRIC-RANGE", verdict(7, true, "a 0-10 score")}}});
  JudgeFixture f(server, {judged_case("pass", "the Acme X1 is broken",
                                      {{"rubric", "RUBRIC-PASS names the product"}}, "Acme X1"),
                          judged_case("fenced", "ok", {{"rubric", "RUBRIC-FENCED"}}),
                          judged_case("fail", "it is broken", {{"rubric", "RUBRIC-FAIL"}}),
                          judged_case("garbage", "x", {{"rubric", "RUBRIC-GARBAGE"}}),
                          judged_case("half", "x", {{"rubric", "RUBRIC-HALF"}}),
                          judged_case("range", "x", {{"rubric", "RUBRIC-RANGE"}})});
  const auto r = f.test();
  INFO(r.out << r.err);
  // An unreadable verdict makes the run inconclusive: never a pass.
  CHECK(r.exit_code == 3);
  const auto results = f.results();
  REQUIRE(results.size() == 6);

  const json& pass = results.at("pass");
  CHECK(pass["status"] == "pass");
  CHECK(pass["output"] == "the Acme X1 is broken");
  REQUIRE(pass["evaluations"].size() == 1);
  CHECK(pass["evaluations"][0]["type"] == "llm_judge");
  CHECK(pass["evaluations"][0]["score"] == 0.9);
  CHECK_THAT(pass["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("names the product"));
  // Judge tokens and cost are the judge's, apart from the candidate's (which has no pricing).
  CHECK(pass["cost"].is_null());
  CHECK(pass["judge"]["calls"] == 1);
  CHECK(pass["judge"]["requests"] == 1);
  CHECK(pass["judge"]["usage"]["input_tokens"].get<int>() > 20);
  CHECK(pass["judge"]["cost"].get<double>() > 0);

  CHECK(results.at("fenced")["status"] == "pass");
  CHECK(results.at("fail")["status"] == "fail");
  CHECK_THAT(results.at("fail")["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("no product named"));
  for (const char* id : {"garbage", "half", "range"}) {
    INFO(id);
    const json& bad = results.at(id);
    CHECK(bad["status"] == "error");
    CHECK(bad["evaluations"][0]["pass"] == false);
    CHECK(bad["evaluations"][0]["error"] == true);
    CHECK_THAT(bad["error"].get<std::string>(), Catch::StartsWith("llm_judge: "));
  }
  CHECK_THAT(results.at("garbage")["error"].get<std::string>(),
             Catch::Contains("holds no JSON object"));
  CHECK_THAT(results.at("half")["error"].get<std::string>(), Catch::Contains("\"pass\""));
  CHECK_THAT(results.at("range")["error"].get<std::string>(), Catch::Contains("outside 0..1"));

  // What the judge was asked: the built-in prompt with rubric, input, reference and output,
  // and the verdict's schema as the structured output.
  const auto asked = judge_requests(server);
  REQUIRE(asked.size() == 6);
  const json* for_pass = nullptr;
  for (const auto& body : asked) {
    if (last_user(body).find("RUBRIC-PASS") != std::string::npos) {
      for_pass = &body;
    }
  }
  REQUIRE(for_pass != nullptr);
  const std::string text = last_user(*for_pass);
  CHECK_THAT(text, Catch::Contains("<output>\nthe Acme X1 is broken\n</output>"));
  CHECK_THAT(text, Catch::Contains("<reference_answer>\nAcme X1\n</reference_answer>"));
  CHECK_THAT(text, Catch::Contains("<input>\nQ pass [[reply: the Acme X1 is broken]]\n</input>"));
  CHECK((*for_pass)["response_format"]["json_schema"]["schema"]["required"] ==
        json::array({"reason", "score", "pass"}));

  const json summary = f.summary();
  CHECK(summary["judge"]["calls"] == 6);
  CHECK(summary["judge"]["requests"] == 6);
  CHECK(summary["requests"] == 6); // the candidate's own calls
  CHECK(summary["judge"]["cost"].get<double>() > 0);
  CHECK(summary["cost"].is_null());
  CHECK_THAT(r.out, Catch::Contains("judges: 6 calls (6 requests sent, 0 cached)"));
}

TEST_CASE("cli llm_judge, threshold: a pass below it fails", "[cli][judge]") {
  FakeProvider server(FakeProviderOptions{.rules = {{"RUBRIC-MID", verdict(0.6, true, "meh")}}});
  JudgeFixture f(server,
                 {judged_case("strict", "x", {{"rubric", "RUBRIC-MID"}, {"threshold", 0.7}}),
                  judged_case("lenient", "y", {{"rubric", "RUBRIC-MID"}, {"threshold", 0.5}})});
  const auto r = f.test();
  INFO(r.out << r.err);
  const auto results = f.results();
  CHECK(results.at("strict")["status"] == "fail");
  CHECK_THAT(results.at("strict")["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("under the threshold 0.7"));
  CHECK(results.at("lenient")["status"] == "pass");
}

TEST_CASE("cli llm_judge, n samples decided by majority, each cached apart", "[cli][judge]") {
  const std::string yes = verdict(1, true, "yes");
  const std::string no = verdict(0, false, "no");
  const std::string junk = "not a verdict";
  FakeProvider server(FakeProviderOptions{.rules = {
                                              Rule{"RUBRIC-MOSTLY-YES", yes, {no, yes}},
                                              Rule{"RUBRIC-MOSTLY-NO", no, {yes, no}},
                                              Rule{"RUBRIC-YES-JUNK-YES", yes, {junk, yes}},
                                              Rule{"RUBRIC-YES-JUNK-NO", yes, {junk, no}},
                                          }});
  JudgeFixture f(server,
                 {judged_case("mostly-yes", "a", {{"rubric", "RUBRIC-MOSTLY-YES"}, {"n", 3}}),
                  judged_case("mostly-no", "b", {{"rubric", "RUBRIC-MOSTLY-NO"}, {"n", 3}}),
                  judged_case("decided", "c", {{"rubric", "RUBRIC-YES-JUNK-YES"}, {"n", 3}}),
                  judged_case("undecided", "d", {{"rubric", "RUBRIC-YES-JUNK-NO"}, {"n", 3}})});
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3); // "undecided" could not be decided
  auto results = f.results();
  CHECK(results.at("mostly-yes")["status"] == "pass");
  CHECK_THAT(results.at("mostly-yes")["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("2 of 3 judges passed it"));
  CHECK(results.at("mostly-yes")["evaluations"][0]["score"].get<double>() == Approx(2.0 / 3.0));
  CHECK(results.at("mostly-no")["status"] == "fail");
  // One unreadable sample cannot overturn two that agree...
  CHECK(results.at("decided")["status"] == "pass");
  // ...but with the other two split it could have: an error, not a guess.
  CHECK(results.at("undecided")["status"] == "error");
  CHECK_THAT(results.at("undecided")["error"].get<std::string>(),
             Catch::Contains("could not decide"));
  CHECK(results.at("mostly-yes")["judge"]["calls"] == 3);
  CHECK(judge_requests(server).size() == 12);

  // A rerun takes all 12 answers from the cache (the sample index is in the key: three
  // different answers, not one answer three times) and reaches the same verdicts.
  const std::size_t before = server.request_count();
  const auto again = f.test();
  INFO(again.out << again.err);
  CHECK(server.request_count() == before);
  results = f.results();
  CHECK(results.at("mostly-yes")["status"] == "pass");
  CHECK(results.at("mostly-no")["status"] == "fail");
  CHECK(results.at("mostly-yes")["judge"]["cached"] == 3);
  CHECK_THAT(again.out, Catch::Contains("judges: 12 calls (0 requests sent, 12 cached)"));
}

TEST_CASE("cli llm_judge, pairwise against the baseline in both orders", "[cli][judge]") {
  // The judge prefers whichever response starts with GOOD; the biased one always says A.
  FakeProvider server(FakeProviderOptions{
      .rules = {{"RUBRIC-BIASED", preference("A", "the first one reads better")},
                {"<response_a>\nGOOD", preference("A", "A is right")},
                {"<response_b>\nGOOD", preference("B", "B is right")},
                {"RUBRIC-PAIR", preference("tie", "both the same")}}});
  const json pairwise = {{"rubric", "RUBRIC-PAIR"}, {"pairwise", true}};
  const json biased = {{"rubric", "RUBRIC-BIASED"}, {"pairwise", true}};
  JudgeFixture f(
      server, {judged_case("better", "GOOD new answer", pairwise),
               judged_case("worse", "bad new answer", pairwise),
               judged_case("same", "plain new answer", pairwise),
               judged_case("biased", "plain new answer", biased),
               judged_case("biased-strict", "plain new answer",
                           {{"rubric", "RUBRIC-BIASED"}, {"pairwise", true}, {"threshold", 1.0}})});
  f.dir.write("reg/golden/baselines/s/cand.jsonl",
              R"({"id": "better", "output": "plain old answer"})"
              "\n"
              R"({"id": "worse", "output": "GOOD old answer"})"
              "\n"
              R"({"id": "same", "output": "plain old answer"})"
              "\n"
              R"({"id": "biased", "output": "plain old answer"})"
              "\n"
              R"({"id": "biased-strict", "output": "plain old answer"})"
              "\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  const auto results = f.results();
  REQUIRE(results.size() == 5);
  CHECK(results.at("better")["status"] == "pass");
  CHECK(results.at("better")["evaluations"][0]["score"] == 1.0);
  CHECK_THAT(results.at("better")["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("better than the baseline in both orders"));
  CHECK(results.at("worse")["status"] == "fail");
  CHECK(results.at("worse")["evaluations"][0]["score"] == 0.0);
  CHECK(results.at("same")["status"] == "pass"); // a tie is no worse than the baseline
  CHECK(results.at("same")["evaluations"][0]["score"] == 0.5);
  // A judge that always picks the first position wins one order and loses the other: a tie.
  CHECK(results.at("biased")["status"] == "pass");
  CHECK(results.at("biased")["evaluations"][0]["score"] == 0.5);
  CHECK_THAT(results.at("biased")["evaluations"][0]["reason"].get<std::string>(),
             Catch::Contains("position bias"));
  CHECK(results.at("biased-strict")["status"] == "fail");

  // Both orders were asked: the candidate as A once and as B once.
  int candidate_first = 0;
  int candidate_second = 0;
  for (const auto& body : judge_requests(server)) {
    const std::string text = last_user(body);
    if (text.find("<response_a>\nGOOD new answer") != std::string::npos) {
      ++candidate_first;
    }
    if (text.find("<response_b>\nGOOD new answer") != std::string::npos) {
      ++candidate_second;
      CHECK_THAT(text, Catch::Contains("<response_a>\nplain old answer"));
    }
  }
  CHECK(candidate_first == 1);
  CHECK(candidate_second == 1);
  CHECK(judge_requests(server).size() == 10);
  CHECK(results.at("better")["judge"]["calls"] == 2);

  SECTION("a case missing from the baseline fails with a reason") {
    f.dir.write("reg/golden/baselines/s/cand.jsonl", R"({"id": "other", "output": "x"})"
                                                     "\n");
    f.test();
    const auto again = f.results();
    CHECK(again.at("better")["status"] == "fail");
    CHECK_THAT(again.at("better")["evaluations"][0]["reason"].get<std::string>(),
               Catch::Contains("no baseline output for case \"better\""));
  }
  SECTION("no baseline file: exit 2 before any request, naming the evaluator's line") {
    fs::remove(f.root / "golden/baselines/s/cand.jsonl");
    server.reset();
    const auto bad = f.test();
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("golden/s.jsonl:1: llm_judge with pairwise: true "
                                        "compares with the baseline, but"));
    CHECK_THAT(bad.err, Catch::Contains("golden/baselines/s/cand.jsonl does not exist"));
    CHECK(server.request_count() == 0);
  }
}

TEST_CASE("cli llm_judge, a judge that keeps failing is an error, never a pass", "[cli][judge]") {
  FakeProvider server;
  JudgeFixture f(server, {judged_case("down", "fine", {{"rubric", "anything [[fault: 500 x*]]"}})},
                 "    retries: 1\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  const auto results = f.results();
  const json& down = results.at("down");
  CHECK(down["status"] == "error");
  CHECK(down["output"] == "fine"); // the candidate's answer is kept
  CHECK_THAT(down["error"].get<std::string>(), Catch::Contains("the judge call failed"));
  CHECK(down["judge"]["requests"] == 2); // retried once
}

TEST_CASE("cli llm_judge, prompts/promptops/judge.yaml overrides the built-in judge prompt",
          "[cli][judge]") {
  FakeProvider server(
      FakeProviderOptions{.rules = {{"CUSTOM JUDGE", verdict(1, true, "custom judge says yes")}}});
  JudgeFixture f(server, {judged_case("c1", "an answer", {{"rubric", "be nice"}})});
  f.dir.write("reg/prompts/promptops/judge.yaml",
              "messages:\n"
              "  - role: user\n"
              "    content: \"CUSTOM JUDGE. Rubric: {{rubric}}. Output: {{output}}\"\n"
              "input:\n  required: [rubric, output]\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto asked = judge_requests(server);
  REQUIRE(asked.size() == 1);
  CHECK(last_user(asked[0]) == "CUSTOM JUDGE. Rubric: be nice. Output: an answer");
  CHECK_FALSE(asked[0].contains("response_format")); // this prompt has no output schema
  CHECK(f.results().at("c1")["status"] == "pass");
  // The judge prompt's version is part of the run's record, like any prompt's.
  std::ifstream in(f.m_last_run / "run.json");
  const json run = json::parse(in);
  CHECK(run["prompt_versions"].contains("promptops/judge@"));

  SECTION("a judge prompt that needs a variable llm_judge does not give: exit 2") {
    f.dir.write("reg/prompts/promptops/judge.yaml",
                "messages:\n  - role: user\n    content: \"{{rubric}} {{tone}}\"\n"
                "input:\n  required: [rubric, tone]\n");
    const auto bad = f.test();
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err,
               Catch::Contains("requires variable \"tone\", which llm_judge does not give"));
  }
}

TEST_CASE("cli llm_judge, bad judge settings stop the run before any request: exit 2",
          "[cli][judge]") {
  FakeProvider server;
  SECTION("unknown provider") {
    JudgeFixture f(server, {judged_case("c1", "x", {{"rubric", "r"}, {"provider", "jduge"}})});
    const auto r = f.test();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("golden/s.jsonl:1: unknown judge provider \"jduge\", did "
                                      "you mean \"judge\"?"));
  }
  SECTION("unknown judge prompt") {
    JudgeFixture f(server,
                   {judged_case("c1", "x", {{"rubric", "r"}, {"prompt", "promptops/jugde"}})});
    const auto r = f.test();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown judge prompt \"promptops/jugde\", did you mean "
                                      "\"promptops/judge\"?"));
  }
  CHECK(server.request_count() == 0);
}
