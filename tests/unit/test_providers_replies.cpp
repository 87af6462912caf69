// Replies as vendors really send them, read into the reply model. Every body is a fixture under
// tests/data/vendor_replies/; SOURCES.md there names where each comes from.
#include "providers/engine.hpp"
#include "providers/provider.hpp"
#include "providers/response_cache.hpp"
#include "providers/wire.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace promptops::providers;
using nlohmann::json;
using promptops::reply::FinishReason;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(PROMPTOPS_TEST_DATA) + "/vendor_replies/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ProviderSettings provider(const std::string& type) {
  ProviderSettings p;
  p.name = type;
  p.type = type;
  p.base_url = "http://127.0.0.1:9/v1";
  p.api_key_env = "PROMPTOPS_TEST_REPLIES_KEY";
  p.model = "m";
  return p;
}

WireOutcome read(const std::string& type, const std::string& body, long status = 200,
                 const std::string& content_type = "application/json") {
  return read_response(provider(type), HttpResponse{status, body, content_type, {}});
}

WireOutcome read_ok(const std::string& type, const std::string& file) {
  const std::string body = fixture(file);
  WireOutcome w = read(type, body);
  INFO(file << ": " << w.error);
  REQUIRE(w.ok);
  return w;
}

struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// promptops.yaml as settings_from_config sees it, and its provider "main" (openai, at 7:3).
promptops::registry::Config config_file() {
  promptops::registry::Config whole;
  whole.display_path = "promptops.yaml";
  return whole;
}

promptops::registry::ProviderConfig openai_config() {
  promptops::registry::ProviderConfig config;
  config.name = "main";
  config.type = "openai";
  config.model = "gpt-test";
  config.position = {7, 3};
  config.settings = json::object();
  return config;
}

} // namespace

TEST_CASE("openai tool calls with null content", "[providers][replies]") {
  // openai-python tests/lib/chat/test_completions.py, chatcmpl-ABfvyvfNWKcl7Ohqos4UFrmMs1v4C
  const WireOutcome w = read_ok("openai", "openai_tool_calls.json");
  CHECK(w.reply.output.empty());
  CHECK(w.reply.facts.finish_reason == FinishReason::tool_calls);
  CHECK(w.reply.facts.vendor_finish_reason == "tool_calls");
  REQUIRE(w.reply.facts.tool_calls.size() == 2);
  const auto& first = w.reply.facts.tool_calls[0];
  CHECK(first.id == "call_fdNz3vOBKYgOIpMdWotB9MjY");
  CHECK(first.name == "GetWeatherArgs");
  CHECK(first.arguments_parsed);
  CHECK(first.arguments == json({{"city", "Edinburgh"}, {"country", "GB"}, {"units", "c"}}));
  CHECK(w.reply.facts.tool_calls[1].arguments["ticker"] == "AAPL");
  CHECK(w.reply.model == "gpt-4o-2024-08-06");
  CHECK(w.reply.system_fingerprint == "fp_b40fb1c6fb");
  CHECK(w.reply.usage.input_tokens == 149);
  CHECK(w.reply.usage.output_tokens == 60);
  CHECK(w.reply.usage.reasoning_tokens == 0);
  CHECK(w.reply.notes.empty());
}

TEST_CASE("openai tool calls with text, \"\" content and raw or object arguments",
          "[providers][replies]") {
  json body = json::parse(fixture("openai_tool_calls.json"));
  json& message = body["choices"][0]["message"];
  message["content"] = "Looking both up.";
  WireOutcome w = read("openai", body.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output == "Looking both up.");
  CHECK(w.reply.facts.tool_calls.size() == 2);

  message["content"] = "";
  // Arguments that are not JSON are kept as the raw text; an object (some compatible servers)
  // is taken as it is; "" is no arguments.
  message["tool_calls"][0]["function"]["arguments"] = "{\"city\": \"Edinb";
  message["tool_calls"][1]["function"]["arguments"] = {{"ticker", "MSFT"}};
  message["tool_calls"].push_back(
      {{"id", "call_3"}, {"type", "function"}, {"function", {{"name", "now"}, {"arguments", ""}}}});
  w = read("openai", body.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output.empty());
  REQUIRE(w.reply.facts.tool_calls.size() == 3);
  CHECK_FALSE(w.reply.facts.tool_calls[0].arguments_parsed);
  CHECK(w.reply.facts.tool_calls[0].arguments == "{\"city\": \"Edinb");
  CHECK(w.reply.facts.tool_calls[1].arguments_parsed);
  CHECK(w.reply.facts.tool_calls[1].arguments == json({{"ticker", "MSFT"}}));
  CHECK(w.reply.facts.tool_calls[2].arguments == json::object());
}

