// The wire formats and request identity, without a socket: what is sent, what is read back.
#include "providers/provider.hpp"
#include "providers/wire.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>

using namespace promptops::providers;
using nlohmann::json;

namespace {

ProviderSettings openai() {
  ProviderSettings p;
  p.name = "default";
  p.type = "openai";
  p.base_url = "http://127.0.0.1:9/v1/";
  p.api_key_env = "PROMPTOPS_TEST_WIRE_KEY";
  p.model = "gpt-test";
  return p;
}

Request request() {
  Request r;
  r.case_id = "c1";
  r.model = "gpt-test";
  r.messages = {{"system", "You classify."}, {"user", "Ticket: late parcel"}};
  r.params = {{"temperature", 0}, {"max_tokens", 50}};
  return r;
}

bool has_header(const HttpCall& call, const std::string& header) {
  for (const auto& h : call.headers) {
    if (h == header) {
      return true;
    }
  }
  return false;
}

// Sets an environment variable for one test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    ::setenv(name.c_str(), value, 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

} // namespace

TEST_CASE("openai request: URL, auth header, messages, params, structured output", "[providers]") {
  ScopedEnv key("PROMPTOPS_TEST_WIRE_KEY", "sk-wire-secret-1234");
  Request r = request();
  r.output_schema = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"type", "object"}, {"required", {"category"}}});
  r.output_schema_name = "support/classify";
  const HttpCall call = build_call(openai(), r);
  CHECK(call.url == "http://127.0.0.1:9/v1/chat/completions");
  CHECK(has_header(call, "Authorization: Bearer sk-wire-secret-1234"));
  const json body = json::parse(call.body);
  CHECK(body["model"] == "gpt-test");
  CHECK(body["messages"].size() == 2);
  CHECK(body["messages"][1] == json({{"role", "user"}, {"content", "Ticket: late parcel"}}));
  CHECK(body["temperature"] == 0);
  CHECK(body["max_tokens"] == 50);
  CHECK(body["response_format"]["type"] == "json_schema");
  CHECK(body["response_format"]["json_schema"]["name"] == "support_classify");
  CHECK(body["response_format"]["json_schema"]["schema"] == *r.output_schema);
}

TEST_CASE("openai request without a key or schema sends neither", "[providers]") {
  ::unsetenv("PROMPTOPS_TEST_WIRE_KEY");
  const HttpCall call = build_call(openai(), request());
  for (const auto& h : call.headers) {
    CHECK(h.rfind("Authorization", 0) != 0);
  }
  CHECK_FALSE(json::parse(call.body).contains("response_format"));
}

TEST_CASE("anthropic request: system on top, x-api-key, version, max_tokens", "[providers]") {
  ScopedEnv key("PROMPTOPS_TEST_WIRE_KEY", "ant-secret-5678");
  ProviderSettings p = openai();
  p.type = "anthropic";
  p.base_url = "http://127.0.0.1:9/v1";
  Request r = request();
  r.params = json::object();
  const HttpCall call = build_call(p, r);
  CHECK(call.url == "http://127.0.0.1:9/v1/messages");
  CHECK(has_header(call, "x-api-key: ant-secret-5678"));
  CHECK(has_header(call, "anthropic-version: 2023-06-01"));
  const json body = json::parse(call.body);
  CHECK(body["system"] == "You classify.");
  REQUIRE(body["messages"].size() == 1);
  CHECK(body["messages"][0]["role"] == "user");
  CHECK(body["max_tokens"] == 1024);
}

