#include "evaluators/evaluator.hpp"
#include "evaluators/text.hpp"
#include "tests/support/evaluator_output.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>

namespace ev = promptops::evaluators;
namespace text = promptops::evaluators::text;
namespace util_text = promptops::util::text;
using nlohmann::json;
using promptops::InputError;

namespace {

using Output = promptops::test::EvaluatorOutput;

ev::Evaluation eval(const std::string& spec, const std::string& output,
                    const json& expected = nullptr) {
  Output out;
  out.output = output;
  out.expected = expected;
  return out.eval(spec);
}

// True when `s` holds no byte a terminal would act on.
bool printable(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return s.find("\xE2\x80\xAE") == std::string::npos && s.find("\xC2\x9B") == std::string::npos;
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
    CHECK(ev_.reason == (expected_reason));                                                        \
  } while (false)

} // namespace

TEST_CASE("evaluators::supports, exactly the types of this module", "[evaluators]") {
  for (const char* type : {"exact_match", "contains", "not_contains", "contains_any",
                           "contains_all", "regex", "starts_with", "is_json", "json_schema",
                           "latency_ms", "cost", "similarity", "exec", "llm_judge"}) {
    CHECK(ev::supports(type));
  }
  for (const char* type : {"", "EXACT_MATCH", "exact", "judge"}) {
    CHECK_FALSE(ev::supports(type));
  }
}

TEST_CASE("evaluators::evaluate, common options: name, weight, required", "[evaluators]") {
  SECTION("defaults") {
    const auto e = eval(R"({"type": "contains", "value": "a"})", "abc");
    CHECK(e.type == "contains");
    CHECK(e.weight == 1.0);
    CHECK(e.required);
  }
  SECTION("given") {
    const auto e = eval(
        R"({"type": "contains", "value": "z", "name": "mentions z", "weight": 2.5, "required": false})",
        "abc");
    CHECK(e.type == "mentions z");
    CHECK(e.weight == 2.5);
    CHECK_FALSE(e.required);
    CHECK_FALSE(e.pass);
  }
}

TEST_CASE("evaluators::evaluate, exact_match on text", "[evaluators]") {
  SECTION("value") {
    CHECK_PASS(eval(R"({"type": "exact_match", "value": "billing"})", "billing"));
    CHECK_FAIL(eval(R"({"type": "exact_match", "value": "billing"})", "shipping"),
               R"(expected "billing", got "shipping")");
    CHECK(eval(R"({"type": "exact_match", "value": "billing"})", "billing").reason ==
          R"(equals "billing")");
  }
  SECTION("the case's expected when there is no value") {
    CHECK_PASS(eval(R"({"type": "exact_match"})", "billing", "billing"));
    CHECK_FAIL(eval(R"({"type": "exact_match"})", "Billing", "billing"),
               R"(expected "billing", got "Billing")");
    // `value` wins over `expected`.
    CHECK_PASS(eval(R"({"type": "exact_match", "value": "a"})", "a", "b"));
  }
  SECTION("nothing to compare with") {
    CHECK_FAIL(
        eval(R"({"type": "exact_match"})", "billing"),
        R"(nothing to compare with: the evaluator has no "value" and the case no "expected")");
  }
  SECTION("trim") {
    CHECK_FAIL(eval(R"({"type": "exact_match", "value": "billing"})", "  billing\n"),
               R"(expected "billing", got "  billing\n")");
    CHECK_PASS(eval(R"({"type": "exact_match", "value": "billing", "trim": true})", "  billing\n"));
    CHECK_PASS(eval(R"({"type": "exact_match", "value": " billing ", "trim": true})", "billing"));
    CHECK_FALSE(eval(R"({"type": "exact_match", "value": "a b", "trim": true})", "a  b").pass);
  }
  SECTION("normalize_whitespace") {
    const std::string spec =
        R"({"type": "exact_match", "value": "the quick  fox", "normalize_whitespace": true})";
    CHECK_PASS(eval(spec, "\tthe\nquick fox  \n"));
    CHECK_FALSE(eval(spec, "the quickfox").pass);
  }
  SECTION("ignore_case, ASCII and beyond") {
    CHECK_PASS(
        eval(R"({"type": "exact_match", "value": "Billing", "ignore_case": true})", "BILLING"));
    CHECK_PASS(
        eval(R"({"type": "exact_match", "value": "café ÉTÉ", "ignore_case": true})", "CAFÉ été"));
    CHECK_PASS(eval(R"({"type": "exact_match", "value": "ΣΟΦΊΑ", "ignore_case": true})", "σοφία"));
    CHECK_PASS(
        eval(R"({"type": "exact_match", "value": "привет", "ignore_case": true})", "ПРИВЕТ"));
    // Simple case folding only: "ß" is not "SS".
    CHECK_FALSE(
        eval(R"({"type": "exact_match", "value": "straße", "ignore_case": true})", "STRASSE").pass);
    CHECK_FALSE(eval(R"({"type": "exact_match", "value": "Billing"})", "BILLING").pass);
    // Must match the whole output, not a part of it.
    CHECK_FALSE(
        eval(R"({"type": "exact_match", "value": "bill", "ignore_case": true})", "BILLING").pass);
  }
  SECTION("all three options together") {
    CHECK_PASS(eval(
        R"({"type": "exact_match", "value": "Hello World", "ignore_case": true, "trim": true, "normalize_whitespace": true})",
        "  hello\n\n world "));
  }
  SECTION("a long output is quoted short") {
    const std::string output(500, 'x');
    const auto e = eval(R"({"type": "exact_match", "value": "y"})", output);
    CHECK(e.reason == "expected \"y\", got \"" + std::string(80, 'x') + "\xE2\x80\xA6\"");
  }
}

