// End-to-end: `promptops test` against the project's fake provider over real HTTP.
#include "tests/fake_provider/fake_provider.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <signal.h>
#include <sstream>
#include <thread>

using nlohmann::json;
using promptops::fake::FakeProvider;
using promptops::fake::FakeProviderOptions;
using promptops::test::BackgroundProcess;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* k_key = "sk-test-DO-NOT-LEAK-4f9a8b7c6d";

// A registry with one prompt ("ask": a user message with {{question}}) and one suite ("s")
// whose cases are `cases` (JSON lines) on provider "fake" of type `type`.
struct Fixture {
  TempDir dir;
  fs::path root;
  fs::path cache;
  std::map<std::string, std::string> env;

  Fixture(const FakeProvider& server, const std::vector<std::string>& questions,
          const std::string& provider_extra = "", const std::string& type = "openai",
          const std::string& evaluators = "  - {type: starts_with, value: \"echo: \"}\n") {
    root = dir.path() / "reg";
    cache = dir.path() / "cache";
    write_config(server.base_url() + "/v1", provider_extra, type);
    dir.write("reg/prompts/ask.yaml", "messages:\n"
                                      "  - role: system\n"
                                      "    content: You answer briefly.\n"
                                      "  - role: user\n"
                                      "    content: \"{{question}}\"\n"
                                      "input:\n"
                                      "  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [fake]\ncases: s.jsonl\nevaluators:\n" +
                                       evaluators + "gate: {min_pass_rate: 1.0}\n");
    std::string lines;
    for (std::size_t i = 0; i < questions.size(); ++i) {
      lines += json({{"id", "c" + std::to_string(i + 1)},
                     {"vars", {{"question", questions[i]}}},
                     {"tags", {i % 2 == 0 ? "odd" : "even"}}})
                   .dump() +
               "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", cache.string()}, {"PROMPTOPS_TEST_KEY", k_key}, {"NO_COLOR", ""}};
  }

  void write_config(const std::string& base_url, const std::string& provider_extra,
                    const std::string& type) {
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  fake:\n    type: " + type +
                                        "\n    base_url: " + base_url +
                                        "\n    api_key_env: PROMPTOPS_TEST_KEY\n"
                                        "    model: model-x\n" +
                                        provider_extra);
  }

  promptops::test::ProcessResult test(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"test"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_promptops(args, root, env);
  }

  fs::path run_dir() const {
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      if (e.is_directory()) {
        return e.path();
      }
    }
    return {};
  }

  std::vector<json> results(const fs::path& run) const {
    std::ifstream in(run / "results.jsonl");
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line)) {
      out.push_back(json::parse(line));
    }
    return out;
  }

  json summary(const fs::path& run) const {
    std::ifstream in(run / "summary.json");
    return json::parse(in);
  }
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, json> by_id(const std::vector<json>& results) {
  std::map<std::string, json> out;
  for (const auto& r : results) {
    out[r["id"].get<std::string>()] = r;
  }
  return out;
}

} // namespace

TEST_CASE("cli test, OpenAI wire format: results, summary and exit 0", "[cli][test]") {
  FakeProvider server;
  Fixture f(server, {"hello", "how are you"},
            "    pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err == ""); // no progress bar: stderr is not a terminal
  CHECK_THAT(r.out, Catch::Contains("2 cases: 2 pass, 0 fail, 0 error"));
  CHECK(server.request_count() == 2);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].path == "/v1/chat/completions");
  const json body = json::parse(requests[0].body);
  CHECK(body["model"] == "model-x");
  CHECK(body["messages"][0]["role"] == "system");

  const auto results = by_id(f.results(f.run_dir()));
  REQUIRE(results.size() == 2);
  const json& c1 = results.at("c1");
  CHECK(c1["output"] == "echo: hello");
  CHECK(c1["status"] == "pass");
  CHECK(c1["model"] == "model-x-fake");
  CHECK(c1["system_fingerprint"] == "fp_fake");
  CHECK(c1["usage"]["input_tokens"].get<int>() > 0);
  CHECK(c1["usage"]["output_tokens"] == 2);
  CHECK(c1["cost"].get<double>() > 0);
  CHECK(c1["attempts"] == 1);
  CHECK(c1["prompt_version"].get<std::string>().size() == 64);
  const json summary = f.summary(f.run_dir());
  CHECK(summary["totals"]["pass"] == 2);
  CHECK(summary["pass_rate"] == 1.0);
  CHECK(summary["gate"]["passed"] == true);
}

