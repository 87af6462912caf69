#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <optional>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::fake::parse_rules;
using promptops::fake::RequestRecord;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

extern char** environ;

namespace {

const std::string k_openai = "/v1/chat/completions";
const std::string k_anthropic = "/v1/messages";

json openai_request(const std::string& user, json extra = json::object()) {
  json request = {
      {"model", "gpt-4o-mini"},
      {"messages",
       {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", user}}}}};
  request.update(extra);
  return request;
}

json anthropic_request(const std::string& user) {
  return {{"model", "claude-sonnet-4-5"},
          {"max_tokens", 100},
          {"system", "be brief"},
          {"messages", {{{"role", "user"}, {"content", user}}}}};
}

httplib::Client client_for(const FakeProvider& provider) {
  httplib::Client client("127.0.0.1", provider.port());
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  return client;
}

httplib::Result post(const FakeProvider& provider, const std::string& path,
                     const std::string& body) {
  httplib::Client client = client_for(provider);
  return client.Post(path.c_str(), body, "application/json");
}

httplib::Result post(const FakeProvider& provider, const std::string& path, const json& body) {
  return post(provider, path, body.dump());
}

// The reply text of a successful answer in either wire format.
std::string reply_of(const httplib::Result& result, const std::string& path) {
  REQUIRE(result);
  REQUIRE(result->status == 200);
  const json answer = json::parse(result->body);
  return path == k_openai ? answer["choices"][0]["message"]["content"].get<std::string>()
                          : answer["content"][0]["text"].get<std::string>();
}

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - since).count());
}

} // namespace

TEST_CASE("fake::FakeProvider, an OpenAI chat completion in the exact wire shape",
          "[fake_provider]") {
  FakeProvider provider;
  REQUIRE(provider.base_url() == "http://127.0.0.1:" + std::to_string(provider.port()));
  const auto result = post(provider, k_openai, openai_request("hello there"));
  REQUIRE(result);
  REQUIRE(result->status == 200);
  REQUIRE(result->get_header_value("Content-Type") == "application/json");
  const json answer = json::parse(result->body);
  CHECK(answer["id"].get<std::string>().starts_with("chatcmpl-"));
  CHECK(answer["object"] == "chat.completion");
  CHECK(answer["created"].is_number_integer());
  CHECK(answer["model"] == "gpt-4o-mini-fake");
  CHECK(answer["system_fingerprint"] == "fp_fake");
  REQUIRE(answer["choices"].size() == 1);
  const json& choice = answer["choices"][0];
  CHECK(choice["index"] == 0);
  CHECK(choice["message"] == json{{"role", "assistant"}, {"content", "echo: hello there"}});
  CHECK(choice["finish_reason"] == "stop");
  // "be brief" + "hello there" in, "echo: hello there" out.
  CHECK(answer["usage"] ==
        json{{"prompt_tokens", 4}, {"completion_tokens", 3}, {"total_tokens", 7}});

  SECTION("identical requests get byte-identical answers") {
    const auto again = post(provider, k_openai, openai_request("hello there"));
    REQUIRE(again);
    CHECK(again->body == result->body);
    const auto other = post(provider, k_openai, openai_request("something else"));
    REQUIRE(other);
    CHECK(json::parse(other->body)["id"] != answer["id"]);
  }
}

TEST_CASE("fake::FakeProvider, an Anthropic message in the exact wire shape", "[fake_provider]") {
  FakeProvider provider;
  SECTION("system and content as strings") {
    const auto result = post(provider, k_anthropic, anthropic_request("hello there"));
    REQUIRE(result);
    REQUIRE(result->status == 200);
    const json answer = json::parse(result->body);
    CHECK(answer["id"].get<std::string>().starts_with("msg_"));
    CHECK(answer["type"] == "message");
    CHECK(answer["role"] == "assistant");
    CHECK(answer["model"] == "claude-sonnet-4-5-fake");
    CHECK(answer["content"] == json::array({{{"type", "text"}, {"text", "echo: hello there"}}}));
    CHECK(answer["stop_reason"] == "end_turn");
    CHECK(answer["usage"] == json{{"input_tokens", 4}, {"output_tokens", 3}});
  }
  SECTION("system and content as arrays of text blocks") {
    json request = anthropic_request("");
    request["system"] = {{{"type", "text"}, {"text", "one two"}},
                         {{"type", "text"}, {"text", "three"}}};
    request["messages"] = {
        {{"role", "user"}, {"content", "first question"}},
        {{"role", "assistant"}, {"content", {{{"type", "text"}, {"text", "an answer"}}}}},
        {{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "second"}}, {{"type", "text"}, {"text", "question"}}}}}};
    const auto result = post(provider, k_anthropic, request);
    CHECK(reply_of(result, k_anthropic) == "echo: second\nquestion");
    // 3 system + 2 + 2 + 2 message words in; "echo: second question" out.
    CHECK(json::parse(result->body)["usage"] == json{{"input_tokens", 9}, {"output_tokens", 3}});
  }
}

TEST_CASE("fake::FakeProvider, extra_output_tokens bills hidden tokens with the same text",
          "[fake_provider]") {
  FakeProvider provider({.extra_output_tokens = 4000});
  const auto openai = post(provider, k_openai, openai_request("hello there"));
  REQUIRE(openai);
  CHECK(reply_of(openai, k_openai) == "echo: hello there");
  // As OpenAI's reasoning models answer: counted in completion_tokens and in its details.
  CHECK(json::parse(openai->body)["usage"] ==
        json{{"prompt_tokens", 4},
             {"completion_tokens", 4003},
             {"completion_tokens_details", {{"reasoning_tokens", 4000}}},
             {"total_tokens", 4007}});
  const auto anthropic = post(provider, k_anthropic, anthropic_request("hello there"));
  REQUIRE(anthropic);
  CHECK(reply_of(anthropic, k_anthropic) == "echo: hello there");
  CHECK(json::parse(anthropic->body)["usage"] ==
        json{{"input_tokens", 4}, {"output_tokens", 4003}});
}