TEST_CASE("legacy function_call, llama.cpp's \"tool\", Ollama's native object arguments",
          "[providers][replies]") {
  WireOutcome w = read_ok("openai", "openai_function_call.json");
  CHECK(w.reply.facts.finish_reason == FinishReason::tool_calls);
  CHECK(w.reply.facts.vendor_finish_reason == "function_call");
  REQUIRE(w.reply.facts.tool_calls.size() == 1);
  CHECK(w.reply.facts.tool_calls[0].name == "get_current_weather");
  CHECK(w.reply.facts.tool_calls[0].arguments == json({{"location", "Boston, MA"}}));

  w = read_ok("openai", "llamacpp_tool.json");
  CHECK(w.reply.facts.finish_reason == FinishReason::tool_calls);
  CHECK(w.reply.facts.vendor_finish_reason == "tool");
  REQUIRE(w.reply.facts.tool_calls.size() == 1);
  CHECK(w.reply.facts.tool_calls[0].id == "kz3Zc0aWr0");
  CHECK(w.reply.facts.tool_calls[0].arguments == json({{"order_id", "A-17"}}));

  w = read_ok("openai", "ollama_native_tool_call.json");
  CHECK(w.reply.output.empty()); // "thinking" is not the answer
  REQUIRE(w.reply.facts.tool_calls.size() == 1);
  CHECK(w.reply.facts.tool_calls[0].name == "get_weather");
  CHECK(w.reply.facts.tool_calls[0].arguments == json({{"city", "Paris"}, {"units", "c"}}));
  CHECK(w.reply.facts.vendor_finish_reason == "stop");
  CHECK(w.reply.model == "llama3.1:8b");
  CHECK(w.reply.usage.input_tokens == 96);
  CHECK(w.reply.usage.output_tokens == 21);
}

TEST_CASE("openai stop reasons: each mapped, the vendor's kept, unknown ones unknown",
          "[providers][replies]") {
  json body = json::parse(fixture("openai_length.json"));
  const std::vector<std::pair<std::string, FinishReason>> cases = {
      {"stop", FinishReason::stop},
      {"length", FinishReason::length},
      {"tool_calls", FinishReason::tool_calls},
      {"content_filter", FinishReason::content_filter},
      {"function_call", FinishReason::tool_calls},
      {"tool", FinishReason::tool_calls},
      {"eos_token", FinishReason::unknown},
  };
  for (const auto& [vendor, expected] : cases) {
    body["choices"][0]["finish_reason"] = vendor;
    const WireOutcome w = read("openai", body.dump());
    REQUIRE(w.ok);
    CHECK(w.reply.facts.finish_reason == expected);
    CHECK(w.reply.facts.vendor_finish_reason == vendor);
  }
  body["choices"][0]["finish_reason"] = nullptr;
  const WireOutcome w = read("openai", body.dump());
  CHECK(w.reply.facts.finish_reason == FinishReason::unknown);
  CHECK(w.reply.facts.vendor_finish_reason.empty());
}

TEST_CASE("openai refusal is a fact, not the output", "[providers][replies]") {
  // Changed by issue 17: the refusal text used to be put into output.
  const WireOutcome w = read_ok("openai", "openai_refusal.json");
  CHECK(w.reply.output.empty());
  CHECK(w.reply.facts.refusal == "I'm very sorry, but I can't assist with that.");
  CHECK(w.reply.facts.finish_reason == FinishReason::refusal);
  CHECK(w.reply.facts.vendor_finish_reason == "stop");
  const auto why = promptops::reply::unusable_reason(w.reply.output, w.reply.facts, {});
  REQUIRE(why.has_value());
  CHECK_THAT(*why, Catch::Contains("refused"));
}