TEST_CASE("read_response: both reply shapes", "[providers]") {
  const json oai = {{"model", "gpt-test-2024"},
                    {"system_fingerprint", "fp_1"},
                    {"choices", {{{"message", {{"role", "assistant"}, {"content", "billing"}}}}}},
                    {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 3}}}};
  WireOutcome w = read_response(openai(), 200, oai.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output == "billing");
  CHECK(w.reply.model == "gpt-test-2024");
  CHECK(w.reply.system_fingerprint == "fp_1");
  CHECK(w.reply.usage.input_tokens == 12);
  CHECK(w.reply.usage.output_tokens == 3);

  ProviderSettings ant = openai();
  ant.type = "anthropic";
  const json msg = {
      {"model", "claude-test"},
      {"content", {{{"type", "text"}, {"text", "ship"}}, {{"type", "text"}, {"text", "ping"}}}},
      {"usage",
       {{"input_tokens", 10},
        {"cache_read_input_tokens", 5},
        {"cache_creation_input_tokens", 1},
        {"output_tokens", 2}}}};
  w = read_response(ant, 200, msg.dump());
  REQUIRE(w.ok);
  CHECK(w.reply.output == "shipping");
  CHECK(w.reply.usage.input_tokens == 16);
  CHECK(w.reply.usage.output_tokens == 2);
}

TEST_CASE("read_response: which failures are retried", "[providers]") {
  const ProviderSettings p = openai();
  for (long status : {408L, 409L, 429L, 500L, 502L, 503L, 529L}) {
    const WireOutcome w = read_response(p, status, R"({"error":{"message":"busy"}})");
    CHECK_FALSE(w.ok);
    CHECK(w.retryable);
    CHECK(w.error == "HTTP " + std::to_string(status) + ": busy");
  }
  for (long status : {400L, 401L, 403L, 404L}) {
    CHECK_FALSE(read_response(p, status, "{}").retryable);
  }
  // A 200 that is not the expected JSON was cut short or garbled on the way: try again.
  CHECK(read_response(p, 200, R"({"choices": [)").retryable);
  CHECK(read_response(p, 200, R"({"id": "x"})").retryable);
  // The server's own verdict wins.
  CHECK_FALSE(read_response(p, 503, "{}", "false").retryable);
  CHECK(read_response(p, 400, "{}", "true").retryable);
}

TEST_CASE("an error that quotes the API key does not repeat it", "[providers][secrets]") {
  ScopedEnv key("PROMPTOPS_TEST_WIRE_KEY", "sk-leaky-0123456789");
  const WireOutcome w = read_response(
      openai(), 401, R"({"error":{"message":"Incorrect API key provided: sk-leaky-0123456789"}})");
  CHECK(w.error.find("sk-leaky-0123456789") == std::string::npos);
  CHECK(w.error.find("[redacted]") != std::string::npos);
}

TEST_CASE("cache_key: the same request whatever the params' order, any change a new key",
          "[providers]") {
  const ProviderSettings p = openai();
  Request a = request();
  Request b = request();
  b.params = json::parse(R"({"max_tokens": 50, "temperature": 0})");
  CHECK(cache_key(p, a) == cache_key(p, b));
  CHECK(cache_key(p, a).size() == 64);
  b.model = "gpt-other";
  CHECK(cache_key(p, a) != cache_key(p, b));
  b = request();
  b.messages[1].content += " ";
  CHECK(cache_key(p, a) != cache_key(p, b));
  ProviderSettings q = p;
  q.base_url = "http://127.0.0.1:10/v1";
  CHECK(cache_key(p, a) != cache_key(q, a));
  // The key's value is not part of it: a rotated key reuses the cache.
  ScopedEnv key("PROMPTOPS_TEST_WIRE_KEY", "sk-one");
  const std::string with_key = cache_key(p, a);
  ::setenv("PROMPTOPS_TEST_WIRE_KEY", "sk-two", 1);
  CHECK(cache_key(p, a) == with_key);
}

