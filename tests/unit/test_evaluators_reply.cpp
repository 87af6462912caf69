// The evaluators that read the reply model (reply/reply.hpp): the trust rule as evaluate()
// applies it, finish_reason, refusal, tool_call and `on: tool_calls`.
#include "evaluators/evaluator.hpp"
#include "jsonschema/validator.hpp"
#include "reply/reply.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace ev = promptops::evaluators;
namespace reply = promptops::reply;
using nlohmann::json;
using promptops::InputError;
using reply::FinishReason;

namespace {

// One reply as a provider reported it, and what the suite allows and the prompt declares.
struct Reply {
  std::string output;
  reply::Facts facts;
  reply::Allowances allowed;
  // Optional, not null JSON: a json member's default makes clang-tidy think the constructor throws.
  std::optional<json> tools;    // the prompt's declared tools
  std::optional<json> expected; // the case's
  double latency_ms = 0;
  std::optional<double> cost;
  std::map<std::string, json> schemas; // schema files by path

  ev::Evaluation run(const json& spec) const {
    const json expected_value = expected.value_or(json());
    ev::EvalInput input{output, expected_value, latency_ms, cost, [this](const std::string& path) {
                          const auto it = schemas.find(path);
                          if (it == schemas.end()) {
                            throw InputError(path, {}, "cannot read file");
                          }
                          return it->second;
                        }};
    input.facts = &facts;
    input.allowed = &allowed;
    input.tools = tools ? &*tools : nullptr;
    return ev::evaluate(spec, input);
  }
  ev::Evaluation eval(const std::string& spec) const { return run(json::parse(spec)); }
};

Reply answered(std::string output, FinishReason reason = FinishReason::stop,
               std::string vendor = "stop") {
  Reply r;
  r.output = std::move(output);
  r.facts.finish_reason = reason;
  r.facts.vendor_finish_reason = std::move(vendor);
  return r;
}

// A tool as a prompt declares it (OpenAI's function tool: name, description, parameters;
// openai/openai-python src/openai/types/shared/function_definition.py).
const json k_weather_tool = json::parse(R"({
  "name": "get_weather",
  "description": "Current weather in a city",
  "parameters": {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"],
    "additionalProperties": false
  }
})");
const json k_time_tool = json::parse(
    R"({"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}})");

// A reply that called tools, as OpenAI sends them: arguments as a JSON string that the model
// wrote and that need not parse (openai/openai-python
// src/openai/types/chat/chat_completion_message_function_tool_call.py), finish_reason
// "tool_calls".
Reply called(std::initializer_list<std::pair<std::string, std::string>> calls,
             std::string output = "") {
  Reply r = answered(std::move(output), FinishReason::tool_calls, "tool_calls");
  int n = 0;
  for (const auto& [name, arguments] : calls) {
    r.facts.tool_calls.push_back(
        reply::tool_call("call_" + std::to_string(++n) + "Xk2mP", name, arguments));
  }
  r.tools = json::array({k_weather_tool, k_time_tool});
  return r;
}

#define CHECK_PASS(e)                                                                              \
  do {                                                                                             \
    const auto& ev_ = (e);                                                                         \
    INFO("reason: " << ev_.reason);                                                                \
    CHECK(ev_.pass);                                                                               \
    CHECK(ev_.score == 1.0);                                                                       \
  } while (false)

#define CHECK_FAIL(e, expected_reason)                                                             \
  do {                                                                                             \
    const auto& ev_ = (e);                                                                         \
    CHECK_FALSE(ev_.pass);                                                                         \
    CHECK(ev_.score == 0.0);                                                                       \
    CHECK(ev_.reason == (expected_reason));                                                        \
  } while (false)

} // namespace