TEST_CASE("cut replies: a reasoning model's spent budget, and a cut answer",
          "[providers][replies]") {
  WireOutcome w = read_ok("openai", "openai_reasoning_length.json");
  CHECK(w.reply.output.empty());
  CHECK(w.reply.facts.finish_reason == FinishReason::length);
  CHECK(w.reply.usage.input_tokens == 1200);
  CHECK(w.reply.usage.cached_input_tokens == 1024);
  CHECK(w.reply.usage.output_tokens == 512);
  CHECK(w.reply.usage.reasoning_tokens == 512);
  CHECK(w.reply.system_fingerprint.empty());

  w = read_ok("openai", "openai_length.json");
  CHECK(w.reply.output == "{\"");
  CHECK(w.reply.facts.finish_reason == FinishReason::length);
}

TEST_CASE("reasoning fields are not the answer; content parts are concatenated",
          "[providers][replies]") {
  WireOutcome w = read_ok("openai", "ollama_openai_reasoning.json");
  CHECK(w.reply.output == "billing");
  CHECK(w.reply.system_fingerprint == "fp_ollama");
  w = read_ok("openai", "vllm_reasoning_content.json");
  CHECK(w.reply.output == "9.8 is greater.");
  CHECK(w.reply.facts.tool_calls.empty());
  CHECK(w.reply.usage.output_tokens == 402);
  CHECK_FALSE(w.reply.usage.cached_input_tokens.has_value());
  w = read_ok("openai", "mistral_content_chunks.json");
  CHECK(w.reply.output == "billing"); // the thinking chunk left out
  // The Responses API's part type, as some compatible servers send it in chat replies.
  const json parts = {
      {"choices",
       {{{"message",
          {{"role", "assistant"},
           {"content",
            {{{"type", "output_text"}, {"text", "a"}}, {{"type", "output_text"}, {"text", "b"}}}}}},
         {"finish_reason", "stop"}}}}};
  w = read("openai", parts.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output == "ab");
}

TEST_CASE("openai usage: cached and reasoning sub-counts", "[providers][replies]") {
  const WireOutcome w = read_ok("openai", "openai_cached_usage.json");
  CHECK(w.reply.usage.input_tokens == 2006);
  CHECK(w.reply.usage.cached_input_tokens == 1920);
  CHECK(w.reply.usage.output_tokens == 300);
  CHECK(w.reply.usage.reasoning_tokens == 256);
  CHECK_FALSE(w.reply.usage.cache_write_tokens.has_value());
}

TEST_CASE("token counts out of range make a reply's usage unknown, with a note",
          "[providers][replies]") {
  // OpenAI: a negative count.
  WireOutcome w = read("openai", R"({"choices": [{"message": {"content": "ok"}}],
      "usage": {"prompt_tokens": -1000000000, "completion_tokens": 5}})");
  REQUIRE(w.ok);
  CHECK(w.reply.usage.invalid == "prompt_tokens -1000000000 is negative");
  CHECK_FALSE(w.reply.usage.input_tokens.has_value());
  CHECK_FALSE(w.reply.usage.output_tokens.has_value());
  REQUIRE(w.reply.notes.size() == 1);
  CHECK_THAT(w.reply.notes[0], Catch::StartsWith("the reply's token counts were not taken: "
                                                 "prompt_tokens -1000000000 is negative"));
  // Ollama's native counts, past 2^63 (read as signed: negative).
  w = read("openai", R"({"message": {"content": "ok"}, "done_reason": "stop",
      "prompt_eval_count": 18446744073709551615, "eval_count": 1})");
  REQUIRE(w.ok);
  CHECK(w.reply.usage.invalid == "prompt_eval_count 18446744073709551615 is over 10^12");
  // Anthropic: each part checked before the sum, which would otherwise overflow.
  w = read("anthropic", R"({"content": [{"type": "text", "text": "ok"}], "usage": {
      "input_tokens": 9223372036854775807, "cache_read_input_tokens": 9223372036854775807,
      "output_tokens": 1}})");
  REQUIRE(w.ok);
  CHECK(w.reply.usage.invalid == "input_tokens 9223372036854775807 is over 10^12");
  CHECK(w.reply.usage == promptops::reply::Usage{{}, {}, {}, {}, {}, w.reply.usage.invalid});
  // In range: the sum as before, no note.
  w = read("anthropic", R"({"content": [{"type": "text", "text": "ok"}], "usage": {
      "input_tokens": 40, "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 2,
      "output_tokens": 250}})");
  REQUIRE(w.ok);
  CHECK(w.reply.usage.input_tokens == 10042);
  CHECK(w.reply.notes.empty());
}