TEST_CASE("evaluators::evaluate, exact_match on JSON values", "[evaluators]") {
  SECTION("a non-string expected compares with the output parsed as JSON") {
    CHECK_PASS(eval(R"({"type": "exact_match", "value": 42})", " 42\n"));
    CHECK_PASS(eval(R"({"type": "exact_match", "value": 1})", "1.0"));
    CHECK_PASS(eval(R"({"type": "exact_match"})", R"({"b": [1, 2], "a": true})",
                    json{{"a", true}, {"b", {1, 2}}}));
    CHECK_FAIL(eval(R"({"type": "exact_match"})", R"({"a": false})", json{{"a", true}}),
               R"(expected {"a":true}, got {"a":false})");
    CHECK_FAIL(eval(R"({"type": "exact_match", "value": 42})", "forty-two"),
               R"(expected 42, but the output is not JSON (line 1, column 2: "forty-two"))");
    CHECK_FAIL(eval(R"({"type": "exact_match", "value": [1]})", "```json\n[1]\n```"),
               "expected [1], but the output wraps its JSON in a ```json code fence; set extract: "
               "true to accept it");
  }
  SECTION("a path into the output, with the case's expected at the same path") {
    const json expected = {{"category", "billing"}, {"priority", 2}};
    const std::string spec = R"({"type": "exact_match", "path": "/category"})";
    CHECK_PASS(eval(spec, R"({"category": "billing", "priority": 1})", expected));
    CHECK_FAIL(eval(spec, R"({"category": "shipping"})", expected),
               R"(expected "billing", got "shipping")");
    CHECK_PASS(
        eval(R"({"type": "exact_match", "path": "/priority"})", R"({"priority": 2})", expected));
    CHECK_FAIL(
        eval(R"({"type": "exact_match", "path": "/priority"})", R"({"priority": "2"})", expected),
        R"(expected 2, got "2")");
  }
  SECTION("a path, with an expected that does not have it: the whole expected") {
    CHECK_PASS(eval(R"({"type": "exact_match", "path": "/category"})", R"({"category": "billing"})",
                    "billing"));
    CHECK_FAIL(eval(R"({"type": "exact_match", "path": "/items/1/name"})",
                    R"({"items": [{"name": "a"}, {"name": "b"}]})", json{{"other", 1}}),
               R"(expected {"other":1}, got "b")");
    CHECK_PASS(eval(R"({"type": "exact_match", "path": "/items/1/name"})",
                    R"({"items": [{"name": "a"}, {"name": "b"}]})", "b"));
  }
  SECTION("a path and a value") {
    CHECK_PASS(
        eval(R"({"type": "exact_match", "path": "/a/b", "value": "x"})", R"({"a": {"b": "x"}})"));
    CHECK_PASS(eval(R"({"type": "exact_match", "path": "/a", "value": {"b": "x"}})",
                    R"({"a": {"b": "x"}})"));
    CHECK_PASS(eval(R"({"type": "exact_match", "path": "/a~1b", "value": 1})", R"({"a/b": 1})"));
    CHECK_PASS(eval(R"({"type": "exact_match", "path": "", "value": [1, 2]})", "[1,2]"));
  }
  SECTION("string options apply at a path") {
    CHECK_PASS(eval(
        R"({"type": "exact_match", "path": "/c", "value": "billing", "ignore_case": true, "trim": true})",
        R"({"c": " BILLING "})"));
  }
  SECTION("a path needs JSON output") {
    const std::string spec = R"({"type": "exact_match", "path": "/category", "value": "billing"})";
    CHECK_FAIL(
        eval(spec, "billing"),
        R"(path "/category" needs JSON, but the output is not JSON (line 1, column 1: "billing"))");
    CHECK_FAIL(
        eval(spec, "```json\n{\"category\": \"billing\"}\n```"),
        R"(path "/category" needs JSON, but the output wraps its JSON in a ```json code fence; set extract: true to accept it)");
    CHECK_FAIL(eval(spec, R"({"categry": "billing"})"),
               R"(no value at "/category" in the output {"categry":"billing"})");
    CHECK_FAIL(
        eval(R"({"type": "exact_match", "path": "/items/x", "value": 1})", R"({"items": [1]})"),
        R"(no value at "/items/x" in the output {"items":[1]})");
    CHECK_FAIL(
        eval(R"({"type": "exact_match", "path": "/items/5", "value": 1})", R"({"items": [1]})"),
        R"(no value at "/items/5" in the output {"items":[1]})");
  }
}