TEST_CASE("evaluate, the trust rule fails text evaluators on an unusable reply",
          "[evaluators][reply]") {
  const char* const contains_ok = R"({"type": "contains", "value": "ok"})";
  SECTION("a usable reply is judged on its text") {
    CHECK_PASS(answered("ok").eval(contains_ok));
  }
  SECTION("cut at the token limit (Anthropic's stop_reason max_tokens: "
          "anthropics/anthropic-sdk-python src/anthropic/types/stop_reason.py)") {
    const Reply r = answered("ok, and then", FinishReason::length, "max_tokens");
    CHECK_FAIL(r.eval(contains_ok), "the reply was cut at the token limit (finish_reason length, "
                                    "\"max_tokens\"); allow: [length] accepts it");
    // Every text evaluator, whatever it reads.
    for (const char* spec : {R"({"type": "regex", "pattern": "."})", R"({"type": "is_json"})",
                             R"({"type": "exact_match", "value": "ok, and then"})",
                             R"({"type": "not_contains", "value": "x"})",
                             R"({"type": "similarity", "value": "ok, and then"})",
                             R"({"type": "exec", "command": "echo '{\"pass\": true}'"})"}) {
      INFO(spec);
      CHECK_THAT(r.eval(spec).reason, Catch::StartsWith("the reply was cut at the token limit"));
    }
  }
  SECTION("refused, with the refusal text sent apart (OpenAI's message.refusal: "
          "openai/openai-python src/openai/types/chat/chat_completion_message.py)") {
    Reply r = answered("");
    r.facts.refusal = "I'm sorry, I can't help with that.";
    CHECK_FAIL(r.eval(contains_ok), "the model refused: \"I'm sorry, I can't help with that.\"; "
                                    "allow: [refusal] accepts it");
    r.facts.finish_reason = FinishReason::refusal;
    r.facts.vendor_finish_reason = "refusal";
    CHECK_THAT(r.eval(contains_ok).reason, Catch::StartsWith("the model refused: \"I'm sorry"));
  }
  SECTION("blocked by a content filter") {
    const Reply r = answered("", FinishReason::content_filter, "content_filter");
    CHECK_THAT(r.eval(contains_ok).reason,
               Catch::StartsWith("the provider's content filter blocked the reply"));
  }
  SECTION("empty") {
    CHECK_FAIL(answered(" \n").eval(R"({"type": "not_contains", "value": "error"})"),
               "the reply is empty (finish_reason \"stop\"); allow: [empty] accepts it");
  }
  SECTION("tool calls instead of an answer") {
    const Reply r = called({{"get_weather", R"({"city": "Paris"})"}});
    CHECK_FAIL(r.eval(contains_ok),
               "the model called tools instead of answering; allow: [tool_calls] accepts it");
  }
  SECTION("the evaluation keeps the spec's name, weight and required") {
    const Reply r = answered("ok", FinishReason::length, "length");
    const auto e = r.eval(R"({"type": "contains", "value": "ok", "name": "says ok",
                              "weight": 2, "required": false})");
    CHECK_FALSE(e.pass);
    CHECK(e.type == "says ok");
    CHECK(e.weight == 2);
    CHECK_FALSE(e.required);
    CHECK_FALSE(e.error);
  }
  SECTION("without facts (a stored output), nothing is known to be wrong") {
    const std::string output = "ok";
    const json expected = nullptr;
    const ev::EvalInput input{output, expected, 0, std::nullopt, {}};
    CHECK_PASS(ev::evaluate(json::parse(contains_ok), input));
  }
}

