// Tools declared in prompt files (`tools:`): parsing and its errors, the version, render
// --json, the export entry and the structural diff.
#include "registry/config.hpp"
#include "registry/export.hpp"
#include "registry/prompt.hpp"
#include "registry/prompt_diff.hpp"
#include "registry/registry.hpp"
#include "registry/render.hpp"
#include "registry/source.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

using promptops::InputError;
using promptops::InputErrors;
using namespace promptops::registry;
using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

namespace {

// Registry files in memory, so that resolve_prompt runs without a folder.
class MemorySource final : public Source {
public:
  explicit MemorySource(std::map<std::string, std::string> files) : m_files(std::move(files)) {}

  std::optional<std::string> read(std::string_view path) const override {
    const auto it = m_files.find(std::string(path));
    return it == m_files.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::vector<std::string> list(std::string_view, std::string_view) const override { return {}; }
  std::string display(std::string_view path) const override { return std::string(path); }

private:
  std::map<std::string, std::string> m_files;
};

Prompt parse(const std::string& text) {
  return parse_prompt("p", text, "prompts/p.yaml", "prompts/p.yaml");
}

ResolvedPrompt load(const std::string& yaml, const std::string& ref = "HEAD") {
  const std::string path = prompt_path("p");
  const MemorySource source(std::map<std::string, std::string>{{path, yaml}});
  return resolve_prompt(parse_prompt("p", yaml, path, path), source, ref);
}

// The message of the InputError (or the first of the InputErrors) parsing `text` throws.
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const InputError& e) {
    return e.what();
  } catch (const InputErrors& e) {
    return e.errors().front().what();
  }
  return "";
}

const std::string k_head = "messages:\n  - {role: user, content: \"Order {{id}}?\"}\n";

// Shapes as vendors document them: a function with a JSON Schema object of parameters
// (openai/openai-python src/openai/types/shared_params/function_definition.py; Anthropic's
// input_schema, anthropics/anthropic-sdk-python src/anthropic/types/tool_param.py).
const std::string k_tools = "tools:\n"
                            "  - name: lookup_order\n"
                            "    description: Find an order by id\n"
                            "    parameters:\n"
                            "      type: object\n"
                            "      properties:\n"
                            "        id: {type: string}\n"
                            "      required: [id]\n"
                            "  - name: list-orders\n";

} // namespace

TEST_CASE("registry::parse_prompt, tools in the neutral form", "[registry][tools]") {
  const Prompt p = parse(k_head + k_tools);
  REQUIRE(p.tools);
  const json expected = json::parse(R"([
    {"name": "lookup_order", "description": "Find an order by id",
     "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                    "required": ["id"]}},
    {"name": "list-orders", "parameters": {"type": "object", "properties": {}}}])");
  CHECK(*p.tools == expected);
  CHECK_FALSE(parse(k_head).tools); // no tools: null, not an empty list
  REQUIRE(parse(k_head + "tools: []\n").tools);
  CHECK(parse(k_head + "tools: []\n").tools->empty());
}

TEST_CASE("registry::parse_prompt, bad tools name their line", "[registry][tools]") {
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: look up\n"),
             Catch::StartsWith("prompts/p.yaml:4:11: tools[0].name: ") &&
                 Catch::Contains("^[a-zA-Z0-9_-]{1,64}$"));
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: " + std::string(65, 'a') + "\n"),
             Catch::StartsWith("prompts/p.yaml:4:11: tools[0].name: "));
  CHECK(parse_error(k_head + "tools:\n  - name: a\n  - name: b\n  - name: a\n") ==
        "prompts/p.yaml:6:11: tools[2]: a second tool named \"a\" (tool names are unique in a "
        "prompt)");
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: a\n    parameters: [x]\n"),
             Catch::StartsWith("prompts/p.yaml:5:17: tools[0].parameters: "));
  // Both vendors refuse a parameters schema that is not of type object.
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: a\n    parameters: {type: string}\n"),
             Catch::StartsWith("prompts/p.yaml:5:") && Catch::Contains("\"object\""));
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: a\n    parameters: {properties: {}}\n"),
             Catch::StartsWith("prompts/p.yaml:5:") && Catch::Contains("type"));
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: a\n    descripton: x\n"),
             Catch::Contains("did you mean \"description\"?"));
  CHECK_THAT(parse_error(k_head + "tools:\n  - description: x\n"),
             Catch::StartsWith("prompts/p.yaml:4:") && Catch::Contains("name"));
}

