#include "providers/cache_entry.hpp"
#include "providers/response_cache.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <sqlite3.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using promptops::providers::Reply;
using promptops::providers::ResponseCache;
using promptops::test::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A key like the runner's: a hex digest, here derived from `n`.
std::string key_for(unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string key;
  unsigned x = n * 2654435761u + 12345u;
  for (int i = 0; i < 64; ++i) {
    key += digits[(x >> ((i % 8) * 4)) & 0xf];
    if (i % 8 == 7) {
      x = x * 1103515245u + 12345u + n;
    }
  }
  return key;
}

json reply(const std::string& key, int writer, int seq, std::size_t size = 1000) {
  return json{{"key", key},
              {"writer", writer},
              {"seq", seq},
              {"output", std::string(size, static_cast<char>('a' + writer % 26))},
              {"usage", {{"input_tokens", 12}, {"output_tokens", 34}}}};
}

// True when `entry` is a whole entry that reply() wrote for `key`.
bool is_whole(const json& entry, const std::string& key) {
  if (!entry.is_object() || entry.value("key", "") != key || !entry.contains("writer") ||
      !entry.contains("output") || !entry["output"].is_string()) {
    return false;
  }
  const auto& output = entry["output"].get_ref<const std::string&>();
  const char letter = static_cast<char>('a' + entry["writer"].get<int>() % 26);
  return output.size() == 1000 && output.find_first_not_of(letter) == std::string::npos &&
         entry["usage"]["output_tokens"] == 34;
}

// The database as another program sees it, through SQLite itself.
class Database {
public:
  explicit Database(const fs::path& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(m_db, 5000);
  }
  ~Database() { sqlite3_close(m_db); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  // Runs `sql` with ?1 and ?2 bound; returns the first column of the first row, or nullopt.
  std::optional<std::string> run(const char* sql, const std::string& a, const std::string& b = {}) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(m_db, sql, -1, &stmt, nullptr) == SQLITE_OK);
    sqlite3_bind_text(stmt, 1, a.data(), static_cast<int>(a.size()), SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(stmt) > 1) {
      sqlite3_bind_text(stmt, 2, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    }
    std::optional<std::string> out;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, 0));
      out = std::string(data != nullptr ? data : "",
                        static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    } else {
      CHECK(rc == SQLITE_DONE);
    }
    sqlite3_finalize(stmt);
    return out;
  }

private:
  sqlite3* m_db = nullptr;
};

std::optional<std::string> stored_text(const fs::path& database, const std::string& key) {
  return Database(database).run("SELECT entry FROM replies WHERE key = ?1", key);
}

// Overwrites the entry of `key` with `text`, as a damaged write would leave it.
void store_text(const fs::path& database, const std::string& key, const std::string& text) {
  Database(database).run("UPDATE replies SET entry = CAST(?2 AS BLOB) WHERE key = ?1", key, text);
  REQUIRE(stored_text(database, key) == text);
}

