// End-to-end: promptops diff on a registry made by promptops init and committed with libgit2.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

using promptops::test::run_promptops;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

// The short version id of `prompt` as promptops show reports it.
std::string short_version(const std::string& prompt, const std::filesystem::path& cwd) {
  const auto r = run_promptops({"show", prompt, "--json"}, cwd);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out)["version"].get<std::string>().substr(0, 12);
}

// `promptops init demo` in `dir`, committed.
std::filesystem::path committed_demo(const TempDir& dir) {
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  TestRepo repo(dir.path() / "demo");
  repo.commit_all("add prompts");
  return dir.path() / "demo";
}

const char* const k_classify_v2 =
    "description: Classify a support ticket\n"
    "provider: default\n"
    "params: {temperature: 0.2, max_tokens: 200}\n"
    "messages:\n"
    "  - role: system\n"
    "    content: |\n"
    "      You classify support tickets. Answer with JSON only.\n"
    "      {{> categories}}\n"
    "      Rate the urgency from 1 to 5.\n"
    "  - role: user\n"
    "    content: \"Ticket: {{ticket}} (plan {{plan}}){{#customer}} (customer "
    "{{name}}){{/customer}}\"\n"
    "input:\n"
    "  required: [ticket, plan]\n"
    "  optional: [customer]\n"
    "output_schema: schemas/classification.json\n";

} // namespace

TEST_CASE("cli diff NAME, the last commit against the work tree", "[cli][diff]") {
  TempDir dir;
  const auto demo = committed_demo(dir);
  const std::string head = short_version("support/classify@HEAD", demo);

  auto r = run_promptops({"diff", "support/classify"}, demo);
  CHECK(r.err == "");
  CHECK(r.out == "no differences: support/classify@HEAD and support/classify are the same "
                 "version (" +
                     head + ")\n");
  CHECK(r.exit_code == 0);

  dir.write("demo/prompts/support/classify.yaml", k_classify_v2);
  dir.write("demo/prompts/partials/categories.mustache",
            "Categories:\n"
            "- billing: charges, refunds, invoices\n"
            "- shipping: parcels, delivery, returns\n"
            "- account: login, password, profile\n"
            "- security: phishing, stolen accounts\n"
            "- other: anything else\n"
            "Reply as {\"category\": \"<one of the above>\"}.\n");
  const std::string work = short_version("support/classify", demo);
  r = run_promptops({"diff", "support/classify"}, demo);
  CHECK(r.err == "");
  CHECK(r.out == "diff support/classify@HEAD (" + head + ") -> support/classify (" + work +
                     ")\n"
                     "params:\n"
                     "  ~ temperature: 0 -> 0.2\n"
                     "messages:\n"
                     "  ~ messages[0] (system): content changed\n"
                     "  ~ messages[1] (user): content changed\n"
                     "partials:\n"
                     "  ~ categories\n"
                     "variables:\n"
                     "  + plan: new required variable; the templates now use it [BREAKING]\n"
                     "1 breaking change for callers\n"
                     "\n"
                     "--- support/classify@HEAD messages[0] (system)\n"
                     "+++ support/classify messages[0] (system)\n"
                     "@@ -1,2 +1,3 @@\n"
                     " You classify support tickets. Answer with JSON only.\n"
                     " {{> categories}}\n"
                     "+Rate the urgency from 1 to 5.\n"
                     "--- support/classify@HEAD messages[1] (user)\n"
                     "+++ support/classify messages[1] (user)\n"
                     "@@ -1 +1 @@\n"
                     "-Ticket: {{ticket}}{{#customer}} (customer {{name}}){{/customer}}\n"
                     "+Ticket: {{ticket}} (plan {{plan}}){{#customer}} (customer "
                     "{{name}}){{/customer}}\n"
                     "--- support/classify@HEAD prompts/partials/categories.mustache\n"
                     "+++ support/classify prompts/partials/categories.mustache\n"
                     "@@ -2,5 +2,6 @@\n"
                     " - billing: charges, refunds, invoices\n"
                     " - shipping: parcels, delivery, returns\n"
                     " - account: login, password, profile\n"
                     "+- security: phishing, stolen accounts\n"
                     " - other: anything else\n"
                     " Reply as {\"category\": \"<one of the above>\"}.\n");
  CHECK(r.exit_code == 1);

  // The same as an explicit pair, and as JSON.
  CHECK(run_promptops({"diff", "support/classify@HEAD", "support/classify"}, demo).out == r.out);
  r = run_promptops({"diff", "support/classify", "--json"}, demo);
  CHECK(r.exit_code == 1);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["before"]["ref"] == "HEAD");
  CHECK(j["after"]["ref"].is_null());
  CHECK(j["breaking"] == 1);
  CHECK(j["variables"][0]["name"] == "plan");
  CHECK(j["variables"][0]["severity"] == "breaking");
  CHECK(j["texts"].size() == 3);
  CHECK(j["texts"][1]["diff"] ==
        "@@ -1 +1 @@\n"
        "-Ticket: {{ticket}}{{#customer}} (customer {{name}}){{/customer}}\n"
        "+Ticket: {{ticket}} (plan {{plan}}){{#customer}} (customer {{name}}){{/customer}}\n");
}