TEST_CASE("evaluate, allow at suite level and at the evaluator's", "[evaluators][reply]") {
  Reply cut = answered("ok, and then", FinishReason::length, "length");
  const char* const contains_ok = R"({"type": "contains", "value": "ok"})";
  SECTION("the suite's allow") {
    cut.allowed = {reply::Allowance::length};
    CHECK_PASS(cut.eval(contains_ok));
    // It is judged on its text all the same: a cut reply that lacks the text still fails.
    CHECK_FAIL(cut.eval(R"({"type": "contains", "value": "done"})"),
               "missing \"done\" in \"ok, and then\"");
  }
  SECTION("the evaluator's allow") {
    CHECK_PASS(cut.eval(R"({"type": "contains", "value": "ok", "allow": ["length"]})"));
    // Allowing something else does not help.
    CHECK_FALSE(cut.eval(R"({"type": "contains", "value": "ok", "allow": ["refusal"]})").pass);
  }
  SECTION("the evaluator's allow adds to the suite's") {
    Reply both = called({{"get_weather", R"({"city": "Paris"})"}}, "ok");
    both.facts.finish_reason = FinishReason::length;
    both.allowed = {reply::Allowance::length};
    CHECK_THAT(both.eval(contains_ok).reason, Catch::StartsWith("the model called tools"));
    CHECK_PASS(both.eval(R"({"type": "contains", "value": "ok", "allow": ["tool_calls"]})"));
  }
  SECTION("empty and refusal") {
    Reply empty = answered("");
    CHECK_PASS(empty.eval(R"({"type": "not_contains", "value": "x", "allow": ["empty"]})"));
    Reply refused = answered("I can't.", FinishReason::refusal, "refusal");
    refused.allowed = {reply::Allowance::refusal};
    CHECK_PASS(refused.eval(R"({"type": "contains", "value": "can't"})"));
  }
}

TEST_CASE("evaluate, the trust rule leaves facts, cost, latency and tool calls alone",
          "[evaluators][reply]") {
  Reply cut = answered("", FinishReason::length, "max_tokens");
  cut.latency_ms = 120;
  cut.cost = 0.002;
  CHECK_PASS(cut.eval(R"({"type": "latency_ms", "max": 500})"));
  CHECK_PASS(cut.eval(R"({"type": "cost", "max": 0.01})"));
  CHECK_PASS(cut.eval(R"({"type": "finish_reason", "value": "length"})"));
  CHECK_PASS(cut.eval(R"({"type": "refusal", "value": false})"));
  const Reply tools = called({{"get_weather", R"({"city": "Paris"})"}});
  CHECK_PASS(tools.eval(R"({"type": "tool_call", "tool": "get_weather"})"));
  CHECK_PASS(tools.eval(R"({"type": "exact_match", "on": "tool_calls", "path": "/0/name",
                            "value": "get_weather"})"));
  // `on: output` is the default, spelt out.
  CHECK_THAT(tools.eval(R"({"type": "is_json", "on": "output"})").reason,
             Catch::StartsWith("the model called tools instead of answering"));
}

TEST_CASE("evaluate, finish_reason", "[evaluators][reply]") {
  SECTION("one reason or a list, naming the vendor's") {
    const Reply r = answered("Paris.", FinishReason::stop, "end_turn");
    CHECK(r.eval(R"({"type": "finish_reason", "value": "stop"})").reason ==
          "finish_reason stop (the vendor's \"end_turn\")");
    CHECK_PASS(r.eval(R"({"type": "finish_reason", "value": ["tool_calls", "stop"]})"));
    CHECK_FAIL(r.eval(R"({"type": "finish_reason", "value": ["length", "tool_calls"]})"),
               "finish_reason stop (the vendor's \"end_turn\"), expected length or tool_calls");
  }
  SECTION("Gemini's SAFETY is content_filter") {
    const Reply r = answered("", FinishReason::content_filter, "SAFETY");
    CHECK_FAIL(r.eval(R"({"type": "finish_reason", "value": "stop"})"),
               "finish_reason content_filter (the vendor's \"SAFETY\"), expected stop");
  }
  SECTION("a provider that did not say fails, saying so") {
    const Reply r = answered("Paris.", FinishReason::unknown, "");
    CHECK_FAIL(r.eval(R"({"type": "finish_reason", "value": "stop"})"),
               "the provider did not say why the reply ended; expected stop");
    const Reply odd = answered("Paris.", FinishReason::unknown, "pause_turn");
    CHECK_FAIL(odd.eval(R"({"type": "finish_reason", "value": ["stop", "length"]})"),
               "the provider did not say why the reply ended (its \"pause_turn\" has no "
               "normalised meaning); expected stop or length");
  }
  SECTION("the spec is checked") {
    for (const char* spec :
         {R"({"type": "finish_reason"})", R"({"type": "finish_reason", "value": "end_turn"})",
          R"({"type": "finish_reason", "value": []})",
          R"({"type": "finish_reason", "value": ["stop", 1]})"}) {
      INFO(spec);
      CHECK_THROWS_WITH(ev::check_spec(json::parse(spec), "s.yaml:3:5"),
                        Catch::Contains("evaluator \"finish_reason\" needs \"value\""));
    }
  }
}

TEST_CASE("evaluate, refusal reads the vendor's signal", "[evaluators][reply]") {
  Reply refused = answered("", FinishReason::stop, "stop");
  refused.facts.refusal = "I can't assist with that request.";
  CHECK_PASS(refused.eval(R"({"type": "refusal"})"));
  CHECK(refused.eval(R"({"type": "refusal"})").reason ==
        "the model refused: \"I can't assist with that request.\"");
  CHECK_FAIL(refused.eval(R"({"type": "refusal", "value": false})"),
             "the model refused: \"I can't assist with that request.\", expected none");

  // Anthropic's stop_reason "refusal" has no text apart.
  const Reply stopped = answered("", FinishReason::refusal, "refusal");
  CHECK(stopped.eval(R"({"type": "refusal", "value": true})").reason ==
        "the model refused (finish_reason refusal, the vendor's \"refusal\")");

  // A refusal in the answer's words is not a signal: this evaluator does not read text.
  const Reply worded = answered("I'm sorry, but I can't help with that.");
  CHECK_FAIL(worded.eval(R"({"type": "refusal"})"),
             "expected a refusal, but there is no refusal from the provider (finish_reason stop, "
             "the vendor's \"stop\")");
  CHECK_PASS(worded.eval(R"({"type": "refusal", "value": false})"));
  CHECK_THROWS_WITH(ev::check_spec(json::parse(R"({"type": "refusal", "value": "yes"})"), ""),
                    Catch::Contains("takes \"value\" true"));
}

TEST_CASE("evaluate, on: tool_calls reads the calls' JSON", "[evaluators][reply]") {
  const Reply r = called(
      {{"get_weather", R"({"city": "Paris", "unit": "c"})"}, {"get_time", R"({"tz": "CET"})"}});
  CHECK_PASS(r.eval(R"({"type": "exact_match", "on": "tool_calls", "path": "/0/arguments/city",
                        "value": "Paris"})"));
  CHECK_PASS(r.eval(R"({"type": "contains", "on": "tool_calls", "value": "get_time"})"));
  CHECK_PASS(r.eval(R"({"type": "regex", "on": "tool_calls", "pattern": "\"tz\":\"C[A-Z]T\""})"));
  CHECK_PASS(r.eval(R"({"type": "is_json", "on": "tool_calls"})"));
  CHECK_PASS(r.eval(R"({"type": "not_contains", "on": "tool_calls", "value": "delete_account"})"));
  CHECK_FAIL(r.eval(R"({"type": "exact_match", "on": "tool_calls", "path": "/2/name",
                        "value": "x"})"),
             "no value at \"/2/name\" in the tool calls "
             "[{\"arguments\":{\"city\":\"Paris\",\"unit\":\"c\"},\"id\":\"call_1Xk2mP\",\"name\":"
             "\"get_weather\xE2\x80\xA6");
  SECTION("expected, at path") {
    Reply with_expected = r;
    with_expected.expected = json::parse(R"([{"name": "get_weather"}, {"name": "get_time"}])");
    CHECK_PASS(
        with_expected.eval(R"({"type": "exact_match", "on": "tool_calls", "path": "/1/name"})"));
  }
  SECTION("json_schema on the calls") {
    Reply s = r;
    s.schemas["schemas/calls.json"] = json::parse(R"({"type": "array", "maxItems": 1})");
    CHECK_FAIL(
        s.eval(R"({"type": "json_schema", "on": "tool_calls", "schema": "schemas/calls.json"})"),
        "expected at most 1 items, got 2");
  }
  SECTION("no calls: an empty list") {
    const Reply text = answered("Sunny.");
    CHECK_FAIL(text.eval(R"({"type": "exact_match", "on": "tool_calls", "path": "/0/name",
                             "value": "get_weather"})"),
               "no value at \"/0/name\" in the tool calls []");
    CHECK_PASS(text.eval(R"({"type": "exact_match", "on": "tool_calls", "value": []})"));
  }
  SECTION("exec gets the calls as its output, and them and the finish reason apart") {
    const auto e = r.eval(
        R"({"type": "exec", "on": "tool_calls", "command": "python3 -c \"import json,sys; d=json.load(sys.stdin); ok=json.loads(d['output'])==d['tool_calls'] and d['finish_reason']=='tool_calls'; print(json.dumps({'pass': ok}))\""})");
    CHECK_PASS(e);
  }
  SECTION("on is checked") {
    CHECK_THROWS_WITH(
        ev::check_spec(json::parse(R"({"type": "contains", "value": "x", "on": "input"})"), ""),
        Catch::Contains("\"on\" must be \"output\" or \"tool_calls\""));
    for (const char* spec :
         {R"({"type": "latency_ms", "max": 1, "on": "tool_calls"})",
          R"({"type": "tool_call", "on": "tool_calls"})",
          R"({"type": "llm_judge", "provider": "j", "rubric": "r", "on": "output"})"}) {
      INFO(spec);
      CHECK_THROWS_WITH(ev::check_spec(json::parse(spec), ""), Catch::Contains("takes no \"on\""));
    }
  }
}

