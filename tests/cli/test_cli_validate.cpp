// `promptops validate` refuses bad evaluators before any run: exit 2, one line
// "promptops: error: FILE:LINE:COL: problem" each, with "did you mean" where a name was
// misspelt. Each problem gets its own registry, so that no problem hides another.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;

namespace {

// A valid registry: prompt "a", a judge prompt "strict-judge", providers "default" and
// "judge", suite golden/s.yaml whose evaluators are `evaluators_yaml` (items of a YAML block
// list, starting on line 5), cases golden/s.jsonl.
void write_registry(
    const TempDir& dir, const std::string& evaluators_yaml,
    const std::string& cases = "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}}\n") {
  dir.write("promptops.yaml",
            "version: 1\nproviders:\n  default: {type: echo}\n  judge: {type: echo}\n");
  dir.write("prompts/a.yaml", "messages:\n  - role: user\n    content: \"Hi {{name}}\"\n"
                              "input: {required: [name]}\n");
  dir.write("prompts/strict-judge.yaml",
            "messages:\n  - role: user\n    content: \"Judge {{output}} by {{rubric}}\"\n");
  dir.write("golden/s.yaml",
            "prompt: a\nproviders: [default]\ncases: s.jsonl\nevaluators:\n" + evaluators_yaml);
  dir.write("golden/s.jsonl", cases);
}

ProcessResult validate(const TempDir& dir) {
  return run_promptops({"validate"}, dir.path());
}

// Exactly one problem, `message` ("FILE:LINE:COL: problem").
void expect_problem(const ProcessResult& r, const std::string& message) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out == "");
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: " + message + "\n1 problem in "));
}

} // namespace

TEST_CASE("cli validate, the fixture with every kind of evaluator is valid", "[cli][validate]") {
  TempDir dir;
  dir.write("schemas/out.json", R"({"type": "object", "required": ["category"]})");
  dir.write("other/enum.json", R"({"enum": ["billing", "shipping"]})");
  write_registry(dir,
                 "  - {type: exact_match, path: /category, value: billing, extract: true}\n"
                 "  - {type: contains, value: Hi, ignore_case: true}\n"
                 "  - {type: regex, pattern: '^Hi \\w+$'}\n"
                 "  - {type: json_schema, schema: schemas/out.json, extract: true}\n"
                 "  - {type: json_schema, schema: other/enum.json, path: /category}\n"
                 "  - {type: similarity, value: Hi Ada, threshold: 0.5}\n"
                 "  - {type: llm_judge, provider: judge, rubric: polite, n: 3}\n"
                 "  - {type: llm_judge, provider: judge, rubric: polite, prompt: strict-judge}\n"
                 "  - {type: llm_judge, provider: judge, rubric: r, prompt: promptops/judge}\n"
                 "  - {type: exec, command: 'cat >/dev/null; echo {\"pass\": true}'}\n",
                 "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}, \"evaluators\": "
                 "[{\"type\": \"regex\", \"pattern\": \"A.a\"}]}\n");
  const auto r = validate(dir);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ok: 2 prompts, 0 partials, 1 schema, 1 suite, 1 case\n");
}

TEST_CASE("cli validate, an unknown evaluator type", "[cli][validate]") {
  TempDir dir;
  write_registry(dir, "  - type: containz\n    value: Hi\n");
  expect_problem(validate(dir), "golden/s.yaml:5:11: evaluators[0].type: \"containz\" is not "
                                "allowed, did you mean \"contains\"?");
}

TEST_CASE("cli validate, an unknown evaluator option", "[cli][validate]") {
  TempDir dir;
  write_registry(dir, "  - type: contains\n    valu: Hi\n");
  expect_problem(
      validate(dir),
      "golden/s.yaml:6:5: unknown key \"valu\" in evaluators[0], did you mean \"value\"?");
}

