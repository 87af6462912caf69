// Replies as vendors really send them, end to end: `promptops test` against a server on
// loopback that answers with bodies in the shapes of the vendors' API references (the source
// of each is named where it is written), quirks included. Issue 17: each numbered problem of
// the issue has a test here.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/canned_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

using nlohmann::json;
using promptops::test::CannedServer;
using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The case a request is for: each case's question holds "[[case:NAME]]".
std::string case_of(const std::string& request) {
  const auto at = request.find("[[case:");
  if (at == std::string::npos) {
    return "";
  }
  const auto end = request.find("]]", at);
  return request.substr(at + 7, end - at - 7);
}

// A vendor's answers by case name (and one for requests without a case, e.g. a judge's).
struct Vendor {
  std::map<std::string, CannedServer::Reply> by_case;
  CannedServer::Reply otherwise{500, R"({"error": {"message": "no canned reply"}})"};
  // A judge's requests quote the case's question too: they are told apart by the rubric.
  std::string judge_rubric;
  CannedServer::Reply judge;
  std::mutex mutex;
  std::vector<std::string> requests;

  CannedServer::Reply answer(const std::string& request) {
    std::lock_guard<std::mutex> lock(mutex);
    requests.push_back(request);
    if (!judge_rubric.empty() && request.find(judge_rubric) != std::string::npos) {
      return judge;
    }
    const auto it = by_case.find(case_of(request));
    return it == by_case.end() ? otherwise : it->second;
  }
  std::size_t count(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& r : requests) {
      n += case_of(r) == name ? 1 : 0;
    }
    return n;
  }
};

// A registry whose providers "oa" (openai) and "an" (anthropic) talk to one canned server, and
// suite "s" of cases named by `cases` on `provider` with `evaluators`.
struct Registry {
  TempDir dir;
  fs::path root = dir.path() / "reg";
  std::map<std::string, std::string> env;

  Registry(const CannedServer& server, const std::vector<std::string>& cases,
           const std::string& provider, const std::string& evaluators,
           const std::string& suite_extra = "", const std::string& provider_extra = "") {
    const std::string base = server.base_url();
    dir.write("reg/promptops.yaml",
              "version: 1\nproviders:\n"
              "  oa:\n    type: openai\n    base_url: " +
                  base + "\n    api_key_env: REPLIES_KEY\n    model: gpt-4o\n" + provider_extra +
                  "  an:\n    type: anthropic\n    base_url: " + base +
                  "\n    api_key_env: REPLIES_KEY\n    model: claude-sonnet-4-5\n" +
                  provider_extra);
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [" + provider + "]\ncases: s.jsonl\n" +
                                       suite_extra + "evaluators:\n" + evaluators);
    std::string lines;
    for (const auto& name : cases) {
      lines +=
          json({{"id", name}, {"vars", {{"question", "[[case:" + name + "]] Where?"}}}}).dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()},
           {"REPLIES_KEY", "sk-replies-test-key-0000"},
           {"NO_COLOR", "1"}};
  }

  ProcessResult test(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"test", "--no-cache"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_promptops(args, root, env);
  }

  // The last run's results by case id.
  std::map<std::string, json> results() const {
    fs::path run;
    fs::file_time_type newest{};
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      if (e.is_directory() && (run.empty() || e.last_write_time() > newest)) {
        run = e.path();
        newest = e.last_write_time();
      }
    }
    std::map<std::string, json> out;
    std::ifstream in(run / "results.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line);
      out[j["id"].get<std::string>()] = j;
    }
    return out;
  }
};

// The reasons of a result's failed evaluations, joined.
std::string reasons(const json& result) {
  std::string out;
  for (const auto& e : result.value("evaluations", json::array())) {
    if (!e["pass"].get<bool>()) {
      out += e["reason"].get<std::string>() + "\n";
    }
  }
  return out;
}

