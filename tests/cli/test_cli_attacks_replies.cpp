// Round two of the attacks, hostile replies (issue 18, items 1, 9, 10 and 13): a gzip bomb, an
// oversized plain or error body, a declared length that lies, many big replies at once (the
// run-wide budget), an exec command that leaves a child behind, token counts that are negative
// or absurd, and a base_url with credentials in it. Each runs `promptops test` end to end
// against a server on 127.0.0.1 (docs/security.md, "Limits").
#include "tests/support/canned_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <signal.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zlib.h>

using nlohmann::json;
using promptops::test::CannedServer;
using promptops::test::case_of;
using promptops::test::ProcessResult;
using promptops::test::run_promptops;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t k_mib = 1 << 20;
// Peak memory allowed to a run under attack (issue 18: "under 200 MB").
constexpr long k_max_rss_kb = 200 * 1000;

// ---- Helpers ----------------------------------------------------------------------------

// `in` through a raw deflate stream, ended by `flush` (Z_FULL_FLUSH: the next part refers to
// nothing before it, so a part may be sent again and again).
std::string deflate_part(z_stream& z, const std::string& in, int flush) {
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buffer[65536];
  int rc = Z_OK;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    rc = ::deflate(&z, flush);
    out.append(buffer, sizeof buffer - z.avail_out);
  } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return out;
}

void append_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out += static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

// A reply with Content-Encoding: gzip whose body decodes to `prefix`, `fill_bytes` copies of
// `fill`, then `suffix`. One compressed MiB of the fill is sent over and over, so a body that
// decodes to 1 GiB costs the server about 1 MB and no time to build.
CannedServer::Reply gzip_reply(const std::string& prefix, char fill, std::uint64_t fill_bytes,
                               const std::string& suffix) {
  constexpr std::uint64_t k_block = 1 << 20;
  z_stream z{};
  if (::deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip_reply: deflateInit2 failed");
  }
  const std::string block(k_block, fill);
  const std::string last = std::string(fill_bytes % k_block, fill) + suffix;
  CannedServer::Reply r;
  r.headers = "Content-Encoding: gzip\r\n";
  r.body = std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10) + deflate_part(z, prefix, Z_FULL_FLUSH);
  r.repeat = deflate_part(z, block, Z_FULL_FLUSH);
  r.repeats = fill_bytes / k_block;
  r.tail = deflate_part(z, last, Z_FINISH);
  ::deflateEnd(&z);
  // The trailer: CRC-32 and length (mod 2^32) of the whole decoded body.
  const auto crc_of = [](const std::string& s, uLong crc) {
    return ::crc32(crc, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
  };
  uLong crc = crc_of(prefix, ::crc32(0, nullptr, 0));
  const uLong block_crc = crc_of(block, ::crc32(0, nullptr, 0));
  for (std::uint64_t i = 0; i < r.repeats; ++i) {
    crc = ::crc32_combine(crc, block_crc, static_cast<z_off_t>(k_block));
  }
  crc = crc_of(last, crc);
  append_le32(r.tail, static_cast<std::uint32_t>(crc));
  append_le32(r.tail, static_cast<std::uint32_t>(prefix.size() + fill_bytes + suffix.size()));
  return r;
}

// An OpenAI reply with `content` and `usage`.
CannedServer::Reply openai_reply(const std::string& content, const json& usage = json()) {
  json body = {{"id", "chatcmpl-1"},
               {"model", "gpt-4o"},
               {"choices",
                {{{"index", 0},
                  {"message", {{"role", "assistant"}, {"content", content}}},
                  {"finish_reason", "stop"}}}}};
  if (!usage.is_null()) {
    body["usage"] = usage;
  }
  return {200, body.dump()};
}

// The start and end of an OpenAI reply whose content is whatever comes between them.
const std::string k_reply_start =
    R"({"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": ")";
const std::string k_reply_end = R"("}, "finish_reason": "stop"}]})";

// A registry with the providers `providers_yaml` (the lines under "providers:") and suite "s"
// of the cases `cases` on `providers`, scored by `evaluators`.
struct Registry {
  TempDir dir;
  fs::path root = dir.path() / "reg";
  std::map<std::string, std::string> env;