TEST_CASE("anthropic tool_use alone and after a text preamble", "[providers][replies]") {
  // anthropic-sdk-python tests/lib/tools/test_runners.py, msg_0133AjAuLSKXatUZqNkpALPx
  WireOutcome w = read_ok("anthropic", "anthropic_tool_use.json");
  CHECK(w.reply.output.empty());
  CHECK(w.reply.facts.finish_reason == FinishReason::tool_calls);
  CHECK(w.reply.facts.vendor_finish_reason == "tool_use");
  REQUIRE(w.reply.facts.tool_calls.size() == 1);
  CHECK(w.reply.facts.tool_calls[0].id == "toolu_01DGiQScbZKPwUBYN79rFUb8");
  CHECK(w.reply.facts.tool_calls[0].name == "get_weather");
  CHECK(w.reply.facts.tool_calls[0].arguments ==
        json({{"location", "San Francisco, CA"}, {"units", "f"}}));
  CHECK(w.reply.usage.input_tokens == 656);
  CHECK(w.reply.usage.cached_input_tokens == 0);
  CHECK(w.reply.usage.cache_write_tokens == 0);
  CHECK(w.reply.usage.output_tokens == 74);

  // msg_01FKEKbzbqHmJv5ozwH7tz99
  w = read_ok("anthropic", "anthropic_tool_use_after_text.json");
  CHECK(w.reply.output == "Let me check the weather for San Francisco for you in Celsius.");
  REQUIRE(w.reply.facts.tool_calls.size() == 1);
  CHECK(w.reply.facts.tool_calls[0].arguments["units"] == "c");
}

TEST_CASE("anthropic stop reasons", "[providers][replies]") {
  json body = json::parse(fixture("anthropic_tool_use_after_text.json"));
  const std::vector<std::pair<std::string, FinishReason>> cases = {
      {"end_turn", FinishReason::stop},     {"stop_sequence", FinishReason::stop},
      {"max_tokens", FinishReason::length}, {"model_context_window_exceeded", FinishReason::length},
      {"pause_turn", FinishReason::length}, {"tool_use", FinishReason::tool_calls},
      {"refusal", FinishReason::refusal},   {"something_new", FinishReason::unknown},
  };
  for (const auto& [vendor, expected] : cases) {
    body["stop_reason"] = vendor;
    const WireOutcome w = read("anthropic", body.dump());
    REQUIRE(w.ok);
    CHECK(w.reply.facts.finish_reason == expected);
    CHECK(w.reply.facts.vendor_finish_reason == vendor);
  }
  const WireOutcome refused = read_ok("anthropic", "anthropic_refusal.json");
  CHECK(refused.reply.facts.finish_reason == FinishReason::refusal);
  CHECK(refused.reply.output.empty());
}

TEST_CASE("anthropic thinking blocks are not output; empty content is \"\"",
          "[providers][replies]") {
  WireOutcome w = read_ok("anthropic", "anthropic_thinking.json");
  CHECK(w.reply.output == "billing");
  CHECK(w.reply.facts.finish_reason == FinishReason::stop);
  CHECK(w.reply.usage.output_tokens == 503);
  CHECK(w.reply.usage.reasoning_tokens == 480);
  w = read_ok("anthropic", "anthropic_empty_content.json");
  CHECK(w.reply.output.empty());
  CHECK(w.reply.usage.output_tokens == 3);
  const auto why = promptops::reply::unusable_reason(w.reply.output, w.reply.facts, {});
  REQUIRE(why.has_value());
  CHECK_THAT(*why, Catch::Contains("empty") && Catch::Contains("end_turn"));
}

TEST_CASE("anthropic cache reads cost what the published prices say", "[providers][replies]") {
  // Claude Sonnet 4.5 at anthropic.com/pricing (checked 2026-12): $3 input, $15 output per
  // million tokens; cache hits at 0.1x the input price, five-minute writes at 1.25x.
  const WireOutcome w = read_ok("anthropic", "anthropic_cache_read.json");
  CHECK(w.reply.usage.input_tokens == 10040);
  CHECK(w.reply.usage.cached_input_tokens == 10000);
  CHECK(w.reply.usage.cache_write_tokens == 0);
  ProviderSettings p = provider("anthropic");
  p.pricing = promptops::reply::pricing_from_json(
      json{{"input_per_mtok", 3.0}, {"output_per_mtok", 15.0}}, "anthropic");
  const auto cost = p.cost(w.reply.usage);
  REQUIRE(cost.has_value());
  const double published = (40 * 3.0 + 10000 * 0.30 + 250 * 15.0) / 1e6; // $0.00687
  CHECK(*cost == Approx(published));
  // Billing the cache reads at the input price, as before, cost 4.9 times too much here (the
  // issue's reply, with a longer cached prompt, 5.4 times).
  const double all_at_input = (10040 * 3.0 + 250 * 15.0) / 1e6;
  CHECK(all_at_input / *cost == Approx(4.93).epsilon(0.01));
}