TEST_CASE("cli diff NAME@HEAD NAME, a text prompt and its schema-free fields", "[cli][diff]") {
  TempDir dir;
  const auto demo = committed_demo(dir);
  dir.write("demo/prompts/summarize.yaml",
            "description: Summarize a support conversation\n"
            "model: gpt-4o-mini\n"
            "template: |\n"
            "  Summarize this conversation with {{customer}} in {{#max_points}}at most "
            "{{max_points}}{{/max_points}}{{^max_points}}a few{{/max_points}} bullet points.\n"
            "  {{#messages}}\n"
            "  - {{author}}: {{text}}\n"
            "  {{/messages}}\n"
            "input:\n"
            "  required: [customer, messages]\n");
  const auto r = run_promptops({"diff", "summarize@HEAD", "summarize"}, demo);
  CHECK(r.err == "");
  CHECK(r.out == "diff summarize@HEAD (" + short_version("summarize@HEAD", demo) +
                     ") -> summarize (" + short_version("summarize", demo) +
                     ")\n"
                     "model: (none) -> \"gpt-4o-mini\"\n"
                     "variables:\n"
                     "  - max_points: optional variable removed [warning]\n"
                     "1 warning\n");
  CHECK(r.exit_code == 1);
  // Reversed: a variable that appears as optional is no warning.
  const auto back = run_promptops({"diff", "summarize", "summarize@HEAD"}, demo);
  CHECK_THAT(back.out, Catch::EndsWith("model: \"gpt-4o-mini\" -> (none)\n"
                                       "variables:\n"
                                       "  + max_points: new optional variable\n"));
  CHECK(back.exit_code == 1);
}

TEST_CASE("cli diff, two prompts and colour", "[cli][diff]") {
  TempDir dir;
  const auto demo = committed_demo(dir);
  auto r = run_promptops({"diff", "summarize@HEAD", "support/classify@HEAD"}, demo);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("name: \"summarize\" -> \"support/classify\"\n"
                                    "description: \"Summarize a support conversation\" -> "
                                    "\"Classify a support ticket\"\n"
                                    "kind: text -> chat\n"));
  CHECK(r.out.find('\x1b') == std::string::npos); // not a terminal: no colour

  r = run_promptops({"diff", "summarize@HEAD", "support/classify@HEAD", "--color", "always"}, demo);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::StartsWith("\x1b[1mdiff summarize@HEAD ("));
  CHECK_THAT(r.out, Catch::Contains("\x1b[32m  + messages[0] (system)\x1b[0m\n"));

  r = run_promptops({"diff", "summarize", "--color", "never"}, demo, {{"NO_COLOR", ""}});
  CHECK(r.exit_code == 0);
  r = run_promptops({"diff", "summarize", "--json", "--color", "always"}, demo);
  CHECK(r.out.find('\x1b') == std::string::npos); // never colour in JSON
  CHECK(nlohmann::json::parse(r.out)["identical"] == true);
}