  Registry(const std::string& providers_yaml, const std::string& providers,
           const std::vector<std::string>& cases,
           const std::string& evaluators = "  - {type: contains, value: \"ok\"}\n") {
    dir.write("reg/promptops.yaml", "version: 1\nproviders:\n" + providers_yaml);
    dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                      "input:\n  required: [question]\n");
    dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [" + providers +
                                       "]\ncases: s.jsonl\nevaluators:\n" + evaluators);
    std::string lines;
    for (const auto& name : cases) {
      lines +=
          json({{"id", name}, {"vars", {{"question", "[[case:" + name + "]] Where?"}}}}).dump() +
          "\n";
    }
    dir.write("reg/golden/s.jsonl", lines);
    env = {{"XDG_CACHE_HOME", (dir.path() / "cache").string()}, {"NO_COLOR", "1"}};
  }

  ProcessResult test(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"test", "--no-cache"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_promptops(args, root, env);
  }

  // The last run's folder.
  fs::path run() const {
    fs::path newest;
    fs::file_time_type when{};
    for (const auto& e : fs::directory_iterator(root / ".promptops" / "runs")) {
      if (e.is_directory() && (newest.empty() || e.last_write_time() > when)) {
        newest = e.path();
        when = e.last_write_time();
      }
    }
    return newest;
  }

  // The last run's results by "id/provider".
  std::map<std::string, json> results() const {
    std::map<std::string, json> out;
    std::ifstream in(run() / "results.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line);
      out[j["id"].get<std::string>() + "/" + j["provider"].get<std::string>()] = j;
    }
    return out;
  }
};

std::string provider_yaml(const std::string& name, const CannedServer& server,
                          const std::string& extra = "") {
  return "  " + name + ":\n    type: openai\n    base_url: " + server.base_url() +
         "\n    model: gpt-4o\n" + extra;
}

// The memory bound, checked outside the sanitizers (whose own memory is no measure).
void check_peak_memory(const ProcessResult& r) {
  INFO("peak RSS " << r.peak_rss_kb << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("memory not measured under ASan");
#else
  CHECK(r.peak_rss_kb < k_max_rss_kb);
#endif
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whether `pid` is a live process (a zombie waiting for a parent that is not us is dead).
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) {
    return false;
  }
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Whether the process whose pid `file` holds is gone within 3 s.
bool gone(const fs::path& file) {
  const std::string text = read_text(file);
  REQUIRE_FALSE(text.empty());
  const pid_t pid = static_cast<pid_t>(std::stol(text));
  for (int i = 0; i < 60 && alive(pid); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  const bool dead = !alive(pid);
  if (!dead) {
    ::kill(pid, SIGKILL); // a test that fails leaves nothing behind
  }
  return dead;
}

} // namespace

// Item 1: 1 MB of gzip that expands to 1 GiB took 8.4 GB and wrote a 1 GiB results line.
TEST_CASE("attacks: gzip replies that expand to 1 GiB fail at max_reply_bytes, in bounded memory",
          "[cli][attacks][replies]") {
  const CannedServer::Reply bomb = gzip_reply(k_reply_start, 'A', 1024 * k_mib, k_reply_end);
  CannedServer server(
      [&](const std::string& request) {
        return case_of(request) == "fine" ? openai_reply("ok") : bomb;
      },
      CannedServer::Connections::concurrent);
  // Eight bombs at once: the default concurrency, so the run-wide budget is what holds.
  std::vector<std::string> cases = {"fine"};
  for (int i = 1; i <= 8; ++i) {
    cases.push_back("bomb" + std::to_string(i));
  }
  const Registry reg(provider_yaml("oa", server), "oa", cases);
  const ProcessResult t = reg.test();
  INFO(t.out << t.err);
  CHECK(t.exit_code == 3); // cases that could not run; the run completes
  check_peak_memory(t);
  const auto results = reg.results();
  REQUIRE(results.size() == cases.size());
  CHECK(results.at("fine/oa")["status"] == "pass");
  for (const auto& name : cases) {
    if (name == "fine") {
      continue;
    }
    const json& r = results.at(name + "/oa");
    CHECK(r["status"] == "error");
    CHECK(r["error"] == "the reply exceeds max_reply_bytes (64 MiB)");
    CHECK(r["attempts"] == 1); // a bomb stays a bomb: not retried
  }
  CHECK(fs::file_size(reg.run() / "results.jsonl") < 64 * 1024);
  const json summary = json::parse(read_text(reg.run() / "summary.json"));
  CHECK(summary["totals"]["error"] == 8);
}

// Item 1: a plain 600 MB body took 1.07 GB; an error body and a declared length are bounded too.
TEST_CASE("attacks: oversized plain and error bodies and a lying Content-Length are bounded",
          "[cli][attacks][replies]") {
  CannedServer::Reply plain{200, k_reply_start};
  plain.repeat = std::string(k_mib, 'A');
  plain.repeats = 600;
  plain.tail = k_reply_end;
  CannedServer::Reply error_body{500, R"({"error": {"message": ")"};
  error_body.repeat = std::string(k_mib, 'E');
  error_body.repeats = 600;
  error_body.tail = R"("}})";
  CannedServer::Reply liar = openai_reply("ok");
  liar.content_length = 10'000'000'000ULL; // 10 GB declared, a few bytes sent
  CannedServer::Reply two_mib{200, k_reply_start};
  two_mib.repeat = std::string(k_mib, 'B');
  two_mib.repeats = 2;
  two_mib.tail = "ok" + k_reply_end;
  CannedServer server([&](const std::string& request) {
    const std::string name = case_of(request);
    return name == "plain" ? plain : name == "error" ? error_body : name == "liar" ? liar : two_mib;
  });
  const Registry reg(provider_yaml("oa", server) +
                         provider_yaml("small", server, "    max_reply_bytes: 1048576\n"),
                     "oa, small", {"plain", "error", "liar", "two"});
  const ProcessResult t = reg.test({"--concurrency", "1"});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 3); // cases that could not run; "two" passes on oa
  check_peak_memory(t);
  const auto results = reg.results();
  const std::string over = "the reply exceeds max_reply_bytes (64 MiB)";
  for (const std::string name : {"plain/oa", "error/oa", "liar/oa"}) {
    INFO(name);
    CHECK(results.at(name)["status"] == "error");
    CHECK(results.at(name)["error"] == over);
    CHECK(results.at(name)["attempts"] == 1);
    CHECK(results.at(name).dump().size() < 4096);
  }
  CHECK(results.at("two/oa")["status"] == "pass");
  CHECK(results.at("two/small")["error"] == "the reply exceeds max_reply_bytes (1 MiB)");

  // The setting is checked: a value out of range is an input error at its line.
  reg.dir.write("reg/promptops.yaml", "version: 1\nproviders:\n" + provider_yaml("oa", server) +
                                          "    max_reply_bytes: 12\n");
  const ProcessResult bad = reg.test();
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("promptops.yaml:7") && Catch::Contains("max_reply_bytes"));
}