TEST_CASE("cli test, Anthropic wire format", "[cli][test]") {
  FakeProvider server;
  Fixture f(server, {"hello"}, "", "anthropic");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/v1/messages");
  CHECK(requests[0].headers.at("x-api-key") == k_key);
  const json body = json::parse(requests[0].body);
  CHECK(body["system"] == "You answer briefly.");
  CHECK(body["max_tokens"] == 1024);
  const auto results = f.results(f.run_dir());
  REQUIRE(results.size() == 1);
  CHECK(results[0]["output"] == "echo: hello");
  CHECK(results[0]["usage"]["output_tokens"] == 2);
}

TEST_CASE("cli test, structured output: response_format carries the prompt's schema",
          "[cli][test]") {
  FakeProvider server;
  Fixture f(server, {"classify me"}, "", "openai", "  - {type: is_json}\n");
  f.dir.write("reg/schemas/answer.json",
              R"({"type": "object", "properties": {"echo": {"type": "string"}}})");
  f.dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "output_schema: schemas/answer.json\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const json body = json::parse(requests[0].body);
  CHECK(body["response_format"]["type"] == "json_schema");
  CHECK(body["response_format"]["json_schema"]["name"] == "ask");
  CHECK(body["response_format"]["json_schema"]["schema"]["properties"]["echo"]["type"] == "string");
  CHECK(f.results(f.run_dir())[0]["output"] == R"({"echo":"classify me"})");
}

