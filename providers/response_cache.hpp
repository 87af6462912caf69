#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace promptops::providers {

// Provider replies on disk, keyed by a hash of the exact request, so that a rerun with
// nothing changed sends no request. Several processes may share one cache at once: an entry
// is written to a temporary file and renamed into place, so a reader sees a whole entry or
// none. Thread-safe. A damaged entry reads as a miss. Layout: <dir>/v1/<key[0:2]>/<key[2:]>.json,
// each entry the JSON given to put, written compactly.
class ResponseCache {
public:
  // `dir` need not exist yet; it is created on the first put.
  explicit ResponseCache(std::filesystem::path dir);

  // $XDG_CACHE_HOME/promptops, or $HOME/.cache/promptops when XDG_CACHE_HOME is unset, empty
  // or relative (the XDG spec ignores a relative one), or /tmp/promptops-cache-<uid> without
  // a HOME.
  static std::filesystem::path default_dir();

  const std::filesystem::path& dir() const { return m_dir; }

  // `key` is a lower-case hex digest (at least 8 characters); any other key is a programming
  // error and throws std::invalid_argument.

  // The entry stored under `key`, or std::nullopt when there is none or it cannot be read or
  // parsed (a damaged entry is removed).
  std::optional<nlohmann::json> get(const std::string& key) const;
  // Store `entry` under `key`, replacing any earlier one; concurrent puts of one key all
  // succeed and the last rename wins. Throws RunError naming the cache folder when the entry
  // cannot be written (a full disk, a read-only folder, a path under a regular file).
  void put(const std::string& key, const nlohmann::json& entry) const;

  struct Stats {
    std::uintmax_t entries = 0;
    std::uintmax_t bytes = 0;
  };
  // The entries and their total size in bytes, temporary files not counted; zeros when the
  // folder does not exist.
  Stats stats() const;
  // Removes every entry (and temporary files an hour old, left by killed writers); returns how
  // many entries. 0 when the folder does not exist.
  std::uintmax_t clear() const;

private:
  std::filesystem::path m_dir;
};

} // namespace promptops::providers