TEST_CASE("fake::FakeProvider, reported model and system fingerprint from the options",
          "[fake_provider]") {
  FakeProvider provider(
      FakeProviderOptions{.reported_model = "gpt-4o-2024-08-06", .system_fingerprint = "fp_new"});
  const auto result = post(provider, k_openai, openai_request("hi"));
  REQUIRE(result);
  const json answer = json::parse(result->body);
  CHECK(answer["model"] == "gpt-4o-2024-08-06");
  CHECK(answer["system_fingerprint"] == "fp_new");
}

TEST_CASE("fake::FakeProvider, rules answer by substring of the last user message, first wins",
          "[fake_provider]") {
  FakeProvider provider(FakeProviderOptions{
      .rules = {{"capital of France", "Paris"}, {"France", "a country"}, {"brief", "never"}}});
  CHECK(reply_of(post(provider, k_openai, openai_request("the capital of France?")), k_openai) ==
        "Paris");
  CHECK(reply_of(post(provider, k_anthropic, anthropic_request("where is France")), k_anthropic) ==
        "a country");
  // "brief" is only in the system message.
  CHECK(reply_of(post(provider, k_openai, openai_request("Germany")), k_openai) == "echo: Germany");
  SECTION("a rule wins over a reply directive") {
    CHECK(reply_of(post(provider, k_openai, openai_request("France [[reply: no]]")), k_openai) ==
          "a country");
  }
}

TEST_CASE("fake::FakeProvider, a rule with then answers repeats of a request in turn",
          "[fake_provider]") {
  FakeProvider provider(FakeProviderOptions{.rules = {{"grade", "first", {"second", "third"}}}});
  std::vector<std::string> replies;
  for (int i = 0; i < 4; ++i) {
    replies.push_back(reply_of(post(provider, k_openai, openai_request("grade A")), k_openai));
  }
  CHECK(replies == std::vector<std::string>{"first", "second", "third", "third"});
  // Another request has its own turn; a reset starts every turn again.
  CHECK(reply_of(post(provider, k_openai, openai_request("grade B")), k_openai) == "first");
  provider.reset();
  CHECK(reply_of(post(provider, k_openai, openai_request("grade A")), k_openai) == "first");
}

TEST_CASE("fake::FakeProvider, a reply directive answers its text exactly", "[fake_provider]") {
  FakeProvider provider;
  CHECK(reply_of(post(provider, k_openai, openai_request(R"(Q? [[reply: {"a": 1}]] tail)")),
                 k_openai) == R"({"a": 1})");
  CHECK(reply_of(post(provider, k_anthropic, anthropic_request("[[reply:two  words ]]")),
                 k_anthropic) == "two  words ");
  const auto result = post(provider, k_openai, openai_request("x [[reply: one two three]]"));
  CHECK(json::parse(result->body)["usage"]["completion_tokens"] == 3);
}

TEST_CASE("fake::FakeProvider, response_format json_schema gets a JSON answer", "[fake_provider]") {
  FakeProvider provider;
  const json format = {{"response_format",
                        {{"type", "json_schema"},
                         {"json_schema", {{"name", "answer"}, {"schema", {{"type", "object"}}}}}}}};
  const std::string reply =
      reply_of(post(provider, k_openai, openai_request("say \"hi\"", format)), k_openai);
  CHECK(json::parse(reply) == json{{"echo", "say \"hi\""}});
  SECTION("a reply directive still wins") {
    CHECK(reply_of(post(provider, k_openai, openai_request("[[reply: not json]]", format)),
                   k_openai) == "not json");
  }
  SECTION("a text response_format does not") {
    CHECK(reply_of(post(provider, k_openai,
                        openai_request("plain", {{"response_format", {{"type", "text"}}}})),
                   k_openai) == "echo: plain");
  }
}

TEST_CASE("fake::FakeProvider, 429 twice with Retry-After, then the answer", "[fake_provider]") {
  FakeProvider provider;
  const json request = openai_request("[[fault: 429 x2 retry-after=1]] hi");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    INFO("attempt " << attempt);
    const auto result = post(provider, k_openai, request);
    REQUIRE(result);
    CHECK(result->status == 429);
    CHECK(result->get_header_value("Retry-After") == "1");
    const json error = json::parse(result->body)["error"];
    CHECK(error["type"] == "requests");
    CHECK(error["code"] == "rate_limit_exceeded");
    CHECK(error["message"].is_string());
  }
  CHECK(reply_of(post(provider, k_openai, request), k_openai) ==
        "echo: [[fault: 429 x2 retry-after=1]] hi");

  SECTION("a different body has its own count") {
    const auto other = post(provider, k_openai, openai_request("[[fault: 429 x2 retry-after=1]]"));
    REQUIRE(other);
    CHECK(other->status == 429);
  }
  SECTION("reset forgets the counts") {
    provider.reset();
    const auto again = post(provider, k_openai, request);
    REQUIRE(again);
    CHECK(again->status == 429);
  }
  SECTION("retry-after-ms sends the header OpenAI uses, and x1 is the default") {
    const json ms = openai_request("[[fault: 429 retry-after-ms=250]]");
    const auto first = post(provider, k_openai, ms);
    REQUIRE(first);
    CHECK(first->status == 429);
    CHECK(first->get_header_value("retry-after-ms") == "250");
    CHECK_FALSE(first->has_header("Retry-After"));
    CHECK(post(provider, k_openai, ms)->status == 200);
  }
}