CannedServer::Reply ok(const json& body) {
  return {200, body.dump()};
}

// An OpenAI chat.completion around `message` (platform.openai.com/docs/api-reference/chat/object).
json openai_completion(const json& message, const std::string& finish_reason,
                       const json& usage = {
                           {"prompt_tokens", 12}, {"completion_tokens", 9}, {"total_tokens", 21}}) {
  json m = message;
  m["role"] = "assistant";
  return {
      {"id", "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"},
      {"object", "chat.completion"},
      {"created", 1741570283},
      {"model", "gpt-4o-2024-08-06"},
      {"choices",
       {{{"index", 0}, {"message", m}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}}},
      {"usage", usage},
      {"service_tier", "default"},
      {"system_fingerprint", "fp_fc9f1d7035"}};
}

// An Anthropic message (docs.anthropic.com/en/api/messages, "Response").
json anthropic_message(const json& content, const std::string& stop_reason,
                       const json& usage = {{"input_tokens", 12}, {"output_tokens", 9}}) {
  return {{"id", "msg_013Zva2CMHLNnXjNJJKqJ2EF"},
          {"type", "message"},
          {"role", "assistant"},
          {"model", "claude-sonnet-4-5-20250929"},
          {"content", content},
          {"stop_reason", stop_reason},
          {"stop_sequence", nullptr},
          {"usage", usage}};
}

// Evaluators that any text passes, "" included: what the trust rule must not let through.
const std::string k_tolerant = "  - {type: not_contains, value: \"ERROR\"}\n";

} // namespace

TEST_CASE("replies 1: tool calls are recorded and fail evaluators of the text", "[cli][replies]") {
  Vendor vendor;
  // The function-calling example of OpenAI's API reference: content null, arguments a JSON
  // string.
  vendor.by_case["openai_tool"] =
      ok(openai_completion({{"content", nullptr},
                            {"refusal", nullptr},
                            {"tool_calls",
                             {{{"id", "call_abc123"},
                               {"type", "function"},
                               {"function",
                                {{"name", "get_current_weather"},
                                 {"arguments", "{\n\"location\": \"Boston, MA\"\n}"}}}}}}},
                           "tool_calls"));
  // Anthropic's tool use example: a text preamble, then a tool_use block
  // (docs.anthropic.com/en/docs/build-with-claude/tool-use).
  vendor.by_case["anthropic_tool"] = ok(anthropic_message(
      {{{"type", "text"}, {"text", "I'll check the current weather in San Francisco for you."}},
       {{"type", "tool_use"},
        {"id", "toolu_01A09q90qw90lq917835lq9"},
        {"name", "get_weather"},
        {"input", {{"location", "San Francisco, CA"}}}}},
      "tool_use"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });

  SECTION("openai: content null with tool_calls") {
    Registry reg(server, {"openai_tool"}, "oa", k_tolerant);
    const ProcessResult r = reg.test();
    CHECK(r.exit_code == 1);
    json result = reg.results().at("openai_tool");
    CHECK(result["status"] == "fail");
    CHECK(result["finish_reason"] == "tool_calls");
    REQUIRE(result["tool_calls"].size() == 1);
    CHECK(result["tool_calls"][0]["id"] == "call_abc123");
    CHECK(result["tool_calls"][0]["name"] == "get_current_weather");
    CHECK(result["tool_calls"][0]["arguments"]["location"] == "Boston, MA");
    CHECK(reasons(result).find("called tools instead of answering") != std::string::npos);
  }
  SECTION("anthropic: tool_use after a text preamble") {
    Registry reg(server, {"anthropic_tool"}, "an", k_tolerant);
    CHECK(reg.test().exit_code == 1);
    json result = reg.results().at("anthropic_tool");
    CHECK(result["status"] == "fail");
    CHECK(result["finish_reason"] == "tool_calls");
    CHECK(result["vendor_finish_reason"] == "tool_use");
    REQUIRE(result["tool_calls"].size() == 1);
    CHECK(result["tool_calls"][0]["name"] == "get_weather");
    CHECK(result["tool_calls"][0]["arguments"]["location"] == "San Francisco, CA");
  }
  SECTION("a suite that expects tool calls allows them and checks them") {
    Registry reg(server, {"openai_tool"}, "oa",
                 "  - {type: tool_call, tool: get_current_weather, arguments: {location: "
                 "\"Boston, MA\"}}\n"
                 "  - {type: exact_match, on: tool_calls, path: /0/arguments/location, value: "
                 "\"Boston, MA\"}\n",
                 "allow: [tool_calls]\n");
    reg.dir.write("reg/prompts/ask.yaml",
                  "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                  "input:\n  required: [question]\n"
                  "tools:\n  - name: get_current_weather\n"
                  "    description: The weather in a city\n"
                  "    parameters:\n      type: object\n"
                  "      properties: {location: {type: string}}\n      required: [location]\n");
    const ProcessResult r = reg.test();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(reg.results().at("openai_tool")["status"] == "pass");
  }
}

