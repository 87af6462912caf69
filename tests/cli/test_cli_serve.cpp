// End-to-end: promptops serve as a child process, spoken to over HTTP on 127.0.0.1.
#include "tests/support/background_process.hpp"
#include "tests/support/env_branch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

using promptops::test::BackgroundProcess;
using promptops::test::commit_env_branch;
using promptops::test::files_from;
using promptops::test::listening_port;
using promptops::test::run_promptops;
using promptops::test::TempDir;
using ordered = nlohmann::ordered_json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> k_example_pins = {
    "prompts/summarize.yaml", "prompts/support/classify.yaml",
    "prompts/partials/categories.mustache", "schemas/classification.json"};

// The example registry with both prompts pinned in prod, and `promptops serve` running on it.
struct Served {
  TempDir dir;
  std::filesystem::path demo;
  std::string commit;
  std::unique_ptr<BackgroundProcess> server;
  int port = -1;

  // `extra`: more files (path in the registry -> content), written and pinned too.
  explicit Served(const std::map<std::string, std::string>& extra = {}) {
    if (run_promptops({"init", "demo"}, dir.path()).exit_code != 0) {
      throw std::runtime_error("promptops init failed");
    }
    demo = dir.path() / "demo";
    std::vector<std::string> pins = k_example_pins;
    for (const auto& [path, content] : extra) {
      dir.write("demo/" + path, content);
      pins.push_back(path);
    }
    commit = commit_env_branch(demo, "prod", files_from(demo, pins));
    server = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"serve", "--addr", "127.0.0.1:0"}, demo);
    port = listening_port(server->wait_for_stderr("listening on", 20s));
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_url_encode(false); // send paths exactly as written
    c.set_connection_timeout(10s);
    c.set_read_timeout(30s);
    return c;
  }

  // The version id `show NAME@prod` reports.
  std::string version(const std::string& name) const {
    return nlohmann::json::parse(run_promptops({"show", name + "@prod", "--json"}, demo).out)
        .at("version");
  }

  // Stop it the way a service manager does; it must end cleanly.
  int stop(int sig = SIGTERM) {
    server->send_signal(sig);
    return server->wait(20s);
  }
};

std::string error_of(const httplib::Result& res) {
  return nlohmann::json::parse(res->body).at("error").get<std::string>();
}

} // namespace