TEST_CASE("fake::FakeProvider, 500, 503 and 529 in each provider's error shape",
          "[fake_provider]") {
  FakeProvider provider;
  SECTION("OpenAI") {
    for (const int status : {500, 503, 529}) {
      const json request = openai_request("[[fault: " + std::to_string(status) + "]]");
      const auto result = post(provider, k_openai, request);
      REQUIRE(result);
      CHECK(result->status == status);
      const json error = json::parse(result->body)["error"];
      CHECK(error["type"] == (status == 529 ? "overloaded_error" : "server_error"));
      CHECK(error["message"].is_string());
      CHECK(post(provider, k_openai, request)->status == 200);
    }
  }
  SECTION("Anthropic") {
    for (const int status : {500, 503, 529}) {
      const json request = anthropic_request("[[fault: " + std::to_string(status) + " x1]]");
      const auto result = post(provider, k_anthropic, request);
      REQUIRE(result);
      CHECK(result->status == status);
      const json body = json::parse(result->body);
      CHECK(body["type"] == "error");
      CHECK(body["error"]["type"] == (status == 529 ? "overloaded_error" : "api_error"));
      CHECK(body["error"]["message"].is_string());
      CHECK(post(provider, k_anthropic, request)->status == 200);
    }
  }
}

TEST_CASE("fake::FakeProvider, x* faults every time and xN exactly N times", "[fake_provider]") {
  FakeProvider provider;
  const json always = openai_request("[[fault: 500 x*]]");
  const json thrice = openai_request("[[fault: 503 x3]]");
  std::vector<int> always_statuses;
  std::vector<int> thrice_statuses;
  for (int i = 0; i < 5; ++i) {
    always_statuses.push_back(post(provider, k_openai, always)->status);
    thrice_statuses.push_back(post(provider, k_openai, thrice)->status);
  }
  CHECK(always_statuses == std::vector<int>{500, 500, 500, 500, 500});
  CHECK(thrice_statuses == std::vector<int>{503, 503, 503, 200, 200});
}

TEST_CASE("fake::FakeProvider, malformed answers 200 with a body that is not JSON",
          "[fake_provider]") {
  FakeProvider provider;
  const auto result = post(provider, k_openai, openai_request("[[fault: malformed]]"));
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->body == R"({"choices": [)");
  CHECK_FALSE(json::accept(result->body));
}

TEST_CASE("fake::FakeProvider, truncated and drop are client errors, then it answers again",
          "[fake_provider]") {
  FakeProvider provider;
  SECTION("truncated: a Content-Length longer than the body") {
    const auto result = post(provider, k_openai, openai_request("[[fault: truncated]]"));
    CHECK_FALSE(result);
    CHECK(result.error() == httplib::Error::Read);
    REQUIRE(provider.requests().size() == 1);
    CHECK(provider.requests()[0].status == 200);
  }
  SECTION("drop: the connection closes with no answer") {
    const auto result = post(provider, k_anthropic, anthropic_request("[[fault: drop]]"));
    CHECK_FALSE(result);
    CHECK(result.error() == httplib::Error::Read);
    REQUIRE(provider.requests().size() == 1);
    CHECK(provider.requests()[0].status == 0);
  }
  CHECK(reply_of(post(provider, k_openai, openai_request("after")), k_openai) == "echo: after");
}