// Sets or unsets an environment variable for one scope, restoring the old value after.
class EnvGuard {
public:
  explicit EnvGuard(const char* name) : m_name(name) {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
  }
  ~EnvGuard() {
    if (m_old) {
      ::setenv(m_name, m_old->c_str(), 1);
    } else {
      ::unsetenv(m_name);
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;
  void set(const char* value) const { ::setenv(m_name, value, 1); }
  void unset() const { ::unsetenv(m_name); }

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

} // namespace

TEST_CASE("providers::ResponseCache::put, get returns the entry, kept in <dir>/v2/replies.sqlite3",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path() / "cache");
  CHECK(cache.dir() == dir.path() / "cache");
  CHECK(cache.database() == dir.path() / "cache" / "v2" / "replies.sqlite3");
  const std::string key = "0123456789abcdef";
  const json entry = {{"output", "hi\nthere ✓"}, {"model", "gpt-4o-mini"}, {"cost", 0.25}};
  CHECK_FALSE(cache.get(key).has_value());
  cache.put(key, entry);
  REQUIRE(fs::is_regular_file(cache.database()));
  // Stored compactly, under its key, as another program reading the database sees it.
  CHECK(stored_text(cache.database(), key) == entry.dump());
  const auto got = cache.get(key);
  REQUIRE(got.has_value());
  CHECK(*got == entry);
  // A second cache object (another process, in effect) reads it too.
  const ResponseCache other(dir.path() / "cache");
  CHECK(other.get(key) == entry);
}

TEST_CASE("providers::ResponseCache::put, a second put of a key replaces the entry",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  cache.put("aaaaaaaa", json{{"output", "first, and longer than the second"}});
  cache.put("aaaaaaaa", json{{"output", "second"}});
  CHECK(cache.get("aaaaaaaa") == json{{"output", "second"}});
  CHECK(cache.stats().entries == 1);
}

TEST_CASE("providers::ResponseCache::put_many, one batch, every entry readable after",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  std::vector<std::pair<std::string, json>> batch;
  for (unsigned i = 0; i < 300; ++i) {
    batch.emplace_back(key_for(i), reply(key_for(i), 3, static_cast<int>(i)));
  }
  // The same key twice in one batch: the later one wins.
  batch.emplace_back(key_for(7), reply(key_for(7), 4, 999));
  cache.put_many(batch);
  CHECK(cache.stats().entries == 300);
  CHECK((*cache.get(key_for(7)))["seq"] == 999);
  CHECK((*cache.get(key_for(299)))["seq"] == 299);
  // A bad key anywhere refuses the whole batch before anything is written.
  batch.emplace_back("NOT-HEX", json::object());
  batch[0].second["seq"] = -1;
  CHECK_THROWS_AS(cache.put_many(batch), std::invalid_argument);
  CHECK((*cache.get(key_for(0)))["seq"] == 0);
  CHECK_NOTHROW(cache.put_many({}));
}

TEST_CASE("providers::ResponseCache::put, invalid UTF-8 in an entry is replaced, not fatal",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  cache.put("bbbbbbbb", json{{"output", std::string("ok \xff\xfe end")}});
  const auto got = cache.get("bbbbbbbb");
  REQUIRE(got.has_value());
  CHECK((*got)["output"] == "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_CASE("providers::ResponseCache::get, a damaged entry reads as a miss and is removed",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  cache.put("cccccccccc", json{{"output", "good"}});
  cache.put("dddddddddd", json{{"output", "kept"}});
  std::string damage;
  SECTION("empty") {
    damage = "";
  }
  SECTION("cut short") {
    damage = R"({"output": "half)";
  }
  SECTION("not JSON") {
    damage = std::string("\x00\x01garbage", 9);
  }
  store_text(cache.database(), "cccccccccc", damage);
  CHECK_FALSE(cache.get("cccccccccc").has_value());
  CHECK(cache.stats().entries == 1);
  CHECK(cache.get("dddddddddd") == json{{"output", "kept"}});
  // The key works again afterwards.
  cache.put("cccccccccc", json{{"output", "x"}});
  CHECK(cache.get("cccccccccc") == json{{"output", "x"}});
}

TEST_CASE("providers::ResponseCache, a file that is not a database is a miss, then replaced",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  SECTION("garbage") {
    dir.write("v2/replies.sqlite3", std::string(5000, 'x'));
  }
  SECTION("empty") {
    dir.write("v2/replies.sqlite3", "");
  }
  SECTION("a database cut short") {
    {
      const ResponseCache first(dir.path() / "first");
      for (unsigned i = 0; i < 200; ++i) {
        first.put(key_for(i), reply(key_for(i), 1, static_cast<int>(i)));
      }
    }
    const std::string whole = promptops::util::read_file(dir.path() / "first/v2/replies.sqlite3");
    REQUIRE(whole.size() > 8192);
    dir.write("v2/replies.sqlite3", whole.substr(0, 5000));
  }
  // Whatever it holds, no read returns something that was not put.
  for (unsigned i = 0; i < 200; ++i) {
    const auto got = cache.get(key_for(i));
    if (got) {
      CHECK(is_whole(*got, key_for(i)));
    }
  }
  cache.put("eeeeeeee", json{{"output", "fresh"}});
  CHECK(cache.get("eeeeeeee") == json{{"output", "fresh"}});
}

TEST_CASE("providers::ResponseCache::get, a missing folder is a miss", "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path() / "does" / "not" / "exist");
  CHECK_FALSE(cache.get("deadbeef").has_value());
  CHECK_FALSE(fs::exists(dir.path() / "does"));
}

TEST_CASE("providers::ResponseCache, a key that is not a lower-case hex digest is refused",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  CHECK_THROWS_AS(cache.get("abc"), std::invalid_argument);
  CHECK_THROWS_AS(cache.get("../../etc/passwd"), std::invalid_argument);
  CHECK_THROWS_AS(cache.put("ABCDEF0123", json::object()), std::invalid_argument);
  CHECK_THROWS_AS(cache.put("0123456/89", json::object()), std::invalid_argument);
}

TEST_CASE("providers::ResponseCache::stats and clear, count entries and bytes", "[providers]") {
  TempDir dir;
  SECTION("a missing folder") {
    const ResponseCache cache(dir.path() / "missing");
    CHECK(cache.stats().entries == 0);
    CHECK(cache.stats().bytes == 0);
    CHECK(cache.stats().disk_bytes == 0);
    CHECK(cache.clear() == 0);
    CHECK_FALSE(fs::exists(dir.path() / "missing"));
  }
  SECTION("entries") {
    const ResponseCache cache(dir.path());
    std::uintmax_t bytes = 0;
    for (unsigned i = 0; i < 20; ++i) {
      const json entry = reply(key_for(i), 1, static_cast<int>(i));
      cache.put(key_for(i), entry);
      bytes += entry.dump().size();
    }
    const auto stats = cache.stats();
    CHECK(stats.entries == 20);
    CHECK(stats.bytes == bytes);
    CHECK(stats.disk_bytes >= bytes);
    CHECK(cache.clear() == 20);
    CHECK(cache.stats().entries == 0);
    CHECK(cache.stats().bytes == 0);
    CHECK_FALSE(cache.get(key_for(3)).has_value());
    // The space is given back.
    CHECK(cache.stats().disk_bytes < stats.disk_bytes);
    cache.put(key_for(3), reply(key_for(3), 1, 3));
    CHECK(cache.stats().entries == 1);
  }
  SECTION("the file-per-entry folder of earlier builds") {
    dir.write("v1/ab/cdef0123.json", "{}");
    dir.write("v1/ab/cdef0124.json", "{}");
    dir.write("v1/cd/.ef0123.123-456-7.tmp", "{\"partial");
    const ResponseCache cache(dir.path());
    cache.put(key_for(1), reply(key_for(1), 1, 1));
    CHECK(cache.stats().entries == 1);
    CHECK(cache.clear() == 3);
    CHECK_FALSE(fs::exists(dir.path() / "v1"));
  }
}

TEST_CASE("providers::ResponseCache::put, an unwritable folder is a RunError naming it",
          "[providers]") {
  TempDir dir;
  dir.write("file", "a regular file");
  const auto under_file = dir.path() / "file" / "cache";
  const ResponseCache cache(under_file);
  REQUIRE_THROWS_AS(cache.put("deadbeef", json{{"output", "x"}}), promptops::RunError);
  REQUIRE_THROWS_WITH(cache.put("deadbeef", json{{"output", "x"}}),
                      "cannot write to the response cache in \"" + under_file.string() +
                          "\": Not a directory");
  CHECK_FALSE(cache.get("deadbeef").has_value());
  try {
    cache.put("deadbeef", json::object());
  } catch (const promptops::Error& e) {
    CHECK(e.exit_code() == 3);
  }

  // Permission bits do not stop root; check a read-only folder only when they apply.
  if (::geteuid() != 0) {
    const auto read_only = dir.path() / "ro";
    fs::create_directories(read_only / "v2");
    fs::permissions(read_only / "v2", fs::perms::owner_read | fs::perms::owner_exec);
    const ResponseCache ro(read_only);
    CHECK_THROWS_WITH(ro.put("deadbeef", json::object()),
                      "cannot write to the response cache in \"" + read_only.string() +
                          "\": Permission denied");
    fs::permissions(read_only / "v2", fs::perms::owner_all);
  }
}

TEST_CASE("providers::ResponseCache::default_dir, XDG_CACHE_HOME, else HOME/.cache",
          "[providers]") {
  const EnvGuard xdg("XDG_CACHE_HOME");
  const EnvGuard home("HOME");
  home.set("/home/someone");
  SECTION("XDG_CACHE_HOME set") {
    xdg.set("/var/cache/me");
    CHECK(ResponseCache::default_dir() == fs::path("/var/cache/me/promptops"));
  }
  SECTION("XDG_CACHE_HOME unset") {
    xdg.unset();
    CHECK(ResponseCache::default_dir() == fs::path("/home/someone/.cache/promptops"));
  }
  SECTION("XDG_CACHE_HOME empty") {
    xdg.set("");
    CHECK(ResponseCache::default_dir() == fs::path("/home/someone/.cache/promptops"));
  }
  SECTION("XDG_CACHE_HOME relative, which the XDG spec says to ignore") {
    xdg.set("relative/cache");
    CHECK(ResponseCache::default_dir() == fs::path("/home/someone/.cache/promptops"));
  }
  SECTION("neither: no cache, never a shared folder such as /tmp") {
    xdg.unset();
    home.unset();
    CHECK_FALSE(ResponseCache::default_dir().has_value());
    home.set("");
    xdg.set("relative/cache");
    CHECK_FALSE(ResponseCache::default_dir().has_value());
  }
}

TEST_CASE("providers::ResponseCache, 2,000 put/get round trips return what was put",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  for (unsigned i = 0; i < 2000; ++i) {
    const std::string key = key_for(i);
    const json entry = reply(key, static_cast<int>(i % 7), static_cast<int>(i));
    cache.put(key, entry);
    const auto got = cache.get(key);
    REQUIRE(got.has_value());
    REQUIRE(*got == entry);
  }
  CHECK(cache.stats().entries == 2000);
  for (unsigned i = 0; i < 2000; i += 97) {
    const auto got = cache.get(key_for(i));
    REQUIRE(got.has_value());
    CHECK((*got)["seq"] == static_cast<int>(i));
  }
}

TEST_CASE("providers::ResponseCache, threads putting the same keys while others read",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path());
  constexpr int k_writers = 8;
  constexpr int k_puts = 200;
  constexpr unsigned k_keys = 12; // few keys, so that writers collide all the time
  std::atomic<bool> writing{true};
  std::atomic<int> put_failures{0};
  std::atomic<int> bad_reads{0};
  std::atomic<int> hits{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (writing.load()) {
        for (unsigned k = 0; k < k_keys; ++k) {
          const std::string key = key_for(k);
          const auto got = cache.get(key);
          if (got) {
            ++hits;
            if (!is_whole(*got, key)) {
              ++bad_reads;
            }
          }
        }
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < k_writers; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < k_puts; ++i) {
        const std::string key = key_for(static_cast<unsigned>(i + w) % k_keys);
        try {
          cache.put(key, reply(key, w, i));
        } catch (...) {
          ++put_failures;
        }
      }
    });
  }
  for (auto& t : writers) {
    t.join();
  }
  writing = false;
  for (auto& t : readers) {
    t.join();
  }
  CHECK(put_failures == 0);
  CHECK(bad_reads == 0);
  CHECK(hits > 0);
  CHECK(cache.stats().entries == k_keys);
  for (unsigned k = 0; k < k_keys; ++k) {
    const auto got = cache.get(key_for(k));
    REQUIRE(got.has_value());
    CHECK(is_whole(*got, key_for(k)));
  }
}

