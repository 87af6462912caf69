// Every bad-input path ends in "promptops: error: PATH:LINE:COL: problem" and exit 2, and
// writes nothing.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;

namespace {

// A small valid registry to break one file of.
void write_registry(const TempDir& dir) {
  dir.write("promptops.yaml", "version: 1\nproviders:\n  default: {type: echo}\n");
  dir.write("prompts/a.yaml", "messages:\n  - role: user\n    content: \"Hi {{name}}\"\n"
                              "input: {required: [name]}\n");
  dir.write("golden/s.yaml", "prompt: a\nproviders: [default]\ncases: s.jsonl\n"
                             "evaluators:\n  - {type: contains, value: Hi}\n");
  dir.write("golden/s.jsonl", "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}}\n");
}

ProcessResult run(const TempDir& dir, const std::vector<std::string>& args) {
  return run_promptops(args, dir.path());
}

void expect_error(const ProcessResult& r, const std::string& message) {
  INFO("stdout: " << r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: " + message + "\n");
}

} // namespace

TEST_CASE("cli errors, the valid fixture is valid", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  const auto r = run(dir, {"validate"});
  CHECK(r.err == "");
  CHECK(r.out == "ok: 1 prompt, 0 partials, 0 schemas, 1 suite, 1 case\n");
  CHECK(r.exit_code == 0);
}

TEST_CASE("cli errors, malformed YAML", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "messages:\n  - role: user\n    content: [unclosed\n");
  expect_error(run(dir, {"render", "a"}),
               "prompts/a.yaml:4:1: invalid YAML: end of sequence flow not found");
  dir.write("prompts/a.yaml", "template: x\n\tparams: {}\n");
  expect_error(run(dir, {"show", "a"}),
               "prompts/a.yaml:2:1: invalid YAML: illegal tab when looking for indentation");
}

TEST_CASE("cli errors, unknown key with a suggestion", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "mesages:\n  - role: user\n    content: Hi\n");
  expect_error(run(dir, {"render", "a"}),
               "prompts/a.yaml:1:1: unknown key \"mesages\", did you mean \"messages\"?");
}

TEST_CASE("cli errors, wrong type", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "params: 5\ntemplate: Hi\n");
  expect_error(run(dir, {"render", "a"}),
               "prompts/a.yaml:1:9: params: 5 is not of type \"object\"");
}

TEST_CASE("cli errors, missing partial", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "template: \"{{> header}}Hi\"\n");
  expect_error(run(dir, {"render", "a"}), "prompts/a.yaml: partial \"header\" not found (no file "
                                          "prompts/partials/header.mustache)");
}

TEST_CASE("cli errors, missing schema", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "template: Hi\noutput_schema: schemas/out.json\n");
  expect_error(run(dir, {"render", "a"}),
               "prompts/a.yaml:2:16: output schema \"schemas/out.json\" not found (no file "
               "schemas/out.json)");
}

TEST_CASE("cli errors, missing required variable", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  expect_error(run(dir, {"render", "a"}),
               "prompts/a.yaml:4:20: missing required variable \"name\" for prompt \"a\"");
}

TEST_CASE("cli errors, unreadable prompt file", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  std::filesystem::create_directories(dir.path() / "prompts" / "b.yaml");
  expect_error(run(dir, {"render", "b"}), "prompts/b.yaml: is a folder, not a file");
}

TEST_CASE("cli errors, a name that tries to leave prompts/", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("secret.yaml", "template: secret\n");
  expect_error(run(dir, {"render", "../secret"}),
               "invalid prompt name \"../secret\": \".\" and \"..\" may not appear in a name "
               "(names stay inside prompts/)");
  expect_error(run(dir, {"show", "/etc/passwd"}),
               "invalid prompt name \"/etc/passwd\": a name may not start or end with '/' or "
               "contain \"//\"");
}

TEST_CASE("cli errors, unknown prompt with a suggestion", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  expect_error(run(dir, {"render", "b"}),
               "unknown prompt \"b\", did you mean \"a\"? (no file prompts/b.yaml)");
}

TEST_CASE("cli errors, bad --var and --vars-file", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  expect_error(run(dir, {"render", "a", "--var", "name"}), "--var \"name\": expected NAME=VALUE");
  dir.write("v.json", "{\"name\": \"x\",\n  oops}");
  const auto r = run(dir, {"render", "a", "--vars-file", "v.json"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: v.json:2:3: invalid JSON"));
  dir.write("v2.json", "[1, 2]");
  expect_error(run(dir, {"render", "a", "--vars-file", "v2.json"}),
               "v2.json:1:1: variables must be an object, e.g. {\"ticket\": \"...\"}");
}

TEST_CASE("cli errors, not a registry", "[cli][errors]") {
  TempDir dir;
  const auto r = run(dir, {"list"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("run \"promptops init\" to create one"));
}

TEST_CASE("cli validate, reports every problem at once", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("prompts/a.yaml", "provider: defualt\nmessages:\n  - role: user\n"
                              "    content: \"Hi {{name}}\"\ninput: {required: [name, nmae]}\n");
  dir.write("prompts/b.yaml", "template: \"{{#open}}\"\n");
  dir.write("prompts/partials/p.mustache", "{{/close}}");
  dir.write("schemas/bad.json", "{\"type\": 5}");
  dir.write("golden/s.yaml",
            "prompt: a\nproviders: [default]\ncases: s.jsonl\n"
            "evaluators:\n  - {type: exact_mach}\n  - {type: regex, pattern: \"(\"}\n");
  dir.write("golden/s.jsonl", "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}}\n"
                              "{\"id\": \"two\", \"vars\": {}}\n{broken\n");
  dir.write("golden/t.yaml", "prompt: a\ncases: missing.jsonl\n");
  const auto r = run(dir, {"validate"});
  CHECK(r.exit_code == 2);
  CHECK(r.out == "");
  CHECK_THAT(r.err, Catch::Contains("promptops: error: prompts/a.yaml:1:11: unknown provider "
                                    "\"defualt\", did you mean \"default\"? (providers are defined "
                                    "in promptops.yaml)\n"));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: prompts/a.yaml:5:26: required variable "
                                    "\"nmae\" is not used by any template of the prompt, did you "
                                    "mean \"name\"?\n"));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: prompts/b.yaml:1:11: template: unclosed "
                                    "section \"open\""));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: prompts/partials/p.mustache:1:1: "));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: schemas/bad.json: invalid JSON Schema"));
  CHECK_THAT(r.err,
             Catch::Contains("promptops: error: golden/s.yaml:5:12: evaluators[0].type: "
                             "\"exact_mach\" is not allowed, did you mean \"exact_match\"?\n"));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: golden/t.yaml:2:8: cases file not found "
                                    "(no file golden/missing.jsonl)\n"));
  CHECK_THAT(r.err, Catch::EndsWith(" in 2 prompts, 1 partial, 1 schema, 1 suite, 0 cases\n"));
}

TEST_CASE("cli validate, case problems name the .jsonl line", "[cli][errors]") {
  TempDir dir;
  write_registry(dir);
  dir.write("golden/s.jsonl", "{\"id\": \"one\", \"vars\": {\"name\": \"Ada\"}}\n"
                              "{\"id\": \"two\", \"vars\": {}}\n{broken\n");
  const auto r = run(dir, {"validate"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("promptops: error: golden/s.jsonl:2:1: case \"two\": missing "
                                    "required variable \"name\" for prompt \"a\"\n"));
  CHECK_THAT(r.err, Catch::Contains("promptops: error: golden/s.jsonl:3:2: invalid JSON"));
}
