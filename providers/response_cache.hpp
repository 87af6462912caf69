#pragma once

#include "providers/provider.hpp"

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
//
// A reply from the cache is taken as the provider's, so whoever can write the folder decides
// how cases score: the folder must be the user's own and closed to others (check_private).
class ResponseCache {
public:
  // `dir` need not exist yet; it is created (mode 0700, parents as needed) on the first put.
  // Throws InputError when it exists and is not private (check_private).
  explicit ResponseCache(std::filesystem::path dir);
  ~ResponseCache();
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;

  // $XDG_CACHE_HOME/promptops, or $HOME/.cache/promptops when XDG_CACHE_HOME is unset, empty
  // or relative (the XDG spec ignores a relative one); std::nullopt when HOME is unset or
  // empty too: then there is no cache, since a shared folder (the system's temp folder) would
  // let another local user plant replies.
  static std::optional<std::filesystem::path> default_dir();
  // Why default_dir() has none, for a warning or `cache stats`.
  static constexpr const char* k_no_default_dir =
      "neither HOME nor an absolute XDG_CACHE_HOME is set";

  // Throws InputError (exit 2) naming the path, its owner or mode and the fix when the folder,
  // its v2 folder or the database's files exist and are not private: a symbolic link (lstat;
  // never followed), not a folder (a regular file for the database), owned by another user, or
  // writable by the group or others. A folder of the user's own that others may only read or
  // enter (0755, as earlier builds made it) is closed to them (its group and other bits
  // cleared) rather than refused: nothing could be planted in it. What does not exist passes.
  // Done when the cache is made and whenever it connects to its database.
  static void check_private(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return m_dir; }
  // The database file: <dir>/v2/replies.sqlite3.
  std::filesystem::path database() const;

  // `key` is a lower-case hex digest (at least 8 characters); any other key is a programming
  // error and throws std::invalid_argument.

  // The reply stored under `key` (ok, cached), or std::nullopt when there is none, or it cannot
  // be read, or it is not a valid entry (reply_from_cache_entry): a bad entry is removed, and
  // the caller asks the provider. Never creates the folder. Throws InputError when the folder
  // has stopped being private (check_private).
  std::optional<Reply> get_reply(const std::string& key) const;
  // Store each reply (cache_entry) under its key in one transaction, as put_many.
  void put_replies(const std::vector<std::pair<std::string, Reply>>& replies) const;

  // The entry stored under `key` as JSON, unchecked, or std::nullopt when there is none or it
  // cannot be read or parsed (an entry that is not JSON is removed). Never creates the folder.
  std::optional<nlohmann::json> get(const std::string& key) const;
  // Store `entry` under `key`, replacing any earlier one; the last put of a key wins. Throws
  // RunError naming the cache folder when it cannot be written (a full disk, a read-only
  // folder, a path under a regular file), InputError when it is not private.
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
  // The entry's text under `key`, or std::nullopt; and the removal of a damaged one.
  std::optional<std::string> read(const std::string& key) const;
  void remove_if_unchanged(const std::string& key, const std::string& text) const;

  std::filesystem::path m_dir;
  std::unique_ptr<Store> m_store;
};

} // namespace promptops::providers