TEST_CASE("providers::ResponseCache, two processes putting the same keys", "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path() / "shared");
  constexpr unsigned k_keys = 10;
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child must not return into Catch: exit with 0 on success, 1 on any failure.
      int status = 0;
      try {
        for (int i = 0; i < 300; ++i) {
          const std::string key = key_for(static_cast<unsigned>(i) % k_keys);
          cache.put(key, reply(key, child, i));
          const auto got = cache.get(key);
          if (!got || !is_whole(*got, key)) {
            std::fprintf(stderr, "child %d, put %d: %s\n", child, i, got ? "not whole" : "a miss");
            status = 1;
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", child, e.what());
        status = 1;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(cache.stats().entries == k_keys);
  for (unsigned k = 0; k < k_keys; ++k) {
    const auto got = cache.get(key_for(k));
    REQUIRE(got.has_value());
    CHECK(is_whole(*got, key_for(k)));
  }
}

TEST_CASE("providers::ResponseCache, a writer killed in the middle of batches: each batch is "
          "whole or absent, no entry is half-written",
          "[providers]") {
  TempDir dir;
  constexpr unsigned k_batch = 400;
  constexpr int k_batches = 40;
  const auto key_of = [](int batch, unsigned i) {
    return key_for(static_cast<unsigned>(batch) * k_batch + i);
  };
  for (int round = 0; round < 6; ++round) {
    const ResponseCache cache(dir.path() / ("round" + std::to_string(round)));
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (int b = 0; b < k_batches; ++b) {
        std::vector<std::pair<std::string, json>> batch;
        for (unsigned i = 0; i < k_batch; ++i) {
          batch.emplace_back(key_of(b, i), reply(key_of(b, i), b, static_cast<int>(i)));
        }
        try {
          cache.put_many(batch);
        } catch (...) {
          ::_exit(1);
        }
      }
      ::_exit(0);
    }
    // Kill it at a different moment each round: before, during and after its batches.
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + round * 35));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status)) {
      CHECK(WEXITSTATUS(status) == 0);
    }

    std::uintmax_t present = 0;
    for (int b = 0; b < k_batches; ++b) {
      unsigned found = 0;
      for (unsigned i = 0; i < k_batch; ++i) {
        const auto got = cache.get(key_of(b, i));
        if (got) {
          ++found;
          CHECK(is_whole(*got, key_of(b, i)));
        }
      }
      INFO("round " << round << ", batch " << b);
      CHECK((found == 0 || found == k_batch));
      present += found;
    }
    CHECK(cache.stats().entries == present);
    // And the cache goes on working.
    cache.put("ffffffff", json{{"output", "after"}});
    CHECK(cache.get("ffffffff") == json{{"output", "after"}});
  }
}