TEST_CASE("evaluators::evaluate, contains, not_contains, starts_with", "[evaluators]") {
  SECTION("contains") {
    CHECK_PASS(eval(R"({"type": "contains", "value": "refund"})", "I want a refund now"));
    CHECK(eval(R"({"type": "contains", "value": "refund"})", "I want a refund").reason ==
          R"(found "refund")");
    CHECK_FAIL(eval(R"({"type": "contains", "value": "refund"})", "I want my money back"),
               R"(missing "refund" in "I want my money back")");
    CHECK_FAIL(eval(R"({"type": "contains", "value": "refund"})", "a REFUND"),
               R"(missing "refund" in "a REFUND")");
    CHECK_PASS(eval(R"({"type": "contains", "value": "refund", "ignore_case": true})", "a REFUND"));
    CHECK_PASS(eval(R"({"type": "contains", "value": "ÜBER", "ignore_case": true})",
                    "das ist über alles"));
    CHECK_PASS(eval(R"({"type": "contains"})", "order 1234 shipped", "1234"));
    CHECK_PASS(eval(R"({"type": "contains"})", "order 1234 shipped", 1234));
    CHECK_FAIL(
        eval(R"({"type": "contains"})", "x", json{{"a", 1}}),
        R"(evaluator "contains" looks for text, but the expected value is an object: {"a":1})");
  }
  SECTION("not_contains") {
    CHECK_PASS(eval(R"({"type": "not_contains", "value": "sorry"})", "Here is your answer"));
    CHECK(eval(R"({"type": "not_contains", "value": "sorry"})", "fine").reason == R"(no "sorry")");
    CHECK_FAIL(eval(R"({"type": "not_contains", "value": "sorry"})", "I am sorry, I cannot"),
               R"(found "sorry" in "I am sorry, I cannot")");
    CHECK_FALSE(
        eval(R"({"type": "not_contains", "value": "SORRY", "ignore_case": true})", "so sorry")
            .pass);
    // The reason shows the text around the match, not the start of a long output.
    const std::string output = std::string(300, 'a') + " As an AI model " + std::string(300, 'b');
    const auto e = eval(R"({"type": "not_contains", "value": "As an AI"})", output);
    CHECK_FALSE(e.pass);
    CHECK(e.reason.find("As an AI model") != std::string::npos);
    CHECK(e.reason.starts_with("found \"As an AI\" in \"\xE2\x80\xA6"
                               "aaa"));
    CHECK(e.reason.ends_with("bbb\xE2\x80\xA6\""));
  }
  SECTION("starts_with") {
    CHECK_PASS(eval(R"({"type": "starts_with", "value": "Ticket: "})", "Ticket: 42"));
    CHECK(eval(R"({"type": "starts_with", "value": "Ticket: "})", "Ticket: 42").reason ==
          R"(starts with "Ticket: ")");
    CHECK_FAIL(eval(R"({"type": "starts_with", "value": "Ticket: "})", "Sure! Ticket: 42"),
               R"(expected to start with "Ticket: ", got "Sure! Ticket: 42")");
    CHECK_FALSE(eval(R"({"type": "starts_with", "value": "ticket"})", "TICKET 42").pass);
    CHECK_PASS(
        eval(R"({"type": "starts_with", "value": "ticket", "ignore_case": true})", "TICKET 42"));
    CHECK_FALSE(
        eval(R"({"type": "starts_with", "value": "42", "ignore_case": true})", "TICKET 42").pass);
    CHECK_PASS(eval(R"({"type": "starts_with"})", "Dear Ann,", "Dear"));
  }
  SECTION("at a path") {
    const std::string output = R"({"reply": "We will refund you", "n": 1234})";
    CHECK_PASS(eval(R"({"type": "contains", "path": "/reply", "value": "refund"})", output));
    CHECK_PASS(eval(R"({"type": "starts_with", "path": "/reply", "value": "We"})", output));
    CHECK_PASS(eval(R"({"type": "contains", "path": "/n", "value": "23"})", output));
    CHECK_FAIL(eval(R"({"type": "not_contains", "path": "/reply", "value": "refund"})", output),
               R"(found "refund" in "We will refund you")");
    CHECK_FAIL(
        eval(R"({"type": "contains", "path": "/reply", "value": "x"})", "not json"),
        R"(path "/reply" needs JSON, but the output is not JSON (line 1, column 2: "not json"))");
  }
}