TEST_CASE("evaluate, tool_call: which tools were called", "[evaluators][reply]") {
  const Reply one = called({{"get_weather", R"({"city": "Paris"})"}});
  const Reply two =
      called({{"get_time", R"({"tz": "CET"})"}, {"get_weather", R"({"city": "Oslo"})"}});
  SECTION("any call, checked against the declared tools") {
    const auto e = one.eval(R"({"type": "tool_call"})");
    CHECK_PASS(e);
    CHECK(e.reason == "called get_weather({\"city\":\"Paris\"})");
  }
  SECTION("tool: one of the calls is to it") {
    CHECK_PASS(two.eval(R"({"type": "tool_call", "tool": "get_weather"})"));
    CHECK_FAIL(one.eval(R"({"type": "tool_call", "tool": "get_time"})"),
               "expected a call to \"get_time\", got [get_weather]");
  }
  SECTION("calls: every call, in order or in any order") {
    CHECK_PASS(two.eval(R"({"type": "tool_call", "calls": ["get_time", "get_weather"]})"));
    CHECK_FAIL(two.eval(R"({"type": "tool_call", "calls": ["get_weather", "get_time"]})"),
               "expected calls to [get_weather, get_time], got [get_time, get_weather]");
    CHECK_PASS(two.eval(R"({"type": "tool_call", "calls": ["get_weather", "get_time"],
                            "order": "any"})"));
    CHECK_FAIL(two.eval(R"({"type": "tool_call", "calls": ["get_weather"], "order": "any"})"),
               "expected calls to [get_weather] in any order, got [get_time, get_weather]");
    CHECK_FAIL(one.eval(R"({"type": "tool_call", "calls": ["get_weather", "get_weather"]})"),
               "expected calls to [get_weather, get_weather], got [get_weather]");
  }
  SECTION("calls: [] wants no call") {
    CHECK_PASS(answered("Sunny.").eval(R"({"type": "tool_call", "calls": []})"));
    CHECK_FAIL(one.eval(R"({"type": "tool_call", "calls": []})"),
               "expected calls to [], got [get_weather]");
  }
  SECTION("no call at all") {
    CHECK_FAIL(answered("It is sunny in Paris today, 21 degrees.")
                   .eval(R"({"type": "tool_call", "tool": "get_weather"})"),
               "the model answered in text instead of calling a tool: \"It is sunny in Paris "
               "today, 21 degrees.\"");
    CHECK_FAIL(answered("", FinishReason::length, "length").eval(R"({"type": "tool_call"})"),
               "the model called no tool, and its reply is empty (finish_reason length, the "
               "vendor's \"length\")");
    Reply refused = answered("");
    refused.facts.refusal = "I can't help with that.";
    CHECK_FAIL(refused.eval(R"({"type": "tool_call"})"),
               "the model refused instead of calling a tool: \"I can't help with that.\"");
  }
}

