#include "golden/fingerprint.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace promptops::golden;

namespace {

// A categorical feature's value, or "-" when it does not apply.
std::string cat(const Fingerprint& fp, std::string_view name) {
  const auto value = fp.category(name);
  return value ? std::string(*value) : "-";
}

std::string cat(std::string_view output, std::string_view name) {
  return cat(fingerprint(output), name);
}

double num(std::string_view output, std::string_view name) {
  return fingerprint(output).number(name).value_or(-1);
}

std::string excerpt(std::string_view output, const std::string& name) {
  const Fingerprint fp = fingerprint(output);
  const auto it = fp.excerpts.find(name);
  return it == fp.excerpts.end() ? "-" : it->second;
}

bool printable(const std::string& s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return false;
    }
  }
  return true;
}

} // namespace

TEST_CASE("golden::fingerprint, bare JSON object", "[golden][fingerprint]") {
  const Fingerprint fp = fingerprint(
      R"({"order_id": 17, "customer_name": "Ann", "confidence": 0.9, "tags": ["a", "b"]})");
  CHECK(cat(fp, "json") == "object");
  CHECK(cat(fp, "json_shape") ==
        "confidence:number,customer_name:string,order_id:number,tags:array<string>");
  CHECK(cat(fp, "key_case") == "snake_case");
  CHECK(cat(fp, "code_fence") == "none");
  CHECK(cat(fp, "preamble") == "no");
  CHECK(cat(fp, "trailing_text") == "no");
  CHECK(cat(fp, "whole_fence") == "-");
  CHECK(cat(fp, "opener") == "-");
  CHECK(cat(fp, "list_marker") == "none");
  CHECK(cat(fp, "quotes") == "-"); // the JSON's own quotes are syntax
  CHECK(fp.number("lines") == 1);
  CHECK(fp.number("length") == 79);
}

TEST_CASE("golden::fingerprint, JSON shape of nested values", "[golden][fingerprint]") {
  CHECK(
      cat(R"({"meta": {"source": "x", "score_v2": 1}, "items": [{"id": 1}, {"id": 2, "name": "x"}],
               "empty": [], "x": null, "flag": true, "mixed": [1, "a"], "obj": {}})",
          "json_shape") ==
      "empty:array<>,flag:boolean,items:array<object>,items[].id:number,items[].name:string,"
      "meta.score_v2:number,meta.source:string,mixed:array<number|string>,obj:{},x:null");
  SECTION("top-level arrays and scalars") {
    CHECK(cat("[1, 2]", "json") == "array");
    CHECK(cat("[1, 2]", "json_shape") == "array<number>");
    CHECK(cat(R"([{"a": 1}])", "json_shape") == "[].a:number,array<object>");
    CHECK(cat(R"("hello")", "json") == "string");
    CHECK(cat(R"("hello")", "json_shape") == "-");
    CHECK(cat("42", "json") == "number");
    CHECK(cat("true", "json") == "boolean");
    CHECK(cat("null", "json") == "null");
    CHECK(cat("The answer is 42.", "json") == "none");
    CHECK(cat("", "json") == "none");
  }
  SECTION("values do not change the shape") {
    CHECK(cat(R"({"a": 1, "b": "x"})", "json_shape") ==
          cat(R"({"b": "a much longer text", "a": -0.5})", "json_shape"));
  }
  SECTION("keys with separators are encoded") {
    CHECK(cat(R"({"a,b": {"c.d": 1}})", "json_shape") == "a%2Cb.c%2Ed:number");
  }
  SECTION("deep values are cut off") {
    std::string deep;
    for (int i = 0; i < 30; ++i) {
      deep += R"({"k": )";
    }
    deep += "1" + std::string(30, '}');
    CHECK_THAT(cat(deep, "json_shape"), Catch::EndsWith("\xE2\x80\xA6"));
    CHECK(cat(std::string(600, '[') + std::string(600, ']'), "json") == "none");
  }
  SECTION("numbers out of range, repeated keys and key order give the same shape") {
    // A 30-digit integer does not fit the fast parser: the fallback must agree. 1e999 is
    // not JSON to either.
    CHECK(cat(R"({"b": [1.5], "a": 123456789012345678901234567890})", "json_shape") ==
          "a:number,b:array<number>");
    CHECK(cat(R"({"b": [1e999], "a": 1})", "json") == "none");
    // The last of a repeated key counts, as in nlohmann's object.
    CHECK(cat(R"({"a": 1, "a": "x"})", "json_shape") == "a:string");
    // The shape keeps its first paths in key order, whatever the document's order.
    std::string forward = "{";
    std::string backward = "{";
    for (int i = 0; i < 100; ++i) {
      forward += (i == 0 ? "\"k" : ",\"k") + std::to_string(1000 + i) + "\": 1";
      backward += (i == 0 ? "\"k" : ",\"k") + std::to_string(1099 - i) + "\": 1";
    }
    CHECK(cat(forward + "}", "json_shape") == cat(backward + "}", "json_shape"));
    CHECK_THAT(cat(forward + "}", "json_shape"), Catch::StartsWith("k1000:number,k1001:number"));
  }
  SECTION("wide values are cut off") {
    std::string wide = "{";
    for (int i = 0; i < 500; ++i) {
      wide += (i == 0 ? "\"k" : ",\"k") + std::to_string(i) + "\": 1";
    }
    wide += "}";
    const std::string shape = cat(wide, "json_shape");
    CHECK(shape.size() < 1100);
    CHECK_THAT(shape, Catch::EndsWith(",\xE2\x80\xA6"));
  }
}