TEST_CASE("evaluators::evaluate, contains_any and contains_all", "[evaluators]") {
  const std::string output = "Your refund for order 77 is on its way";
  SECTION("contains_all") {
    CHECK_PASS(eval(R"({"type": "contains_all", "value": ["refund", "order"]})", output));
    CHECK(eval(R"({"type": "contains_all", "value": ["refund", "order"]})", output).reason ==
          "found all 2");
    const auto e = eval(
        R"({"type": "contains_all", "value": ["refund", "invoice", "order", "credit"]})", output);
    CHECK_FALSE(e.pass);
    CHECK(e.score == 0.5);
    CHECK(e.reason == R"(missing "invoice", "credit" (2 of 4 found))");
    const auto none = eval(R"({"type": "contains_all", "value": ["zz", "qq"]})", output);
    CHECK(none.score == 0.0);
    CHECK_PASS(eval(
        R"({"type": "contains_all", "value": ["REFUND", "ORDER"], "ignore_case": true})", output));
  }
  SECTION("contains_any") {
    CHECK_PASS(eval(R"({"type": "contains_any", "value": ["invoice", "refund"]})", output));
    CHECK(eval(R"({"type": "contains_any", "value": ["invoice", "refund"]})", output).reason ==
          R"(found "refund")");
    const auto e = eval(R"({"type": "contains_any", "value": ["invoice", "credit"]})", output);
    CHECK_FALSE(e.pass);
    CHECK(e.score == 0.0);
    CHECK(e.reason == R"(none of "invoice", "credit" in "Your refund for order 77 is on its way")");
    CHECK_PASS(
        eval(R"({"type": "contains_any", "value": ["INVOICE", "REFUND"], "ignore_case": true})",
             output));
  }
  SECTION("from the case's expected") {
    CHECK_PASS(eval(R"({"type": "contains_all"})", output, json{"refund", 77}));
    CHECK_PASS(eval(R"({"type": "contains_any"})", output, "order"));
    CHECK_FAIL(
        eval(R"({"type": "contains_all"})", output, json{"refund", json{{"a", 1}}}),
        R"(evaluator "contains_all" looks for text, but the expected value is an object: {"a":1})");
    CHECK_FAIL(eval(R"({"type": "contains_any"})", output, json::array()),
               "nothing to look for: the expected list is empty");
  }
  SECTION("a long list is shortened") {
    const auto e = eval(
        R"({"type": "contains_all", "value": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]})", "x");
    CHECK(e.reason == R"(missing "a1", "a2", "a3", "a4", "a5", and 2 more (0 of 7 found))");
  }
}