TEST_CASE("cli validate, an evaluator option of the wrong type", "[cli][validate]") {
  SECTION("threshold: high") {
    TempDir dir;
    write_registry(dir, "  - type: similarity\n    value: Hi\n    threshold: high\n");
    expect_problem(
        validate(dir),
        "golden/s.yaml:7:16: evaluators[0].threshold: \"high\" is not of type \"number\"");
  }
  SECTION("n: 0 for llm_judge") {
    TempDir dir;
    write_registry(dir, "  - type: llm_judge\n    provider: judge\n    rubric: r\n    n: 0\n");
    expect_problem(validate(dir),
                   "golden/s.yaml:8:8: evaluators[0].n: 0 is less than the minimum of 1");
  }
  SECTION("pattern: 3") {
    TempDir dir;
    write_registry(dir, "  - type: contains\n    value: Hi\n  - type: regex\n    pattern: 3\n");
    expect_problem(validate(dir),
                   "golden/s.yaml:8:14: evaluators[1].pattern: 3 is not of type \"string\"");
  }
}

TEST_CASE("cli validate, a regex RE2 cannot compile", "[cli][validate]") {
  SECTION("at the pattern") {
    TempDir dir;
    write_registry(dir, "  - type: regex\n    pattern: \"(abc\"\n");
    expect_problem(validate(dir), "golden/s.yaml:6:14: invalid regex \"(abc\": missing ): (abc");
  }
  SECTION("in a flow mapping, with a path") {
    TempDir dir;
    write_registry(dir, "  - {type: regex, path: /a, pattern: \"a{2,1}\"}\n");
    expect_problem(validate(dir), "golden/s.yaml:5:38: invalid regex \"a{2,1}\": invalid "
                                  "repetition size: {2,1}");
  }
  SECTION("a lookbehind, which RE2 does not have") {
    TempDir dir;
    write_registry(dir, "  - type: regex\n    pattern: \"(?<=a)b\"\n");
    const auto r = validate(dir);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("promptops: error: golden/s.yaml:6:14: invalid regex "
                                        "\"(?<=a)b\": "));
  }
}

TEST_CASE("cli validate, json_schema with a bad schema file", "[cli][validate]") {
  SECTION("no such file") {
    TempDir dir;
    write_registry(dir, "  - type: json_schema\n    schema: schemas/missing.json\n");
    expect_problem(validate(dir), "golden/s.yaml:6:13: schema \"schemas/missing.json\" not found "
                                  "(no file schemas/missing.json)");
  }
  SECTION("a file outside the registry") {
    TempDir dir;
    write_registry(dir, "  - type: json_schema\n    schema: ../out.json\n");
    expect_problem(validate(dir), "golden/s.yaml:6:13: schema \"../out.json\" must be a path "
                                  "inside the registry, relative to its root");
  }
  SECTION("not a JSON Schema, outside schemas/") {
    TempDir dir;
    dir.write("other/bad.json", R"({"minimum": "x"})");
    write_registry(dir, "  - type: json_schema\n    schema: other/bad.json\n");
    expect_problem(validate(dir), "golden/s.yaml:6:13: schema \"other/bad.json\" is not a valid "
                                  "JSON Schema: invalid schema at \"/minimum\": \"minimum\" must "
                                  "be a number, got \"x\"");
  }
  SECTION("not a JSON Schema, in schemas/: at the evaluator, and the file on its own") {
    TempDir dir;
    dir.write("schemas/bad.json", R"({"type": "strin"})");
    write_registry(dir, "  - type: json_schema\n    schema: schemas/bad.json\n");
    const auto r = validate(dir);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("promptops: error: golden/s.yaml:6:13: schema "
                                        "\"schemas/bad.json\" is not a valid JSON Schema: invalid "
                                        "schema at \"/type\": \"strin\" is not a type"));
    CHECK_THAT(r.err, Catch::Contains("\npromptops: error: schemas/bad.json: invalid JSON Schema: "
                                      "invalid schema at \"/type\": \"strin\" is not a type"));
    CHECK_THAT(r.err, Catch::Contains("\n2 problems in "));
  }
  SECTION("not JSON") {
    TempDir dir;
    dir.write("other/broken.json", "{\"type\": \"object\",\n  oops}");
    write_registry(dir, "  - type: json_schema\n    schema: other/broken.json\n");
    const auto r = validate(dir);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("promptops: error: other/broken.json:2:3: invalid JSON"));
  }
}