TEST_CASE("cli test, transient faults are retried and counted", "[cli][test][faults]") {
  FakeProvider server;
  Fixture f(server,
            {"a [[fault: 429 x2 retry-after-ms=50]]", "b [[fault: 500 x1]]", "c [[fault: 503 x1]]",
             "d [[fault: 529 x1]]", "e [[fault: malformed x1]]", "f [[fault: truncated x1]]",
             "g [[fault: drop x1]]"},
            "    retries: 3\n    timeout_s: 5\n", "openai",
            "  - {type: contains, value: \"echo: \"}\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto results = by_id(f.results(f.run_dir()));
  REQUIRE(results.size() == 7);
  CHECK(results.at("c1")["attempts"] == 3);
  for (const char* id : {"c2", "c3", "c4", "c5", "c6", "c7"}) {
    INFO(id);
    CHECK(results.at(id)["status"] == "pass");
    CHECK(results.at(id)["attempts"] == 2);
  }
  CHECK(server.request_count() == 3 + 6 * 2);
}

TEST_CASE("cli test, Retry-After in seconds is honoured", "[cli][test][faults]") {
  FakeProvider server;
  Fixture f(server, {"a [[fault: 429 x1 retry-after=1]]"}, "    retries: 2\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].at_ms - requests[0].at_ms >= 950);
}

TEST_CASE("cli test, a provider that keeps failing is an error, never a pass: exit 3",
          "[cli][test][faults]") {
  FakeProvider server;
  Fixture f(server, {"fine", "broken [[fault: 500 x*]]", "hangs [[fault: hang x*]]"},
            "    retries: 1\n    timeout_s: 0.5\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("ERROR"));
  const auto results = by_id(f.results(f.run_dir()));
  CHECK(results.at("c1")["status"] == "pass");
  CHECK(results.at("c2")["status"] == "error");
  CHECK(results.at("c2")["attempts"] == 2);
  CHECK(results.at("c2")["output"].is_null());
  CHECK_THAT(results.at("c2")["error"].get<std::string>(), Catch::Contains("HTTP 500"));
  CHECK(results.at("c3")["status"] == "error");
  CHECK_THAT(results.at("c3")["error"].get<std::string>(), Catch::Contains("timed out"));
  const json summary = f.summary(f.run_dir());
  CHECK(summary["totals"]["error"] == 2);
  CHECK(summary["gate"]["passed"] == false);
}

TEST_CASE("cli test, an unreachable provider stops early with exit 3", "[cli][test][faults]") {
  int closed_port = 0;
  {
    FakeProvider gone; // bind a port, then let it go: nothing listens there now
    closed_port = gone.port();
  }
  FakeProvider server;
  std::vector<std::string> questions(40, "q");
  Fixture f(server, questions, "    retries: 8\n");
  f.write_config("http://127.0.0.1:" + std::to_string(closed_port) + "/v1", "    retries: 8\n",
                 "openai");
  const auto started = std::chrono::steady_clock::now();
  const auto r = f.test();
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(seconds < 20);
  CHECK_THAT(r.out, Catch::Contains("unreachable"));
  CHECK(f.summary(f.run_dir())["totals"]["error"] == 40);
}

TEST_CASE("cli test, the rate limit holds at the server", "[cli][test]") {
  FakeProvider server;
  std::vector<std::string> questions;
  for (int i = 0; i < 7; ++i) {
    questions.push_back("q" + std::to_string(i));
  }
  // 240 a minute: 4 a second, a burst of at most 4.
  Fixture f(server, questions, "    rate_limit: {requests_per_minute: 240}\n    concurrency: 16\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 7);
  // The 4 after the first burst of 4 come 250 ms apart, so the 7th is 750 ms after the first.
  CHECK(requests[6].at_ms - requests[0].at_ms >= 700);
  CHECK(requests[3].at_ms - requests[0].at_ms < 200);
}

TEST_CASE("cli test, a rerun with nothing changed sends no request, --no-cache asks again",
          "[cli][test][cache]") {
  FakeProvider server;
  Fixture f(server, {"one", "two", "three"});
  REQUIRE(f.test().exit_code == 0);
  CHECK(server.request_count() == 3);
  server.reset();
  const auto again = f.test({"--json"});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(server.request_count() == 0);
  const json summary = json::parse(again.out);
  CHECK(summary["cached"] == 3);
  CHECK(summary["requests"] == 0);
  CHECK(summary["totals"]["pass"] == 3);
  REQUIRE(f.test({"--no-cache"}).exit_code == 0);
  CHECK(server.request_count() == 3);
  // cache stats and clear
  const auto stats = run_promptops({"cache", "stats"}, f.root, f.env);
  CHECK_THAT(stats.out, Catch::Contains("entries: 3"));
  const auto clear = run_promptops({"cache", "clear"}, f.root, f.env);
  CHECK_THAT(clear.out, Catch::Contains("removed 3"));
  CHECK_THAT(run_promptops({"cache", "stats"}, f.root, f.env).out, Catch::Contains("entries: 0"));
}

TEST_CASE("cli test, kill -9 in the middle of a run, then --resume: every case exactly once",
          "[cli][test][resume]") {
  FakeProviderOptions o;
  o.latency_ms = 150;
  FakeProvider server(o);
  std::vector<std::string> questions;
  for (int i = 0; i < 24; ++i) {
    questions.push_back("question " + std::to_string(i));
  }
  Fixture f(server, questions, "    concurrency: 2\n");
  std::string run_id;
  {
    BackgroundProcess p({"test"}, f.root, f.env);
    // Wait until some cases are recorded, then kill without warning.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      const fs::path runs = f.root / ".promptops" / "runs";
      if (fs::exists(runs) && !f.run_dir().empty() && fs::exists(f.run_dir() / "results.jsonl") &&
          f.results(f.run_dir()).size() >= 4) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    p.send_signal(SIGKILL);
    CHECK(p.wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  }
  const fs::path run = f.run_dir();
  run_id = run.filename().string();
  const std::size_t before = f.results(run).size();
  CHECK(before >= 4);
  CHECK(before < 24);
  CHECK_FALSE(fs::exists(run / "summary.json"));

  const auto r = run_promptops({"test", "--resume", run_id, "--no-cache"}, f.root, f.env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto results = f.results(run);
  std::set<std::string> ids;
  for (const auto& line : results) {
    ids.insert(line["id"].get<std::string>());
  }
  CHECK(results.size() == 24);
  CHECK(ids.size() == 24);
  CHECK(f.summary(run)["totals"]["pass"] == 24);
  // Resuming a finished run runs nothing more.
  server.reset();
  CHECK(run_promptops({"test", "--resume", run_id}, f.root, f.env).exit_code == 0);
  CHECK(server.request_count() == 0);
  CHECK(f.results(run).size() == 24);
}

TEST_CASE("cli test, no API key in any file the run wrote, nor in its output",
          "[cli][test][secrets]") {
  FakeProvider server;
  Fixture f(server, {"ok", "bad [[fault: 500 x*]]"}, "    retries: 0\n");
  const auto r = f.test();
  CHECK(r.exit_code == 3);
  CHECK(r.out.find(k_key) == std::string::npos);
  CHECK(r.err.find(k_key) == std::string::npos);
  std::size_t files = 0;
  for (const auto& dir : {f.root, f.cache}) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.is_regular_file()) {
        ++files;
        INFO(e.path());
        CHECK(slurp(e.path()).find(k_key) == std::string::npos);
      }
    }
  }
  CHECK(files >= 6); // config, prompt, suite, cases, run.json, results, summary, a cache entry
  // ...while the server did receive it.
  CHECK(server.requests()[0].headers.at("authorization") == std::string("Bearer ") + k_key);
}

TEST_CASE("cli test, gate, filters and exit codes", "[cli][test]") {
  FakeProvider server;
  Fixture f(server, {"one", "two [[reply: nope]]", "three"});
  auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("FAIL") && Catch::Contains("c2") &&
                        Catch::Contains("below the gate's 100.0%"));
  // --filter by tag and by id
  r = f.test({"--filter", "odd", "--json"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out)["totals"]["cases"] == 2);
  r = f.test({"--filter", "c2", "--json"});
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out)["totals"]["cases"] == 1);
  // nothing matched: 4
  r = f.test({"--filter", "no-such-tag"});
  CHECK(r.exit_code == 4);
  // an unknown suite: 2, with a suggestion
  r = f.test({"ss"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown suite \"ss\"") && Catch::Contains("did you mean"));
  // a missing required variable is found before any request
  server.reset();
  f.dir.write("reg/golden/s.jsonl", R"({"id": "x1", "vars": {}})"
                                    "\n");
  r = f.test();
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("missing required variable \"question\"") &&
                        Catch::Contains("s.jsonl:1"));
  CHECK(server.request_count() == 0);
}