TEST_CASE("registry::parse_prompt, a parameters schema the validator refuses",
          "[registry][tools]") {
  CHECK(parse_error(k_head + "tools:\n  - name: a\n    parameters:\n      type: object\n"
                             "      properties: {n: {type: strin}}\n") ==
        "prompts/p.yaml:6:7: tools[0].parameters: invalid schema at "
        "\"/properties/n/type\": \"strin\" is not a type (expected \"array\", \"boolean\", "
        "\"integer\", \"null\", \"number\", \"object\" or \"string\")");
  CHECK_THAT(parse_error(k_head + "tools:\n  - name: a\n    parameters:\n      type: object\n"
                                  "      properties: {n: {$ref: \"other.json\"}}\n"),
             Catch::StartsWith("prompts/p.yaml:6:7: tools[0].parameters: invalid schema"));
}

TEST_CASE("registry::parse_prompt, every tool error at once", "[registry][tools]") {
  try {
    parse(k_head + "tools:\n  - name: a\n  - name: a\n"
                   "    parameters: {type: object, properties: {n: {minimum: x}}}\n");
    FAIL("no error");
  } catch (const InputErrors& e) {
    REQUIRE(e.errors().size() == 2);
    CHECK(e.errors()[0].position().line == 5);
    CHECK(e.errors()[1].position().line == 6);
  }
}

TEST_CASE("registry: a tool's description is part of the version", "[registry][tools]") {
  const std::string base = k_head + k_tools;
  std::string changed = base;
  changed.replace(changed.find("Find an order by id"), 19, "Find one order by id");
  const auto a = load(base);
  const auto b = load(changed);
  CHECK(a.version != b.version);
  CHECK(load(base).version == a.version);
}

TEST_CASE("registry::to_json(RenderedPrompt), tools only when declared", "[registry][tools]") {
  const Config config;
  const auto with = render_prompt(load(k_head + k_tools, ""), config, json{{"id", "7"}});
  const ordered j = to_json(with);
  REQUIRE(j.contains("tools"));
  CHECK(j.back() == j["tools"]); // after the messages
  CHECK(j["tools"].dump() ==
        R"([{"name":"lookup_order","description":"Find an order by id","parameters":)"
        R"({"properties":{"id":{"type":"string"}},"required":["id"],"type":"object"}},)"
        R"({"name":"list-orders","parameters":{"properties":{},"type":"object"}}])");
  const auto without = render_prompt(load(k_head, ""), config, json{{"id", "7"}});
  CHECK_FALSE(to_json(without).contains("tools"));
}

TEST_CASE("registry::export_prompt, tools in the bundle entry", "[registry][tools]") {
  const ordered with = export_prompt(load(k_head + k_tools));
  REQUIRE(with.contains("tools"));
  CHECK(with["tools"] == tools_to_json(*parse(k_head + k_tools).tools));
  CHECK(with["tools"][0]["name"] == "lookup_order");
  CHECK_FALSE(with["tools"][1].contains("description"));
  CHECK_FALSE(export_prompt(load(k_head)).contains("tools"));
}