TEST_CASE("HTTP 200 with an error body", "[providers][replies]") {
  // openrouter.ai/docs/api/reference/errors-and-debugging
  WireOutcome w = read("openai", fixture("openrouter_200_error.json"));
  CHECK_FALSE(w.ok);
  CHECK(w.retryable); // 502: the upstream model is down
  CHECK(w.error == "HTTP 200 with an error: \"Provider returned error\" (code 502)");
  w = read("openai", fixture("openrouter_200_error_400.json"));
  CHECK_FALSE(w.ok);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::StartsWith("HTTP 200 with an error: \"This endpoint"));
  // docs.anthropic.com/en/api/errors: overloaded_error
  w = read("anthropic", fixture("anthropic_overloaded.json"));
  CHECK_FALSE(w.ok);
  CHECK(w.retryable);
  CHECK(w.error == "HTTP 200 with an error: \"overloaded_error: Overloaded\"");
  // A message with control characters is escaped, and a long one cut.
  w = read(
      "openai",
      json{{"error", {{"code", 429}, {"message", "slow\n\x1b[31mdown" + std::string(500, 'x')}}}}
          .dump());
  CHECK(w.retryable);
  CHECK(w.error.find('\n') == std::string::npos);
  CHECK(w.error.find('\x1b') == std::string::npos);
  CHECK(w.error.size() < 400);
}

TEST_CASE("quota and billing errors are not retried", "[providers][replies]") {
  WireOutcome w = read("openai", fixture("openai_insufficient_quota.json"), 429);
  CHECK_FALSE(w.ok);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::StartsWith("HTTP 429: a quota or billing limit, which retrying "
                                        "cannot fix: insufficient_quota: You exceeded"));
  // Even when the server says to retry.
  w = read_response(provider("openai"),
                    HttpResponse{429, fixture("openai_insufficient_quota.json"), {}, "true"});
  CHECK_FALSE(w.retryable);
  w = read("anthropic", fixture("anthropic_spend_limit.json"), 429);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::Contains("quota or billing"));
  w = read("anthropic", fixture("anthropic_billing_error.json"), 400);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::Contains("billing_error: Your credit balance is too low"));
  // A plain rate limit still is.
  w = read("openai",
           R"({"error": {"message": "Rate limit reached", "type": "requests",)"
           R"( "code": "rate_limit_exceeded"}})",
           429);
  CHECK(w.retryable);
  // In a 200 body as well.
  json quota = json::parse(fixture("openai_insufficient_quota.json"));
  w = read("openai", quota.dump(), 200);
  CHECK_FALSE(w.ok);
  CHECK_FALSE(w.retryable);
}

TEST_CASE("bodies that can never parse are not retried, and say what they are",
          "[providers][replies]") {
  WireOutcome w = read("openai", fixture("proxy_page.html"), 200, "text/html; charset=utf-8");
  CHECK_FALSE(w.ok);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::StartsWith("HTTP 200 with a body that is not JSON (Content-Type "
                                        "\"text/html; charset=utf-8\", "));
  CHECK_THAT(w.error, Catch::Contains("\"<!DOCTYPE html>\\n<html>"));
  CHECK(w.error.find('\x1b') == std::string::npos);
  CHECK(w.error.size() < 250);

  w = read("openai", fixture("openai_stream.txt"), 200, "text/event-stream");
  CHECK_FALSE(w.ok);
  CHECK_FALSE(w.retryable);
  CHECK_THAT(w.error, Catch::Contains("event stream") && Catch::Contains("stream: true"));
  // Without a Content-Type the body itself tells.
  CHECK_FALSE(read("openai", fixture("openai_stream.txt"), 200, "").retryable);

  // JSON cut short stays retryable.
  const std::string whole = fixture("openai_tool_calls.json");
  w = read("openai", whole.substr(0, whole.size() / 2));
  CHECK_FALSE(w.ok);
  CHECK(w.retryable);
  CHECK_THAT(w.error, Catch::Contains("cut short"));
  CHECK(read("openai", "").retryable);
}