TEST_CASE("cache_key: the SHA-256 of the request's canonical JSON, as nlohmann writes it",
          "[providers]") {
  // The key is written out by hand for speed; it must stay the hash of this document, or
  // every cached reply would be missed after an upgrade.
  const auto reference = [](const ProviderSettings& p, const Request& r) {
    json messages = json::array();
    for (const auto& m : r.messages) {
      messages.push_back({m.role, m.content});
    }
    json key = {{"v", 1},
                {"type", p.type},
                {"endpoint", p.base_url},
                {"command", p.command},
                {"model", r.model},
                {"params", r.params},
                {"messages", std::move(messages)},
                {"output_schema", r.output_schema ? *r.output_schema : json(nullptr)}};
    if (r.sample > 0) {
      key["sample"] = r.sample;
    }
    return promptops::util::sha256_hex(key.dump(-1, ' ', false, json::error_handler_t::replace));
  };
  ProviderSettings p = openai();
  Request r = request();
  CHECK(cache_key(p, r) == reference(p, r));
  r.output_schema = std::make_shared<const json>(json::parse(
      R"({"type": "object", "required": ["a"], "properties": {"a": {"enum": ["é", 1.5]}}})"));
  CHECK(cache_key(p, r) == reference(p, r));
  // Another schema object with other contents: not mistaken for the last one written.
  Request other = r;
  other.output_schema = std::make_shared<const json>(json::parse(R"({"type": "string"})"));
  CHECK(cache_key(p, other) == reference(p, other));
  CHECK(cache_key(p, other) != cache_key(p, r));
  r.sample = 2;
  r.messages[0].content =
      "quote \" backslash \\ newline \n tab \t nul " + std::string(1, '\0') + " bad \xff utf-8 ✓";
  r.params = json::parse(R"({"temperature": 0.7, "stop": ["\n"], "max_tokens": 100})");
  CHECK(cache_key(p, r) == reference(p, r));
  p.type = "exec";
  p.command = {"/bin/sh", "-c", "echo hi"};
  CHECK(cache_key(p, r) == reference(p, r));
}

TEST_CASE("expand_environment: ${VAR}, ${VAR:-default}, and an unset variable", "[providers]") {
  ScopedEnv base("PROMPTOPS_TEST_BASE", "http://127.0.0.1:1234/v1");
  CHECK(expand_environment("${PROMPTOPS_TEST_BASE}", "x") == "http://127.0.0.1:1234/v1");
  CHECK(expand_environment("${PROMPTOPS_TEST_UNSET_VAR:-https://api.example/v1}", "x") ==
        "https://api.example/v1");
  CHECK(expand_environment("a${PROMPTOPS_TEST_BASE}b", "x") == "ahttp://127.0.0.1:1234/v1b");
  CHECK_THROWS_WITH(expand_environment("${PROMPTOPS_TEST_UNSET_VAR}", "promptops.yaml:7:15"),
                    Catch::Contains("promptops.yaml:7:15") &&
                        Catch::Contains("PROMPTOPS_TEST_UNSET_VAR is not set"));
}

TEST_CASE("cost from pricing per million tokens", "[providers]") {
  ProviderSettings p = openai();
  Usage u;
  u.input_tokens = 1000000;
  u.output_tokens = 500000;
  CHECK_FALSE(p.cost(u).has_value());
  p.pricing.input_per_mtok = 0.15;
  p.pricing.output_per_mtok = 0.60;
  REQUIRE(p.cost(u).has_value());
  CHECK(*p.cost(u) == Approx(0.45));
}

TEST_CASE("mask_url_credentials: userinfo of every URL masked, nothing else changed",
          "[providers][secrets]") {
  CHECK(mask_url_credentials("https://user:tok@host/v1") == "https://***@host/v1");
  CHECK(mask_url_credentials("ftp://alice:sk-1@127.0.0.1") == "ftp://***@127.0.0.1");
  CHECK(mask_url_credentials("http://tok@h:8080/v1?x=a@b") == "http://***@h:8080/v1?x=a@b");
  CHECK(mask_url_credentials("base_url \"http://a:b@x/v1\" and https://c:d@y/") ==
        "base_url \"http://***@x/v1\" and https://***@y/");
  // No userinfo: unchanged, '@' in a path or query included.
  for (const std::string same : {"https://host/v1", "https://host/v1/@me", "https://host?q=a@b",
                                 "http://", "a@b", "", "mailto:x@y", "http://host @x"}) {
    CHECK(mask_url_credentials(same) == same);
  }
}