TEST_CASE("registry::diff_prompts, tools added, removed and changed", "[registry][tools]") {
  const auto a = load(k_head + k_tools);
  const auto b = load(k_head + "tools:\n"
                               "  - name: lookup_order\n"
                               "    description: Find one order\n"
                               "    parameters:\n"
                               "      type: object\n"
                               "      properties:\n"
                               "        id: {type: integer}\n"
                               "        email: {type: string}\n"
                               "      required: [id, email]\n"
                               "  - name: cancel_order\n");
  const PromptDiff d = diff_prompts(a, b);
  REQUIRE(d.tools.size() == 3); // in name order
  CHECK(d.tools[0].name == "cancel_order");
  CHECK(d.tools[0].change == Change::added);
  CHECK(d.tools[0].severity == Severity::info);
  CHECK(d.tools[1].name == "list-orders");
  CHECK(d.tools[1].change == Change::removed);
  CHECK(d.tools[1].severity == Severity::breaking);
  const ToolChange& c = d.tools[2];
  CHECK(c.change == Change::changed);
  REQUIRE(c.description);
  CHECK(c.description->before == "Find an order by id");
  CHECK(c.description->after == "Find one order");
  REQUIRE(c.parameters.size() == 3);
  CHECK(c.parameters[0].pointer == "/properties/email");
  CHECK(c.parameters[0].change == Change::added);
  CHECK(c.parameters[1].pointer == "/properties/id/type");
  CHECK(c.parameters[2].pointer == "/required");
  CHECK(c.new_required == std::vector<std::string>{"/properties/email"});
  CHECK(c.severity == Severity::breaking);
  CHECK(d.count(Severity::breaking) == 2);
  CHECK_FALSE(d.only_file_layout_changed);

  const std::string text = format_diff(d, Color::no);
  CHECK_THAT(text, Catch::Contains("tools:\n"
                                   "  + cancel_order\n"
                                   "  - list-orders [BREAKING]\n"
                                   "  ~ lookup_order [BREAKING]\n"
                                   "      description: \"Find an order by id\" -> \"Find one "
                                   "order\"\n"
                                   "      + parameters /properties/email: {\"type\":\"string\"}\n"
                                   "      ~ parameters /properties/id/type: \"string\" -> "
                                   "\"integer\"\n"
                                   "      ~ parameters /required: [\"id\"] -> [\"id\",\"email\"]\n"
                                   "      newly required: parameters /properties/email\n"));
  CHECK_THAT(text, Catch::Contains("2 breaking changes for callers"));

  const ordered j = to_json(d);
  CHECK(j["breaking"] == 2);
  REQUIRE(j["tools"].size() == 3);
  CHECK(j["tools"][1] == ordered::parse(R"({"name": "list-orders", "change": "removed",
    "description": null, "parameters": [], "new_required": [], "severity": "breaking"})"));
  CHECK(j["tools"][2]["description"] ==
        ordered::parse(R"({"before": "Find an order by id", "after": "Find one order"})"));
  CHECK(j["tools"][2]["parameters"][1] ==
        ordered::parse(R"({"pointer": "/properties/id/type", "change": "changed",
                           "before": "string", "after": "integer"})"));
  CHECK(j["tools"][2]["new_required"] == ordered::array({"/properties/email"}));
}

TEST_CASE("registry::diff_prompts, what a tool change does not break", "[registry][tools]") {
  const std::string tool = "tools:\n  - name: t\n    parameters:\n      type: object\n"
                           "      properties:\n        a: {type: string}\n";
  SECTION("an optional property, even one whose own fields are required") {
    const auto d = diff_prompts(
        load(k_head + tool),
        load(k_head + tool + "        b: {type: object, required: [c], properties: {c: {}}}\n"));
    REQUIRE(d.tools.size() == 1);
    CHECK(d.tools[0].new_required.empty());
    CHECK(d.tools[0].severity == Severity::info);
    CHECK(d.count(Severity::breaking) == 0);
  }
  SECTION("a required property no longer required") {
    const auto d = diff_prompts(load(k_head + tool + "      required: [a]\n"), load(k_head + tool));
    REQUIRE(d.tools.size() == 1);
    CHECK(d.tools[0].severity == Severity::info);
  }
  SECTION("a nested property newly required in an object that was there") {
    const std::string nested = "        b: {type: object, properties: {c: {}}";
    const auto d = diff_prompts(load(k_head + tool + nested + "}\n"),
                                load(k_head + tool + nested + ", required: [c]}\n"));
    REQUIRE(d.tools.size() == 1);
    CHECK(d.tools[0].new_required == std::vector<std::string>{"/properties/b/properties/c"});
    CHECK(d.tools[0].severity == Severity::breaking);
  }
  SECTION("the default parameters written out: only the file changed") {
    const auto d = diff_prompts(load(k_head + "tools:\n  - name: t\n"),
                                load(k_head + "tools:\n  - name: t\n    parameters: "
                                              "{type: object, properties: {}}\n"));
    CHECK(d.tools.empty());
    CHECK(d.only_file_layout_changed);
  }
  SECTION("the same tools: no tool changes") {
    const auto d = diff_prompts(load(k_head + k_tools), load(k_head + k_tools, ""));
    CHECK(d.tools.empty());
    CHECK(d.empty());
  }
}
