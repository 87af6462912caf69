#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace promptops::providers {

// Provider replies on disk, keyed by a hash of the exact request, so that a rerun with
// nothing changed sends no request. One SQLite database, <dir>/v2/replies.sqlite3, in WAL mode:
// several processes may share it at once, a write is a transaction (a reader sees a whole
// entry or none, and one cut short by a kill is rolled back), and a batch of replies costs
// one commit instead of a file each (creating 10,000 files took 0.8 s of kernel time on ext4).
// Each entry is the JSON given to put, kept compact. Thread-safe; the connection is opened on
// first use, and again in a forked child. A damaged entry reads as a miss.
class ResponseCache {
public:
  // `dir` need not exist yet; it is created on the first put.
  explicit ResponseCache(std::filesystem::path dir);
  ~ResponseCache();
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;

  // $XDG_CACHE_HOME/promptops, or $HOME/.cache/promptops when XDG_CACHE_HOME is unset, empty
  // or relative (the XDG spec ignores a relative one), or /tmp/promptops-cache-<uid> without
  // a HOME.
  static std::filesystem::path default_dir();

  const std::filesystem::path& dir() const { return m_dir; }
  // The database file: <dir>/v2/replies.sqlite3.
  std::filesystem::path database() const;

  // `key` is a lower-case hex digest (at least 8 characters); any other key is a programming
  // error and throws std::invalid_argument.

  // The entry stored under `key`, or std::nullopt when there is none or it cannot be read or
  // parsed (a damaged entry is removed). Never creates the folder.
  std::optional<nlohmann::json> get(const std::string& key) const;
  // Store `entry` under `key`, replacing any earlier one; the last put of a key wins. Throws
  // RunError naming the cache folder when it cannot be written (a full disk, a read-only
  // folder, a path under a regular file).
  void put(const std::string& key, const nlohmann::json& entry) const;
  // put for many entries in one transaction: all are stored, or none and it throws.
  void put_many(const std::vector<std::pair<std::string, nlohmann::json>>& entries) const;

  struct Stats {
    std::uintmax_t entries = 0;
    std::uintmax_t bytes = 0;      // the entries' JSON
    std::uintmax_t disk_bytes = 0; // the database's files
  };
  // Zeros when there is no database yet.
  Stats stats() const;
  // Removes every entry, and the one-file-per-entry folder (v1) of promptops before 0.8;
  // returns how many entries, of both. 0 when there is nothing.
  std::uintmax_t clear() const;

  struct Store; // the connection, in response_cache.cpp

private:
  std::filesystem::path m_dir;
  std::unique_ptr<Store> m_store;
};

} // namespace promptops::providers