TEST_CASE("evaluate, tool_call: arguments", "[evaluators][reply]") {
  SECTION("checked against the declared tool's parameters") {
    CHECK_FAIL(called({{"get_weather", R"({"city": "Paris", "unit": "kelvin"})"}})
                   .eval(R"({"type": "tool_call", "tool": "get_weather"})"),
               "the arguments of the call to \"get_weather\" do not match its parameters: /unit: "
               "\"kelvin\" is not one of [\"c\", \"f\"]");
    // Every call is checked, not only the one `tool` names.
    CHECK_THAT(called({{"get_weather", R"({"city": "Paris"})"}, {"get_time", R"({"tz": 1})"}})
                   .eval(R"({"type": "tool_call", "tool": "get_weather"})")
                   .reason,
               Catch::StartsWith("the arguments of the call to \"get_time\" do not match its "
                                 "parameters: /tz:"));
  }
  SECTION("arguments that are not JSON (cut, or a model's slip)") {
    CHECK_FAIL(
        called({{"get_weather", R"({"city": "Par)"}}).eval(R"({"type": "tool_call"})"),
        "the arguments of the call to \"get_weather\" are not JSON: \"{\\\"city\\\": \\\"Par\"");
  }
  SECTION("a tool the prompt does not declare") {
    CHECK_FAIL(called({{"delete_account", "{}"}}).eval(R"({"type": "tool_call"})"),
               "the model called \"delete_account\", a tool the prompt does not declare (it "
               "declares \"get_weather\", \"get_time\")");
    Reply none = called({{"get_weather", R"({"city": "Paris"})"}});
    none.tools.reset();
    CHECK_FAIL(none.eval(R"({"type": "tool_call"})"),
               "the model called \"get_weather\", a tool the prompt does not declare (it declares "
               "no tools)");
  }
  SECTION("a schema file instead of the declared parameters") {
    Reply r = called({{"get_weather", R"({"city": "paris"})"}});
    r.schemas["schemas/city.json"] = json::parse(
        R"({"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z]"}}})");
    CHECK_FAIL(
        r.eval(R"({"type": "tool_call", "tool": "get_weather", "schema": "schemas/city.json"})"),
        "the arguments of the call to \"get_weather\" do not match \"schemas/city.json\": "
        "/city: \"paris\" does not match pattern \"^[A-Z]\"");
    CHECK_THROWS_AS(r.eval(R"({"type": "tool_call", "schema": "schemas/missing.json"})"),
                    InputError);
  }
  SECTION("expected argument values, a subset match") {
    const Reply r = called({{"get_weather", R"({"city": "Oslo"})"},
                            {"get_weather", R"({"city": "Paris", "unit": "c"})"}});
    const auto e =
        r.eval(R"({"type": "tool_call", "tool": "get_weather", "arguments": {"city": "Paris"}})");
    CHECK_PASS(e);
    CHECK(e.reason == "called get_weather({\"city\":\"Paris\",\"unit\":\"c\"})");
    CHECK_FAIL(
        r.eval(R"({"type": "tool_call", "tool": "get_weather",
                          "arguments": {"city": "Paris", "unit": "f"}})"),
        "expected a call to \"get_weather\" with arguments {\"city\":\"Paris\",\"unit\":\"f\"}, "
        "got get_weather({\"city\":\"Oslo\"}), get_weather({\"city\":\"Paris\",\"unit\":\"c\"})");
    // Numbers compare as numbers, objects inside as subsets too.
    Reply nested = called({{"get_time", R"({"tz": "CET", "at": {"hour": 9.0, "minute": 30}})"}});
    nested.tools = json::array({json{{"name", "get_time"}}});
    CHECK_PASS(nested.eval(
        R"({"type": "tool_call", "tool": "get_time", "arguments": {"at": {"hour": 9}}})"));
  }
  SECTION("the spec is checked") {
    for (const auto& [spec, problem] : std::map<std::string, std::string>{
             {R"({"type": "tool_call", "tool": "a", "calls": ["a"]})", "not both"},
             {R"({"type": "tool_call", "arguments": {"city": "Paris"}})",
              "\"arguments\" needs \"tool\""},
             {R"({"type": "tool_call", "calls": ["a"], "order": "sorted"})",
              "\"exact\" or \"any\""},
             {R"({"type": "tool_call", "tool": "a", "order": "any"})",
              "\"order\" goes with \"calls\""},
             {R"({"type": "tool_call", "calls": "a"})", "must be a list"},
             {R"({"type": "tool_call", "tool": ""})", "must be a tool's name"},
             {R"({"type": "contains", "value": "a", "allow": ["lenght"]})",
              "\"allow\" must be a list of"},
         }) {
      INFO(spec);
      CHECK_THROWS_WITH(ev::check_spec(json::parse(spec), "golden/s.yaml:4:5"),
                        Catch::StartsWith("golden/s.yaml:4:5") && Catch::Contains(problem));
    }
  }
}