// Item 1: concurrency x the cap must not exhaust memory: a run-wide budget of reply bytes in
// flight (2 x the largest max_reply_bytes) stops the transfer that would pass it, to be sent
// again later; it is not an attempt, and never a pass with half a reply.
TEST_CASE("attacks: replies in flight together stay within the run-wide budget",
          "[cli][attacks][replies]") {
  CannedServer::Reply big{200, k_reply_start};
  big.repeat = std::string(64 * 1024, 'A');
  big.repeats = 14; // 896 KiB: under the cap of 1 MiB, but 8 of them are 3.5 budgets of 2 MiB
  big.pause_ms = 10;
  big.tail = "ok" + k_reply_end;
  CannedServer server([&](const std::string&) { return big; },
                      CannedServer::Connections::concurrent);
  std::vector<std::string> cases;
  for (int i = 1; i <= 8; ++i) {
    cases.push_back("c" + std::to_string(i));
  }
  const Registry reg(provider_yaml("oa", server, "    max_reply_bytes: 1048576\n"), "oa", cases);
  const ProcessResult t = reg.test();
  INFO(t.out << t.err);
  CHECK(t.exit_code == 0);
  CHECK(server.answered() > 8); // some were stopped at the budget and sent again
  for (const auto& [name, r] : reg.results()) {
    INFO(name << " " << r.dump().substr(0, 300));
    CHECK(r["status"] == "pass");
    CHECK(r["output"].get<std::string>().size() == 14 * 64 * 1024 + 2);
    CHECK(r["attempts"] == 1);
  }
}

// Item 9: a command that backgrounds a child keeping stdout open was "timed out" although it
// had answered, and on timeout its children outlived promptops.
TEST_CASE("attacks: exec commands are done when they exit, and their children are killed",
          "[cli][attacks][replies]") {
  const std::string providers =
      "  quick:\n    type: exec\n    command: \"sleep 30 & echo $! > quick.pid; echo ok\"\n"
      "    timeout_s: 20\n    retries: 0\n"
      "  stuck:\n    type: exec\n    command: \"sleep 30 & echo $! > stuck.pid; sleep 30\"\n"
      "    timeout_s: 1\n    retries: 0\n";
  const Registry reg(providers, "quick, stuck", {"a"},
                     "  - {type: contains, value: \"ok\"}\n"
                     "  - type: exec\n    command: \"sleep 30 & echo $! > eval_$$.pid; "
                     "echo '{\\\"pass\\\": true}'\"\n    timeout_s: 20\n");
  const auto started = std::chrono::steady_clock::now();
  const ProcessResult t = reg.test();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(t.out << t.err);
  CHECK(seconds < 10);
  const auto results = reg.results();
  const json& quick = results.at("a/quick");
  INFO(quick.dump());
  CHECK(quick["status"] == "pass");
  CHECK(quick["output"] == "ok");
  CHECK(quick["latency_ms"].get<double>() < 5000);
  CHECK(results.at("a/stuck")["status"] == "error");
  CHECK_THAT(results.at("a/stuck")["error"].get<std::string>(),
             Catch::StartsWith("the command timed out after 1"));
  CHECK(gone(reg.root / "quick.pid"));
  CHECK(gone(reg.root / "stuck.pid"));
  int evaluators = 0;
  for (const auto& e : fs::directory_iterator(reg.root)) {
    if (e.path().filename().string().rfind("eval_", 0) == 0) {
      ++evaluators;
      CHECK(gone(e.path()));
    }
  }
  CHECK(evaluators == 1); // the exec evaluator ran on the one reply that came
}