namespace {

// One libcurl handle: its connections are kept alive and reused, as the providers' are.
class CurlClient {
public:
  CurlClient() : m_easy(curl_easy_init()) { REQUIRE(m_easy != nullptr); }
  ~CurlClient() { curl_easy_cleanup(m_easy); }
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // POST `body` to `url`: the curl code, and the status when there was an answer.
  std::pair<CURLcode, long> post(const std::string& url, const std::string& body) {
    m_received.clear();
    curl_easy_setopt(m_easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(m_easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(m_easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(m_easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(m_easy, CURLOPT_WRITEFUNCTION, &CurlClient::collect);
    curl_easy_setopt(m_easy, CURLOPT_WRITEDATA, &m_received);
    const CURLcode code = curl_easy_perform(m_easy);
    long status = 0;
    curl_easy_getinfo(m_easy, CURLINFO_RESPONSE_CODE, &status);
    return {code, status};
  }

private:
  static std::size_t collect(char* data, std::size_t size, std::size_t count, void* into) {
    static_cast<std::string*>(into)->append(data, size * count);
    return size * count;
  }
  CURL* m_easy;
  std::string m_received;
};

} // namespace

TEST_CASE("fake::FakeProvider, libcurl sees each counted drop, on a reused connection too",
          "[fake_provider]") {
  FakeProvider provider;
  CurlClient curl;
  const std::string url = provider.base_url() + k_openai;
  const std::string drop = openai_request("[[fault: drop x1]]").dump();
  REQUIRE(curl.post(url, openai_request("warm up").dump()) == std::pair{CURLE_OK, 200L});
  // On the kept-alive connection: libcurl resends on a fresh one, which is dropped and counted.
  CHECK(curl.post(url, drop).first == CURLE_GOT_NOTHING);
  CHECK(curl.post(url, drop) == std::pair{CURLE_OK, 200L});
  std::vector<int> statuses;
  for (const RequestRecord& record : provider.requests()) {
    statuses.push_back(record.status);
  }
  CHECK(statuses == std::vector<int>{200, 0, 0, 200});

  SECTION("truncated is a partial file to libcurl") {
    CHECK(curl.post(url, openai_request("[[fault: truncated]]").dump()).first ==
          CURLE_PARTIAL_FILE);
  }
}

TEST_CASE("fake::FakeProvider, hang never answers and frees its thread when the client goes",
          "[fake_provider]") {
  // One thread: the second request is answered only once the hung one let go of it.
  FakeProvider provider(FakeProviderOptions{.threads = 1});
  httplib::Client client = client_for(provider);
  client.set_read_timeout(1);
  const auto start = Clock::now();
  const auto hung =
      client.Post(k_openai.c_str(), openai_request("[[fault: hang]]").dump(), "application/json");
  CHECK_FALSE(hung);
  CHECK(hung.error() == httplib::Error::Read);
  CHECK(elapsed_ms(start) >= 900);
  CHECK(reply_of(post(provider, k_openai, openai_request("next")), k_openai) == "echo: next");
  CHECK(provider.requests()[0].status == 0);
}

TEST_CASE("fake::FakeProvider, the destructor returns promptly with a request hung in flight",
          "[fake_provider]") {
  std::optional<FakeProvider> provider(std::in_place);
  const int port = provider->port();
  auto hung = std::async(std::launch::async, [port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(20);
    return client.Post(k_openai.c_str(), openai_request("[[fault: hang x*]]").dump(),
                       "application/json");
  });
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (provider->request_count() == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  REQUIRE(provider->request_count() == 1);
  const auto start = Clock::now();
  provider.reset();
  CHECK(elapsed_ms(start) < 2000);
  const auto result = hung.get();
  CHECK_FALSE(result);
}

TEST_CASE("fake::FakeProvider, the destructor does not wait for idle kept-alive connections",
          "[fake_provider]") {
  std::optional<FakeProvider> provider(std::in_place);
  httplib::Client client("127.0.0.1", provider->port());
  client.set_keep_alive(true);
  const auto result =
      client.Post(k_openai.c_str(), openai_request("hi").dump(), "application/json");
  REQUIRE(result);
  REQUIRE(result->status == 200);
  const auto start = Clock::now();
  provider.reset();
  // httplib alone would wait out its 5 s keep-alive timeout.
  CHECK(elapsed_ms(start) < 1000);
}

TEST_CASE("fake::FakeProvider, 64 concurrent requests with 200 ms latency overlap",
          "[fake_provider]") {
  FakeProvider provider(FakeProviderOptions{.latency_ms = 200});
  constexpr int k_requests = 64;
  std::vector<std::future<int>> answers;
  const auto start = Clock::now();
  for (int i = 0; i < k_requests; ++i) {
    answers.push_back(std::async(std::launch::async, [&provider, i] {
      std::string text = "n"; // not "n" + std::to_string(i): GCC 12 -O3 warns (-Wrestrict)
      text += std::to_string(i);
      const auto result = post(provider, k_openai, openai_request(text));
      return result ? result->status : -1;
    }));
  }
  int ok = 0;
  for (auto& answer : answers) {
    ok += answer.get() == 200 ? 1 : 0;
  }
  const long took = elapsed_ms(start);
  CHECK(ok == k_requests);
  CHECK(took >= 200);
  // One at a time it would take 64 * 200 ms = 12.8 s, on httplib's default 8 threads 1.6 s.
  CHECK(took < 1200);
  CHECK(provider.request_count() == k_requests);
}

TEST_CASE("fake::FakeProvider, latency from a directive and from set_latency_ms",
          "[fake_provider]") {
  FakeProvider provider;
  auto start = Clock::now();
  REQUIRE(post(provider, k_openai, openai_request("fast"))->status == 200);
  // No latency by default (loose: sanitizer builds are slow).
  CHECK(elapsed_ms(start) < 500);
  start = Clock::now();
  REQUIRE(post(provider, k_openai, openai_request("[[latency: 200]] slow"))->status == 200);
  CHECK(elapsed_ms(start) >= 200);
  provider.set_latency_ms(150);
  start = Clock::now();
  REQUIRE(post(provider, k_anthropic, anthropic_request("slow too"))->status == 200);
  CHECK(elapsed_ms(start) >= 150);
}

TEST_CASE("fake::FakeProvider, records every request in arrival order", "[fake_provider]") {
  FakeProvider provider;
  httplib::Client client = client_for(provider);
  const std::string first = openai_request("one").dump();
  const std::string second = anthropic_request("[[fault: 429]]").dump();
  REQUIRE(
      client
          .Post(k_openai.c_str(), {{"Authorization", "Bearer sk-test"}}, first, "application/json")
          ->status == 200);
  REQUIRE(client
              .Post(k_anthropic.c_str(), {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}},
                    second, "application/json")
              ->status == 429);
  REQUIRE(client.Post("/v1/nowhere", "{}", "application/json")->status == 404);

  const std::vector<RequestRecord> records = provider.requests();
  REQUIRE(records.size() == 3);
  REQUIRE(provider.request_count() == 3);
  CHECK(records[0].path == k_openai);
  CHECK(records[0].body == first);
  CHECK(records[0].headers.at("authorization") == "Bearer sk-test");
  CHECK(records[0].headers.at("content-type") == "application/json");
  // httplib's pseudo-headers (REMOTE_ADDR and the like) were not sent.
  CHECK(records[0].headers.count("remote_addr") == 0);
  CHECK(records[0].headers.count("local_port") == 0);
  CHECK(records[0].status == 200);
  CHECK(records[1].path == k_anthropic);
  CHECK(records[1].headers.at("anthropic-version") == "2023-06-01");
  CHECK(records[1].status == 429);
  CHECK(records[2].path == "/v1/nowhere");
  CHECK(records[2].status == 404);
  CHECK(records[0].at_ms >= 0);
  CHECK(records[0].at_ms <= records[1].at_ms);
  CHECK(records[1].at_ms <= records[2].at_ms);

  SECTION("GET /_requests lists them as JSON, unrecorded") {
    const auto listed = client.Get("/_requests");
    REQUIRE(listed);
    REQUIRE(listed->status == 200);
    const json list = json::parse(listed->body);
    REQUIRE(list.size() == 3);
    CHECK(list[1]["path"] == k_anthropic);
    CHECK(list[1]["body"] == second);
    CHECK(list[1]["status"] == 429);
    CHECK(list[0]["headers"]["authorization"] == "Bearer sk-test");
    CHECK(list[0]["at_ms"].is_number());
    CHECK(provider.request_count() == 3);
  }
  SECTION("POST /_reset forgets them") {
    const auto reset = client.Post("/_reset", "", "application/json");
    REQUIRE(reset);
    CHECK(reset->status == 200);
    CHECK(provider.request_count() == 0);
  }
  SECTION("reset() forgets them") {
    provider.reset();
    CHECK(provider.requests().empty());
  }
}

TEST_CASE("fake::FakeProvider, 400 in the provider's shape for requests it cannot read",
          "[fake_provider]") {
  FakeProvider provider;
  SECTION("OpenAI") {
    for (const std::string& body :
         {std::string("not json"), std::string(R"({"messages": []})"),
          std::string(R"({"model": "m"})"), std::string(R"({"model": "m", "messages": {}})"),
          std::string("[1]")}) {
      INFO(body);
      const auto result = post(provider, k_openai, body);
      REQUIRE(result);
      CHECK(result->status == 400);
      const json error = json::parse(result->body)["error"];
      CHECK(error["type"] == "invalid_request_error");
      CHECK(error["message"].is_string());
    }
  }
  SECTION("Anthropic") {
    const auto result = post(provider, k_anthropic, std::string("{\"model\": "));
    REQUIRE(result);
    CHECK(result->status == 400);
    const json body = json::parse(result->body);
    CHECK(body["type"] == "error");
    CHECK(body["error"]["type"] == "invalid_request_error");
  }
  SECTION("a fault directive it does not know") {
    const auto result = post(provider, k_openai, openai_request("[[fault: 418]]"));
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(json::parse(result->body)["error"]["message"].get<std::string>().find("\"418\"") !=
          std::string::npos);
  }
  CHECK(provider.requests().back().status == 400);
}

TEST_CASE("fake::parse_rules, a JSON array of contains and reply", "[fake_provider]") {
  CHECK(parse_rules(R"([{"contains": "a", "reply": "b"}, {"contains": "", "reply": "c"}])") ==
        std::vector<promptops::fake::Rule>{{"a", "b"}, {"", "c"}});
  CHECK(parse_rules(R"([{"contains": "a", "reply": "b", "then": ["c", "d"]}])") ==
        std::vector<promptops::fake::Rule>{{"a", "b", {"c", "d"}}});
  CHECK_THROWS_WITH(parse_rules(R"([{"contains": "a", "reply": "b", "then": "c"}])"),
                    "rules[0]: \"then\" must be an array of strings");
  CHECK(parse_rules("[]").empty());
  CHECK_THROWS_WITH(parse_rules(R"({"contains": "a"})"), Catch::Contains("expected a JSON array"));
  CHECK_THROWS_WITH(parse_rules(R"([{"contains": "a", "reply": "b"}, {"contains": "a"}])"),
                    "rules[1]: \"reply\" is missing or not a string");
  CHECK_THROWS_WITH(parse_rules("[{"), Catch::StartsWith("rules: not JSON"));
}

TEST_CASE("fake::FakeProvider, a port already in use throws", "[fake_provider]") {
  FakeProvider first;
  CHECK_THROWS_AS(FakeProvider(FakeProviderOptions{.port = first.port()}), std::runtime_error);
  CHECK_THROWS_AS(FakeProvider(FakeProviderOptions{.threads = 0}), std::runtime_error);
}

namespace {

// The fake-provider executable, killed and reaped if a test leaves it running.
struct ProviderProcess {
  pid_t pid = -1;
  ~ProviderProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  void start(std::vector<std::string> args, const std::string& out_path) {
    std::vector<std::string> full{FAKE_PROVIDER_BINARY}; // not args.insert(begin): GCC 12 -O3
    full.reserve(args.size() + 1);                       // warns (-Wnull-dereference)
    for (auto& a : args) {
      full.push_back(std::move(a));
    }
    args = std::move(full);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, (out_path + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  // Its exit status (128 + signal if killed), or -1 if it is still running after `timeout`.
  int wait(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return -1;
  }
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text; // not istreambuf_iterator: GCC 12 -O3 warns of a null dereference
  text << in.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("fake-provider, the executable serves until SIGTERM and exits 0", "[fake_provider]") {
  promptops::test::TempDir dir;
  dir.write("rules.json", R"([{"contains": "ping", "reply": "pong"}])");
  const auto port_file = dir.path() / "port";
  ProviderProcess process;
  process.start({"--port-file", port_file.string(), "--rules", (dir.path() / "rules.json").string(),
                 "--reported-model", "fixed", "--extra-output-tokens", "50"},
                (dir.path() / "out").string());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(port_file) && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  REQUIRE(std::filesystem::exists(port_file));
  const int port = std::stoi(slurp(port_file));
  CHECK(slurp(dir.path() / "out") ==
        "listening on http://127.0.0.1:" + std::to_string(port) + "\n");

  httplib::Client client("127.0.0.1", port);
  const auto result =
      client.Post(k_openai.c_str(), openai_request("ping").dump(), "application/json");
  REQUIRE(result);
  REQUIRE(result->status == 200);
  const json answer = json::parse(result->body);
  CHECK(answer["choices"][0]["message"]["content"] == "pong");
  CHECK(answer["model"] == "fixed");
  CHECK(answer["usage"]["completion_tokens"] == 51);
  CHECK(answer["usage"]["completion_tokens_details"]["reasoning_tokens"] == 50);

  kill(process.pid, SIGTERM);
  CHECK(process.wait(std::chrono::seconds(5)) == 0);
}

TEST_CASE("fake-provider, bad arguments exit 2", "[fake_provider]") {
  promptops::test::TempDir dir;
  dir.write("rules.json", R"([{"contains": 1}])");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--port", "70000"}, std::vector<std::string>{"--bogus"},
        std::vector<std::string>{"--threads", "0"},
        std::vector<std::string>{"--extra-output-tokens", "-1"},
        std::vector<std::string>{"--rules", (dir.path() / "missing.json").string()},
        std::vector<std::string>{"--rules", (dir.path() / "rules.json").string()}}) {
    INFO(args.front() << " " << (args.size() > 1 ? args[1] : ""));
    ProviderProcess process;
    process.start(args, (dir.path() / "out").string());
    CHECK(process.wait(std::chrono::seconds(5)) == 2);
    CHECK_FALSE(slurp(dir.path() / "out.err").empty());
  }
}

namespace {

// An answer to `user` on `path`, sent with `headers`.
httplib::Result ask(const FakeProvider& provider, const std::string& path, const std::string& user,
                    const httplib::Headers& headers = {}, json extra = json::object()) {
  json request = path == k_openai ? openai_request(user) : anthropic_request(user);
  request.update(extra);
  httplib::Client client = client_for(provider);
  return client.Post(path.c_str(), headers, request.dump(), "application/json");
}

// The JSON of a 200 answer.
json answer_of(const httplib::Result& result) {
  REQUIRE(result);
  REQUIRE(result->status == 200);
  CHECK(result->get_header_value("Content-Type") == "application/json");
  return json::parse(result->body);
}

const json& message_of(const json& answer) {
  return answer["choices"][0]["message"];
}

} // namespace

TEST_CASE("fake::FakeProvider, [[shape: tool_call]] calls a tool in each vendor's form",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  const std::string user =
      R"(weather? [[shape: tool_call name=get_weather args={"city": "Paris"}]])";
  SECTION("OpenAI: content null, tool_calls with the arguments as JSON text") {
    const json answer = answer_of(ask(provider, k_openai, user));
    const json& choice = answer["choices"][0];
    CHECK(choice["finish_reason"] == "tool_calls");
    CHECK(choice["message"]["content"].is_null());
    CHECK(choice["message"]["role"] == "assistant");
    REQUIRE(choice["message"]["tool_calls"].size() == 1);
    const json& call = choice["message"]["tool_calls"][0];
    CHECK(call["id"].get<std::string>().starts_with("call_"));
    CHECK(call["type"] == "function");
    CHECK(call["function"]["name"] == "get_weather");
    REQUIRE(call["function"]["arguments"].is_string());
    CHECK(json::parse(call["function"]["arguments"].get<std::string>()) == json{{"city", "Paris"}});
    CHECK(answer["usage"]["completion_tokens"].get<int>() > 0);
  }
  SECTION("Anthropic: a tool_use block, stop_reason tool_use") {
    const json answer = answer_of(ask(provider, k_anthropic, user));
    CHECK(answer["stop_reason"] == "tool_use");
    REQUIRE(answer["content"].size() == 1);
    const json& block = answer["content"][0];
    CHECK(block["type"] == "tool_use");
    CHECK(block["id"].get<std::string>().starts_with("toolu_"));
    CHECK(block["name"] == "get_weather");
    CHECK(block["input"] == json{{"city", "Paris"}});
  }
  SECTION("the default tool: the request's first, else lookup, with no arguments") {
    const json openai_tools = {
        {"tools", {{{"type", "function"}, {"function", {{"name", "search_docs"}}}}}}};
    const json call = message_of(answer_of(ask(provider, k_openai, "[[shape: tool_call]]", {},
                                               openai_tools)))["tool_calls"][0]["function"];
    CHECK(call["name"] == "search_docs");
    CHECK(call["arguments"] == "{}");
    const json anthropic_tools = {
        {"tools", {{{"name", "find"}, {"input_schema", json::object()}}}}};
    CHECK(answer_of(ask(provider, k_anthropic, "[[shape: tool_call]]", {},
                        anthropic_tools))["content"][0]["name"] == "find");
    CHECK(answer_of(ask(provider, k_anthropic, "[[shape: tool_call]]"))["content"][0]["name"] ==
          "lookup");
  }
  SECTION("with a text preamble") {
    const json openai = message_of(answer_of(ask(provider, k_openai, "[[shape: tool_call_text]]")));
    CHECK(openai["content"] == "I'll check.");
    CHECK(openai["tool_calls"][0]["function"]["name"] == "lookup");
    const json anthropic = answer_of(ask(provider, k_anthropic, "[[shape: tool_call_text]]"));
    REQUIRE(anthropic["content"].size() == 2);
    CHECK(anthropic["content"][0] == json{{"type", "text"}, {"text", "I'll check."}});
    CHECK(anthropic["content"][1]["type"] == "tool_use");
    CHECK(anthropic["stop_reason"] == "tool_use");
  }
}

TEST_CASE("fake::FakeProvider, shapes of cut, refused, empty and filtered replies",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  SECTION("length: half the words") {
    const std::string user = "[[reply: one two three four five six]] [[shape: length]]";
    const json openai = answer_of(ask(provider, k_openai, user));
    CHECK(openai["choices"][0]["finish_reason"] == "length");
    CHECK(message_of(openai)["content"] == "one two three");
    const json anthropic = answer_of(ask(provider, k_anthropic, user));
    CHECK(anthropic["stop_reason"] == "max_tokens");
    CHECK(anthropic["content"][0]["text"] == "one two three");
  }
  SECTION("refusal") {
    const json openai = answer_of(ask(provider, k_openai, "[[shape: refusal]]"));
    CHECK(openai["choices"][0]["finish_reason"] == "stop");
    CHECK(message_of(openai)["content"].is_null());
    CHECK(message_of(openai)["refusal"] == "I'm sorry, I can't help with that.");
    const json anthropic = answer_of(ask(provider, k_anthropic, "[[shape: refusal]]"));
    CHECK(anthropic["stop_reason"] == "refusal");
    CHECK(anthropic["content"] == json::array());
  }
  SECTION("reasoning_exhausted: the budget spent thinking") {
    const json openai = answer_of(ask(provider, k_openai, "[[shape: reasoning_exhausted]]", {},
                                      {{"max_completion_tokens", 64}}));
    CHECK(openai["choices"][0]["finish_reason"] == "length");
    CHECK(message_of(openai)["content"] == "");
    CHECK(openai["usage"]["completion_tokens"] == 64);
    CHECK(openai["usage"]["completion_tokens_details"]["reasoning_tokens"] == 64);
    const json anthropic = answer_of(ask(provider, k_anthropic, "[[shape: reasoning_exhausted]]"));
    CHECK(anthropic["stop_reason"] == "max_tokens");
    REQUIRE(anthropic["content"].size() == 1);
    CHECK(anthropic["content"][0]["type"] == "thinking");
    CHECK(anthropic["content"][0]["signature"].is_string());
    CHECK(anthropic["usage"]["output_tokens"] == 100); // the request's max_tokens
  }
  SECTION("empty") {
    const json openai = answer_of(ask(provider, k_openai, "[[shape: empty]]"));
    CHECK(openai["choices"][0]["finish_reason"] == "stop");
    CHECK(message_of(openai)["content"] == "");
    const json anthropic = answer_of(ask(provider, k_anthropic, "[[shape: empty]]"));
    CHECK(anthropic["stop_reason"] == "end_turn");
    CHECK(anthropic["content"] == json::array());
  }
  SECTION("content_filter (Anthropic has none: a refusal)") {
    const json openai = answer_of(ask(provider, k_openai, "[[shape: content_filter]]"));
    CHECK(openai["choices"][0]["finish_reason"] == "content_filter");
    CHECK(message_of(openai)["content"].is_null());
    CHECK(answer_of(ask(provider, k_anthropic, "[[shape: content_filter]]"))["stop_reason"] ==
          "refusal");
  }
}

TEST_CASE("fake::FakeProvider, text in parts and usage with a prompt cache",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  SECTION("parts: two pieces that give the reply back joined") {
    const std::string user = "[[reply: the capital is Paris]] [[shape: parts]]";
    const json openai = message_of(answer_of(ask(provider, k_openai, user)))["content"];
    REQUIRE(openai.size() == 2);
    CHECK(openai[0]["type"] == "text");
    CHECK(openai[0]["text"].get<std::string>() + openai[1]["text"].get<std::string>() ==
          "the capital is Paris");
    const json anthropic = answer_of(ask(provider, k_anthropic, user))["content"];
    REQUIRE(anthropic.size() == 2);
    CHECK(anthropic[1]["type"] == "text");
    CHECK(anthropic[0]["text"].get<std::string>() + anthropic[1]["text"].get<std::string>() ==
          "the capital is Paris");
  }
  SECTION("cached") {
    // "be brief" + 10 words (the directives are words too): 12 input words.
    const std::string user = "one two three four five six [[shape: cached]] [[reply: ok]]";
    const json openai = answer_of(ask(provider, k_openai, user));
    CHECK(openai["usage"]["prompt_tokens"] == 12);
    CHECK(openai["usage"]["prompt_tokens_details"]["cached_tokens"] == 9);
    CHECK(message_of(openai)["content"] == "ok");
    const json usage = answer_of(ask(provider, k_anthropic, user))["usage"];
    CHECK(usage["cache_read_input_tokens"] == 6);
    CHECK(usage["cache_creation_input_tokens"] == 3);
    CHECK(usage["input_tokens"] == 3); // the uncached part only
  }
}

TEST_CASE("fake::FakeProvider, shapes that are no reply: errors, a page, a stream",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  SECTION("error_200: OpenRouter's error with status 200") {
    for (const std::string& path : {k_openai, k_anthropic}) {
      const json error = answer_of(ask(provider, path, "[[shape: error_200 code=503]]"))["error"];
      CHECK(error["code"] == 503);
      CHECK(error["message"].is_string());
      CHECK(error["metadata"]["provider_name"].is_string());
    }
    CHECK(answer_of(ask(provider, k_openai, "[[shape: error_200]]"))["error"]["code"] == 502);
  }
  SECTION("quota") {
    const auto openai = ask(provider, k_openai, "[[shape: quota]]");
    REQUIRE(openai);
    CHECK(openai->status == 429);
    const json error = json::parse(openai->body)["error"];
    CHECK(error["type"] == "insufficient_quota");
    CHECK(error["code"] == "insufficient_quota");
    CHECK(error["param"].is_null());
    CHECK(error["message"].get<std::string>().starts_with("You exceeded your current quota"));
    const auto anthropic = ask(provider, k_anthropic, "[[shape: quota]]");
    REQUIRE(anthropic);
    CHECK(anthropic->status == 400);
    const json body = json::parse(anthropic->body);
    CHECK(body["type"] == "error");
    CHECK(
        body["error"]["message"].get<std::string>().starts_with("Your credit balance is too low"));
  }
  SECTION("html") {
    const auto page = ask(provider, k_openai, "[[shape: html]]");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type") == "text/html");
    CHECK(page->body.find("<html>") != std::string::npos);
    const auto gateway = ask(provider, k_anthropic, "[[shape: html status=502]]");
    REQUIRE(gateway);
    CHECK(gateway->status == 502);
    CHECK(gateway->body.find("502 Bad Gateway") != std::string::npos);
  }
  SECTION("sse: a stream nobody asked for") {
    const auto openai = ask(provider, k_openai, "[[reply: streamed words here]] [[shape: sse]]");
    REQUIRE(openai);
    CHECK(openai->status == 200);
    CHECK(openai->get_header_value("Content-Type") == "text/event-stream");
    CHECK(openai->body.starts_with("data: {"));
    CHECK(openai->body.ends_with("data: [DONE]\n\n"));
    std::string text;
    std::istringstream lines(openai->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("data: {")) {
        const json chunk = json::parse(line.substr(6));
        CHECK(chunk["object"] == "chat.completion.chunk");
        text += chunk["choices"][0]["delta"].value("content", "");
      }
    }
    CHECK(text == "streamed words here");
    const auto anthropic = ask(provider, k_anthropic, "[[reply: streamed words]] [[shape: sse]]");
    REQUIRE(anthropic);
    CHECK(anthropic->get_header_value("Content-Type") == "text/event-stream");
    CHECK(anthropic->body.starts_with("event: message_start\ndata: {"));
    CHECK(anthropic->body.find("\"text_delta\"") != std::string::npos);
    CHECK(anthropic->body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
  }
}

TEST_CASE("fake::FakeProvider, shapes with broken text and the request's key",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  SECTION("bad_utf8: an invalid byte and a lone surrogate in the JSON") {
    for (const std::string& path : {k_openai, k_anthropic}) {
      const auto result = ask(provider, path, "[[reply: broken]] [[shape: bad_utf8]]");
      REQUIRE(result);
      CHECK(result->status == 200);
      CHECK(result->body.find("broken \xff \\ud800") != std::string::npos);
      CHECK_THROWS(json::parse(result->body)); // strict parsers refuse it
    }
  }
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvWXYZ";
  SECTION("masked_key_401: the key quoted masked, as OpenAI does") {
    const auto openai =
        ask(provider, k_openai, "[[shape: masked_key_401]]", {{"Authorization", "Bearer " + key}});
    REQUIRE(openai);
    CHECK(openai->status == 401);
    const json error = json::parse(openai->body)["error"];
    CHECK(error["code"] == "invalid_api_key");
    const std::string masked = "sk-proj-" + std::string(key.size() - 12, '*') + "WXYZ";
    CHECK(error["message"] == "Incorrect API key provided: " + masked +
                                  ". You can find your API key at "
                                  "https://platform.openai.com/account/api-keys.");
    CHECK(openai->body.find(key) == std::string::npos);
    const auto anthropic =
        ask(provider, k_anthropic, "[[shape: masked_key_401]]", {{"x-api-key", key}});
    REQUIRE(anthropic);
    CHECK(anthropic->status == 401);
    const json body = json::parse(anthropic->body);
    CHECK(body["error"]["type"] == "authentication_error");
    CHECK(body["error"]["message"].get<std::string>().find(masked) != std::string::npos);
  }
  SECTION("echo_key: the key verbatim in the reply's text") {
    const json openai = answer_of(ask(provider, k_openai, "[[reply: hi]] [[shape: echo_key]]",
                                      {{"Authorization", "Bearer " + key}}));
    CHECK(message_of(openai)["content"] == "hi\nauthorization: " + key);
    const json anthropic = answer_of(
        ask(provider, k_anthropic, "[[reply: hi]] [[shape: echo_key]]", {{"x-api-key", key}}));
    CHECK(anthropic["content"][0]["text"] == "hi\nx-api-key: " + key);
  }
}

TEST_CASE("fake::FakeProvider, shape directives it cannot read, and faults first",
          "[fake_provider][shapes]") {
  FakeProvider provider;
  for (const std::string& user :
       {std::string("[[shape: teapot]]"), std::string("[[shape: tool_call colour=red]]"),
        std::string("[[shape: tool_call args=[1]]]"), std::string("[[shape: error_200 code=9]]")}) {
    INFO(user);
    const auto result = ask(provider, k_openai, user);
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(json::parse(result->body)["error"]["message"].get<std::string>().find("shape") !=
          std::string::npos);
  }
  // A fault comes first; the retry gets the shape.
  const std::string user = "[[fault: 429]] [[shape: refusal]]";
  const auto faulted = ask(provider, k_openai, user);
  REQUIRE(faulted);
  CHECK(faulted->status == 429);
  CHECK(message_of(answer_of(ask(provider, k_openai, user)))["refusal"].is_string());
}