TEST_CASE("invalid UTF-8 and lone surrogates are replaced, with a note", "[providers][replies]") {
  const WireOutcome w = read_ok("openai", "openai_bad_utf8.json");
  CHECK(w.reply.output == "caf\xEF\xBF\xBD ok \xEF\xBF\xBD end \xF0\x9F\x98\x80 \\ud800");
  REQUIRE(w.reply.notes.size() == 1);
  CHECK(w.reply.notes[0] == "the reply had invalid UTF-8; replaced by U+FFFD");
  CHECK(w.reply.usage.output_tokens == 4);
  // Overlong forms, encoded surrogates and code points past U+10FFFF are invalid too.
  for (const std::string bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    const WireOutcome v = read("anthropic", R"({"content": [{"type": "text", "text": "a)" + bad +
                                                R"(b"}], "stop_reason": "end_turn"})");
    REQUIRE(v.ok);
    CHECK(v.reply.output.rfind("a\xEF\xBF\xBD", 0) == 0);
    CHECK(v.reply.output.back() == 'b');
    CHECK(v.reply.notes.size() == 1);
  }
}

TEST_CASE("keys are redacted in every form, in errors and in replies",
          "[providers][replies][secrets]") {
  const std::string key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lWXYZ";
  ScopedEnv env("PROMPTOPS_TEST_REPLIES_KEY", key);
  // OpenAI's 401 quotes the key masked.
  WireOutcome w = read("openai", fixture("openai_401_masked_key.json"), 401);
  CHECK_FALSE(w.ok);
  CHECK(w.error.find("WXYZ") == std::string::npos);
  CHECK(w.error.find("****") == std::string::npos);
  CHECK_THAT(w.error, Catch::Contains("Incorrect API key provided: [redacted]. You can find"));

  std::string upper = key;
  std::string lower = key;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // base64 of "user:<key>" and of "<key>:", as Basic auth would carry it.
  const auto b64 = [](const std::string& in) {
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
      unsigned v = 0;
      const std::size_t n = std::min<std::size_t>(3, in.size() - i);
      for (std::size_t k = 0; k < 3; ++k) {
        v = (v << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0U);
      }
      for (std::size_t k = 0; k < 4; ++k) {
        out += k <= n ? a[(v >> (18 - 6 * k)) & 63] : '=';
      }
    }
    return out;
  };
  const std::vector<std::string> leaks = {
      key, upper, lower, b64("u:" + key), b64("user:" + key), b64(key + ":")};
  for (const std::string& leak : leaks) {
    const std::string text = redact("before " + leak + " after", key);
    INFO(leak);
    CHECK(text.find(leak) == std::string::npos);
    CHECK(text.find("[redacted]") != std::string::npos);
    // No run of 12 characters of the leak is left.
    for (std::size_t i = 0; i + 12 <= leak.size(); ++i) {
      CHECK(text.find(leak.substr(i, 12)) == std::string::npos);
    }
  }

  // A model that repeats the key: output, refusal and tool call arguments are redacted.
  json body = json::parse(fixture("openai_tool_calls.json"));
  json& message = body["choices"][0]["message"];
  message["content"] = "your key is " + key;
  message["refusal"] = "no: " + upper;
  message["tool_calls"][0]["function"]["arguments"] = json{{"k", {{"deep", key}}}}.dump();
  message["tool_calls"][1]["function"]["arguments"] = "not json " + key;
  w = read("openai", body.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output == "your key is [redacted]");
  CHECK(w.reply.facts.refusal == "no: [redacted]");
  CHECK(w.reply.facts.tool_calls[0].arguments == json({{"k", {{"deep", "[redacted]"}}}}));
  CHECK(w.reply.facts.tool_calls[1].arguments == "not json [redacted]");
  // A short key redacts only itself; a tiny one nothing.
  CHECK(redact("a abcd b", "abcd") == "a [redacted] b");
  CHECK(redact("a abc b", "abc") == "a abc b");
}

