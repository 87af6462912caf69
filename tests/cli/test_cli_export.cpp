// End-to-end: promptops export on an environment branch of the example registry.
#include "tests/support/env_branch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

using promptops::test::commit_env_branch;
using promptops::test::files_from;
using promptops::test::run_promptops;
using promptops::test::TempDir;
using ordered = nlohmann::ordered_json;

namespace {

// What promoting both prompts of the example to an environment pins.
const std::vector<std::string> k_example_pins = {
    "prompts/summarize.yaml", "prompts/support/classify.yaml",
    "prompts/partials/categories.mustache", "schemas/classification.json"};

} // namespace

TEST_CASE("cli export, the bundle of an environment, to stdout and to a file", "[cli][git]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  const auto demo = dir.path() / "demo";
  const std::string commit = commit_env_branch(demo, "prod", files_from(demo, k_example_pins));

  const auto r = run_promptops({"export", "--env", "prod"}, demo);
  CHECK(r.err == "");
  REQUIRE(r.exit_code == 0);
  const auto bundle = ordered::parse(r.out);
  CHECK(bundle["format"] == "promptops-bundle/1");
  CHECK(bundle["environment"] == "prod");
  CHECK(bundle["commit"] == commit);
  std::vector<std::string> names;
  for (const auto& [name, prompt] : bundle["prompts"].items()) {
    names.push_back(name);
    // The version is the one `show NAME@prod` reports.
    const auto show =
        nlohmann::json::parse(run_promptops({"show", name + "@prod", "--json"}, demo).out);
    CHECK(prompt["version"] == show["version"]);
  }
  CHECK(names == std::vector<std::string>{"summarize", "support/classify"});
  const auto& classify = bundle["prompts"]["support/classify"];
  CHECK(classify["kind"] == "chat");
  CHECK(classify["messages"][1]["content"] ==
        "Ticket: {{ticket}}{{#customer}} (customer {{name}}){{/customer}}");
  CHECK(classify["partials"]["categories"].get<std::string>().rfind("Categories:\n", 0) == 0);
  CHECK(classify["output_schema"]["title"] == "classification");
  CHECK(bundle["prompts"]["summarize"]["template"].get<std::string>().rfind(
            "Summarize this conversation with {{customer}}", 0) == 0);

  // -o writes the same bytes to a file (relative to where the command runs) and prints nothing.
  const auto to_file = run_promptops({"export", "--env", "prod", "-o", "out/bundle.json"}, demo);
  CHECK(to_file.exit_code == 0);
  CHECK(to_file.out == "");
  CHECK(to_file.err == "");
  CHECK(dir.read("demo/out/bundle.json") == r.out);
}

TEST_CASE("cli export, an unknown environment or one with nothing promoted exits 2", "[cli][git]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  const auto demo = dir.path() / "demo";

  auto r = run_promptops({"export", "--env", "prd", "-o", "bundle.json"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.out == "");
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: unknown reference \"@prd\", did you mean "
                                      "\"prod\"?"));
  CHECK_FALSE(std::filesystem::exists(demo / "bundle.json"));

  r = run_promptops({"export", "--env", "prod"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: environment \"prod\" has nothing promoted yet (no branch "
                 "promptops/env/prod)\n");

  r = run_promptops({"export", "--env", "HEAD"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: \"HEAD\" is not an environment: use one of the environments "
                 "of promptops.yaml\n");

  r = run_promptops({"export"}, demo);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--env is required"));
}

TEST_CASE("cli export and render --json, a prompt's tools", "[cli][git][tools]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  const auto demo = dir.path() / "demo";
  // A tool as vendors document it: a name, a description and a JSON Schema object of
  // parameters (openai/openai-python src/openai/types/shared_params/function_definition.py,
  // anthropics/anthropic-sdk-python src/anthropic/types/tool_param.py).
  dir.write("demo/prompts/orders.yaml",
            "messages:\n  - {role: user, content: \"Where is order {{id}}?\"}\n"
            "tools:\n"
            "  - name: lookup_order\n"
            "    description: Find an order by id\n"
            "    parameters:\n"
            "      type: object\n"
            "      properties: {id: {type: string}}\n"
            "      required: [id]\n"
            "  - name: list_orders\n");
  std::vector<std::string> pins = k_example_pins;
  pins.push_back("prompts/orders.yaml");
  commit_env_branch(demo, "prod", files_from(demo, pins));

  const ordered tools = ordered::parse(R"([
    {"name": "lookup_order", "description": "Find an order by id",
     "parameters": {"properties": {"id": {"type": "string"}}, "required": ["id"],
                    "type": "object"}},
    {"name": "list_orders", "parameters": {"properties": {}, "type": "object"}}])");
  const auto r = run_promptops({"export", "--env", "prod"}, demo);
  REQUIRE(r.exit_code == 0);
  const auto bundle = ordered::parse(r.out);
  CHECK(bundle["prompts"]["orders"]["tools"] == tools);
  CHECK_FALSE(bundle["prompts"]["support/classify"].contains("tools"));

  const auto rendered = run_promptops({"render", "orders", "--var", "id=7", "--json"}, demo);
  CHECK(rendered.err == "");
  REQUIRE(rendered.exit_code == 0);
  const auto j = ordered::parse(rendered.out);
  CHECK(j["tools"] == tools); // the same shape as the bundle's
  CHECK(j["messages"][0]["content"] == "Where is order 7?");
  const auto plain =
      run_promptops({"render", "support/classify", "--json", "--var", "ticket=Hi"}, demo);
  REQUIRE(plain.exit_code == 0);
  CHECK_FALSE(ordered::parse(plain.out).contains("tools"));
}