TEST_CASE("replies 2: a reply cut short, refused or empty is never a pass", "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["cut"] =
      ok(openai_completion({{"content", "The capital of France is"}}, "length"));
  // A reasoning model that spent its whole budget thinking: no content at all.
  vendor.by_case["reasoning_spent"] =
      ok(openai_completion({{"content", nullptr}}, "length",
                           {{"prompt_tokens", 20},
                            {"completion_tokens", 1024},
                            {"total_tokens", 1044},
                            {"completion_tokens_details", {{"reasoning_tokens", 1024}}}}));
  // Anthropic's refusal stop reason (anthropic-sdk-python types/stop_reason.py).
  vendor.by_case["refused"] = ok(anthropic_message(json::array(), "refusal"));
  vendor.by_case["max_tokens"] =
      ok(anthropic_message({{{"type", "text"}, {"text", "Paris is the"}}}, "max_tokens"));
  vendor.by_case["no_content"] = ok(anthropic_message(json::array(), "end_turn"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });

  SECTION("openai") {
    Registry reg(server, {"cut", "reasoning_spent"}, "oa", k_tolerant);
    CHECK(reg.test().exit_code == 1);
    auto results = reg.results();
    CHECK(results.at("cut")["status"] == "fail");
    CHECK(results.at("cut")["finish_reason"] == "length");
    CHECK(reasons(results.at("cut")).find("token limit") != std::string::npos);
    CHECK(results.at("reasoning_spent")["status"] == "fail");
    CHECK(results.at("reasoning_spent")["output"] == "");
    CHECK(results.at("reasoning_spent")["usage"]["reasoning_tokens"] == 1024);
  }
  SECTION("anthropic") {
    Registry reg(server, {"refused", "max_tokens", "no_content"}, "an", k_tolerant);
    CHECK(reg.test().exit_code == 1);
    auto results = reg.results();
    CHECK(results.at("refused")["status"] == "fail");
    CHECK(results.at("refused")["finish_reason"] == "refusal");
    CHECK(reasons(results.at("refused")).find("refused") != std::string::npos);
    CHECK(results.at("max_tokens")["finish_reason"] == "length");
    CHECK(results.at("max_tokens")["vendor_finish_reason"] == "max_tokens");
    CHECK(results.at("max_tokens")["status"] == "fail");
    CHECK(results.at("no_content")["status"] == "fail");
    CHECK(reasons(results.at("no_content")).find("empty") != std::string::npos);
  }
  SECTION("allowed, and asserted with finish_reason and refusal") {
    Registry reg(server, {"refused"}, "an",
                 "  - {type: refusal}\n  - {type: finish_reason, value: refusal}\n");
    const ProcessResult r = reg.test();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
  }
  SECTION("an OpenAI refusal is a refusal, not an answer") {
    vendor.by_case["openai_refusal"] = ok(openai_completion(
        {{"content", nullptr}, {"refusal", "I'm sorry, I cannot assist with that request."}},
        "stop"));
    Registry reg(server, {"openai_refusal"}, "oa", k_tolerant);
    CHECK(reg.test().exit_code == 1);
    json result = reg.results().at("openai_refusal");
    CHECK(result["status"] == "fail");
    CHECK(result["refusal"] == "I'm sorry, I cannot assist with that request.");
    CHECK(result["output"] == "");
  }
}