TEST_CASE("golden::fingerprint, key case", "[golden][fingerprint]") {
  CHECK(cat(R"({"order_id": 1, "id": 2})", "key_case") == "snake_case");
  CHECK(cat(R"({"orderId": 1, "id": 2})", "key_case") == "camelCase");
  CHECK(cat(R"({"OrderId": 1, "Name": 2})", "key_case") == "PascalCase");
  CHECK(cat(R"({"order-id": 1})", "key_case") == "kebab-case");
  CHECK(cat(R"({"ORDER_ID": 1, "NAME": 2})", "key_case") == "UPPER_CASE");
  CHECK(cat(R"({"id": 1, "name": 2})", "key_case") == "lowercase");
  CHECK(cat(R"({"order_id": 1, "orderName": 2})", "key_case") == "mixed");
  CHECK(cat(R"({"_id": 1, "$schema": 2, "user_name": 3})", "key_case") == "snake_case");
  CHECK(cat(R"({"outer_key": {"innerKey": 1}})", "key_case") == "mixed");
  CHECK(cat(R"({"1": 1, "2": 2})", "key_case") == "-");
  CHECK(cat("[1, 2]", "key_case") == "-");
  CHECK(cat("plain text", "key_case") == "-");
}

TEST_CASE("golden::fingerprint, code fences", "[golden][fingerprint]") {
  SECTION("JSON in a json fence, nothing else") {
    const Fingerprint fp = fingerprint("```json\n{\"a\": [\"x\"]}\n```");
    CHECK(cat(fp, "code_fence") == "fenced:json");
    CHECK(cat(fp, "whole_fence") == "yes");
    CHECK(cat(fp, "json") == "object");
    CHECK(cat(fp, "json_shape") == "a:array<string>");
    CHECK(cat(fp, "preamble") == "no");
    CHECK(cat(fp, "trailing_text") == "no");
    CHECK(fp.number("lines") == 1); // the fence lines are not counted
  }
  SECTION("a fence without a language tag, indented, or with ~~~") {
    CHECK(cat("```\n{\"a\": 1}\n```", "code_fence") == "fenced");
    CHECK(cat("  ```JSON\n{\"a\": 1}\n  ```", "code_fence") == "fenced:json");
    CHECK(cat("~~~python\nprint(1)\n~~~", "code_fence") == "fenced:python");
  }
  SECTION("text around the fence") {
    const std::string output = "Sure! Here is the JSON you asked for:\n```json\n{\"a\": 1}\n```\n"
                               "Let me know if you need anything else.";
    const Fingerprint fp = fingerprint(output);
    CHECK(cat(fp, "whole_fence") == "no");
    CHECK(cat(fp, "preamble") == "yes");
    CHECK(cat(fp, "trailing_text") == "yes");
    CHECK(fp.excerpts.at("preamble") == "Sure! Here is the JSON\xE2\x80\xA6");
    CHECK(fp.excerpts.at("trailing_text") == "Let me know if you need\xE2\x80\xA6");
  }
  SECTION("code in a fence is not JSON") {
    const Fingerprint fp =
        fingerprint("```python\nclass Solution:\n    def f(self):\n        return {}\n```\n");
    CHECK(cat(fp, "code_fence") == "fenced:python");
    CHECK(cat(fp, "json") == "none");
    CHECK(cat(fp, "whole_fence") == "yes");
    CHECK(cat(fp, "preamble") == "no");
    CHECK(fp.number("lines") == 3);
  }
  SECTION("the fence that holds the JSON is the payload") {
    const Fingerprint fp =
        fingerprint("```bash\ncurl x\n```\nThe reply:\n```json\n{\"a\": 1}\n```");
    CHECK(cat(fp, "code_fence") == "fenced:json");
    CHECK(cat(fp, "json") == "object");
    CHECK(cat(fp, "preamble") == "yes");
    CHECK(cat(fp, "whole_fence") == "no");
  }
  SECTION("an unclosed fence runs to the end") {
    const Fingerprint fp = fingerprint("```json\n{\"a\": 1}\n");
    CHECK(cat(fp, "code_fence") == "fenced:json");
    CHECK(cat(fp, "json") == "object");
    CHECK(cat(fp, "whole_fence") == "yes");
  }
  SECTION("inline triple backticks are not a fence") {
    CHECK(cat("Use ```x``` here", "code_fence") == "none");
    CHECK(cat("No fence at all", "code_fence") == "none");
    CHECK(cat("No fence at all", "whole_fence") == "-");
  }
}