TEST_CASE("evaluators::supports, the reply model's types", "[evaluators][reply]") {
  for (const char* type : {"finish_reason", "refusal", "tool_call"}) {
    CHECK(ev::supports(type));
  }
  CHECK_THROWS_WITH(ev::check_spec(json::parse(R"({"type": "tool_calls"})"), ""),
                    Catch::Contains("did you mean \"tool_call\""));
}

TEST_CASE("evaluator.schema.json, the reply model's types and `on`", "[evaluators][reply]") {
  std::ifstream file(PROMPTOPS_SOURCE_DIR "/schemas/evaluator.schema.json");
  REQUIRE(file);
  const auto schema = promptops::jsonschema::Validator::compile(json::parse(file));
  const auto valid = [&](const char* spec) {
    return schema.validate(json::parse(spec), 1).empty();
  };
  for (const char* spec : {
           R"({"type": "finish_reason", "value": "stop"})",
           R"({"type": "finish_reason", "value": ["stop", "tool_calls"], "required": false})",
           R"({"type": "refusal"})",
           R"({"type": "refusal", "value": false, "name": "answers"})",
           R"({"type": "tool_call"})",
           R"({"type": "tool_call", "tool": "get_weather", "arguments": {"city": "Paris"},
               "schema": "schemas/weather.json"})",
           R"({"type": "tool_call", "calls": ["a", "b"], "order": "any"})",
           R"({"type": "tool_call", "calls": []})",
           R"({"type": "exact_match", "on": "tool_calls", "path": "/0/arguments/city"})",
           R"({"type": "contains", "on": "output", "value": "x", "allow": ["length", "empty"]})",
           R"({"type": "json_schema", "on": "tool_calls", "schema": "s.json"})",
       }) {
    INFO(spec);
    CHECK(valid(spec));
  }
  for (const char* spec : {
           R"({"type": "finish_reason"})",
           R"({"type": "finish_reason", "value": "end_turn"})",
           R"({"type": "finish_reason", "value": []})",
           R"({"type": "refusal", "value": "yes"})",
           R"({"type": "tool_call", "tool": "a", "calls": ["a"]})",
           R"({"type": "tool_call", "arguments": {"city": "Paris"}})",
           R"({"type": "tool_call", "tool": "a", "order": "any"})",
           R"({"type": "tool_call", "calls": ["a"], "order": "sorted"})",
           R"({"type": "tool_call", "value": "a"})",
           R"({"type": "contains", "value": "x", "on": "input"})",
           R"({"type": "latency_ms", "max": 1, "on": "tool_calls"})",
           R"({"type": "llm_judge", "provider": "j", "rubric": "r", "on": "tool_calls"})",
           R"({"type": "contains", "value": "x", "allow": ["lenght"]})",
       }) {
    INFO(spec);
    CHECK_FALSE(valid(spec));
  }
}