TEST_CASE("cli validate, a path that is not a JSON Pointer", "[cli][validate]") {
  SECTION("no leading slash") {
    TempDir dir;
    write_registry(dir, "  - type: exact_match\n    path: category\n    value: billing\n");
    expect_problem(validate(dir), "golden/s.yaml:6:11: evaluators[0].path: \"category\" does not "
                                  "match pattern \"^(/.*)?$\"");
  }
  SECTION("a ~ escape that is neither ~0 nor ~1") {
    TempDir dir;
    write_registry(dir, "  - type: is_json\n    path: /a~2\n");
    expect_problem(validate(dir), "golden/s.yaml:6:11: \"path\" \"/a~2\" is not a JSON Pointer: "
                                  "\"~\" must be followed by \"0\" or \"1\"");
  }
}

TEST_CASE("cli validate, evaluator problems in a case line name the .jsonl line",
          "[cli][validate]") {
  const std::string good = "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}}\n";
  SECTION("an unknown type") {
    TempDir dir;
    write_registry(dir, "  - {type: contains, value: Hi}\n",
                   good + "{\"id\": \"two\", \"vars\": {\"name\": \"Bo\"}, \"evaluators\": "
                          "[{\"type\": \"regx\", \"pattern\": \"B\"}]}\n");
    expect_problem(validate(dir), "golden/s.jsonl:2:1: evaluators[0].type: \"regx\" is not "
                                  "allowed, did you mean \"regex\"?");
  }
  SECTION("a regex RE2 cannot compile") {
    TempDir dir;
    write_registry(dir, "  - {type: contains, value: Hi}\n",
                   good + "\n{\"id\": \"two\", \"vars\": {\"name\": \"Bo\"}, \"evaluators\": "
                          "[{\"type\": \"regex\", \"pattern\": \"(B\"}]}\n");
    expect_problem(validate(dir), "golden/s.jsonl:3:1: invalid regex \"(B\": missing ): (B");
  }
  SECTION("an unknown judge prompt") {
    TempDir dir;
    write_registry(dir, "  - {type: contains, value: Hi}\n",
                   good + "{\"id\": \"two\", \"vars\": {\"name\": \"Bo\"}, \"evaluators\": "
                          "[{\"type\": \"llm_judge\", \"provider\": \"judge\", \"rubric\": "
                          "\"r\", \"prompt\": \"strict-jugde\"}]}\n");
    expect_problem(validate(dir), "golden/s.jsonl:2:1: unknown judge prompt \"strict-jugde\", did "
                                  "you mean \"strict-judge\"?");
  }
}

TEST_CASE("cli validate, llm_judge names a provider and a prompt that exist", "[cli][validate]") {
  SECTION("an unknown provider") {
    TempDir dir;
    write_registry(dir, "  - type: llm_judge\n    provider: jduge\n    rubric: r\n");
    expect_problem(validate(dir),
                   "golden/s.yaml:6:15: unknown judge provider \"jduge\", did you mean \"judge\"?");
  }
  SECTION("an unknown prompt") {
    TempDir dir;
    write_registry(dir, "  - type: llm_judge\n    provider: judge\n    rubric: r\n"
                        "    prompt: strict-jugde\n");
    expect_problem(validate(dir), "golden/s.yaml:8:13: unknown judge prompt \"strict-jugde\", did "
                                  "you mean \"strict-judge\"?");
  }
  SECTION("a built-in judge prompt misspelt") {
    TempDir dir;
    write_registry(dir, "  - type: llm_judge\n    provider: judge\n    rubric: r\n"
                        "    pairwise: true\n    prompt: promptops/judge-pairwsie\n");
    expect_problem(validate(dir), "golden/s.yaml:9:13: unknown judge prompt "
                                  "\"promptops/judge-pairwsie\", did you mean "
                                  "\"promptops/judge-pairwise\"?");
  }
}