TEST_CASE("golden::fingerprint, JSON among prose", "[golden][fingerprint]") {
  SECTION("JSON with trailing text") {
    const std::string output = "{\"a\": [\"x\"]}\n\nI hope this helps!";
    CHECK(cat(output, "json") == "object");
    CHECK(cat(output, "preamble") == "no");
    CHECK(cat(output, "trailing_text") == "yes");
    CHECK(excerpt(output, "trailing_text") == "I hope this helps!");
    CHECK(cat(output, "code_fence") == "none");
  }
  SECTION("a preamble on the same line, the JSON ending the output") {
    const std::string output = "Sure! Here is the result: {\"a\": 1}";
    CHECK(cat(output, "json") == "object");
    CHECK(cat(output, "preamble") == "yes");
    CHECK(cat(output, "trailing_text") == "no");
    CHECK(excerpt(output, "preamble") == "Sure! Here is the\xE2\x80\xA6"); // cut at 24
  }
  SECTION("citations, empty braces and code are not JSON") {
    CHECK(cat("As shown in [1], the sky is blue.", "json") == "none");
    CHECK(cat("See [1, 2] and {} for details.", "json") == "none");
    CHECK(cat("x = {\"a\": 1} if y else None\nprint(x)", "json") == "none");
    CHECK(cat("As shown in [1], the sky is blue.", "preamble") == "-");
  }
  SECTION("prose around a JSON block keeps its markdown and quotes") {
    const std::string output = "Here's the data:\n{\"name\": \"x\"}\n- done";
    CHECK(cat(output, "json") == "object");
    CHECK(cat(output, "quotes") == "straight"); // "Here's", not the JSON's quotes
    CHECK(cat(output, "list_marker") == "-");
  }
}

