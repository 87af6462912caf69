// Edge cases every evaluator must survive: empty output, bytes that are not UTF-8, huge
// outputs, JSON with text around it, and terminal escapes. Whatever the output holds, evaluate()
// returns a verdict (it never throws or crashes) whose reason is short and safe to print.
#include "evaluators/evaluator.hpp"
#include "tests/support/evaluator_output.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ev = promptops::evaluators;
using nlohmann::json;
using promptops::InputError;

namespace {

// One case's output on one provider: a latency and a cost for latency_ms and cost to check.
struct Output : promptops::test::EvaluatorOutput {
  Output() {
    latency_ms = 120;
    cost = 0.001;
  }
};

ev::Evaluation eval(const std::string& spec, const std::string& output,
                    const json& expected = nullptr) {
  Output out;
  out.output = output;
  out.expected = expected;
  out.schemas[""] = json{{"type", "object"}, {"required", {"a"}}};
  return out.eval(spec);
}

// The code point of the UTF-8 sequence at `i` and its length, or nullopt when the bytes there
// are not valid UTF-8 (cut short, overlong, a surrogate, above U+10FFFF, a stray byte).
std::optional<std::pair<char32_t, std::size_t>> decode_strict(const std::string& s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) {
    return std::pair{char32_t{lead}, std::size_t{1}};
  }
  std::size_t length = 0;
  char32_t value = 0;
  char32_t minimum = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1FU;
    minimum = 0x80;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3;
    value = lead & 0x0FU;
    minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07U;
    minimum = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + length > s.size()) {
    return std::nullopt;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0U) != 0x80U) {
      return std::nullopt;
    }
    value = (value << 6) | (next & 0x3FU);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return std::nullopt;
  }
  return std::pair{value, length};
}

// Why `reason` is not safe to print ("" when it is): every byte is valid UTF-8, and there is
// no control character (C0, DEL, C1), line or paragraph separator or bidirectional control.
std::string unprintable(const std::string& reason) {
  for (std::size_t i = 0; i < reason.size();) {
    const auto c = decode_strict(reason, i);
    if (!c) {
      return "invalid UTF-8 at byte " + std::to_string(i);
    }
    const char32_t v = c->first;
    if (v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x061C || v == 0x200E ||
        v == 0x200F || (v >= 0x2028 && v <= 0x202E) || (v >= 0x2066 && v <= 0x2069)) {
      return "control character U+" + std::to_string(static_cast<unsigned>(v)) + " at byte " +
             std::to_string(i);
    }
    i += c->second;
  }
  return "";
}

// A verdict with a short reason that is safe to print.
#define CHECK_SANE(e)                                                                              \
  do {                                                                                             \
    const auto& sane_ = (e);                                                                       \
    INFO("reason (" << sane_.reason.size() << " bytes): " << sane_.reason.substr(0, 300));         \
    CHECK(unprintable(sane_.reason) == "");                                                        \
    CHECK(sane_.reason.size() < 1000);                                                             \
    CHECK(sane_.score >= 0.0);                                                                     \
    CHECK(sane_.score <= 1.0);                                                                     \
  } while (false)

#define CHECK_VERDICT(e, expected_pass, reason_matcher)                                            \
  do {                                                                                             \
    const auto& verdict_ = (e);                                                                    \
    CHECK_SANE(verdict_);                                                                          \
    CHECK(verdict_.pass == (expected_pass));                                                       \
    /* A reason too long is reported above: do not print all of it again. */                       \
    CHECK_THAT(verdict_.reason.substr(0, 2000), reason_matcher);                                   \
  } while (false)

using Catch::Contains;
using Catch::Equals;
using Catch::StartsWith;