TEST_CASE("cli serve, one prompt with its ETag, then 304 Not Modified", "[cli][git][serve]") {
  Served s;
  REQUIRE(s.port > 0);
  CHECK(s.server->err() == "listening on http://127.0.0.1:" + std::to_string(s.port) + "\n");
  auto client = s.client();
  const std::string version = s.version("support/classify");

  auto res = client.Get("/v1/prompts/support/classify?env=prod");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("ETag") == "\"" + version + "\"");
  CHECK(res->get_header_value("Cache-Control") == "no-cache");
  CHECK(res->get_header_value("Content-Type") == "application/json");
  // Exactly the export bundle's entry, with "name" first.
  const auto bundle = ordered::parse(run_promptops({"export", "--env", "prod"}, s.demo).out);
  ordered expected = {{"name", "support/classify"}};
  for (const auto& [key, value] : bundle["prompts"]["support/classify"].items()) {
    expected[key] = value;
  }
  CHECK(ordered::parse(res->body).dump() == expected.dump());

  // prod is the default: the last environment of promptops.yaml.
  const auto by_default = client.Get("/v1/prompts/support/classify");
  REQUIRE(by_default);
  CHECK(by_default->status == 200);
  CHECK(by_default->body == res->body);

  const std::string etag = res->get_header_value("ETag");
  for (const std::string& if_none_match :
       std::vector<std::string>{etag, "W/" + etag, "\"other\", " + etag, "*"}) {
    INFO(if_none_match);
    const auto not_modified =
        client.Get("/v1/prompts/support/classify?env=prod", {{"If-None-Match", if_none_match}});
    REQUIRE(not_modified);
    CHECK(not_modified->status == 304);
    CHECK(not_modified->body == "");
    CHECK(not_modified->get_header_value("ETag") == etag);
  }
  const auto modified =
      client.Get("/v1/prompts/support/classify?env=prod", {{"If-None-Match", "\"other\""}});
  REQUIRE(modified);
  CHECK(modified->status == 200);
  CHECK(modified->body == res->body);

  const auto head = client.Head("/v1/prompts/support/classify");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("ETag") == etag);
  CHECK(head->body == "");

  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, a prompt's tools", "[cli][git][serve][tools]") {
  // A function tool in the shape OpenAI and Anthropic document (a name, a description, a JSON
  // Schema object: openai/openai-python src/openai/types/shared_params/function_definition.py).
  Served s(std::map<std::string, std::string>{
      {"prompts/orders.yaml",
       "messages:\n  - {role: user, content: \"Where is order {{id}}?\"}\n"
       "tools:\n  - name: lookup_order\n    description: Find an order\n"
       "    parameters: {type: object, properties: {id: {type: string}}}\n"}});
  auto client = s.client();
  const auto res = client.Get("/v1/prompts/orders?env=prod");
  REQUIRE(res);
  CHECK(res->status == 200);
  const auto body = ordered::parse(res->body);
  CHECK(body["tools"] == ordered::parse(R"([{"name": "lookup_order", "description":
    "Find an order", "parameters": {"properties": {"id": {"type": "string"}},
    "type": "object"}}])"));
  CHECK(res->get_header_value("ETag") == "\"" + s.version("orders") + "\"");
  const auto other = client.Get("/v1/prompts/support/classify?env=prod");
  REQUIRE(other);
  CHECK_FALSE(ordered::parse(other->body).contains("tools"));
  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, the list of an environment", "[cli][git][serve]") {
  Served s;
  auto client = s.client();
  const auto res = client.Get("/v1/prompts?env=prod");
  REQUIRE(res);
  CHECK(res->status == 200);
  const ordered expected = {
      {"environment", "prod"},
      {"commit", s.commit},
      {"prompts",
       {{{"name", "summarize"}, {"version", s.version("summarize")}},
        {{"name", "support/classify"}, {"version", s.version("support/classify")}}}}};
  CHECK(ordered::parse(res->body).dump() == expected.dump());
  const std::string etag = res->get_header_value("ETag");
  CHECK(etag.size() == 66);
  CHECK(etag.find(s.commit) == std::string::npos); // a hash of the tip, not the tip itself
  const auto again = client.Get("/v1/prompts", {{"If-None-Match", etag}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body == "");
  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, errors: 404, 400 for names that leave the registry, 405",
          "[cli][git][serve]") {
  Served s;
  auto client = s.client();

  auto res = client.Get("/v1/prompts/support/clasify");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  CHECK(error_of(res) == "prompt \"support/clasify\" is not pinned in environment \"prod\", did "
                         "you mean \"support/classify\"?");

  res = client.Get("/v1/prompts/summarize?env=prd");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(error_of(res) == "unknown environment \"prd\", did you mean \"prod\"? (the environments "
                         "of promptops.yaml are \"staging\", \"prod\")");
  res = client.Get("/v1/prompts?env=staging");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(error_of(res) ==
        "environment \"staging\" has nothing promoted yet (no branch promptops/env/staging)");
  res = client.Get("/v1/prompts/summarize?env=HEAD");
  REQUIRE(res);
  CHECK(res->status == 404);

  // The path is percent-decoded before the name is checked, so no spelling gets out.
  for (const std::string& path : std::vector<std::string>{
           "/v1/prompts/../x", "/v1/prompts/%2e%2e%2fx", "/v1/prompts/%2E%2E/promptops",
           "/v1/prompts/support/../../x", "/v1/prompts//etc/passwd", "/v1/prompts/%2Fetc%2Fpasswd",
           "/v1/prompts/a%00b", "/v1/prompts/sum%20marize"}) {
    INFO(path);
    res = client.Get(path);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_THAT(error_of(res), Catch::StartsWith("invalid prompt name \""));
  }
  res = client.Get("/v1/prompts/../x");
  REQUIRE(res);
  CHECK(error_of(res) == "invalid prompt name \"../x\": \".\" and \"..\" may not appear in a name "
                         "(names stay inside prompts/)");

  res = client.Get("/v2/prompts");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK_THAT(error_of(res), Catch::StartsWith("no such path \"/v2/prompts\""));

  res = client.Post("/v1/prompts/summarize", "{}", "application/json");
  REQUIRE(res);
  CHECK(res->status == 405);
  CHECK(res->get_header_value("Allow") == "GET, HEAD");
  CHECK(error_of(res) == "method not allowed: the API is read-only (GET and HEAD)");
  res = client.Delete("/v1/prompts/summarize");
  REQUIRE(res);
  CHECK(res->status == 405);
  res = client.Put("/v1/prompts", std::string(1000, 'x'), "text/plain");
  REQUIRE(res);
  CHECK(res->status == 405);
  // The connection still answers after refusing a request with a body.
  res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "{\"status\":\"ok\"}");

  CHECK(s.stop(SIGINT) == 0);
}