TEST_CASE("evaluators::evaluate, regex (RE2, partial match)", "[evaluators]") {
  SECTION("pass and fail") {
    const auto e = eval(R"({"type": "regex", "pattern": "order \\d+"})", "Your order 1234 shipped");
    CHECK_PASS(e);
    CHECK(e.reason == R"(matched "order 1234")");
    CHECK_FAIL(eval(R"({"type": "regex", "pattern": "^\\d{4}$"})", "Your order 1234"),
               R"(no match for /^\d{4}$/ in "Your order 1234")");
    CHECK_PASS(eval(R"({"type": "regex", "pattern": "(?i)^your"})", "YOUR order"));
    CHECK_PASS(eval(R"({"type": "regex", "pattern": "^\\p{Greek}+$"})", "σοφία"));
  }
  SECTION("at a path") {
    CHECK_PASS(eval(R"({"type": "regex", "path": "/id", "pattern": "^[A-Z]{3}-\\d+$"})",
                    R"({"id": "ABC-12"})"));
    CHECK_FALSE(eval(R"({"type": "regex", "path": "/id", "pattern": "^[A-Z]{3}-\\d+$"})",
                     R"({"id": "abc-12"})")
                    .pass);
  }
  SECTION("a megabyte of text, and patterns that make backtracking engines explode") {
    std::string big(1 << 20, 'a');
    CHECK_FALSE(eval(R"({"type": "regex", "pattern": "(a+)+$b"})", big).pass);
    CHECK_FALSE(eval(R"({"type": "regex", "pattern": "(a|aa)*c"})", big).pass);
    CHECK_PASS(eval(R"({"type": "regex", "pattern": "(a|b)*$"})", big));
    big += " order 98765 end";
    const auto e = eval(R"({"type": "regex", "pattern": "order (\\d+) end$"})", big);
    CHECK_PASS(e);
    CHECK(e.reason == R"(matched "order 98765 end")");
    const std::string lines = [] {
      std::string s;
      for (int i = 0; i < 50000; ++i) {
        s += "line " + std::to_string(i) + "\n";
      }
      return s;
    }();
    CHECK_PASS(eval(R"({"type": "regex", "pattern": "(?m)^line 49999$"})", lines));
  }
  SECTION("a pattern RE2 rejects is an InputError") {
    CHECK_THROWS_AS(eval(R"({"type": "regex", "pattern": "(abc"})", "abc"), InputError);
    // Backreferences are not RE2 syntax.
    CHECK_THROWS_AS(eval(R"({"type": "regex", "pattern": "(a)\\1"})", "aa"), InputError);
  }
}

TEST_CASE("evaluators::evaluate, is_json", "[evaluators]") {
  const std::string spec = R"({"type": "is_json"})";
  const std::string extract = R"({"type": "is_json", "extract": true})";
  SECTION("JSON") {
    CHECK(eval(spec, R"({"category": "billing"})").reason == "valid JSON (object)");
    CHECK(eval(spec, "\n  [1, 2]\n").reason == "valid JSON (array)");
    CHECK(eval(spec, "42").reason == "valid JSON (number)");
    CHECK_PASS(eval(extract, R"({"a": 1})"));
  }
  SECTION("a code fence fails unless extract: true") {
    const std::string fenced = "```json\n{\"category\": \"billing\"}\n```";
    CHECK_FAIL(eval(spec, fenced),
               "the output wraps its JSON in a ```json code fence; set extract: "
               "true to accept it");
    CHECK_FAIL(eval(spec, "```\n[1]\n```\n"),
               "the output wraps its JSON in a ``` code fence; set extract: true to accept it");
    const auto e = eval(extract, fenced);
    CHECK_PASS(e);
    CHECK(e.reason == "valid JSON (object), taken out of its code fence");
    CHECK_PASS(eval(extract, "Here you go:\n```json\n{\"a\": 1}\n```\nAnything else?"));
    // A fence whose content is not JSON, then one that is.
    CHECK_PASS(eval(extract, "```python\nprint(1)\n```\n```json\n{\"a\": 1}\n```"));
    // An answer cut off before its closing fence.
    CHECK_PASS(eval(extract, "```json\n{\"a\": 1}\n"));
  }
  SECTION("prose around the JSON fails unless extract: true") {
    const std::string prose =
        "Sure! Here is the classification: {\"category\": \"billing\"} Hope it helps.";
    CHECK_FAIL(
        eval(spec, prose),
        R"(the output has text around its JSON ("Sure! Here is the classification:" before it, "Hope it helps." after it); set extract: true to accept it)");
    const auto e = eval(extract, prose);
    CHECK_PASS(e);
    CHECK(e.reason == "valid JSON (object), taken out of the text around it");
    CHECK_PASS(eval(extract, "[note] the answer: {\"a\": [1, {\"b\": \"}\"}]}"));
    CHECK_FALSE(eval(spec, R"({"a": 1} and then some)").pass);
  }
  SECTION("not JSON") {
    CHECK_FAIL(eval(spec, "The category is billing."),
               R"(the output is not JSON (line 1, column 1: "The category is billing."))");
    CHECK_FAIL(eval(extract, "The category is billing."),
               R"(the output is not JSON (line 1, column 1: "The category is billing."))");
    CHECK_FAIL(eval(spec, "{\n  \"a\": 1,\n  \"b\": oops\n}"),
               R"(the output is not JSON (line 3, column 8: "{\n  \"a\": 1,\n  \"b\": oops\n}"))");
    CHECK_FAIL(eval(spec, ""), "the output is empty");
    CHECK_FAIL(eval(spec, " \n"), "the output is blank");
    CHECK_FAIL(eval(extract, "{not: json}"),
               R"(the output is not JSON (line 1, column 3: "{not: json}"))");
  }
  SECTION("at a path") {
    CHECK(eval(R"({"type": "is_json", "path": "/a"})", R"({"a": {"b": 1}})").reason ==
          R"(valid JSON (object) at "/a")");
    CHECK_FAIL(eval(R"({"type": "is_json", "path": "/b"})", R"({"a": 1})"),
               R"(no value at "/b" in the output {"a":1})");
  }
}

TEST_CASE("evaluators::evaluate, json_schema", "[evaluators]") {
  const json order_schema = json::parse(R"({
    "type": "object",
    "required": ["items"],
    "properties": {
      "items": {"type": "array", "items": {
        "type": "object", "required": ["name", "price"],
        "properties": {"name": {"type": "string"}, "price": {"type": "integer"}}}}
    }})");
  Output out;
  out.schemas = {{"", order_schema},
                 {"schemas/category.json",
                  json::parse(R"({"$schema": "http://json-schema.org/draft-07/schema#",
                                  "type": "object", "required": ["category"],
                                  "properties": {"category": {"enum": ["billing", "shipping"]}}})")}};
  SECTION("the prompt's output schema") {
    out.output = R"({"items": [{"name": "a", "price": 1}]})";
    const auto e = out.eval(R"({"type": "json_schema"})");
    CHECK_PASS(e);
    CHECK(e.reason == "matches the prompt's output schema");
    out.output =
        R"({"items": [{"name": "a", "price": 1}, {"name": "b", "price": 2}, {"name": "c", "price": 12.5}]})";
    CHECK_FAIL(out.eval(R"({"type": "json_schema"})"),
               R"(/items/2/price: 12.5 is not of type "integer")");
  }
  SECTION("a schema file") {
    out.output = R"({"category": "billing"})";
    const auto e = out.eval(R"({"type": "json_schema", "schema": "schemas/category.json"})");
    CHECK_PASS(e);
    CHECK(e.reason == R"(matches "schemas/category.json")");
    out.output = R"({"category": "refunds"})";
    CHECK_FALSE(out.eval(R"({"type": "json_schema", "schema": "schemas/category.json"})").pass);
    out.output = R"({})";
    CHECK_FAIL(out.eval(R"({"type": "json_schema", "schema": "schemas/category.json"})"),
               R"(missing required property "category")");
  }
  SECTION("several failures: the first three and a count") {
    out.output = R"({"items": [{"name": 1, "price": "x"}, {"name": 2, "price": "y"}, {}]})";
    const auto e = out.eval(R"({"type": "json_schema"})");
    CHECK_FALSE(e.pass);
    CHECK(e.reason.starts_with(R"(/items/0/name: 1 is not of type "string"; )"));
    CHECK(e.reason.ends_with("; and 3 more"));
  }
  SECTION("a code fence fails unless extract: true") {
    out.output = "```json\n{\"items\": []}\n```";
    CHECK_FAIL(out.eval(R"({"type": "json_schema"})"),
               "the output wraps its JSON in a ```json code fence; set extract: true to accept it");
    const auto e = out.eval(R"({"type": "json_schema", "extract": true})");
    CHECK_PASS(e);
    CHECK(e.reason == "matches the prompt's output schema, taken out of its code fence");
    out.output = "not json";
    CHECK_FAIL(out.eval(R"({"type": "json_schema"})"),
               R"(the output is not JSON (line 1, column 2: "not json"))");
  }
  SECTION("at a path, with locations from the output's root") {
    out.output = R"({"order": {"items": [{"name": "a", "price": "1"}]}})";
    CHECK_FAIL(out.eval(R"({"type": "json_schema", "path": "/order"})"),
               R"(/order/items/0/price: "1" is not of type "integer")");
  }
  SECTION("format_assertion") {
    out.schemas["schemas/email.json"] = json{{"type", "string"}, {"format", "email"}};
    out.output = R"("not an email")";
    CHECK_PASS(out.eval(R"({"type": "json_schema", "schema": "schemas/email.json"})"));
    CHECK_FALSE(
        out.eval(
               R"({"type": "json_schema", "schema": "schemas/email.json", "format_assertion": true})")
            .pass);
  }
  SECTION("a schema that cannot be loaded or compiled is an InputError") {
    out.output = "{}";
    CHECK_THROWS_WITH(out.eval(R"({"type": "json_schema", "schema": "schemas/missing.json"})"),
                      "schemas/missing.json: cannot read file");
    out.schemas["schemas/bad.json"] = json{{"type", 12}};
    CHECK_THROWS_AS(out.eval(R"({"type": "json_schema", "schema": "schemas/bad.json"})"),
                    InputError);
  }
}

TEST_CASE("evaluators::evaluate, latency_ms and cost", "[evaluators]") {
  Output out;
  out.output = "ok";
  out.latency_ms = 812;
  CHECK(out.eval(R"({"type": "latency_ms", "max": 1000})").reason == "812 ms (max 1000 ms)");
  CHECK_PASS(out.eval(R"({"type": "latency_ms", "max": 812})"));
  CHECK_FAIL(out.eval(R"({"type": "latency_ms", "max": 500})"), "812 ms, over the 500 ms limit");
  out.latency_ms = 1234.5678;
  CHECK_FAIL(out.eval(R"({"type": "latency_ms", "max": 1000})"),
             "1234.6 ms, over the 1000 ms limit");

  CHECK_FAIL(out.eval(R"({"type": "cost", "max": 0.01})"),
             "no cost to check: the provider has no pricing, or the reply gave no valid token "
             "counts");
  out.cost = 0.000123;
  CHECK(out.eval(R"({"type": "cost", "max": 0.01})").reason == "$0.000123 (max $0.01)");
  CHECK_PASS(out.eval(R"({"type": "cost", "max": 0.01})"));
  out.cost = 0.0123;
  CHECK_FAIL(out.eval(R"({"type": "cost", "max": 0.01})"), "$0.0123, over the $0.01 limit");
  CHECK_THROWS_AS(out.eval(R"({"type": "cost"})"), InputError);
}

TEST_CASE("evaluators::evaluate, reasons never carry raw control characters", "[evaluators]") {
  const std::string nasty = "\x1b[31mred\x1b[0m\r\nline\tX\x7f \xE2\x80\xAE"
                            "evil \xC2\x9B \xff\xfe";
  for (const char* spec :
       {R"({"type": "exact_match", "value": "y"})", R"({"type": "contains", "value": "zz"})",
        R"({"type": "not_contains", "value": "red"})", R"({"type": "starts_with", "value": "q"})",
        R"({"type": "regex", "pattern": "red.*"})", R"({"type": "is_json"})",
        R"({"type": "contains_any", "value": ["q"]})", R"({"type": "exact_match", "value": 1})",
        R"({"type": "exact_match", "path": "/a", "value": 1})"}) {
    const auto e = eval(spec, nasty);
    INFO(spec << " -> " << e.reason);
    CHECK(printable(e.reason));
  }
  const auto e = eval(R"({"type": "exact_match", "value": "y"})", nasty);
  CHECK(e.reason ==
        R"(expected "y", got "\x1b[31mred\x1b[0m\r\nline\tX\x7f \u202eevil \u009b \xff\xfe")");
  // Control characters in a JSON value are escaped too.
  CHECK(printable(
      eval(R"({"type": "exact_match", "path": "/a", "value": 1})", "{\"a\": \"\\u001b[2J\"}")
          .reason));
}

TEST_CASE("evaluators::check_spec, problems beyond the schema are InputErrors at `where`",
          "[evaluators]") {
  const std::string where = "golden/classify.yaml:7:5";
  const auto check = [&](const std::string& spec) { ev::check_spec(json::parse(spec), where); };
  SECTION("valid specs") {
    CHECK_NOTHROW(check(R"({"type": "regex", "pattern": "^\\d+$"})"));
    CHECK_NOTHROW(check(R"({"type": "exact_match", "path": "/a~0b/c~1d/0"})"));
    CHECK_NOTHROW(check(R"({"type": "exact_match", "path": ""})"));
    CHECK_NOTHROW(check(R"({"type": "cost", "max": 0.5})"));
  }
  SECTION("a regex RE2 cannot compile") {
    CHECK_THROWS_WITH(check(R"({"type": "regex", "pattern": "(abc"})"),
                      where + R"(: invalid regex "(abc": missing ): (abc)");
    CHECK_THROWS_WITH(check(R"({"type": "regex", "pattern": "a{2,1}"})"),
                      where + R"(: invalid regex "a{2,1}": invalid repetition size: {2,1})");
    CHECK_THROWS_AS(check(R"({"type": "regex", "pattern": "(?<=a)b"})"), InputError);
  }
  SECTION("a path that is not a JSON Pointer") {
    CHECK_THROWS_WITH(
        check(R"({"type": "exact_match", "path": "category"})"),
        where + R"(: "path" "category" is not a JSON Pointer: it must be empty or start with "/")");
    CHECK_THROWS_WITH(
        check(R"({"type": "contains", "path": "/a~2", "value": "x"})"),
        where + R"(: "path" "/a~2" is not a JSON Pointer: "~" must be followed by "0" or "1")");
    CHECK_THROWS_AS(check(R"({"type": "contains", "path": "/a~", "value": "x"})"), InputError);
  }
  SECTION("types") {
    CHECK_NOTHROW(check(R"({"type": "llm_judge", "provider": "judge", "rubric": "r"})"));
    CHECK_THROWS_WITH(check(R"({"type": "llm_judge", "provider": "judge"})"),
                      where + R"(: evaluator "llm_judge" needs "rubric" (a string))");
    CHECK_THROWS_WITH(check(R"({"type": "exact_mach"})"),
                      where + R"(: unknown evaluator "exact_mach", did you mean "exact_match"?)");
    CHECK_THROWS_WITH(check(R"({"value": "x"})"), where + R"(: an evaluator needs a "type")");
    CHECK_THROWS_WITH(check(R"("exact_match")"),
                      where + R"(: an evaluator must be an object, not string)");
  }
  SECTION("without a place") {
    CHECK_THROWS_WITH(ev::check_spec(json{{"type", "llm_judge"}}, ""),
                      R"(evaluator "llm_judge" needs "provider" (a string))");
  }
  SECTION("evaluate refuses what check_spec refuses") {
    CHECK_THROWS_WITH(eval(R"({"type": "llm_judge", "provider": "judge", "rubric": "x"})", "x"),
                      R"(evaluator "llm_judge" is scored by the runner, not by evaluate())");
    CHECK_THROWS_AS(eval(R"({"type": "exact_match", "path": "x", "value": 1})", "{}"), InputError);
  }
}

TEST_CASE("util::text::quote, cuts on a character, not inside one", "[evaluators]") {
  CHECK(util_text::quote("héllo wörld", 7) == "\"héllo w\xE2\x80\xA6\"");
  CHECK(util_text::quote("a\"b\\c") == R"("a\"b\\c")");
  CHECK(util_text::quote("") == "\"\"");
  CHECK(util_text::printable("ok\xC3") == "ok\\xc3");               // a sequence cut short
  CHECK(util_text::printable("\xC0\xAF") == "\\xc0\\xaf");          // overlong
  CHECK(util_text::printable("\xED\xA0\x80") == "\\xed\\xa0\\x80"); // a surrogate
  CHECK(util_text::printable("日本語 ✓ 🙂") == "日本語 ✓ 🙂");
  // Runs of plain ASCII are cut at the same character count as anything else.
  CHECK(util_text::quote("abcdefghij", 4) == "\"abcd\xE2\x80\xA6\"");
  CHECK(util_text::quote("abcd", 4) == "\"abcd\"");
  CHECK(util_text::quote("ab\"cd\"ef", 5) == "\"ab\\\"cd\xE2\x80\xA6\"");
  CHECK(util_text::quote("abé\ncdef", 5) == "\"abé\\nc\xE2\x80\xA6\"");
  CHECK(util_text::printable("a\x1b[31mred\x7f!") == "a\\x1b[31mred\\x7f!");
}

TEST_CASE("evaluators::text::parse_output, where the JSON is", "[evaluators]") {
  using text::Extract;
  using text::Wrapping;
  const auto plain = text::parse_output(" {\"a\": 1} ", Extract::no);
  REQUIRE(plain.value);
  CHECK(plain.wrapping == Wrapping::none);

  const auto fenced = text::parse_output("```JSON\n[1]\n```", Extract::no);
  CHECK_FALSE(fenced.value);
  CHECK(fenced.wrapping == Wrapping::fence);
  CHECK(fenced.fence_info == "JSON");
  CHECK(fenced.problem == "the output wraps its JSON in a ```JSON code fence");

  const auto taken = text::parse_output("Result:\n```json\n{\"a\": [1]}\n```", Extract::yes);
  REQUIRE(taken.value);
  CHECK(*taken.value == json{{"a", {1}}});
  CHECK(taken.wrapping == Wrapping::fence);

  const auto prose = text::parse_output("The answer is [1, 2] I think", Extract::yes);
  REQUIRE(prose.value);
  CHECK(*prose.value == json{1, 2});
  CHECK(prose.wrapping == Wrapping::prose);

  // A megabyte of braces that never close stays fast (bounded tries) and is not JSON.
  std::string braces;
  for (int i = 0; i < 1 << 18; ++i) {
    braces += "{ a}";
  }
  braces += "{";
  const auto unclosed = text::parse_output(braces, Extract::yes);
  CHECK_FALSE(unclosed.value);
  CHECK(unclosed.problem.starts_with("the output is not JSON"));
}

TEST_CASE("evaluators::evaluate, JSON nested too deep to print or compare safely", "[evaluators]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const char* spec : {R"({"type": "is_json"})", R"({"type": "exact_match", "value": [1]})",
                           R"({"type": "exact_match", "path": "/0", "value": 1})"}) {
    const auto e = eval(spec, deep);
    CHECK_FALSE(e.pass);
    CHECK(e.reason.ends_with("the output nests brackets more than 512 levels deep"));
  }
  CHECK_PASS(eval(R"({"type": "is_json"})", std::string(500, '[') + std::string(500, ']')));
  CHECK_PASS(eval(R"({"type": "contains", "value": "[[["})", deep));
}

TEST_CASE("evaluators::evaluate, similarity: normalized edit distance over characters",
          "[evaluators]") {
  // One substitution in ten characters: 0.9.
  auto e = eval(R"({"type": "similarity", "value": "0123456789"})", "0123456x89");
  CHECK(e.pass);
  CHECK(e.score == Approx(0.9));
  CHECK(e.reason == "similarity 0.9 (threshold 0.8)");
  e = eval(R"({"type": "similarity", "value": "0123456789", "threshold": 0.95})", "0123456x89");
  CHECK_FALSE(e.pass);
  CHECK(e.score == Approx(0.9));
  CHECK(e.reason == "similarity 0.9, under the threshold 0.95");
  // From the case's expected, at path; characters, not bytes: one of four differs.
  e = eval(R"({"type": "similarity", "path": "/a", "threshold": 0.7})", R"({"a": "ÉtÉé"})",
           json{{"a", "ÉtÉe"}});
  CHECK(e.score == Approx(0.75));
  CHECK(e.pass);
  CHECK(eval(R"({"type": "similarity", "value": ""})", "").score == 1.0);
  CHECK(eval(R"({"type": "similarity", "value": "abc"})", "").score == 0.0);
  CHECK_FALSE(eval(R"({"type": "similarity"})", "abc").pass); // nothing to compare with
  const auto long_text = std::string(20001, 'a');
  e = eval(R"({"type": "similarity", "value": "a"})", long_text);
  CHECK_FALSE(e.pass);
  CHECK_THAT(e.reason, Catch::Contains("too long to compare"));
}

TEST_CASE("evaluators::evaluate, exec: a command's verdict, never a pass by default",
          "[evaluators]") {
  Output out;
  out.output = "hello world";
  out.expected = json{{"greeting", "hello"}};
  // The command sees the output and expected on stdin.
  auto e = out.run(json{{"type", "exec"},
                        {"command", "python3 -c 'import json,sys; c=json.load(sys.stdin); "
                                    "ok=c[\"output\"].startswith(c[\"expected\"][\"greeting\"]); "
                                    "print(json.dumps({\"pass\": ok, \"score\": 0.75, "
                                    "\"reason\": \"checked \" + c[\"output\"]}))'"}});
  CHECK(e.pass);
  CHECK(e.score == Approx(0.75));
  CHECK(e.reason == "checked hello world");
  e = out.run(
      json{{"type", "exec"}, {"command", json::array({"sh", "-c", "echo '{\"pass\": false}'"})}});
  CHECK_FALSE(e.pass);
  CHECK(e.score == 0.0);
  // What cannot be read as a verdict fails and says what came back.
  e = out.run(json{{"type", "exec"}, {"command", "echo looks good to me"}});
  CHECK_FALSE(e.pass);
  CHECK_THAT(e.reason, Catch::Contains("verdict is not") && Catch::Contains("looks good to me"));
  e = out.run(json{{"type", "exec"}, {"command", "echo oops >&2; exit 3"}});
  CHECK_FALSE(e.pass);
  CHECK(e.reason == "the command exited with status 3: oops\\n");
  e = out.run(json{{"type", "exec"}, {"command", "sleep 5"}, {"timeout_s", 0.2}});
  CHECK_FALSE(e.pass);
  CHECK(e.reason == "the command timed out after 0.2 s");
}