namespace {

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string refusal(const fs::path& path, const std::string& problem) {
  return "the response cache \"" + path.string() + "\" " + problem +
         ": remove it (promptops makes a private one) or set XDG_CACHE_HOME to a folder of your "
         "own";
}

// A reply with every part a cache entry keeps.
Reply full_reply() {
  Reply r;
  r.ok = true;
  r.output = "the answer";
  r.model = "model-x-2026";
  r.system_fingerprint = "fp_1";
  r.latency_ms = 123.5;
  r.usage.input_tokens = 10;
  r.usage.output_tokens = 20;
  r.usage.reasoning_tokens = 5;
  r.facts.finish_reason = promptops::reply::FinishReason::tool_calls;
  r.facts.vendor_finish_reason = "tool_use";
  r.facts.refusal = "no thanks";
  r.facts.tool_calls = {promptops::reply::tool_call("call_1", "lookup", R"({"q": 1})"),
                        promptops::reply::tool_call("call_2", "raw", "not json")};
  r.notes = {"invalid UTF-8 replaced"};
  r.cost = 0.5;
  r.attempts = 2;
  return r;
}

} // namespace

TEST_CASE("providers::ResponseCache::check_private, a folder others may write is refused",
          "[providers]") {
  TempDir dir;
  const fs::path cache = dir.path() / "promptops";
  SECTION("missing: fine, and made 0700 by the first put") {
    const ResponseCache c(cache / "deeper");
    c.put("deadbeef", json{{"output", "x"}});
    CHECK(mode_of(cache / "deeper") == 0700);
    CHECK(mode_of(cache / "deeper" / "v2") == 0700);
  }
  SECTION("group- or other-writable") {
    fs::create_directories(cache);
    fs::permissions(cache, fs::perms(0703));
    CHECK_THROWS_AS(ResponseCache(cache), promptops::InputError);
    CHECK_THROWS_WITH(ResponseCache(cache),
                      refusal(cache, "is writable by other users (mode 0703), who could plant "
                                     "replies in it"));
    CHECK(mode_of(cache) == 0703); // refused, not mended: what is in it cannot be trusted
  }
  SECTION("readable by others: closed, not refused") {
    fs::create_directories(cache);
    fs::permissions(cache, fs::perms(0755));
    const ResponseCache c(cache);
    CHECK(mode_of(cache) == 0700);
    fs::permissions(cache, fs::perms(0555));
    ResponseCache::check_private(cache);
    CHECK(mode_of(cache) == 0500); // the user's own bits are left as they are
    fs::permissions(cache, fs::perms(0700));
  }
  SECTION("a symbolic link") {
    fs::create_directories(dir.path() / "target");
    fs::permissions(dir.path() / "target", fs::perms(0700));
    fs::create_directory_symlink(dir.path() / "target", cache);
    CHECK_THROWS_WITH(ResponseCache(cache),
                      refusal(cache, "is a symbolic link, which could lead to a folder another "
                                     "user controls"));
  }
  SECTION("a file, not a folder") {
    dir.write("promptops", "x");
    CHECK_THROWS_WITH(ResponseCache(cache), refusal(cache, "is not a folder"));
  }
  SECTION("the database and its WAL file") {
    {
      const ResponseCache c(cache);
      c.put("deadbeef", json{{"output", "x"}});
    }
    const fs::path database = cache / "v2" / "replies.sqlite3";
    fs::permissions(database, fs::perms(0620));
    CHECK_THROWS_WITH(ResponseCache(cache),
                      refusal(database, "is writable by other users (mode 0620), who could "
                                        "plant replies in it"));
    fs::permissions(database, fs::perms(0600));
    fs::remove(cache / "v2" / "replies.sqlite3-wal");
    fs::create_directory(cache / "v2" / "replies.sqlite3-wal");
    CHECK_THROWS_WITH(ResponseCache(cache),
                      refusal(cache / "v2" / "replies.sqlite3-wal", "is not a regular file"));
  }
  SECTION("made unsafe after the cache was opened: refused when it connects") {
    const ResponseCache c(cache);
    fs::create_directories(cache);
    fs::permissions(cache, fs::perms(0777));
    CHECK_THROWS_AS(c.put("deadbeef", json{{"output", "x"}}), promptops::InputError);
    CHECK_THROWS_AS(c.get_reply("deadbeef"), promptops::InputError);
  }
  SECTION("owned by another user (root only: chowned to nobody)") {
    if (::geteuid() != 0) {
      WARN("not root: the owner check is not tested");
      return;
    }
    fs::create_directories(cache);
    fs::permissions(cache, fs::perms(0700));
    REQUIRE(::chown(cache.c_str(), 65534, 65534) == 0);
    CHECK_THROWS_WITH(ResponseCache(cache),
                      refusal(cache, "belongs to another user (uid 65534), who could plant "
                                     "replies in it"));
  }
}

