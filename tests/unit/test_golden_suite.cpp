#include "golden/suite.hpp"

#include <catch2/catch.hpp>

using promptops::InputError;
using namespace promptops::golden;

namespace {
promptops::registry::Config config() {
  return promptops::registry::parse_config(
      "version: 1\nproviders:\n  default: {type: echo}\n  judge: {type: echo}\n", "promptops.yaml");
}
Suite parse(const std::string& text) {
  return parse_suite("s", text, "golden/s.yaml", "golden/s.yaml", config());
}
} // namespace

TEST_CASE("golden::parse_suite, prompt x providers", "[golden]") {
  const Suite s =
      parse("prompt: support/classify\nproviders: [default, judge]\ncases: s.jsonl\n"
            "evaluators:\n  - {type: contains, value: x}\ngate: {min_pass_rate: 0.5}\n");
  REQUIRE(s.candidates.size() == 2);
  CHECK(s.candidates[0].prompt.name == "support/classify");
  CHECK(s.candidates[1].provider == "judge");
  CHECK(s.cases_path == "golden/s.jsonl");
  CHECK(s.gate.min_pass_rate == 0.5);
  CHECK(s.evaluators.size() == 1);
}

TEST_CASE("golden::parse_suite, candidates with references", "[golden]") {
  const Suite s = parse("candidates:\n  - {prompt: a@HEAD, provider: default}\n"
                        "  - {prompt: a, provider: default}\ncases: ../cases/s.jsonl\n");
  REQUIRE(s.candidates.size() == 2);
  CHECK(s.candidates[0].prompt.ref == "HEAD");
  CHECK(s.cases_path == "cases/s.jsonl");
}

TEST_CASE("golden::parse_suite, bad input names the line", "[golden]") {
  REQUIRE_THROWS_WITH(parse("prompt: a\nproviders: [defualt]\ncases: s.jsonl\n"),
                      "golden/s.yaml:2:13: unknown provider \"defualt\", did you mean "
                      "\"default\"? (providers are defined in promptops.yaml)");
  REQUIRE_THROWS_WITH(parse("prompt: a\ncases: s.jsonl\nevaluators:\n  - {type: exact_mach}\n"),
                      "golden/s.yaml:4:12: evaluators[0].type: \"exact_mach\" is not allowed, did "
                      "you mean \"exact_match\"?");
  REQUIRE_THROWS_WITH(parse("cases: s.jsonl\n"),
                      "golden/s.yaml:1:1: a suite needs \"prompt:\" (with \"providers:\") or "
                      "\"candidates:\"");
  REQUIRE_THROWS_WITH(parse("prompt: ../x\ncases: s.jsonl\n"),
                      Catch::StartsWith("golden/s.yaml:1:9: invalid prompt name \"../x\""));
  REQUIRE_THROWS_WITH(
      parse("prompt: a\ncases: ../../s.jsonl\n"),
      "golden/s.yaml:2:8: cases file \"../../s.jsonl\" must be inside the registry");
}

TEST_CASE("golden::parse_suite, evaluator options are checked by type", "[golden]") {
  REQUIRE_THROWS_WITH(parse("prompt: a\ncases: s.jsonl\nevaluators:\n  - {type: regex}\n"),
                      Catch::StartsWith("golden/s.yaml:4:5: evaluators[0]:"));
  REQUIRE_THROWS_WITH(parse("prompt: a\ncases: s.jsonl\nevaluators:\n"
                            "  - {type: regex, patern: x}\n"),
                      Catch::Contains("unknown key \"patern\" in evaluators[0], did you mean "
                                      "\"pattern\"?"));
}

TEST_CASE("golden::parse_cases, one JSON object a line", "[golden]") {
  const CaseFile f = parse_cases("{\"id\": \"a\", \"vars\": {\"x\": 1}, \"expected\": \"y\"}\n\n"
                                 "{\"id\": \"b\"}\r\n",
                                 "golden/s.jsonl");
  CHECK(f.errors.empty());
  REQUIRE(f.cases.size() == 2);
  CHECK(f.cases[0].vars["x"] == 1);
  CHECK(f.cases[0].expected == "y");
  CHECK(f.cases[1].line == 3);
  CHECK(f.cases[1].vars.is_object());
}

TEST_CASE("golden::parse_cases, every bad line is reported with its number", "[golden]") {
  const CaseFile f = parse_cases("{\"id\": \"a\"}\n{\"id\": \"a\"}\n{\"id\": 3}\n{oops\n"
                                 "{\"id\": \"c\", \"var\": {}}\n",
                                 "golden/s.jsonl");
  CHECK(f.cases.size() == 1);
  REQUIRE(f.errors.size() == 4);
  CHECK(std::string(f.errors[0].what()) == "golden/s.jsonl:2:1: duplicate case id \"a\"");
  CHECK(f.errors[1].position().line == 3);
  CHECK_THAT(f.errors[2].what(), Catch::StartsWith("golden/s.jsonl:4:2: invalid JSON"));
  CHECK_THAT(f.errors[3].what(),
             Catch::StartsWith("golden/s.jsonl:5:1: unknown key \"var\", did you mean \"vars\"?"));
}