// One spec of every type (and of every option that changes how text is compared), for the
// tests that only ask that a verdict comes back sane.
std::vector<json> every_spec() {
  return {
      json::parse(R"({"type": "exact_match", "value": "abc"})"),
      json::parse(R"({"type": "exact_match", "value": "ABC", "ignore_case": true})"),
      json::parse(R"({"type": "exact_match", "value": " abc ", "trim": true})"),
      json::parse(R"({"type": "exact_match", "value": "a  b c", "normalize_whitespace": true})"),
      json::parse(R"({"type": "exact_match", "value": 1})"),
      json::parse(R"({"type": "exact_match", "path": "/a", "value": "x"})"),
      json::parse(R"({"type": "exact_match", "path": "/a", "value": "x", "extract": true})"),
      json::parse(R"({"type": "contains", "value": "abc"})"),
      json::parse(R"({"type": "contains", "value": "ÉTÉ", "ignore_case": true})"),
      json::parse(R"({"type": "not_contains", "value": "abc"})"),
      json::parse(R"({"type": "not_contains", "value": "ABC", "ignore_case": true})"),
      json::parse(R"({"type": "contains_any", "value": ["zz", "abc"]})"),
      json::parse(R"({"type": "contains_all", "value": ["zz", "abc"], "ignore_case": true})"),
      json::parse(R"({"type": "starts_with", "value": "abc"})"),
      json::parse(R"({"type": "starts_with", "value": "ABC", "ignore_case": true})"),
      json::parse(R"({"type": "regex", "pattern": "a.c"})"),
      json::parse(R"({"type": "regex", "pattern": "(?i)^.*$"})"),
      json::parse(R"({"type": "is_json"})"),
      json::parse(R"({"type": "is_json", "extract": true})"),
      json::parse(R"({"type": "json_schema"})"),
      json::parse(R"({"type": "json_schema", "extract": true})"),
      json::parse(R"({"type": "similarity", "value": "abc"})"),
      json::parse(R"({"type": "latency_ms", "max": 1000})"),
      json::parse(R"({"type": "cost", "max": 0.01})"),
  };
}

// 5 MB of prose with "NEEDLE 42" at its end.
const std::string& huge_text() {
  static const std::string text = [] {
    std::string s;
    const std::string line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n";
    s.reserve(5'000'000 + line.size() + 16);
    while (s.size() < 5'000'000) {
      s += line;
    }
    s += "NEEDLE 42";
    return s;
  }();
  return text;
}

// About 2 MB of JSON: {"items": [{"id": 0, "name": "item 0", "tags": [...]}, ...], "note":
// "nnn..."}, most of it in one long string (a thousand small objects keep a Debug build fast).
const std::string& huge_json() {
  static const std::string text = [] {
    std::string s = R"({"items": [)";
    for (int i = 0; i < 1000; ++i) {
      s += (i == 0 ? "" : ", ") + std::string(R"({"id": )") + std::to_string(i) +
           R"(, "name": "item )" + std::to_string(i) + R"(", "tags": ["a", "b", "c"]})";
    }
    s += R"(], "note": ")" + std::string(2'000'000 - s.size(), 'n') + R"("})";
    return s;
  }();
  return text;
}

} // namespace