TEST_CASE("providers::ResponseCache::put_replies, get_reply returns the reply as stored",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path() / "c");
  CHECK_FALSE(cache.get_reply("abcdef01").has_value());
  const Reply put = full_reply();
  Reply empty;
  empty.ok = true;
  cache.put_replies({{"abcdef01", put}, {"abcdef02", empty}});
  const auto got = cache.get_reply("abcdef01");
  REQUIRE(got.has_value());
  CHECK(got->ok);
  CHECK(got->cached);
  CHECK(got->output == put.output);
  CHECK(got->model == put.model);
  CHECK(got->system_fingerprint == put.system_fingerprint);
  CHECK(got->latency_ms == put.latency_ms);
  CHECK(got->usage == put.usage);
  CHECK(got->facts.finish_reason == put.facts.finish_reason);
  CHECK(got->facts.vendor_finish_reason == put.facts.vendor_finish_reason);
  CHECK(got->facts.refusal == put.facts.refusal);
  CHECK(got->facts.tool_calls == put.facts.tool_calls);
  CHECK(got->notes == put.notes);
  // Priced again and counted again by the engine, never taken from the cache.
  CHECK_FALSE(got->cost.has_value());
  CHECK(got->attempts == 0);
  const auto second = cache.get_reply("abcdef02");
  REQUIRE(second.has_value());
  CHECK(second->output.empty());
  CHECK(second->facts.tool_calls.empty());
  // Counts the reply module refused stay refused: a cost evaluator must not see them as none.
  Reply refused = full_reply();
  refused.usage = promptops::reply::Usage{};
  refused.usage.invalid = "prompt_tokens -5 is negative";
  cache.put_replies({{"abcdef03", refused}});
  const auto third = cache.get_reply("abcdef03");
  REQUIRE(third.has_value());
  CHECK(third->usage == refused.usage);
}