TEST_CASE("replies 3: the judge's final verdict decides, not a draft or a quoted JSON",
          "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["q"] = ok(openai_completion({{"content", "{\"city\": \"Lyon\"}"}}, "stop"));
  // A reasoning judge (DeepSeek-R1 style) drafts a verdict while thinking, then gives its
  // final one; it also quotes the candidate's JSON first.
  vendor.judge_rubric = "Names the capital of France";
  vendor.judge = ok(openai_completion(
      {{"content", "<think>\nThe answer looks like JSON. Draft: {\"pass\": true, \"score\": 1, "
                   "\"reason\": \"draft\"}\nBut the capital is Paris, not Lyon.\n</think>\n"
                   "The candidate answered {\"city\": \"Lyon\"}.\n"
                   "{\"pass\": false, \"score\": 0, \"reason\": \"Lyon is not the capital\"}"}},
      "stop"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"q"}, "oa",
               "  - {type: llm_judge, provider: oa, rubric: \"Names the capital of France\"}\n");
  const ProcessResult r = reg.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  json result = reg.results().at("q");
  CHECK(result["status"] == "fail");
  CHECK(reasons(result).find("Lyon is not the capital") != std::string::npos);
}

TEST_CASE("replies 4: content as an array of parts is read", "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["parts"] = ok(openai_completion(
      {{"content", {{{"type", "text"}, {"text", "Par"}}, {{"type", "text"}, {"text", "is"}}}}},
      "stop"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"parts"}, "oa", "  - {type: exact_match, value: Paris}\n");
  const ProcessResult r = reg.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(reg.results().at("parts")["output"] == "Paris");
}

TEST_CASE("replies 5: the SDKs' retry default: two retries, then the error", "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["down"] = {500, R"({"error": {"message": "The server had an error while )"
                                 R"(processing your request.", "type": "server_error"}})"};
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"down"}, "oa", k_tolerant);
  CHECK(reg.test().exit_code == 3);
  CHECK(vendor.count("down") == 3);
  json result = reg.results().at("down");
  CHECK(result["status"] == "error");
  CHECK(result["attempts"] == 3);
}

TEST_CASE("replies 6: an HTTP 200 carrying an error is reported with its message",
          "[cli][replies]") {
  Vendor vendor;
  // OpenRouter's error shape (openrouter.ai/docs/api-reference/errors), sent with status 200.
  vendor.by_case["bad_request"] =
      ok({{"error",
           {{"code", 400},
            {"message", "Provider returned error"},
            {"metadata", {{"raw", "context length exceeded"}, {"provider_name", "Fireworks"}}}}}});
  vendor.by_case["upstream_down"] = ok({{"error",
                                         {{"code", 502},
                                          {"message", "Your chosen model is down or we received "
                                                      "an invalid response from it."}}}});
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"bad_request", "upstream_down"}, "oa", k_tolerant);
  CHECK(reg.test().exit_code == 3);
  auto results = reg.results();
  CHECK(results.at("bad_request")["status"] == "error");
  CHECK(results.at("bad_request")["error"].get<std::string>().find("Provider returned error") !=
        std::string::npos);
  CHECK(vendor.count("bad_request") == 1);
  CHECK(results.at("upstream_down")["error"].get<std::string>().find("model is down") !=
        std::string::npos);
  CHECK(vendor.count("upstream_down") == 3);
}