TEST_CASE("evaluators edge, empty output", "[evaluators][edge]") {
  SECTION("exact_match") {
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": ""})", ""), true,
                  Equals(R"(equals "")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match"})", "", ""), true, Equals(R"(equals "")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": "x"})", ""), false,
                  Equals(R"(expected "x", got "")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": "", "trim": true})", " \n\t"), true,
                  Equals(R"(equals "")"));
    CHECK_VERDICT(
        eval(R"({"type": "exact_match", "value": " ", "normalize_whitespace": true})", ""), true,
        Equals(R"(equals " ")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": "", "ignore_case": true})", ""), true,
                  Equals(R"(equals "")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": "A", "ignore_case": true})", ""), false,
                  Equals(R"(expected "A", got "")"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "value": 1})", ""), false,
                  Equals("expected 1, but the output is empty"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "path": "/a", "value": 1})", ""), false,
                  Equals(R"(path "/a" needs JSON, but the output is empty)"));
    CHECK_VERDICT(eval(R"({"type": "exact_match", "path": "/a", "value": 1, "extract": true})", ""),
                  false, Contains("the output is empty"));
  }
  SECTION("contains and its kin") {
    CHECK_VERDICT(eval(R"({"type": "contains", "value": "x"})", ""), false,
                  Equals(R"(missing "x" in "")"));
    CHECK_VERDICT(eval(R"({"type": "contains", "value": "X", "ignore_case": true})", ""), false,
                  Equals(R"(missing "X" in "")"));
    CHECK_VERDICT(eval(R"({"type": "not_contains", "value": "x"})", ""), true, Equals(R"(no "x")"));
    CHECK_VERDICT(eval(R"({"type": "not_contains", "value": "X", "ignore_case": true})", ""), true,
                  Equals(R"(no "X")"));
    CHECK_VERDICT(eval(R"({"type": "starts_with", "value": "x"})", ""), false,
                  Equals(R"(expected to start with "x", got "")"));
    CHECK_VERDICT(eval(R"({"type": "contains_any", "value": ["a", "b"]})", ""), false,
                  Equals(R"(none of "a", "b" in "")"));
    const auto all = eval(R"({"type": "contains_all", "value": ["a", "b"]})", "");
    CHECK_VERDICT(all, false, Equals(R"(missing "a", "b" (0 of 2 found))"));
    CHECK(all.score == 0.0);
    CHECK_VERDICT(eval(R"({"type": "contains", "path": "/a", "value": "x"})", ""), false,
                  Contains("the output is empty"));
  }
  SECTION("regex") {
    CHECK_VERDICT(eval(R"({"type": "regex", "pattern": "^$"})", ""), true, Equals(R"(matched "")"));
    CHECK_VERDICT(eval(R"({"type": "regex", "pattern": "\\w+"})", ""), false,
                  Equals(R"(no match for /\w+/ in "")"));
  }
  SECTION("is_json and json_schema") {
    CHECK_VERDICT(eval(R"({"type": "is_json"})", ""), false, Equals("the output is empty"));
    CHECK_VERDICT(eval(R"({"type": "is_json", "extract": true})", ""), false,
                  Equals("the output is empty"));
    CHECK_VERDICT(eval(R"({"type": "is_json"})", "  \n"), false, Equals("the output is blank"));
    CHECK_VERDICT(eval(R"({"type": "json_schema"})", ""), false, Equals("the output is empty"));
    CHECK_VERDICT(eval(R"({"type": "json_schema", "extract": true})", ""), false,
                  Equals("the output is empty"));
  }
  SECTION("similarity") {
    const auto same = eval(R"({"type": "similarity", "value": ""})", "");
    CHECK_VERDICT(same, true, Equals("similarity 1 (threshold 0.8)"));
    CHECK(same.score == 1.0);
    const auto none = eval(R"({"type": "similarity", "value": "abc"})", "");
    CHECK_VERDICT(none, false, Equals("similarity 0, under the threshold 0.8"));
    CHECK(none.score == 0.0);
  }
  SECTION("latency_ms and cost do not look at the output") {
    CHECK_VERDICT(eval(R"({"type": "latency_ms", "max": 1000})", ""), true,
                  Equals("120 ms (max 1000 ms)"));
    CHECK_VERDICT(eval(R"({"type": "cost", "max": 0.01})", ""), true, Equals("$0.001 (max $0.01)"));
  }
  SECTION("exec sees the empty output") {
    const json spec = {{"type", "exec"},
                       {"command", R"(grep -q '"output":""' && echo '{"pass": true}' || )"
                                   R"(echo '{"pass": false, "reason": "not empty"}')"}};
    Output out;
    CHECK_VERDICT(out.run(spec), true, Equals("passed"));
    out.output = "x";
    CHECK_VERDICT(out.run(spec), false, Equals("not empty"));
  }
}