TEST_CASE("golden::fingerprint, markdown structure", "[golden][fingerprint]") {
  SECTION("headings") {
    CHECK(cat("# Title\n\ntext", "headings") == "yes");
    CHECK(cat("### Step 1\ntext", "headings") == "yes");
    CHECK(cat("#hashtag and more", "headings") == "no");
    CHECK(cat("####### seven", "headings") == "no");
    CHECK(cat("plain", "headings") == "no");
  }
  SECTION("list markers") {
    CHECK(cat("Items:\n- a\n- b", "list_marker") == "-");
    CHECK(cat("* a\n* b", "list_marker") == "*");
    CHECK(cat("+ a", "list_marker") == "+");
    CHECK(cat("\xE2\x80\xA2 a\n\xE2\x80\xA2 b", "list_marker") == "\xE2\x80\xA2");
    CHECK(cat("1. a\n2. b", "list_marker") == "1.");
    CHECK(cat("1) a\n2) b", "list_marker") == "1)");
    CHECK(cat("1. a\n   - detail\n2. b", "list_marker") == "1."); // the outer list decides
    CHECK(cat("- a\n1. b", "list_marker") == "mixed");
    CHECK(cat("**bold** text\n-not a list", "list_marker") == "none");
    CHECK(cat("In 2023. things changed", "list_marker") == "none");
  }
  SECTION("tables") {
    CHECK(cat("| a | b |\n|---|:-:|\n| 1 | 2 |", "table") == "yes");
    CHECK(cat("a | b\n---", "table") == "no");
    CHECK(cat("a | b", "table") == "no");
  }
  SECTION("bold") {
    CHECK(cat("This is **important**.", "bold") == "yes");
    CHECK(cat("2 ** 3 is eight", "bold") == "no");
  }
  SECTION("markdown inside a code fence does not count") {
    const Fingerprint fp = fingerprint("```md\n# Heading\n- item\n| a |\n|---|\n**b**\n```");
    CHECK(cat(fp, "headings") == "no");
    CHECK(cat(fp, "list_marker") == "none");
    CHECK(cat(fp, "table") == "no");
    CHECK(cat(fp, "bold") == "no");
  }
}

TEST_CASE("golden::fingerprint, whitespace, quotes and length", "[golden][fingerprint]") {
  SECTION("leading and trailing whitespace") {
    CHECK(cat("\n{\"a\": 1}", "leading_whitespace") == "newline");
    CHECK(cat("  x", "leading_whitespace") == "space");
    CHECK(cat("x", "leading_whitespace") == "none");
    CHECK(cat("x\n", "trailing_whitespace") == "newline");
    CHECK(cat("x\r\n", "trailing_whitespace") == "newline");
    CHECK(cat("x  ", "trailing_whitespace") == "space");
    CHECK(cat("x", "trailing_whitespace") == "none");
    CHECK(cat("", "trailing_whitespace") == "none");
  }
  SECTION("quote characters") {
    CHECK(cat("It's \"fine\"", "quotes") == "straight");
    CHECK(cat("It\xE2\x80\x99s \xE2\x80\x9C"
              "fine\xE2\x80\x9D",
              "quotes") == "curly");
    CHECK(cat("It's \xE2\x80\x9C"
              "fine\xE2\x80\x9D",
              "quotes") == "mixed");
    CHECK(cat("No quotes here", "quotes") == "-");
    CHECK(cat(R"({"a": "b"})", "quotes") == "-");
    CHECK(cat("{\"a\": \"it\xE2\x80\x99s\"}", "quotes") == "curly");
    CHECK(cat(R"({"a": "say \"hi\""})", "quotes") == "straight");
  }
  SECTION("length in characters, non-blank lines") {
    CHECK(num("h\xC3\xA9llo", "length") == 5);
    CHECK(num("", "length") == 0);
    CHECK(num("", "lines") == 0);
    CHECK(num("a\n\nb\n", "lines") == 2);
    CHECK(num("{\n  \"a\": 1,\n  \"b\": 2\n}", "lines") == 4);
  }
}