TEST_CASE("cli test, model output cannot drive the terminal", "[cli][test][secrets]") {
  FakeProvider server;
  Fixture f(server, {"x [[reply: \x1b[2J\x1b]0;pwned\x07 gotcha]]"});
  const auto r = f.test();
  CHECK(r.exit_code == 1);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find('\x07') == std::string::npos);
  CHECK_THAT(r.out, Catch::Contains("\\x1b"));
}

TEST_CASE("cli test, exec and replay providers", "[cli][test]") {
  FakeProvider server; // unused by these providers; the fixture wants a URL
  Fixture f(server, {"alpha", "beta"});
  f.dir.write("reg/promptops.yaml",
              "version: 1\nproviders:\n"
              "  fake:\n    type: exec\n"
              "    command: \"cat > /dev/null; echo 'echo: from exec'\"\n"
              "  slow:\n    type: exec\n    command: [sleep, \"5\"]\n    timeout_s: 0.3\n"
              "    retries: 0\n"
              "  recorded:\n    type: replay\n    from: recorded.jsonl\n");
  f.dir.write("reg/recorded.jsonl", R"({"id": "c1", "output": "echo: recorded one"})"
                                    "\n"
                                    R"({"id": "c2", "output": "echo: recorded two"})"
                                    "\n");
  auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto results = by_id(f.results(f.run_dir()));
  CHECK(results.at("c1")["output"] == "echo: from exec");

  f.dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [recorded, slow]\ncases: s.jsonl\n"
                                   "evaluators:\n  - {type: starts_with, value: \"echo: \"}\n");
  fs::remove_all(f.root / ".promptops");
  r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  std::map<std::string, json> recorded, slow;
  for (const auto& line : f.results(f.run_dir())) {
    (line["provider"] == "recorded" ? recorded : slow)[line["id"].get<std::string>()] = line;
  }
  CHECK(recorded.at("c2")["output"] == "echo: recorded two");
  CHECK(recorded.at("c2")["status"] == "pass");
  CHECK(slow.at("c1")["status"] == "error");
  CHECK_THAT(slow.at("c1")["error"].get<std::string>(), Catch::Contains("timed out"));
}