TEST_CASE("evaluators edge, bytes that are not UTF-8", "[evaluators][edge]") {
  const std::vector<std::string> outputs = {
      "\xff\xfe abc",                    // bytes that start no sequence
      "abc \x80 def",                    // a lone continuation byte
      "abc \xE2\x82",                    // a sequence cut short at the end
      "\xE2\x82 abc",                    // ... and in the middle
      "\xC3",                            // only a lead byte
      "\xC0\xAF abc",                    // overlong
      "\xED\xA0\x80 abc",                // a surrogate
      "\xF4\x90\x80\x80 abc",            // above U+10FFFF
      "{\"a\": \"\xff x\"} abc",         // in a JSON string
      "```json\n{\"a\": \"\xff\"}\n```", // in a fence
      "ÉTÉ \xff ABC",
  };
  SECTION("every evaluator returns a printable verdict") {
    for (const auto& output : outputs) {
      for (const auto& spec : every_spec()) {
        INFO("spec " << spec.dump() << ", output "
                     << json(output).dump(-1, ' ', true, json::error_handler_t::replace));
        ev::Evaluation e;
        REQUIRE_NOTHROW(e = eval(spec.dump(), output));
        CHECK_SANE(e);
      }
    }
  }
  SECTION("invalid bytes in the needle, with and without ignore_case") {
    for (const auto& output : outputs) {
      for (const char* type : {"exact_match", "contains", "not_contains", "starts_with"}) {
        for (const bool fold : {false, true}) {
          const json spec = {{"type", type}, {"value", "\xff\xfe ABC"}, {"ignore_case", fold}};
          INFO(spec.dump(-1, ' ', true, json::error_handler_t::replace));
          Output out;
          out.output = output;
          ev::Evaluation e;
          REQUIRE_NOTHROW(e = out.run(spec));
          CHECK_SANE(e);
        }
      }
    }
  }
  SECTION("verdicts") {
    // The valid text around invalid bytes is still found, with or without case folding.
    CHECK_VERDICT(eval(R"({"type": "contains", "value": "abc"})", "\xff\xfe abc"), true,
                  Equals(R"(found "abc")"));
    CHECK_VERDICT(
        eval(R"({"type": "contains", "value": "ABC", "ignore_case": true})", "\xff\xfe abc"), true,
        Equals(R"(found "ABC")"));
    CHECK_VERDICT(
        eval(R"({"type": "contains", "value": "été", "ignore_case": true})", "ÉTÉ \xff ABC"), true,
        Equals(R"(found "été")"));
    CHECK_VERDICT(eval(R"({"type": "not_contains", "value": "def"})", "abc \x80 def"), false,
                  Equals(R"(found "def" in "abc \x80 def")"));
    CHECK_VERDICT(eval(R"({"type": "regex", "pattern": "a.c"})", "\xff\xfe abc"), true,
                  Equals(R"(matched "abc")"));
    CHECK_VERDICT(eval(R"({"type": "starts_with", "value": "abc"})", "\xE2\x82 abc"), false,
                  Equals(R"(expected to start with "abc", got "\xe2\x82 abc")"));
    // The same invalid bytes on both sides are equal; with ignore_case, folding falls back to
    // ASCII for a needle RE2 refuses.
    Output out;
    out.output = "\xff\xfe abc";
    CHECK_VERDICT(out.run(json{{"type", "exact_match"}, {"value", "\xff\xfe abc"}}), true,
                  Equals(R"(equals "\xff\xfe abc")"));
    CHECK_VERDICT(
        out.run(json{{"type", "exact_match"}, {"value", "\xff\xfe ABC"}, {"ignore_case", true}}),
        true, Equals(R"(equals "\xff\xfe ABC")"));
    CHECK_VERDICT(out.run(json{{"type", "exact_match"}, {"value", "\xfe abc"}}), false,
                  Equals(R"(expected "\xfe abc", got "\xff\xfe abc")"));
    CHECK_VERDICT(out.run(json{{"type", "contains_all"}, {"value", {"\xfe", "abc"}}}), true,
                  Equals("found all 2"));
    // JSON cannot hold invalid UTF-8: not JSON, and the reason says where.
    CHECK_VERDICT(eval(R"({"type": "is_json"})", "{\"a\": \"\xff x\"}"), false,
                  StartsWith("the output is not JSON (line 1, column 8"));
    CHECK_VERDICT(eval(R"({"type": "json_schema", "extract": true})", "{\"a\": \"\xff x\"}"), false,
                  StartsWith("the output is not JSON"));
  }
  SECTION("similarity counts an invalid byte as one character") {
    // Five characters each, one differs: 0.8. A lead byte must not swallow the ASCII after it.
    Output out;
    out.output = "\xC3"
                 "abcd";
    auto e = out.run(json{{"type", "similarity"},
                          {"value", "\xC3"
                                    "abce"}});
    CHECK_VERDICT(e, true, Equals("similarity 0.8 (threshold 0.8)"));
    CHECK(e.score == Approx(0.8));
    out.output = "ab\xE2\x82"
                 "cd";
    e = out.run(json{{"type", "similarity"}, {"value", "ab\xE2\x82xd"}});
    CHECK(e.score == Approx(5.0 / 6.0));
    out.output = "\xff\xfe abc";
    e = out.run(json{{"type", "similarity"}, {"value", "\xff\xfe abc"}});
    CHECK_VERDICT(e, true, Equals("similarity 1 (threshold 0.8)"));
  }
  SECTION("exec gets valid JSON on its stdin and its reasons are escaped") {
    Output out;
    out.output = "\xff\xfe abc";
    // The invalid bytes reach the command replaced (U+FFFD), in valid JSON.
    CHECK_VERDICT(
        out.run(json{{"type", "exec"}, {"command", R"(grep -q 'abc' && echo '{"pass": true}')"}}),
        true, Equals("passed"));
    const auto e =
        out.run(json{{"type", "exec"},
                     {"command", R"(cat >/dev/null; printf 'bad \377\033[2J\n' >&2; exit 1)"}});
    CHECK_VERDICT(e, false, Equals(R"(the command exited with status 1: bad \xff\x1b[2J\n)"));
    CHECK_VERDICT(
        out.run(json{{"type", "exec"}, {"command", R"(cat >/dev/null; printf 'ok \377\n')"}}),
        false, Equals(R"(the command's verdict is not {"pass": true|false, ...}: ok \xff\n)"));
  }
}