TEST_CASE("a missing key is an input error only where a key is needed", "[providers][replies]") {
  ProviderSettings p = provider("openai");
  ::unsetenv("PROMPTOPS_TEST_REPLIES_KEY");
  CHECK_FALSE(p.needs_api_key()); // a local server, api_key_env not given
  CHECK_NOTHROW(require_api_key(p));
  p.api_key_env_given = true;
  CHECK(p.needs_api_key());
  CHECK_THROWS_AS(require_api_key(p), promptops::InputError);
  CHECK_THROWS_WITH(require_api_key(p),
                    Catch::Contains("\"openai\"") && Catch::Contains("PROMPTOPS_TEST_REPLIES_KEY"));
  {
    ScopedEnv env("PROMPTOPS_TEST_REPLIES_KEY", "");
    CHECK_THROWS_AS(require_api_key(p), promptops::InputError); // empty is unset
  }
  {
    ScopedEnv env("PROMPTOPS_TEST_REPLIES_KEY", "sk-set");
    CHECK_NOTHROW(require_api_key(p));
  }
  p.api_key_env_given = false;
  for (const std::string url : {"https://api.openai.com/v1", "https://api.anthropic.com/v1/",
                                "https://api.openai.com:443/v1"}) {
    p.base_url = url;
    CHECK(p.needs_api_key());
  }
  p.base_url = "https://api.openai.com.example.net/v1";
  CHECK_FALSE(p.needs_api_key());
  p.type = "exec";
  p.api_key_env_given = true;
  CHECK_FALSE(p.needs_api_key());
}

TEST_CASE("tools are sent in each vendor's shape", "[providers][replies]") {
  Request r;
  r.model = "m";
  r.messages = {{"user", "weather?"}};
  r.params = {{"tool_choice", "auto"}};
  const json schema = {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}};
  r.tools = std::make_shared<const json>(json::array(
      {{{"name", "get_weather"}, {"description", "Weather by city"}, {"parameters", schema}},
       {{"name", "now"}}}));
  json body = json::parse(build_call(provider("openai"), r).body);
  REQUIRE(body["tools"].size() == 2);
  CHECK(body["tools"][0] == json({{"type", "function"},
                                  {"function",
                                   {{"name", "get_weather"},
                                    {"description", "Weather by city"},
                                    {"parameters", schema}}}}));
  CHECK(body["tools"][1]["function"]["parameters"] == json({{"type", "object"}}));
  CHECK(body["tool_choice"] == "auto");

  r.params = {{"tool_choice", {{"type", "auto"}}}};
  body = json::parse(build_call(provider("anthropic"), r).body);
  REQUIRE(body["tools"].size() == 2);
  CHECK(body["tools"][0] == json({{"name", "get_weather"},
                                  {"description", "Weather by city"},
                                  {"input_schema", schema}}));
  CHECK(body["tools"][1] == json({{"name", "now"}, {"input_schema", {{"type", "object"}}}}));
  CHECK(body["tool_choice"] == json({{"type", "auto"}}));

  r.tools.reset();
  CHECK_FALSE(json::parse(build_call(provider("openai"), r).body).contains("tools"));
}

namespace {

// Runs `jobs` on a CallEngine; the replies by job.
std::vector<Reply> run_engine(std::vector<Job> jobs, const ResponseCache* cache = nullptr) {
  EngineOptions options;
  options.cache = cache;
  std::vector<Reply> replies(jobs.size());
  options.on_done = [&](std::size_t i, const Reply& r) { replies[i] = r; };
  CallEngine engine(options);
  for (Job& job : jobs) {
    engine.add(std::move(job));
  }
  engine.run();
  return replies;
}

} // namespace

TEST_CASE("exec replies may carry finish_reason, tool_calls and refusal", "[providers][replies]") {
  ProviderRuntime exec;
  exec.settings = provider("exec");
  exec.settings.command = {
      "/bin/sh", "-c",
      R"(cat >/dev/null; printf '%s' '{"output": "", "finish_reason": "tool_calls",)"
      R"( "refusal": "", "tool_calls": [{"id": "t1", "name": "f", "arguments": "{\"a\": 1}"},)"
      R"( 7, {"id": "t2", "name": "g", "arguments": {"b": 2}}]}')"};
  Job job;
  job.provider = &exec;
  job.request.case_id = "c1";
  job.request.messages = {{"user", "hi"}};
  const std::vector<Reply> replies = run_engine({job});
  REQUIRE(replies[0].ok);
  CHECK(replies[0].facts.finish_reason == FinishReason::tool_calls);
  CHECK(replies[0].facts.vendor_finish_reason == "tool_calls");
  REQUIRE(replies[0].facts.tool_calls.size() == 2);
  CHECK(replies[0].facts.tool_calls[0].arguments == json({{"a", 1}})); // JSON text parsed
  CHECK(replies[0].facts.tool_calls[1].arguments == json({{"b", 2}}));
}