TEST_CASE("cli diff, bad input exits 2", "[cli][diff]") {
  TempDir dir;
  const auto demo = committed_demo(dir);

  auto r = run_promptops({"diff", "nope@HEAD", "summarize"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.out == "");
  CHECK(r.err == "promptops: error: unknown prompt \"nope\" at HEAD (no file "
                 "HEAD:prompts/nope.yaml)\n");

  r = run_promptops({"diff", "summarize", "summarise"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: unknown prompt \"summarise\", did you mean \"summarize\"? "
                 "(no file prompts/summarise.yaml)\n");

  r = run_promptops({"diff", "summarize@HED", "summarize"}, demo);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: unknown reference \"@HED\", did you "
                                      "mean \"HEAD\"?"));

  r = run_promptops({"diff", "summarize@"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: empty reference after '@' in \"summarize@\": use NAME or "
                 "NAME@HEAD\n");

  dir.write("demo/prompts/fresh.yaml", "template: new\n");
  r = run_promptops({"diff", "fresh"}, demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: prompt \"fresh\" is not committed at HEAD (it exists only "
                 "in the work tree)\n");

  r = run_promptops({"diff", "a", "b", "c"}, demo);
  CHECK(r.exit_code == 2);
  r = run_promptops({"diff", "summarize", "--color", "sometimes"}, demo);
  CHECK(r.exit_code == 2);
  r = run_promptops({"diff"}, demo);
  CHECK(r.exit_code == 2);

  r = run_promptops({"diff", "--help"}, demo);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("Exit status: 0 when the two versions are the same, 1 when "
                                    "they differ (like git diff --exit-code), 2 for bad input."));
}

TEST_CASE("cli diff, tools added, removed and changed", "[cli][diff][tools]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  // A function tool as OpenAI and Anthropic take it: a name and a JSON Schema object of
  // parameters (openai/openai-python src/openai/types/shared_params/function_definition.py).
  const std::string head = "messages:\n  - {role: user, content: \"Where is order {{id}}?\"}\n"
                           "tools:\n";
  dir.write("demo/prompts/orders.yaml",
            head + "  - name: lookup_order\n    description: Find an order\n"
                   "    parameters: {type: object, properties: {id: {type: string}}}\n"
                   "  - name: cancel_order\n");
  TestRepo repo(dir.path() / "demo");
  repo.commit_all("add orders");
  const auto demo = dir.path() / "demo";
  dir.write("demo/prompts/orders.yaml",
            head + "  - name: lookup_order\n    description: Find an order\n"
                   "    parameters: {type: object, properties: {id: {type: string}}, "
                   "required: [id]}\n"
                   "  - name: track_order\n");

  const auto r = run_promptops({"diff", "orders"}, demo);
  CHECK(r.err == "");
  CHECK(r.exit_code == 1);
  CHECK(r.out == "diff orders@HEAD (" + short_version("orders@HEAD", demo) + ") -> orders (" +
                     short_version("orders", demo) +
                     ")\n"
                     "tools:\n"
                     "  - cancel_order [BREAKING]\n"
                     "  ~ lookup_order [BREAKING]\n"
                     "      + parameters /required: [\"id\"]\n"
                     "      newly required: parameters /properties/id\n"
                     "  + track_order\n"
                     "2 breaking changes for callers\n");

  const auto j = run_promptops({"diff", "orders", "--json"}, demo);
  CHECK(j.exit_code == 1);
  const auto diff = nlohmann::json::parse(j.out);
  CHECK(diff["breaking"] == 2);
  REQUIRE(diff["tools"].size() == 3);
  CHECK(diff["tools"][0]["name"] == "cancel_order");
  CHECK(diff["tools"][0]["change"] == "removed");
  CHECK(diff["tools"][1]["new_required"] == nlohmann::json::array({"/properties/id"}));
  CHECK(diff["tools"][1]["parameters"][0]["pointer"] == "/required");
  CHECK(diff["tools"][2]["change"] == "added");
  CHECK(diff["tools"][2]["severity"] == "info");
}