TEST_CASE("evaluators edge, huge output", "[evaluators][edge]") {
  const std::string& text = huge_text();
  Output out;
  out.output = text;
  out.schemas[""] = json{{"type", "object"}};
  SECTION("text evaluators") {
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "value": "x"})"), false,
                  StartsWith(R"(expected "x", got "Lorem ipsum dolor)"));
    CHECK_VERDICT(out.eval(R"({"type": "contains", "value": "NEEDLE 42"})"), true,
                  Equals(R"(found "NEEDLE 42")"));
    CHECK_VERDICT(out.eval(R"({"type": "contains", "value": "needle 42", "ignore_case": true})"),
                  true, Equals(R"(found "needle 42")"));
    CHECK_VERDICT(out.eval(R"({"type": "contains", "value": "haystack"})"), false,
                  StartsWith(R"(missing "haystack" in "Lorem ipsum)"));
    // The excerpt is around the match.
    CHECK_VERDICT(out.eval(R"({"type": "not_contains", "value": "NEEDLE"})"), false,
                  StartsWith(R"(found "NEEDLE" in "…)") && Contains("NEEDLE 42\""));
    CHECK_VERDICT(out.eval(R"({"type": "contains_all", "value": ["Lorem", "NEEDLE", "nope"]})"),
                  false, Equals(R"(missing "nope" (2 of 3 found))"));
    CHECK_VERDICT(out.eval(R"({"type": "contains_any", "value": ["nope", "nada"]})"), false,
                  StartsWith(R"(none of "nope", "nada" in "Lorem)"));
    CHECK_VERDICT(out.eval(R"({"type": "starts_with", "value": "LOREM", "ignore_case": true})"),
                  true, Equals(R"(starts with "LOREM")"));
    CHECK_VERDICT(out.eval(R"({"type": "starts_with", "value": "NEEDLE"})"), false,
                  StartsWith(R"(expected to start with "NEEDLE", got "Lorem)"));
  }
  SECTION("a needle as long as the output") {
    // Compared with itself: equal, and the reason quotes only its start. With ignore_case the
    // needle is too long for RE2, and folding falls back to ASCII.
    const json same = {{"type", "exact_match"}, {"value", text}, {"ignore_case", true}};
    CHECK_VERDICT(out.run(same), true, StartsWith(R"(equals "Lorem ipsum dolor)"));
    const json other = {{"type", "exact_match"},
                        {"value", text.substr(0, text.size() - 1) + "3"},
                        {"normalize_whitespace", true}};
    CHECK_VERDICT(out.run(other), false, StartsWith(R"(expected "Lorem ipsum)"));
  }
  SECTION("regex (RE2) over 5 MB") {
    CHECK_VERDICT(out.eval(R"({"type": "regex", "pattern": "NEEDLE \\d+$"})"), true,
                  Equals(R"(matched "NEEDLE 42")"));
    CHECK_VERDICT(out.eval(R"x({"type": "regex", "pattern": "(?i)needle (\\d+)"})x"), true,
                  Equals(R"(matched "NEEDLE 42")"));
    CHECK_VERDICT(out.eval(R"({"type": "regex", "pattern": "(?s)^Lorem.*42$"})"), true,
                  StartsWith(R"(matched "Lorem ipsum)"));
    CHECK_VERDICT(out.eval(R"({"type": "regex", "pattern": "[0-9]{3}"})"), false,
                  StartsWith(R"(no match for /[0-9]{3}/ in "Lorem)"));
  }
  SECTION("is_json and json_schema") {
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), false,
                  StartsWith(R"(the output is not JSON (line 1, column 1: "Lorem)"));
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "extract": true})"), false,
                  StartsWith("the output is not JSON"));
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "path": "/a", "value": 1})"), false,
                  StartsWith(R"(path "/a" needs JSON, but the output is not JSON)"));
  }
  SECTION("similarity refuses more than 20,000 characters") {
    const auto e = out.eval(R"({"type": "similarity", "value": "NEEDLE 42"})");
    CHECK_VERDICT(e, false,
                  Equals("too long to compare (" + std::to_string(text.size()) +
                         " characters; the limit is 20000)"));
    CHECK(e.score == 0.0);
    // The expected side is capped too; 20,000 is still compared.
    out.output = "short";
    CHECK_VERDICT(out.run(json{{"type", "similarity"}, {"value", std::string(20001, 'x')}}), false,
                  StartsWith("too long to compare (20001 characters"));
    out.output = std::string(20000, 'x');
    CHECK_VERDICT(out.eval(R"({"type": "similarity", "value": "xxxx"})"), false,
                  Equals("similarity 0, under the threshold 0.8"));
  }
  SECTION("latency_ms and cost") {
    CHECK_VERDICT(out.eval(R"({"type": "latency_ms", "max": 100})"), false,
                  Equals("120 ms, over the 100 ms limit"));
    CHECK_VERDICT(out.eval(R"({"type": "cost", "max": 0.01})"), true, Equals("$0.001 (max $0.01)"));
  }
  SECTION("exec") {
    CHECK_VERDICT(out.run(json{{"type", "exec"},
                               {"command", R"(grep -q 'NEEDLE 42' && echo '{"pass": true}')"}}),
                  true, Equals("passed"));
    // A command that does not read its input at all.
    CHECK_VERDICT(out.run(json{{"type", "exec"}, {"command", R"(echo '{"pass": true}')"}}), true,
                  Equals("passed"));
  }
  SECTION("exec: what a command says back is cut") {
    out.output = text.substr(0, 100'000);
    CHECK_VERDICT(out.run(json{{"type", "exec"}, {"command", "cat"}}), false,
                  StartsWith(R"(the command's verdict is not {"pass": true|false, ...}: {)"));
    CHECK_VERDICT(out.run(json{{"type", "exec"}, {"command", "cat >&2; exit 1"}}), false,
                  StartsWith("the command exited with status 1: {"));
    // A command's own reason is its to write, but a huge one is cut.
    const auto e =
        out.run(json{{"type", "exec"},
                     {"command", R"(cat >/dev/null; printf '{"pass": false, "reason": "'; )"
                                 R"(head -c 100000 /dev/zero | tr '\0' x; printf '"}')"}});
    CHECK_VERDICT(e, false, Equals(std::string(300, 'x') + "…"));
  }
}

TEST_CASE("evaluators edge, a 2 MB JSON document", "[evaluators][edge]") {
  const std::string& doc = huge_json();
  Output out;
  out.output = doc;
  out.schemas["object.json"] = json{{"type", "object"}, {"required", {"items"}}};
  out.schemas["string_ids.json"] = json::parse(
      R"({"properties": {"items": {"items": {"properties": {"id": {"type": "string"}}}}}})");
  out.schemas["note.json"] = json::parse(R"({"properties": {"note": {"maxLength": 10}}})");
  SECTION("valid JSON, and a schema it matches") {
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), true, Equals("valid JSON (object)"));
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "object.json"})"), true,
                  Equals(R"(matches "object.json")"));
  }
  SECTION("a thousand schema errors: the first three and a count") {
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "string_ids.json"})"), false,
                  StartsWith(R"(/items/0/id: 0 is not of type "string"; )") &&
                      Contains("; and 17 or more"));
  }
  SECTION("long values are quoted in part") {
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "note.json"})"), false,
                  StartsWith("/note: "));
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "path": "/note", "value": "x"})"), false,
                  StartsWith(R"(expected "x", got "nnnn)"));
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "value": {"items": []}})"), false,
                  StartsWith(R"(expected {"items":[]}, got {"items":[{"id":0)"));
    CHECK_VERDICT(
        out.eval(R"({"type": "exact_match", "path": "/items/3/name", "value": "item 3"})"), true,
        Equals(R"(equals "item 3")"));
  }
  SECTION("in a fence, after prose") {
    out.output = "Sure! Here it is:\n```json\n" + doc + "\n```\nAnything else?";
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), false,
                  Equals("the output wraps its JSON in a ```json code fence; set extract: true "
                         "to accept it"));
    CHECK_VERDICT(out.eval(R"({"type": "is_json", "extract": true})"), true,
                  Equals("valid JSON (object), taken out of its code fence"));
    out.output = "Sure! Here it is: " + doc + " Anything else?";
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "object.json", "extract": true})"),
                  true, Equals(R"(matches "object.json", taken out of the text around it)"));
  }
  SECTION("huge property names are cut where they are shown") {
    const std::string key(200'000, 'k');
    out.output = json{{key, 1}, {"a", {{key, "v"}}}}.dump();
    out.schemas["strings.json"] = json::parse(R"({"additionalProperties": {"type": "string"}})");
    out.schemas["closed.json"] =
        json::parse(R"({"properties": {"a": true}, "additionalProperties": false})");
    out.schemas["integers.json"] = json::parse(R"({"additionalProperties": {"type": "integer"}})");
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "strings.json"})"), false,
                  StartsWith(R"(/a: {"kkkk)") && Contains(R"(; /kkkk)") &&
                      Contains(R"(k…: 1 is not of type "string")"));
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "closed.json"})"), false,
                  StartsWith("/kkkk") && Contains("is not allowed"));
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "schema": "integers.json", "path": "/a"})"),
                  false, StartsWith("/a/kkkk") && Contains(R"(k…: "v" is not of type "integer")"));
  }
}

