// The reply model (reply/reply.cpp): tool calls, usage, pricing and cost, and the trust rule.
#include "reply/reply.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace promptops::reply;
using nlohmann::json;

TEST_CASE("finish reasons round-trip; anything else is unknown", "[reply]") {
  for (const FinishReason r :
       {FinishReason::stop, FinishReason::length, FinishReason::tool_calls, FinishReason::refusal,
        FinishReason::content_filter, FinishReason::error}) {
    CHECK(finish_reason_from_string(to_string(r)) == r);
  }
  CHECK(std::string(to_string(FinishReason::unknown)).empty());
  CHECK(finish_reason_from_string("end_turn") == FinishReason::unknown);
  CHECK(finish_reason_from_string("") == FinishReason::unknown);
}

TEST_CASE("tool_call parses JSON arguments and keeps other text raw", "[reply]") {
  ToolCall c = tool_call("call_1", "f", R"({"a": [1, 2]})");
  CHECK(c.arguments_parsed);
  CHECK(c.arguments == json({{"a", {1, 2}}}));
  c = tool_call("call_2", "f", "{\"a\": ");
  CHECK_FALSE(c.arguments_parsed);
  CHECK(c.arguments == "{\"a\": ");
  c = tool_call("call_3", "f", "  \n");
  CHECK(c.arguments_parsed);
  CHECK(c.arguments == json::object());
}

TEST_CASE("tool calls to JSON and back", "[reply]") {
  const std::vector<ToolCall> calls = {tool_call("a", "f", R"({"x": 1})"),
                                       tool_call("b", "g", "raw text")};
  const json j = to_json(calls);
  CHECK(j[0] == json({{"id", "a"}, {"name", "f"}, {"arguments", {{"x", 1}}}}));
  CHECK(j[1]["arguments_parsed"] == false);
  CHECK(tool_calls_from_json(j) == calls);
  // What is of the wrong type is left out, not an error.
  const auto odd = tool_calls_from_json(json::parse(R"([1, {"id": 2, "name": "n"}, "x"])"));
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].id.empty());
  CHECK(odd[0].name == "n");
  CHECK(tool_calls_from_json(json::object()).empty());
}

TEST_CASE("usage to JSON and back; unset counts stay unset", "[reply]") {
  Usage u;
  u.input_tokens = 100;
  u.cached_input_tokens = 40;
  u.output_tokens = 7;
  const json j = to_json(u);
  CHECK(j == json({{"input_tokens", 100}, {"cached_input_tokens", 40}, {"output_tokens", 7}}));
  CHECK(usage_from_json(j) == u);
  const Usage odd = usage_from_json(json::parse(R"({"input_tokens": "12", "output_tokens": 1.5})"));
  CHECK_FALSE(odd.input_tokens.has_value());
  CHECK_FALSE(odd.output_tokens.has_value());
  CHECK(usage_from_json(json::array()) == Usage{});
}

TEST_CASE("read_count: whole numbers from 0 to 10^12; any other number makes usage invalid",
          "[reply]") {
  const auto read = [](const char* text) { return usage_from_json(json::parse(text)); };
  Usage u =
      read(R"({"input_tokens": 0, "output_tokens": 1000000000000, "reasoning_tokens": 12.0})");
  CHECK(u.invalid.empty());
  CHECK(u.input_tokens == 0);
  CHECK(u.output_tokens == k_max_token_count);
  CHECK(u.reasoning_tokens == 12); // a whole number written as a float
  CHECK_FALSE(usage_note(u));

  u = read(R"({"input_tokens": -1000000000, "output_tokens": 5})");
  CHECK(u.invalid == "input_tokens -1000000000 is negative");
  CHECK_FALSE(u.input_tokens.has_value());
  CHECK_FALSE(u.output_tokens.has_value()); // every count goes: the reply's usage is unknown
  CHECK(*usage_note(u) == "the reply's token counts were not taken: input_tokens -1000000000 "
                          "is negative (counts are whole numbers from 0 to 10^12); its usage "
                          "and cost are unknown");
  CHECK(read(R"({"output_tokens": 1000000000001})").invalid ==
        "output_tokens 1000000000001 is over 10^12");
  // 2^64 - 1 was -1 when read as a signed count.
  CHECK(read(R"({"output_tokens": 18446744073709551615})").invalid ==
        "output_tokens 18446744073709551615 is over 10^12");
  CHECK(read(R"({"output_tokens": 1e300})").invalid == "output_tokens 1e+300 is over 10^12");
  CHECK(read(R"({"output_tokens": -0.5})").invalid == "output_tokens -0.5 is negative");
  CHECK(read(R"({"cached_input_tokens": 2.5})").invalid ==
        "cached_input_tokens 2.5 is not a whole number");
  // Not a number at all: that count is unknown, the others stand.
  u = read(R"({"input_tokens": "12", "output_tokens": null, "reasoning_tokens": 3})");
  CHECK(u.invalid.empty());
  CHECK_FALSE(u.input_tokens.has_value());
  CHECK(u.reasoning_tokens == 3);
}

TEST_CASE("cost: unknown for invalid usage, never negative", "[reply]") {
  Pricing p;
  p.input_per_mtok = 1'000'000;
  p.output_per_mtok = 1'000'000;
  Usage u;
  u.input_tokens = 10;
  u.output_tokens = 5;
  CHECK(cost(p, u) == 15.0);
  u.invalid = "input_tokens -5 is negative";
  CHECK_FALSE(cost(p, u));
  // Counts made in code that no reader would take: still never a negative cost.
  u = Usage{};
  u.input_tokens = 10;
  u.output_tokens = 5;
  p.output_per_mtok = -1'000'000;
  CHECK_FALSE(cost(p, u));
}