// Item 10: "-1000000000 tokens in", cost -1000, and the cost evaluator passed.
TEST_CASE("attacks: negative or absurd token counts make usage unknown and fail the cost check",
          "[cli][attacks][replies]") {
  CannedServer server([&](const std::string& request) {
    const std::string name = case_of(request);
    if (name == "negative") {
      return openai_reply("ok", {{"prompt_tokens", -1000000000}, {"completion_tokens", 5}});
    }
    if (name == "huge") {
      return openai_reply("ok", {{"prompt_tokens", 10}, {"completion_tokens", 1e15}});
    }
    if (name == "wrapped") { // 2^64 - 1: read as a signed count it was -1
      return openai_reply("ok",
                          {{"prompt_tokens", 18446744073709551615ULL}, {"completion_tokens", 5}});
    }
    return openai_reply("ok", {{"prompt_tokens", 10}, {"completion_tokens", 5}});
  });
  const std::string pricing = "    pricing: {input_per_mtok: 1000000, output_per_mtok: 1000000}\n";
  const Registry reg(
      provider_yaml("oa", server, pricing) +
          "  ex:\n    type: exec\n    command: \"echo '{\\\"output\\\": \\\"ok\\\", "
          "\\\"usage\\\": {\\\"input_tokens\\\": -7, \\\"output_tokens\\\": 1}}'\"\n" +
          pricing,
      "oa, ex", {"negative", "huge", "wrapped", "fine"}, "  - {type: cost, max: 100}\n");
  const ProcessResult t = reg.test({"--json"});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 1);
  const auto results = reg.results();
  CHECK(results.at("fine/oa")["status"] == "pass");
  CHECK(results.at("fine/oa")["cost"] == 15.0);
  for (const std::string name :
       {"negative/oa", "huge/oa", "wrapped/oa", "fine/ex", "negative/ex"}) {
    const json& r = results.at(name);
    INFO(name << " " << r.dump());
    CHECK(r["status"] == "fail");
    CHECK(r["cost"].is_null());
    CHECK(r["usage"]["input_tokens"].is_null());
    CHECK(r["usage"]["output_tokens"].is_null());
    CHECK_THAT(r["evaluations"][0]["reason"].get<std::string>(), Catch::Contains("token counts"));
    CHECK_THAT(r.value("notes", json::array()).dump(), Catch::Contains("token counts"));
  }
  CHECK_THAT(results.at("negative/oa")["notes"].dump(), Catch::Contains("-1000000000"));
  const json summary = json::parse(t.out);
  CHECK(summary["usage"]["input_tokens"] == 10);
  CHECK(summary["usage"]["output_tokens"] == 5);
}

// Item 13: a base_url with user:token and a wrong scheme printed the token.
TEST_CASE("attacks: credentials in a base_url are never printed nor written",
          "[cli][attacks][replies]") {
  const std::string secret = "sk-cred-secret-0123456789";
  Registry reg("  oa:\n    type: openai\n    base_url: \"ftp://alice:" + secret +
                   "@127.0.0.1/v1\"\n    model: gpt-4o\n",
               "oa", {"a"});
  {
    const ProcessResult t = reg.test();
    INFO(t.err);
    CHECK(t.exit_code == 2);
    CHECK_THAT(t.err, Catch::Contains("\"ftp://***@127.0.0.1/v1\""));
    CHECK(t.err.find(secret) == std::string::npos);
    CHECK(t.err.find("alice") == std::string::npos);
  }
  // A usable scheme whose server is not there: nothing printed or written names the token.
  reg.dir.write("reg/promptops.yaml", "version: 1\nproviders:\n  oa:\n    type: openai\n"
                                      "    base_url: \"http://alice:" +
                                          secret +
                                          "@127.0.0.1:1/v1\"\n    model: gpt-4o\n"
                                          "    retries: 0\n");
  const ProcessResult t = reg.test({"--json"});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 3);
  CHECK(t.out.find(secret) == std::string::npos);
  CHECK(t.err.find(secret) == std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(reg.root / ".promptops")) {
    if (e.is_regular_file()) {
      INFO(e.path());
      CHECK(read_text(e.path()).find(secret) == std::string::npos);
    }
  }
}