TEST_CASE("evaluators edge, JSON with text around it", "[evaluators][edge]") {
  const std::string hint = "; set extract: true to accept it";
  struct Wrapped {
    std::string output;
    std::string problem; // what is_json says without extract
    json value;          // what extract: true finds
  };
  const std::vector<Wrapped> wrapped = {
      {R"({"a":1} trailing)", R"(the output has text around its JSON ("trailing" after it))",
       json{{"a", 1}}},
      {R"({"a":1}{"b":2})", R"(the output has text around its JSON ("{\"b\":2}" after it))",
       json{{"a", 1}}},
      {"[1,2] and more", R"(the output has text around its JSON ("and more" after it))",
       json{1, 2}},
      {"```json\n{\"a\": 1}\n```", "the output wraps its JSON in a ```json code fence",
       json{{"a", 1}}},
      {"Sure! Here is {\"a\": 1}",
       R"(the output has text around its JSON ("Sure! Here is" before it))", json{{"a", 1}}},
      {"Sure! Here is:\n```\n{\"a\": 1, \"b\": [2]}\n```\nHope it helps!",
       "the output wraps its JSON in a ``` code fence", json{{"a", 1}, {"b", {2}}}},
  };
  Output out;
  out.schemas[""] = json::parse(R"({"type": "object", "required": ["a"]})");
  for (const auto& w : wrapped) {
    INFO("output: " << w.output);
    out.output = w.output;
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), false, Equals(w.problem + hint));
    CHECK_VERDICT(out.eval(R"({"type": "is_json", "extract": true})"), true,
                  StartsWith("valid JSON (" + std::string(w.value.type_name()) + "), taken out"));
    CHECK_VERDICT(out.eval(R"({"type": "json_schema"})"), false, Equals(w.problem + hint));
    // The extracted JSON is checked against the schema.
    if (w.value.is_object()) {
      CHECK_VERDICT(out.eval(R"({"type": "json_schema", "extract": true})"), true,
                    StartsWith("matches the prompt's output schema, taken out"));
    } else {
      CHECK_VERDICT(out.eval(R"({"type": "json_schema", "extract": true})"), false,
                    Equals(R"([1, 2] is not of type "object")"));
    }
    CHECK_VERDICT(out.run(json{{"type", "exact_match"}, {"value", w.value}}), false,
                  Equals("expected " + w.value.dump() + ", but " + w.problem + hint));
    CHECK_VERDICT(out.run(json{{"type", "exact_match"}, {"value", w.value}, {"extract", true}}),
                  true, Equals("equals " + w.value.dump()));
    // With `path`, the same: the text around the JSON fails unless extract: true.
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "path": "/0", "value": 1})"), false,
                  Equals(R"(path "/0" needs JSON, but )" + w.problem + hint));
    CHECK_VERDICT(out.eval(R"({"type": "is_json", "path": "/0"})"), false,
                  Equals(R"(path "/0" needs JSON, but )" + w.problem + hint));
    const auto at_a =
        out.eval(R"({"type": "exact_match", "path": "/a", "value": 1, "extract": true})");
    if (w.value.is_object()) {
      CHECK_VERDICT(at_a, true, Equals("equals 1"));
    } else {
      CHECK_VERDICT(at_a, false, Equals(R"(no value at "/a" in the output [1,2])"));
    }
  }
  SECTION("extracted JSON that fails the schema says why") {
    out.output = R"({"b":2} trailing)";
    CHECK_VERDICT(out.eval(R"({"type": "json_schema", "extract": true})"), false,
                  Equals(R"(missing required property "a")"));
  }
  SECTION("whitespace around JSON is not text around it") {
    out.output = "\n  {\"a\": 1}\n\n";
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), true, Equals("valid JSON (object)"));
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "path": "/a", "value": 1})"), true,
                  Equals("equals 1"));
  }
  SECTION("text that holds no JSON at all gives no hint") {
    out.output = "{not json} and [neither";
    CHECK_VERDICT(
        out.eval(R"({"type": "is_json"})"), false,
        Equals(R"(the output is not JSON (line 1, column 3: "{not json} and [neither"))"));
  }
}