TEST_CASE("cli test, on a terminal: a progress bar and colour, unless NO_COLOR", "[cli][test]") {
  FakeProvider server;
  Fixture f(server, {"one", "two [[reply: nope]]"});
  // script(1) (util-linux, in every Debian) gives the command a terminal.
  const std::string command =
      "script -qec '" + promptops::test::promptops_binary() + " test' /dev/null";
  auto env = f.env;
  const auto coloured = promptops::test::run_command({"/bin/sh", "-c", command}, f.root, env);
  INFO(coloured.out << coloured.err);
  CHECK(coloured.exit_code == 1);
  CHECK_THAT(coloured.out, Catch::Contains("] 2/2 cases"));
  CHECK_THAT(coloured.out, Catch::Contains("\x1b[31mFAIL"));
  env["NO_COLOR"] = "1";
  const auto plain = promptops::test::run_command({"/bin/sh", "-c", command}, f.root, env);
  CHECK(plain.exit_code == 1);
  CHECK_THAT(plain.out, Catch::Contains("FAIL"));
  CHECK(plain.out.find("\x1b[31m") == std::string::npos);
}

TEST_CASE("cli test, similarity and exec evaluators in a suite", "[cli][test]") {
  FakeProvider server;
  Fixture f(
      server, {"hello there", "something else"}, "", "openai",
      "  - {type: similarity, value: \"echo: hello there\", threshold: 0.9}\n"
      "  - type: exec\n"
      "    command: \"python3 -c 'import json,sys; c=json.load(sys.stdin); "
      "print(json.dumps({\\\"pass\\\": c[\\\"vars\\\"][\\\"question\\\"] in c[\\\"output\\\"], "
      "\\\"reason\\\": \\\"cwd \\\" + __import__(\\\"os\\\").getcwd()}))'\"\n");
  const auto r = f.test({"--json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const auto results = by_id(f.results(f.run_dir()));
  const json& c1 = results.at("c1");
  CHECK(c1["status"] == "pass");
  CHECK(c1["evaluations"][0]["score"] == 1.0);
  CHECK(c1["evaluations"][1]["pass"] == true);
  // The command ran in the registry root.
  CHECK(c1["evaluations"][1]["reason"] == "cwd " + fs::canonical(f.root).string());
  const json& c2 = results.at("c2");
  CHECK(c2["status"] == "fail");
  CHECK(c2["evaluations"][0]["pass"] == false);
  CHECK(c2["evaluations"][0]["score"].get<double>() < 0.9);
  CHECK(c2["evaluations"][1]["pass"] == true);
}

TEST_CASE("cli test, json_schema resolves a $ref to another schema file of the registry",
          "[cli][test]") {
  FakeProvider server;
  Fixture f(server,
            {R"(good [[reply: {"category": "billing", "items": [{"price": 3}]}]])",
             R"(bad [[reply: {"category": "weather", "items": [{"price": 3}, {"price": 12.5}]}]])"},
            "", "openai", "  - {type: json_schema}\n");
  f.dir.write("reg/schemas/common.json",
              R"({"$defs": {"category": {"enum": ["billing", "shipping"]},
                            "item": {"type": "object", "properties": {"price": {"type": "integer"}}}}})");
  f.dir.write("reg/schemas/answer.json",
              R"({"type": "object", "required": ["category"],
                  "properties": {"category": {"$ref": "common.json#/$defs/category"},
                                 "items": {"type": "array", "items": {"$ref": "common.json#/$defs/item"}}}})");
  f.dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "output_schema: schemas/answer.json\n");
  const auto r = f.test();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const auto results = by_id(f.results(f.run_dir()));
  CHECK(results.at("c1")["status"] == "pass");
  const json& bad = results.at("c2");
  CHECK(bad["status"] == "fail");
  const std::string reason = bad["evaluations"][0]["reason"].get<std::string>();
  // The reasons name the instance path of each problem, through the referenced file.
  CHECK_THAT(reason, Catch::Contains("/category: "));
  CHECK_THAT(reason, Catch::Contains("/items/1/price: 12.5 is not of type \"integer\""));
}