TEST_CASE("the engine wants the key only for a request it sends", "[providers][replies]") {
  ::unsetenv("PROMPTOPS_TEST_REPLIES_KEY");
  ProviderRuntime p;
  p.settings = provider("openai");
  p.settings.api_key_env_given = true;
  p.settings.base_url = "http://127.0.0.1:9/v1"; // never reached
  Job job;
  job.provider = &p;
  job.request.case_id = "c1";
  job.request.model = "m";
  job.request.messages = {{"user", "hi"}};
  job.cache_key = cache_key(p.settings, job.request);
  // A cache miss: an input error before anything is sent.
  CHECK_THROWS_WITH(run_engine({job}), Catch::Contains("PROMPTOPS_TEST_REPLIES_KEY"));
  // A cached reply needs no key.
  const promptops::test::TempDir dir;
  const ResponseCache cache(dir.path() / "cache");
  cache.put(job.cache_key, json{{"output", "cached answer"},
                                {"latency_ms", 12},
                                {"finish_reason", "stop"},
                                {"notes", {"the reply had invalid UTF-8; replaced by U+FFFD"}}});
  const std::vector<Reply> replies = run_engine({job}, &cache);
  REQUIRE(replies[0].ok);
  CHECK(replies[0].cached);
  CHECK(replies[0].output == "cached answer");
  CHECK(replies[0].facts.finish_reason == FinishReason::stop);
  CHECK(replies[0].notes ==
        std::vector<std::string>{"the reply had invalid UTF-8; replaced by U+FFFD"});
}

TEST_CASE("settings_from_config: api_key_env given or not", "[providers][replies]") {
  const promptops::registry::Config whole = config_file();
  promptops::registry::ProviderConfig config = openai_config();
  config.params = {{"temperature", 0}};
  ProviderSettings s = settings_from_config(config, whole);
  CHECK_FALSE(s.api_key_env_given);
  CHECK(s.api_key_env == "OPENAI_API_KEY");
  CHECK(s.needs_api_key()); // the vendor's own base_url
  config.settings = {{"api_key_env", "MY_KEY"}, {"base_url", "http://127.0.0.1:8080/v1"}};
  s = settings_from_config(config, whole);
  CHECK(s.api_key_env_given);
  CHECK(s.needs_api_key());
  config.settings = {{"base_url", "http://127.0.0.1:8080/v1"}};
  CHECK_FALSE(settings_from_config(config, whole).needs_api_key());
}

TEST_CASE("settings_from_config: max_reply_bytes, and a base_url's credentials never printed",
          "[providers][secrets]") {
  const promptops::registry::Config whole = config_file();
  promptops::registry::ProviderConfig config = openai_config();
  config.settings = {{"base_url", "http://127.0.0.1:9/v1"}};
  ProviderSettings s = settings_from_config(config, whole);
  CHECK(s.max_reply_bytes == 64 << 20);
  CHECK(s.reply_too_large() == "the reply exceeds max_reply_bytes (64 MiB)");
  config.settings["max_reply_bytes"] = 1536;
  s = settings_from_config(config, whole);
  CHECK(s.max_reply_bytes == 1536);
  CHECK(s.reply_too_large() == "the reply exceeds max_reply_bytes (1536 bytes)");
  for (const json& bad : {json(1023), json(std::int64_t{1} << 31), json(2048.5), json("1MiB")}) {
    config.settings["max_reply_bytes"] = bad;
    CHECK_THROWS_WITH(settings_from_config(config, whole),
                      Catch::Contains("max_reply_bytes must be a whole number of bytes"));
  }
  config.settings = {{"base_url", "ftp://alice:sk-secret-1234@host/v1"}};
  CHECK_THROWS_WITH(settings_from_config(config, whole),
                    Catch::Contains("base_url \"ftp://***@host/v1\" must start with http://") &&
                        !Catch::Contains("sk-secret-1234"));
  config.settings = {{"base_url", "https://alice:sk-secret-1234@host/${"}};
  CHECK_THROWS_WITH(settings_from_config(config, whole),
                    Catch::Contains("https://***@host/${") && !Catch::Contains("sk-secret-1234"));
}