TEST_CASE("evaluators edge, control characters and ANSI escapes", "[evaluators][edge]") {
  const std::string ansi = "\x1b[31mabc\x1b[0m\x07\x08\r\n\x1b]0;title\x07 \xC2\x9B"
                           "2J \xE2\x80\xAE"
                           "evil\x7f";
  Output out;
  out.output = ansi;
  out.schemas[""] = json{{"type", "object"}};
  SECTION("every evaluator escapes them") {
    for (const auto& spec : every_spec()) {
      INFO(spec.dump());
      const auto e = out.run(spec);
      CHECK_SANE(e);
      CHECK(e.reason.find('\x1b') == std::string::npos);
    }
  }
  SECTION("as escapes a person can read") {
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "value": "abc"})"), false,
                  Equals(R"(expected "abc", got "\x1b[31mabc\x1b[0m\x07\x08\r\n\x1b]0;title\x07 )"
                         R"(\u009b2J \u202eevil\x7f")"));
    CHECK_VERDICT(out.eval(R"({"type": "contains", "value": "abc"})"), true,
                  Equals(R"(found "abc")"));
    CHECK_VERDICT(out.eval(R"({"type": "not_contains", "value": "abc"})"), false,
                  StartsWith(R"(found "abc" in "\x1b[31mabc\x1b[0m)"));
    CHECK_VERDICT(out.eval(R"({"type": "regex", "pattern": "\\x1b\\[\\d+m"})"), true,
                  Equals(R"(matched "\x1b[31m")"));
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), false,
                  StartsWith(R"(the output is not JSON (line 1, column 1: "\x1b[31m)"));
  }
  SECTION("inside JSON values, keys, fence names and needles") {
    out.output = R"({"a": "\u001b[2J\u0007", "\u001b[1m": 1})";
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "path": "/a", "value": "x"})"), false,
                  Equals(R"(expected "x", got "\x1b[2J\x07")"));
    CHECK_VERDICT(out.eval(R"({"type": "exact_match", "value": 1})"), false,
                  Contains(R"(\u001b[2J)"));
    out.schemas["closed.json"] = json::parse(R"({"additionalProperties": {"type": "string"}})");
    const auto e = out.eval(R"({"type": "json_schema", "schema": "closed.json"})");
    CHECK_SANE(e);
    CHECK_FALSE(e.pass);
    out.output = "```js\x1b[2Jon\n{\"a\": 1}\n```";
    CHECK_VERDICT(out.eval(R"({"type": "is_json"})"), false,
                  StartsWith(R"(the output wraps its JSON in a ```js\x1b[2Jon code fence)"));
    out.output = "x";
    CHECK_VERDICT(out.run(json{{"type", "contains"}, {"value", "\x1b[1m"}}), false,
                  Equals(R"(missing "\x1b[1m" in "x")"));
  }
  SECTION("from an exec command") {
    CHECK_VERDICT(out.run(json{{"type", "exec"},
                               {"command", R"(cat >/dev/null; printf '%s\n' '{"pass": false, )"
                                           R"("reason": "\u001b[31mred\u001b[0m\nnext"}')"}}),
                  false, Equals(R"(\x1b[31mred\x1b[0m\nnext)"));
    CHECK_VERDICT(out.run(json{{"type", "exec"}, {"command", "cat >/dev/null; printf '\\033[2J'"}}),
                  false,
                  Equals(R"(the command's verdict is not {"pass": true|false, ...}: \x1b[2J)"));
  }
}