TEST_CASE("cli serve, a promotion made while it runs shows at once", "[cli][git][serve]") {
  Served s;
  auto client = s.client();
  const auto before = client.Get("/v1/prompts/summarize");
  REQUIRE(before);
  REQUIRE(before->status == 200);
  const auto list_before = client.Get("/v1/prompts");
  REQUIRE(list_before);

  // Promote an edited summarize (and a new prompt) by moving the branch.
  s.dir.write("demo/prompts/summarize.yaml", "template: \"Sum up {{text}}\"\n"
                                             "input: {required: [text]}\n");
  s.dir.write("demo/prompts/extra/new.yaml", "template: \"New\"\n");
  auto pins = k_example_pins;
  pins.push_back("prompts/extra/new.yaml");
  const std::string second = commit_env_branch(s.demo, "prod", files_from(s.demo, pins));

  const auto after =
      client.Get("/v1/prompts/summarize", {{"If-None-Match", before->get_header_value("ETag")}});
  REQUIRE(after);
  CHECK(after->status == 200);
  const auto body = ordered::parse(after->body);
  CHECK(body["template"] == "Sum up {{text}}");
  CHECK(body["version"] == s.version("summarize"));
  CHECK(after->get_header_value("ETag") == "\"" + s.version("summarize") + "\"");
  CHECK(after->get_header_value("ETag") != before->get_header_value("ETag"));

  const auto list_after =
      client.Get("/v1/prompts", {{"If-None-Match", list_before->get_header_value("ETag")}});
  REQUIRE(list_after);
  CHECK(list_after->status == 200);
  const auto list = ordered::parse(list_after->body);
  CHECK(list["commit"] == second);
  CHECK(list["prompts"].size() == 3);
  CHECK(list["prompts"][0]["name"] == "extra/new");

  // Unpinning shows at once too.
  commit_env_branch(s.demo, "prod", files_from(s.demo, {"prompts/extra/new.yaml"}));
  const auto gone = client.Get("/v1/prompts/summarize");
  REQUIRE(gone);
  CHECK(gone->status == 404);
  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, 32 concurrent clients x 50 requests, through a promotion",
          "[cli][git][serve]") {
  Served s;
  const std::string old_version = s.version("support/classify");
  const auto first = s.client().Get("/v1/prompts/support/classify");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  const std::string old_body = first->body;

  constexpr int k_clients = 32;
  constexpr int k_requests = 50;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::atomic<int> saw_new{0};
  std::mutex mutex;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    const std::lock_guard lock(mutex);
    if (failures++ == 0) {
      first_failure = what;
    }
  };

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.reserve(k_clients);
  for (int t = 0; t < k_clients; ++t) {
    threads.emplace_back([&, t] {
      auto client = s.client();
      client.set_keep_alive(t % 2 == 0); // half reuse connections, half open one per request
      // Each client from its own address (127.0.0.2, ...: all of 127/8 is loopback), as 32
      // clients would be: from one address, more than 16 connections at once are refused.
      client.set_socket_options([t](socket_t sock) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl(0x7f000002u + static_cast<std::uint32_t>(t));
        // Should this fail, the client connects from 127.0.0.1 and the cap shows as errors.
        static_cast<void>(bind(sock, reinterpret_cast<const sockaddr*>(&local), sizeof local));
      });
      bool seen_new = false;
      for (int i = 0; i < k_requests; ++i) {
        const int kind = (t + i) % 4;
        httplib::Result res = kind == 0   ? client.Get("/v1/prompts")
                              : kind == 1 ? client.Get("/v1/prompts/nope")
                              : kind == 2
                                  ? client.Get("/v1/prompts/support/classify",
                                               {{"If-None-Match", "\"" + old_version + "\""}})
                                  : client.Get("/v1/prompts/support/classify?env=prod");
        ++done;
        if (!res) {
          fail("client " + std::to_string(t) + ": " + httplib::to_string(res.error()));
          continue;
        }
        if (kind == 0) {
          if (res->status != 200 || ordered::parse(res->body)["prompts"].size() != 2) {
            fail("list: " + std::to_string(res->status) + " " + res->body);
          }
        } else if (kind == 1) {
          if (res->status != 404) {
            fail("nope: " + std::to_string(res->status));
          }
        } else if (res->status == 304) {
          // Only the old version can match the old ETag, and never after the new one was seen.
          if (seen_new || res->get_header_value("ETag") != "\"" + old_version + "\"") {
            fail("stale 304 after the promotion");
          }
        } else if (res->status == 200) {
          const auto body = nlohmann::json::parse(res->body);
          const std::string version = body.at("version");
          // The body and its ETag always describe the same version.
          if (res->get_header_value("ETag") != "\"" + version + "\"") {
            fail("ETag " + res->get_header_value("ETag") + " for version " + version);
          }
          if (version == old_version) {
            if (seen_new) {
              fail("old version after the new one");
            }
            if (res->body != old_body) {
              fail("body differs: " + res->body);
            }
          } else {
            seen_new = true;
          }
        } else {
          fail("classify: " + std::to_string(res->status) + " " + res->body);
        }
      }
      if (seen_new) {
        ++saw_new;
      }
    });
  }
  // Promote a new classify while the clients are at it.
  while (done < k_clients * k_requests / 3) {
    std::this_thread::sleep_for(1ms);
  }
  s.dir.write("demo/prompts/support/classify.yaml",
              "messages:\n  - role: user\n    content: \"Classify: {{ticket}}\"\n"
              "input: {required: [ticket]}\n");
  commit_env_branch(s.demo, "prod", files_from(s.demo, k_example_pins));
  for (auto& t : threads) {
    t.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "serve: " << k_clients * k_requests << " requests from " << k_clients
            << " clients in " << seconds << " s (" << k_clients * k_requests / seconds
            << " requests/s)\n";

  INFO(first_failure);
  CHECK(failures == 0);
  CHECK(done == k_clients * k_requests);
  CHECK(saw_new > 0);
  const auto last = s.client().Get("/v1/prompts/support/classify");
  REQUIRE(last);
  CHECK(nlohmann::json::parse(last->body)["version"] == s.version("support/classify"));
  CHECK(s.version("support/classify") != old_version);
  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, a bad address, a port in use, no registry", "[cli][serve]") {
  // Each in the background with a deadline: a server that starts by mistake must not hang the
  // test.
  const auto run_briefly = [](const std::vector<std::string>& args,
                              const std::filesystem::path& cwd) {
    BackgroundProcess p(args, cwd);
    const int status = p.wait(20s);
    return std::make_pair(status, p.err());
  };
  TempDir dir;
  auto [status, err] = run_briefly({"serve", "--addr", "localhost"}, dir.path());
  CHECK(status == 2);
  CHECK(err == "promptops: error: invalid address \"localhost\": use HOST:PORT, e.g. "
               "127.0.0.1:8700 (port 0 picks a free one)\n");
  std::tie(status, err) = run_briefly({"serve", "--addr", "127.0.0.1:70000"}, dir.path());
  CHECK(status == 2);

  std::tie(status, err) = run_briefly({"serve", "--addr", "127.0.0.1:0"}, dir.path());
  CHECK(status == 2);
  CHECK_THAT(err, Catch::StartsWith("promptops: error: not a promptops registry"));

  Served s;
  const std::string port = std::to_string(s.port);
  std::tie(status, err) = run_briefly({"serve", "--addr", "127.0.0.1:" + port}, s.demo);
  CHECK(status == 3);
  CHECK(err ==
        "promptops: error: cannot listen on 127.0.0.1:" + port + ": Address already in use\n");
  CHECK(s.stop() == 0);
}

TEST_CASE("cli serve, answers are not compressed even for a client that accepts brotli",
          "[cli][git][serve]") {
  Served s;
  auto client = s.client();
  client.set_decompress(false); // see the bytes as sent
  const auto res = client.Get("/v1/prompts/support/classify?env=prod",
                              {{"Accept-Encoding", "br, gzip, deflate"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(res->has_header("Content-Encoding"));
  CHECK(ordered::parse(res->body)["name"] == "support/classify");
  CHECK(res->get_header_value("Content-Length") == std::to_string(res->body.size()));
  CHECK(s.stop() == 0);
}