TEST_CASE("replies 7: cached input is priced at the cache's prices", "[cli][replies]") {
  Vendor vendor;
  // A prompt-cache hit (docs.anthropic.com/en/docs/build-with-claude/prompt-caching): most of the
  // input read from the cache, input_tokens the uncached rest.
  vendor.by_case["cached"] =
      ok(anthropic_message({{{"type", "text"}, {"text", "Paris"}}}, "end_turn",
                           {{"input_tokens", 50},
                            {"cache_creation_input_tokens", 0},
                            {"cache_read_input_tokens", 10000},
                            {"output_tokens", 100}}));
  vendor.by_case["openai_cached"] = ok(
      openai_completion({{"content", "Paris"}}, "stop",
                        {{"prompt_tokens", 2006},
                         {"completion_tokens", 300},
                         {"total_tokens", 2306},
                         {"prompt_tokens_details", {{"cached_tokens", 1920}, {"audio_tokens", 0}}},
                         {"completion_tokens_details", {{"reasoning_tokens", 0}}}}));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });

  SECTION("anthropic: cache reads at a tenth of the input price") {
    Registry reg(server, {"cached"}, "an", "  - {type: cost, max: 0.01}\n", "",
                 "    pricing: {input_per_mtok: 3.0, output_per_mtok: 15.0}\n");
    const ProcessResult r = reg.test();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    json result = reg.results().at("cached");
    CHECK(result["usage"]["input_tokens"] == 10050);
    CHECK(result["usage"]["cached_input_tokens"] == 10000);
    // 50 x 3 + 10,000 x 0.30 + 100 x 15 per million.
    CHECK(result["cost"].get<double>() == Approx(0.00465));
  }
  SECTION("openai: cached tokens at the given cached price") {
    Registry reg(server, {"openai_cached"}, "oa", k_tolerant, "",
                 "    pricing: {input_per_mtok: 2.5, output_per_mtok: 10, "
                 "cached_input_per_mtok: 1.25}\n");
    CHECK(reg.test().exit_code == 0);
    json result = reg.results().at("openai_cached");
    CHECK(result["usage"]["cached_input_tokens"] == 1920);
    // 86 x 2.5 + 1,920 x 1.25 + 300 x 10 per million.
    CHECK(result["cost"].get<double>() == Approx(0.005615));
  }
}

TEST_CASE("replies 8: a 429 for an exhausted quota is not retried", "[cli][replies]") {
  Vendor vendor;
  // OpenAI's quota error (platform.openai.com/docs/guides/error-codes).
  vendor.by_case["quota"] = {
      429,
      json({{"error",
             {{"message", "You exceeded your current quota, please check your plan and "
                          "billing details. For more information on this error, read the "
                          "docs: https://platform.openai.com/docs/guides/error-codes/api-errors."},
              {"type", "insufficient_quota"},
              {"param", nullptr},
              {"code", "insufficient_quota"}}}})
          .dump()};
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"quota"}, "oa", k_tolerant);
  CHECK(reg.test().exit_code == 3);
  CHECK(vendor.count("quota") == 1);
  json result = reg.results().at("quota");
  CHECK(result["status"] == "error");
  CHECK(result["error"].get<std::string>().find("quota") != std::string::npos);
}