TEST_CASE("golden::fingerprint, answer tags, boxed answers, refusals, openers",
          "[golden][fingerprint]") {
  SECTION("answer tags") {
    CHECK(cat("(A) Very likely", "answer_tag") == "start");
    CHECK(cat("(A) Very likely", "answer_tag_style") == "(X)");
    CHECK(excerpt("(A) Very likely", "answer_tag") == "(A)");
    CHECK(cat("Step 1: 7 has no divisors.\nSo the answer is [Yes]", "answer_tag") == "end");
    CHECK(cat("Step 1: 7 has no divisors.\nSo the answer is [Yes]", "answer_tag_style") == "[X]");
    CHECK(cat("[No]", "answer_tag") == "only");
    CHECK(cat(" [Yes].\n", "answer_tag") == "only");
    CHECK(cat("A: Paris", "answer_tag") == "start");
    CHECK(cat("A: Paris", "answer_tag_style") == "X:");
    CHECK(cat("B)", "answer_tag") == "only");
    CHECK(cat("B)", "answer_tag_style") == "X)");
    CHECK(cat("It is likely (B).", "answer_tag") == "end");
    CHECK(cat("(B). Somewhat", "answer_tag") == "start"); // OpinionQA's form
    CHECK(cat("A. Very important", "answer_tag") == "start");
    CHECK(cat("A. Very important", "answer_tag_style") == "X.");
    CHECK(cat("C.", "answer_tag") == "only");
  }
  SECTION("not answer tags") {
    CHECK(cat("[Docs](http://x) say so", "answer_tag") == "none");
    CHECK(cat("The answer is yes.", "answer_tag") == "none");
    CHECK(cat("The answer is yes.", "answer_tag_style") == "-");
    CHECK(cat("(see the notes) for more", "answer_tag") == "none");
    CHECK(cat("[ ] todo", "answer_tag") == "none");
    CHECK(cat("Note: this matters", "answer_tag") == "none");
    CHECK(cat("", "answer_tag") == "none");
    CHECK(cat("U.S. voters differ", "answer_tag") == "none");
    CHECK(cat("A.I. is a field", "answer_tag") == "none");
  }
  SECTION("boxed answers") {
    CHECK(cat("\\boxed{17}", "boxed") == "only");
    CHECK(cat("$\\boxed{\\frac{1}{2}}$", "boxed") == "only");
    CHECK(cat("So the answer is \\boxed{17}.", "boxed") == "in-text");
    CHECK(cat("\\boxed{17} because 17 is prime", "boxed") == "in-text");
    CHECK(cat("\\boxed{17", "boxed") == "in-text");
    CHECK(cat("The answer is 17.", "boxed") == "none");
  }
  SECTION("refusals") {
    CHECK(cat("I'm sorry, but I can't help with that.", "refusal") == "yes");
    CHECK(excerpt("I'm sorry, but I can't help with that.", "refusal") ==
          "I'm sorry, but I can't\xE2\x80\xA6");
    CHECK(cat("I\xE2\x80\x99m sorry, I cannot do that", "refusal") == "yes");
    CHECK(cat("As an AI language model, I have no opinions.", "refusal") == "yes");
    CHECK(cat("Paris is the capital of France.", "refusal") == "no");
    CHECK(cat(std::string(400, 'x') + " I cannot", "refusal") == "no"); // too late to count
  }
  SECTION("hedging in place of an answer") {
    CHECK(cat("That depends on personal views and circumstances.", "hedge") == "yes");
    CHECK(excerpt("That depends on personal views and circumstances.", "hedge") ==
          "That depends on\xE2\x80\xA6");
    CHECK(cat("There\xE2\x80\x99s no single right answer here.", "hedge") == "yes");
    CHECK(cat("As an AI, I don't have personal opinions, but many say (B).", "hedge") == "yes");
    CHECK(cat("It is hard to say; it varies from person to person.", "hedge") == "yes");
    CHECK(cat("(B). Somewhat", "hedge") == "no");
    CHECK(cat("The shipment depends on the carrier.", "hedge") == "no");
    CHECK(cat(std::string(400, 'x') + " it depends", "hedge") == "no"); // too late to count
  }
  SECTION("stock openers, for outputs without JSON or a fence") {
    CHECK(cat("Sure! The capital is Paris.", "opener") == "yes");
    CHECK(excerpt("Sure! The capital is Paris.", "opener") == "Sure! The capital is\xE2\x80\xA6");
    CHECK(excerpt("Sure! It is Paris.", "opener") == "Sure! It is Paris.");
    CHECK(cat("Certainly, here it is", "opener") == "yes");
    CHECK(cat("Here\xE2\x80\x99s the answer", "opener") == "yes");
    CHECK(cat("Surely not", "opener") == "no");
    CHECK(cat("Paris.", "opener") == "no");
    CHECK(cat("Sure! {\"a\": 1}", "opener") == "-");
  }
}