TEST_CASE("providers::reply_from_cache_entry, what a valid entry is", "[providers]") {
  using promptops::providers::cache_entry;
  using promptops::providers::reply_from_cache_entry;
  CHECK(reply_from_cache_entry(cache_entry(full_reply())).has_value());
  // Written before the reply model: no stop reason, no usage.
  const auto old = reply_from_cache_entry(
      json::parse(R"({"output":"x","model":"m","system_fingerprint":"","latency_ms":3})"));
  REQUIRE(old.has_value());
  CHECK(old->facts.finish_reason == promptops::reply::FinishReason::unknown);
  const std::string base = R"("output":"x","latency_ms":1)";
  for (const std::string& bad : {
           std::string("[]"),
           std::string("null"),
           std::string(R"("a string")"),
           std::string(R"({"latency_ms":1})"),
           std::string(R"({"output":42,"latency_ms":1})"),
           std::string(R"({"output":null,"latency_ms":1})"),
           std::string(R"({"output":"x"})"),
           std::string(R"({"output":"x","latency_ms":null})"),
           std::string(R"({"output":"x","latency_ms":"5"})"),
           std::string(R"({"output":"x","latency_ms":-1})"),
           "{" + base + R"(,"model":7})",
           "{" + base + R"(,"system_fingerprint":null})",
           "{" + base + R"(,"finish_reason":"because"})",
           "{" + base + R"(,"finish_reason":3})",
           "{" + base + R"(,"vendor_finish_reason":[]})",
           "{" + base + R"(,"refusal":{}})",
           "{" + base + R"(,"usage":[]})",
           "{" + base + R"(,"usage":{"input_tokens":-1000000000}})",
           "{" + base + R"(,"usage":{"output_tokens":1000000000001}})",
           "{" + base + R"(,"usage":{"input_tokens":1.5}})",
           "{" + base + R"(,"usage":{"input_tokens":"10"}})",
           "{" + base + R"(,"usage":{"input_tokens":18446744073709551615}})",
           "{" + base + R"(,"usage":{"tokens":10}})",
           "{" + base + R"(,"tool_calls":{}})",
           "{" + base + R"(,"tool_calls":[7]})",
           "{" + base + R"(,"tool_calls":[{"id":1,"name":"f","arguments":{}}]})",
           "{" + base + R"(,"tool_calls":[{"id":"1","name":"f"}]})",
           "{" + base +
               R"(,"tool_calls":[{"id":"1","name":"f","arguments":{},)"
               R"("arguments_parsed":false}]})",
           "{" + base + R"(,"usage_invalid":false})",
           "{" + base + R"(,"notes":"one"})",
           "{" + base + R"(,"notes":["one",2]})",
       }) {
    INFO(bad);
    CHECK_FALSE(reply_from_cache_entry(json::parse(bad)).has_value());
  }
  CHECK_FALSE(reply_from_cache_entry(
                  json{{"output", "x"}, {"latency_ms", std::numeric_limits<double>::infinity()}})
                  .has_value());
}

TEST_CASE("providers::ResponseCache::get_reply, a bad entry is a miss and is removed",
          "[providers]") {
  TempDir dir;
  const ResponseCache cache(dir.path() / "c");
  cache.put_replies({{"abcdef01", full_reply()}, {"abcdef02", full_reply()}});
  std::string bad;
  SECTION("latency_ms null") {
    bad = R"({"output":"x","latency_ms":null})";
  }
  SECTION("not an object") {
    bad = R"(["x"])";
  }
  SECTION("output a number") {
    bad = R"({"output":42,"latency_ms":1})";
  }
  SECTION("not JSON") {
    bad = R"({"output": "cut)";
  }
  store_text(cache.database(), "abcdef01", bad);
  CHECK_FALSE(cache.get_reply("abcdef01").has_value());
  CHECK_FALSE(stored_text(cache.database(), "abcdef01").has_value());
  CHECK(cache.stats().entries == 1);
  CHECK(cache.get_reply("abcdef02").has_value());
}