TEST_CASE("replies 9: bodies that cannot parse, streams, and broken UTF-8", "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["html"] = {200,
                            "<html><head><title>502 Bad Gateway</title></head><body><center>"
                            "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>"
                            "</html>",
                            "text/html"};
  vendor.by_case["sse"] = {200,
                           "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                           "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris\"}}]}\n\n"
                           "data: [DONE]\n\n",
                           "text/event-stream"};
  json utf8 = openai_completion({{"content", "PLACEHOLDER"}}, "stop");
  std::string body = utf8.dump();
  body.replace(body.find("PLACEHOLDER"), 11, "Par\xff is \\ud800 fine");
  vendor.by_case["bad_utf8"] = {200, body};
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });

  SECTION("HTML and an unrequested stream: reported with their type, not retried") {
    Registry reg(server, {"html", "sse"}, "oa", k_tolerant);
    CHECK(reg.test().exit_code == 3);
    auto results = reg.results();
    CHECK(vendor.count("html") == 1);
    CHECK(vendor.count("sse") == 1);
    CHECK(results.at("html")["error"].get<std::string>().find("text/html") != std::string::npos);
    CHECK(results.at("html")["error"].get<std::string>().find("502 Bad Gateway") !=
          std::string::npos);
    CHECK(results.at("sse")["error"].get<std::string>().find("text/event-stream") !=
          std::string::npos);
  }
  SECTION("invalid UTF-8 and a lone surrogate are replaced, the rest is read") {
    Registry reg(server, {"bad_utf8"}, "oa", "  - {type: contains, value: fine}\n");
    const ProcessResult r = reg.test();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    json result = reg.results().at("bad_utf8");
    CHECK(result["output"] == "Par\xEF\xBF\xBD is \xEF\xBF\xBD fine");
    CHECK(result["notes"].dump().find("U+FFFD") != std::string::npos);
  }
  SECTION("stream: true is refused before any request") {
    Registry reg(server, {"html"}, "oa", k_tolerant, "", "    params: {stream: true}\n");
    const ProcessResult v = run_promptops({"validate"}, reg.root, reg.env);
    CHECK(v.exit_code == 2);
    CHECK(v.err.find("stream") != std::string::npos);
    CHECK(reg.test().exit_code == 2);
    CHECK(vendor.count("html") == 0);
  }
}

TEST_CASE("replies 10: no form of the key is stored, from errors or from answers",
          "[cli][replies]") {
  const std::string key = "sk-proj-Zq8vTt3KLmNoPqRsUvWxYz0123456789abcdefghWXYZ";
  Vendor vendor;
  // OpenAI's 401 quotes the key masked (first characters, asterisks, last four).
  vendor.by_case["masked"] = {
      401, json({{"error",
                  {{"message", "Incorrect API key provided: sk-proj-" + std::string(36, '*') +
                                   "WXYZ. You can find your API key at "
                                   "https://platform.openai.com/account/api-keys."},
                   {"type", "invalid_request_error"},
                   {"param", nullptr},
                   {"code", "invalid_api_key"}}}})
               .dump()};
  std::string upper = key;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  // A gateway that echoes the request's headers into the answer.
  vendor.by_case["echoed"] = ok(openai_completion(
      {{"content", "debug: authorization=Bearer " + key + " AUTH=" + upper}}, "stop"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"masked", "echoed"}, "oa", k_tolerant);
  reg.env["REPLIES_KEY"] = key;
  const ProcessResult r = run_promptops({"test"}, reg.root, reg.env);
  CHECK(r.exit_code == 3);
  CHECK(r.out.find("WXYZ") == std::string::npos);
  CHECK(r.err.find("WXYZ") == std::string::npos);
  for (auto it = fs::recursive_directory_iterator(reg.dir.path());
       it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) {
      continue;
    }
    const std::string bytes = promptops::util::read_file_if_exists(it->path()).value_or("");
    INFO(it->path());
    CHECK(bytes.find("cdefghWXYZ") == std::string::npos);
    CHECK(bytes.find("CDEFGHWXYZ") == std::string::npos);
    CHECK(bytes.find("*WXYZ") == std::string::npos);
  }
}