TEST_CASE("vendor cache price ratios fill what was not given", "[reply]") {
  const Pricing ant =
      pricing_from_json(json{{"input_per_mtok", 3.0}, {"output_per_mtok", 15.0}}, "anthropic");
  CHECK(*ant.cached_input_per_mtok == Approx(0.30));
  CHECK(*ant.cache_write_per_mtok == Approx(3.75));
  const Pricing oai = pricing_from_json(json{{"input_per_mtok", 2.5}}, "openai");
  CHECK(*oai.cached_input_per_mtok == Approx(1.25));
  CHECK(*oai.cache_write_per_mtok == Approx(2.5));
  const Pricing given =
      pricing_from_json(json{{"input_per_mtok", 1.25}, {"cached_input_per_mtok", 0.125}}, "openai");
  CHECK(*given.cached_input_per_mtok == Approx(0.125));
  const Pricing other = pricing_from_json(json{{"input_per_mtok", 1.0}}, "exec");
  CHECK(*other.cached_input_per_mtok == Approx(1.0));
  CHECK(pricing_from_json(json("cheap"), "openai").empty());
  CHECK_FALSE(with_vendor_defaults(Pricing{}, "anthropic").cached_input_per_mtok.has_value());
}

TEST_CASE("cost bills each part of the input at its price", "[reply]") {
  Pricing p =
      pricing_from_json(json{{"input_per_mtok", 3.0}, {"output_per_mtok", 15.0}}, "anthropic");
  Usage u;
  u.input_tokens = 1'000'000 + 200'000 + 100'000; // plain + read + written
  u.cached_input_tokens = 200'000;
  u.cache_write_tokens = 100'000;
  u.output_tokens = 10'000;
  REQUIRE(cost(p, u).has_value());
  CHECK(*cost(p, u) == Approx(3.0 + 0.2 * 0.3 + 0.1 * 3.75 + 0.01 * 15.0));
  // Sub-counts larger than the whole are clamped: never a negative cost.
  u.input_tokens = 10;
  u.cached_input_tokens = 50;
  u.cache_write_tokens = 50;
  CHECK(*cost(p, u) == Approx((10 * 0.3 + 10'000 * 15.0) / 1e6));
  // A priced count that is missing makes the cost unknown, not smaller.
  u.output_tokens.reset();
  CHECK_FALSE(cost(p, u).has_value());
  CHECK_FALSE(cost(Pricing{}, u).has_value());
  // Reasoning tokens are inside output_tokens: not billed twice.
  Usage r;
  r.input_tokens = 0;
  r.output_tokens = 1'000'000;
  r.reasoning_tokens = 900'000;
  CHECK(*cost(p, r) == Approx(15.0));
}

TEST_CASE("unusable_reason: the trust rule and its allowances", "[reply]") {
  Facts f;
  f.finish_reason = FinishReason::stop;
  CHECK_FALSE(unusable_reason("an answer", f, {}).has_value());
  CHECK_THAT(*unusable_reason("  \n", f, {}), Catch::Contains("empty"));
  CHECK_FALSE(unusable_reason("", f, {Allowance::empty}).has_value());

  f.finish_reason = FinishReason::length;
  f.vendor_finish_reason = "max_tokens";
  CHECK_THAT(*unusable_reason("cut", f, {}),
             Catch::Contains("token limit") && Catch::Contains("\"max_tokens\""));
  CHECK_FALSE(unusable_reason("cut", f, {Allowance::length}).has_value());

  f = {};
  f.finish_reason = FinishReason::refusal;
  f.refusal = "no\x1b[2J";
  const std::string why = *unusable_reason("", f, {});
  CHECK_THAT(why, Catch::Contains("refused"));
  CHECK(why.find('\x1b') == std::string::npos); // quoted, escaped
  CHECK_FALSE(unusable_reason("", f, {Allowance::refusal, Allowance::empty}).has_value());

  f = {};
  f.finish_reason = FinishReason::stop;
  f.refusal = "I can't"; // a refusal beside a stop reason that does not say so
  CHECK_THAT(*unusable_reason("text", f, {}), Catch::Contains("refused"));

  f = {};
  f.finish_reason = FinishReason::tool_calls;
  f.tool_calls = {tool_call("a", "f", "{}")};
  CHECK_THAT(*unusable_reason("", f, {}), Catch::Contains("called tools"));
  CHECK_FALSE(unusable_reason("", f, {Allowance::tool_calls}).has_value());

  f = {};
  f.finish_reason = FinishReason::content_filter;
  CHECK_THAT(*unusable_reason("x", f, {}), Catch::Contains("content filter"));
  CHECK_FALSE(unusable_reason("x", f, {Allowance::content_filter}).has_value());
}

TEST_CASE("allowances round-trip", "[reply]") {
  for (const Allowance a : {Allowance::length, Allowance::refusal, Allowance::tool_calls,
                            Allowance::content_filter, Allowance::empty}) {
    CHECK(allowance_from_string(to_string(a)) == a);
  }
  CHECK_FALSE(allowance_from_string("everything").has_value());
}