TEST_CASE("cli test, --shard i/n runs a share each, merge gives the verdict of one run",
          "[cli][test][shard]") {
  FakeProvider server;
  std::vector<std::string> questions;
  for (int i = 0; i < 30; ++i) {
    questions.push_back(i % 7 == 0 ? "q" + std::to_string(i) + " [[reply: nope]]"
                                   : "q" + std::to_string(i));
  }
  Fixture f(server, questions);
  // One unsharded run, for reference.
  auto whole = f.test({"--json"});
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 1); // 5 of 30 fail
  const json reference = json::parse(whole.out);

  std::vector<std::string> runs;
  std::set<std::string> seen;
  std::size_t total = 0;
  for (int i = 1; i <= 3; ++i) {
    const auto r = f.test({"--shard", std::to_string(i) + "/3", "--json"});
    INFO(r.out << r.err);
    const json s = json::parse(r.out);
    runs.push_back(s["run_id"].get<std::string>());
    total += s["totals"]["cases"].get<std::size_t>();
    CHECK(s["totals"]["cases"].get<int>() > 0); // 30 cases spread over 3 shares
    for (const auto& line : f.results(f.root / ".promptops/runs" / runs.back())) {
      CHECK(seen.insert(line["id"].get<std::string>()).second); // in one share only
    }
  }
  CHECK(total == 30);

  std::vector<std::string> args = {"merge"};
  args.insert(args.end(), runs.begin(), runs.end());
  args.push_back("--json");
  const std::size_t requests_before = server.request_count();
  const auto merged = promptops::test::run_promptops(args, f.root, f.env);
  INFO(merged.out << merged.err);
  CHECK(merged.exit_code == 1);
  CHECK(server.request_count() == requests_before); // merging calls nothing
  const json m = json::parse(merged.out);
  CHECK(m["totals"] == reference["totals"]);
  CHECK(m["pass_rate"] == reference["pass_rate"]);
  CHECK(m["gate"]["passed"] == reference["gate"]["passed"]);
  CHECK(m["gate"]["reasons"] == reference["gate"]["reasons"]);

  SECTION("a missing shard is refused, and nothing is left behind") {
    const std::size_t before =
        std::distance(fs::directory_iterator(f.root / ".promptops/runs"), fs::directory_iterator());
    const auto r = promptops::test::run_promptops({"merge", runs[0], runs[1]}, f.root, f.env);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("the runs do not cover every case"));
    CHECK(std::distance(fs::directory_iterator(f.root / ".promptops/runs"),
                        fs::directory_iterator()) == static_cast<std::ptrdiff_t>(before));
  }
  SECTION("the same shard twice is refused") {
    const auto r = promptops::test::run_promptops({"merge", runs[0], runs[0]}, f.root, f.env);
    CHECK(r.exit_code == 2);
  }
  SECTION("a bad --shard is a usage error") {
    CHECK(f.test({"--shard", "4/3"}).exit_code == 2);
    CHECK(f.test({"--shard", "x"}).exit_code == 2);
  }
}