TEST_CASE("replies 11: an unset key is exit 2 before any request; a cached rerun needs none",
          "[cli][replies]") {
  Vendor vendor;
  vendor.by_case["a"] = ok(openai_completion({{"content", "Paris"}}, "stop"));
  CannedServer server([&vendor](const std::string& r) { return vendor.answer(r); });
  Registry reg(server, {"a"}, "oa", k_tolerant);

  reg.env["REPLIES_KEY"] = "";
  ProcessResult r = run_promptops({"test"}, reg.root, reg.env);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("REPLIES_KEY") != std::string::npos);
  CHECK(vendor.count("a") == 0);

  reg.env["REPLIES_KEY"] = "sk-replies-test-key-0000";
  CHECK(run_promptops({"test"}, reg.root, reg.env).exit_code == 0);
  CHECK(vendor.count("a") == 1);
  reg.env.erase("REPLIES_KEY");
  r = run_promptops({"test"}, reg.root, reg.env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(vendor.count("a") == 1);
}

TEST_CASE("replies: no shape a vendor sends that carries no answer is a pass, on the fake",
          "[cli][replies]") {
  // The project's fake provider in each vendor's reply shapes (docs/fake-provider.md), both
  // wire formats, under evaluators any text passes: SPEC's trust rule end to end.
  promptops::fake::FakeProvider fake;
  const std::vector<std::string> unusable = {"tool_call",
                                             "tool_call_text",
                                             "length",
                                             "refusal",
                                             "reasoning_exhausted",
                                             "empty",
                                             "content_filter",
                                             "error_200 code=400",
                                             "quota",
                                             "html",
                                             "sse",
                                             "masked_key_401"};
  for (const std::string type : {"openai", "anthropic"}) {
    TempDir dir;
    const std::string key = "sk-proj-FakeShapes0123456789abcdefWXYZ";
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  v:\n    type: " + type +
                                        "\n    base_url: " + fake.base_url() +
                                        "/v1\n    api_key_env: SHAPES_KEY\n    model: m\n");
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{q}}\"\n");
    std::string lines;
    for (const auto& shape : unusable) {
      lines += json({{"id", shape}, {"vars", {{"q", "Paris is nice [[shape: " + shape + "]]"}}}})
                   .dump() +
               "\n";
    }
    for (const std::string usable : {"parts", "cached", "bad_utf8", "echo_key"}) {
      lines += json({{"id", usable}, {"vars", {{"q", "Paris is nice [[shape: " + usable + "]]"}}}})
                   .dump() +
               "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    dir.write("reg/golden/s.yaml",
              "prompt: ask\nproviders: [v]\ncases: s.jsonl\nevaluators:\n" + k_tolerant);
    const std::map<std::string, std::string> env = {
        {"XDG_CACHE_HOME", (dir.path() / "cache").string()}, {"SHAPES_KEY", key}};
    const ProcessResult r = run_promptops({"test", "--no-cache"}, dir.path() / "reg", env);
    INFO(type << "\n" << r.out << r.err);
    CHECK(r.exit_code == 3); // cases the providers failed: the run could not complete
    std::map<std::string, json> results;
    std::ifstream in;
    for (const auto& e : fs::directory_iterator(dir.path() / "reg" / ".promptops" / "runs")) {
      in.open(e.path() / "results.jsonl");
    }
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line);
      results[j["id"].get<std::string>()] = j;
    }
    for (const auto& shape : unusable) {
      INFO(shape);
      REQUIRE(results.count(shape) == 1);
      CHECK(results[shape]["status"] != "pass");
    }
    for (const std::string usable : {"parts", "cached", "bad_utf8", "echo_key"}) {
      INFO(usable);
      REQUIRE(results.count(usable) == 1);
      CHECK(results[usable]["status"] == "pass");
    }
    CHECK(results["tool_call"]["tool_calls"].size() == 1);
    CHECK(results["cached"]["usage"].contains("cached_input_tokens"));
    // The echoed and the masked key are in no file.
    for (auto it = fs::recursive_directory_iterator(dir.path());
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_regular_file()) {
        INFO(it->path());
        CHECK(promptops::util::read_file_if_exists(it->path()).value_or("").find("WXYZ") ==
              std::string::npos);
      }
    }
  }
}