TEST_CASE("golden::fingerprint, huge and malformed outputs", "[golden][fingerprint]") {
  SECTION("5 MB of prose") {
    std::string big;
    while (big.size() < 5'000'000) {
      big += "The quick brown fox jumps over the lazy dog. [1] {x} (y)\n";
    }
    const Fingerprint fp = fingerprint(big);
    CHECK(cat(fp, "json") == "none");
    CHECK(fp.number("length") == static_cast<double>(big.size()));
    CHECK(fp.number("lines") > 80'000);
  }
  SECTION("5 MB of JSON") {
    std::string big = "[";
    for (int i = 0; big.size() < 5'000'000; ++i) {
      big += (i == 0 ? "" : ",") + std::string(R"({"id": 1, "name": "x", "tags": ["a"]})");
    }
    big += "]";
    const Fingerprint fp = fingerprint(big);
    CHECK(cat(fp, "json") == "array");
    CHECK(cat(fp, "json_shape") ==
          "[].id:number,[].name:string,[].tags:array<string>,array<object>");
  }
  SECTION("5 MB of brackets and backticks") {
    CHECK(cat(std::string(5'000'000, '{'), "json") == "none");
    CHECK(cat(std::string(5'000'000, '['), "json") == "none");
    CHECK(cat("text " + std::string(2'500'000, '['), "json") == "none");
    std::string fences;
    while (fences.size() < 5'000'000) {
      fences += "```json\n{\"a\":\n```\n";
    }
    CHECK(cat(fences, "code_fence") == "fenced:json");
  }
  SECTION("invalid UTF-8 and control characters") {
    const std::string bad =
        "\xff\xfe\x1b[31mSure\x1b[0m\x80\n{\"a\": [\"\xc3\x28\"]}\n\xed\xa0\x80";
    const Fingerprint fp = fingerprint(bad);
    CHECK(cat(fp, "json") == "none"); // the JSON's string is not UTF-8
    const std::string preamble = "\xC3\xA9\x1b[1m Sure! \x01\n{\"a\": [\"x\"]}";
    const Fingerprint with_preamble = fingerprint(preamble);
    CHECK(cat(with_preamble, "preamble") == "yes");
    CHECK(printable(with_preamble.excerpts.at("preamble")));
    CHECK_NOTHROW(to_json(fp).dump());
    CHECK_NOTHROW(to_json(with_preamble).dump());
    CHECK_NOTHROW(to_json(fingerprint(std::string("\0\0\xff", 3))).dump());
  }
}

TEST_CASE("golden::to_ordered_json, the same members in the same order as to_json",
          "[golden][fingerprint]") {
  const std::string outputs[] = {
      "Sure:\n```json\n{\"a\": 1}\n```",
      "plain text",
      "",
      "# Title\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
      "I'm sorry, I can't help with that.",
      "{\"id\": 1, \"name\": \"x\", \"tags\": [\"a\"], \"nested\": {\"deep\": [1, 2.5]}}",
      std::string("\xff\xfe\x1b[31mSure\x1b[0m\x80\n{\"a\": [\"\xc3\x28\"]}\n\xed\xa0\x80"),
      "<answer>42</answer> \\boxed{7} **bold** trailing   ",
  };
  for (const std::string& output : outputs) {
    CAPTURE(output);
    const Fingerprint fp = fingerprint(output);
    CHECK(to_ordered_json(fp).dump() == to_json(fp).dump());
  }
  // A feature named like another, or like "v", keeps the last value, as a json object does.
  Fingerprint odd = fingerprint("x");
  odd.categorical["v"] = "categorical";
  odd.numeric["v"] = 7;
  odd.excerpts["b"] = "second";
  odd.excerpts["a"] = "first";
  CHECK(to_ordered_json(odd).dump() == to_json(odd).dump());
}

TEST_CASE("golden::to_json, compact with sorted keys, and read back", "[golden][fingerprint]") {
  const Fingerprint fp = fingerprint("Sure:\n```json\n{\"a\": 1}\n```");
  CHECK(
      to_json(fp).dump() ==
      R"({"answer_tag":"none","bold":"no","boxed":"none","code_fence":"fenced:json",)"
      R"("excerpts":{"preamble":"Sure:"},"headings":"no","hedge":"no","json":"object","json_shape":"a:number",)"
      R"("key_case":"lowercase","leading_whitespace":"none","length":26,"lines":2,)"
      R"("list_marker":"none","preamble":"yes","refusal":"no","table":"no",)"
      R"("tools":"none","trailing_text":"no","trailing_whitespace":"none","v":3,"whole_fence":"no"})");
  CHECK(fingerprint_from_json(to_json(fp)) == fp);

  SECTION("another version or shape is not read") {
    nlohmann::json other = to_json(fp);
    other["v"] = k_fingerprint_version + 1;
    CHECK_FALSE(fingerprint_from_json(other));
    other["v"] = 1; // before hedging and "A." option letters were read
    CHECK_FALSE(fingerprint_from_json(other));
    // Before the tools called were read: its output is fingerprinted again, with its calls.
    other["v"] = 2;
    other.erase("tools");
    CHECK_FALSE(fingerprint_from_json(other));
    CHECK_FALSE(fingerprint_from_json(nlohmann::json::array()));
    CHECK_FALSE(fingerprint_from_json(nlohmann::json{{"json", "object"}}));
  }
  SECTION("stored strings are made printable") {
    const nlohmann::json stored = {{"v", k_fingerprint_version},
                                   {"json", "obj\nect\x1b"},
                                   {"length", 12},
                                   {"excerpts", {{"preamble", "a\x1b"}}}};
    const auto read = fingerprint_from_json(stored);
    REQUIRE(read);
    CHECK(cat(*read, "json") == "obj\\nect\\x1b");
    CHECK(read->number("length") == 12);
    CHECK(read->excerpts.at("preamble") == "a\\x1b");
  }
}

TEST_CASE("golden::fingerprint, the tools a reply called", "[golden][fingerprint][tools]") {
  CHECK(cat("The capital of France is Paris.", "tools") == "none");
  CHECK(cat(fingerprint("", std::vector<std::string>{}), "tools") == "none");
  // Sorted and distinct: the order of the calls and repeats are no change of form.
  CHECK(cat(fingerprint("", {"search", "get_weather", "search"}), "tools") == "get_weather,search");
  // The text features still describe the text beside the calls.
  const Fingerprint with_text = fingerprint("I'll check.", {"get_weather"});
  CHECK(cat(with_text, "tools") == "get_weather");
  CHECK(with_text.number("length") == 11);
  CHECK(cat(with_text, "json") == "none");

  SECTION("from a reply's tool calls") {
    using promptops::reply::tool_call;
    const std::vector<promptops::reply::ToolCall> calls = {
        tool_call("call_1", "lookup", R"({"q": "x"})"), tool_call("call_2", "get_weather", "{")};
    CHECK(tool_names(calls) == std::vector<std::string>{"lookup", "get_weather"});
    CHECK(cat(fingerprint("", tool_names(calls)), "tools") == "get_weather,lookup");
  }
  SECTION("names are the model's text: bounded, printable, their commas encoded") {
    const Fingerprint odd = fingerprint(
        "", {"a,b", "", "bell\x07", std::string("\xff\x1b[31m"), std::string(500, 'n')});
    const std::string value = cat(odd, "tools");
    CHECK(printable(value));
    CHECK(value.find("a%2Cb") != std::string::npos);
    CHECK(value.find('?') != std::string::npos); // the empty name
    CHECK(value.size() < 300);
    CHECK_NOTHROW(to_json(odd).dump());
    std::vector<std::string> many;
    for (int i = 0; i < 40; ++i) {
      many.push_back("tool_" + std::to_string(100 + i));
    }
    const std::string capped = cat(fingerprint("", many), "tools");
    CHECK(capped.starts_with("tool_100,tool_101,"));
    CHECK(capped.ends_with("tool_115,\xE2\x80\xA6"));
  }
  SECTION("stored and read back") {
    const Fingerprint fp = fingerprint("", {"get_weather"});
    CHECK(to_json(fp)["tools"] == "get_weather");
    CHECK(fingerprint_from_json(to_json(fp)) == fp);
  }
}
