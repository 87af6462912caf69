#include "providers/response_cache.hpp"

#include "providers/cache_entry.hpp"
#include "util/error.hpp"
#include "util/json_write.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <random>
#include <sqlite3.h>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace promptops::providers {

namespace {

namespace fs = std::filesystem;

// The layout's version: a change of storage gets a new folder, so that an old promptops and a
// new one sharing a cache never read each other's entries. v1 was a file per entry.
constexpr const char* k_layout = "v2";
constexpr const char* k_old_layout = "v1";
constexpr const char* k_database = "replies.sqlite3";
// Another process may hold the write lock for a batch; wait this long for it.
constexpr int k_busy_timeout_ms = 10000;
constexpr auto k_busy_timeout = std::chrono::milliseconds(k_busy_timeout_ms);
using Clock = std::chrono::steady_clock;

void check_key(const std::string& key) {
  const bool hex = key.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (key.size() < 8 || !hex) {
    throw std::invalid_argument("response cache key \"" + key +
                                "\" is not a lower-case hex digest of 8 or more characters");
  }
}

std::uintmax_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Entries of the v1 layout: <dir>/v1/<2 hex>/<rest>.json.
std::uintmax_t count_old_entries(const fs::path& folder) {
  std::uintmax_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 5 && name.front() != '.' && name.ends_with(".json")) {
      ++n;
    }
  }
  return n;
}

class Statement {
public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(m_stmt); }
  sqlite3_stmt* get() const { return m_stmt; }
  sqlite3_stmt** out() { return &m_stmt; }
  void release() { m_stmt = nullptr; } // in a forked child: the parent's, never finalized here
  void finalize() {
    sqlite3_finalize(m_stmt);
    m_stmt = nullptr;
  }

private:
  sqlite3_stmt* m_stmt = nullptr;
};

} // namespace

// The connection and its prepared statements, behind one mutex.
struct ResponseCache::Store {
  std::mutex mutex;
  sqlite3* db = nullptr;
  pid_t pid = 0;
  Statement select;
  Statement upsert;
  Statement remove;

  ~Store() { close(); }

  void close() {
    if (db == nullptr) {
      return;
    }
    if (pid != ::getpid()) {
      // A connection is not to be used, nor closed, across fork: the parent still owns it.
      select.release();
      upsert.release();
      remove.release();
      db = nullptr;
      return;
    }
    select.finalize();
    upsert.finalize();
    remove.finalize();
    sqlite3_close_v2(db);
    db = nullptr;
  }
};

ResponseCache::ResponseCache(std::filesystem::path dir)
    : m_dir(std::move(dir)), m_store(std::make_unique<Store>()) {
  check_private(m_dir);
}

ResponseCache::~ResponseCache() = default;

std::optional<std::filesystem::path> ResponseCache::default_dir() {
  // The XDG Base Directory spec says to ignore a relative XDG_CACHE_HOME.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "promptops";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return fs::path(home) / ".cache" / "promptops";
  }
  return std::nullopt;
}

namespace {

enum class Kind { cache_folder, folder, file };

[[noreturn]] void refuse(const fs::path& path, const std::string& problem) {
  throw InputError("the response cache \"" + path.string() + "\" " + problem +
                   ": remove it (promptops makes a private one) or set XDG_CACHE_HOME to a "
                   "folder of your own");
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Refuses `path` when it exists and is not the user's own and closed to writers; a cache
// folder that others may only read is closed to them. lstat: a symbolic link planted in its
// place is refused, never followed.
void check_path(const fs::path& path, Kind kind) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return; // missing (or unreachable: then opening it fails with the system's reason)
  }
  if (S_ISLNK(st.st_mode)) {
    refuse(path, "is a symbolic link, which could lead to a folder another user controls");
  }
  if (kind == Kind::file ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)) {
    refuse(path, kind == Kind::file ? "is not a regular file" : "is not a folder");
  }
  if (st.st_uid != ::geteuid()) {
    refuse(path, "belongs to another user (uid " + std::to_string(st.st_uid) +
                     "), who could plant replies in it");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    refuse(path, "is writable by other users (mode " + octal_mode(st.st_mode) +
                     "), who could plant replies in it");
  }
  // Replies may be private: nobody else reads them. Nothing can have been planted in a folder
  // of the user's own that others could only read, so it is closed rather than refused.
  if (kind == Kind::cache_folder && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0 &&
      // Not following a link swapped in since the lstat.
      ::fchmodat(AT_FDCWD, path.c_str(), st.st_mode & S_IRWXU, AT_SYMLINK_NOFOLLOW) != 0) {
    refuse(path, "is open to other users (mode " + octal_mode(st.st_mode) +
                     ") and cannot be closed (" + std::strerror(errno) + ")");
  }
}

} // namespace

void ResponseCache::check_private(const std::filesystem::path& dir) {
  check_path(dir, Kind::cache_folder);
  check_path(dir / k_layout, Kind::folder);
  const std::string database = (dir / k_layout / k_database).string();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    check_path(database + suffix, Kind::file);
  }
}

std::filesystem::path ResponseCache::database() const {
  return m_dir / k_layout / k_database;
}

namespace {

[[noreturn]] void fail(const fs::path& dir, const std::string& reason) {
  throw RunError("cannot write to the response cache in \"" + dir.string() + "\": " + reason);
}

// What went wrong, in the system's words when it was the system (a folder without write
// permission) and SQLite's otherwise (a full disk, a damaged file).
std::string reason_of(sqlite3* db, int code) {
  if (db != nullptr && sqlite3_system_errno(db) != 0 &&
      ((code & 0xff) == SQLITE_CANTOPEN || (code & 0xff) == SQLITE_IOERR)) {
    return std::strerror(sqlite3_system_errno(db));
  }
  return db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
}

bool is_busy(int code) {
  return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED;
}

// 1 to 4 ms, different in each process, so that two waiting on each other do not retry in step.
void pause_briefly() {
  thread_local std::minstd_rand random(
      static_cast<unsigned>(::getpid()) * 2654435761u +
      static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  std::this_thread::sleep_for(std::chrono::microseconds(1000 + random() % 3000));
}

bool is_damaged(int code) {
  return (code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_CORRUPT;
}

int exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

// Turns the database to WAL mode unless it is already: the mode is kept in the file, and only
// the change takes a lock that may be busy.
int turn_to_wal(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  bool wal = false;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* mode = sqlite3_column_text(stmt, 0);
      wal = mode != nullptr && std::strcmp(reinterpret_cast<const char*>(mode), "wal") == 0;
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK || wal) {
    return rc;
  }
  return exec(db, "PRAGMA journal_mode=WAL");
}

// Opens the database with its table and statements; returns the SQLite result code.
int open_store(ResponseCache::Store& store, const fs::path& path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &store.db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  store.pid = ::getpid();
  if (rc != SQLITE_OK) {
    return rc;
  }
  sqlite3_extended_result_codes(store.db, 1);
  sqlite3_busy_timeout(store.db, k_busy_timeout_ms);
  // WAL: readers never wait for a writer, and a commit is one append. synchronous=NORMAL: no
  // fsync per commit; a power cut may lose the last replies (a cache may), never corrupt it.
  if ((rc = turn_to_wal(store.db)) != SQLITE_OK ||
      (rc = exec(store.db, "PRAGMA synchronous=NORMAL")) != SQLITE_OK ||
      // Up to 32 MB of pages in memory (2 MB by default): a 100,000-entry cache is 40 MB, and
      // with the default a cached rerun read 3 pages from the disk per entry.
      (rc = exec(store.db, "PRAGMA cache_size=-32768")) != SQLITE_OK ||
      (rc = exec(store.db, "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY NOT NULL, "
                           "entry TEXT NOT NULL, stored INTEGER NOT NULL) WITHOUT ROWID")) !=
          SQLITE_OK ||
      (rc = sqlite3_prepare_v2(store.db, "SELECT entry FROM replies WHERE key = ?1", -1,
                               store.select.out(), nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(store.db,
                               "INSERT OR REPLACE INTO replies (key, entry, stored) "
                               "VALUES (?1, ?2, ?3)",
                               -1, store.upsert.out(), nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(
           store.db,
           "DELETE FROM replies WHERE key = ?1 AND CAST(entry AS BLOB) = CAST(?2 AS BLOB)", -1,
           store.remove.out(), nullptr)) != SQLITE_OK) {
    return rc;
  }
  return SQLITE_OK;
}

void remove_database(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    ::unlink((path.string() + suffix).c_str());
  }
}

// Makes `folder` (and its parents) when missing, closed to other users from the start.
void make_private_folder(const fs::path& folder, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(folder.parent_path(), ec); // its own failure shows in mkdir's
  // Another writer may have made it at the same moment: only a folder still missing fails.
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    fail(dir, std::strerror(errno));
  }
}

// Holds the store's connection open. With `create` false, a missing database is no
// connection (false) rather than a new file, and any failure is false too; with `create` it
// makes the folder and the file, replaces a file that is not a database, and throws RunError.
// Either way, InputError when the folder is not private.
bool connect(ResponseCache::Store& store, const fs::path& dir, const fs::path& path, bool create) {
  if (store.db != nullptr && store.pid == ::getpid()) {
    return true;
  }
  store.close();
  if (create) {
    make_private_folder(dir, dir);
    make_private_folder(path.parent_path(), dir);
  }
  // Again here, not only when the cache was made: another user may have made the folder
  // since (in a shared XDG_CACHE_HOME), and a planted database is read as soon as it is open.
  ResponseCache::check_private(dir);
  if (!create) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return false;
    }
  }
  int rc = open_store(store, path);
  // SQLite does not wait on every lock: two processes making the database at once, one turns
  // it to WAL while the other reads, and the loser gets SQLITE_BUSY at once. Wait for it here.
  for (const auto deadline = Clock::now() + k_busy_timeout;
       is_busy(rc) && Clock::now() < deadline;) {
    store.close();
    pause_briefly();
    rc = open_store(store, path);
  }
  if (rc != SQLITE_OK && is_damaged(rc) && create) {
    // Not a database, or a damaged one: a cache can start again.
    store.close();
    remove_database(path);
    rc = open_store(store, path);
  }
  if (rc != SQLITE_OK) {
    const std::string reason = reason_of(store.db, rc);
    store.close();
    if (!create) {
      return false;
    }
    fail(dir, reason);
  }
  return true;
}

// A statement is reset and unbound when the scope ends, whatever happened in it.
struct Reset {
  sqlite3_stmt* stmt;
  ~Reset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

} // namespace

std::optional<std::string> ResponseCache::read(const std::string& key) const {
  check_key(key);
  std::lock_guard<std::mutex> lock(m_store->mutex);
  if (!connect(*m_store, m_dir, database(), false)) {
    return std::nullopt;
  }
  sqlite3_stmt* stmt = m_store->select.get();
  const Reset reset{stmt};
  sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  if (sqlite3_step(stmt) != SQLITE_ROW) {
    return std::nullopt; // none, or unreadable: either way the caller asks the provider
  }
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, 0));
  return std::string(data != nullptr ? data : "",
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
}

// Only if it is still the entry read: a writer may have stored a good one since.
void ResponseCache::remove_if_unchanged(const std::string& key, const std::string& text) const {
  std::lock_guard<std::mutex> lock(m_store->mutex);
  if (connect(*m_store, m_dir, database(), false)) {
    sqlite3_stmt* stmt = m_store->remove.get();
    const Reset reset{stmt};
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    sqlite3_step(stmt);
  }
}

std::optional<nlohmann::json> ResponseCache::get(const std::string& key) const {
  const std::optional<std::string> text = read(key);
  if (!text) {
    return std::nullopt;
  }
  nlohmann::json entry = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (entry.is_discarded()) {
    remove_if_unchanged(key, *text);
    return std::nullopt;
  }
  return entry;
}

std::optional<Reply> ResponseCache::get_reply(const std::string& key) const {
  const std::optional<std::string> text = read(key);
  if (!text) {
    return std::nullopt;
  }
  const nlohmann::json entry = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  std::optional<Reply> reply = reply_from_cache_entry(entry); // a discarded value is no object
  if (!reply) {
    remove_if_unchanged(key, *text);
  }
  return reply;
}

void ResponseCache::put_replies(const std::vector<std::pair<std::string, Reply>>& replies) const {
  std::vector<std::pair<std::string, nlohmann::json>> entries;
  entries.reserve(replies.size());
  for (const auto& [key, reply] : replies) {
    entries.emplace_back(key, cache_entry(reply));
  }
  put_many(entries);
}

void ResponseCache::put(const std::string& key, const nlohmann::json& entry) const {
  put_many({{key, entry}});
}

void ResponseCache::put_many(
    const std::vector<std::pair<std::string, nlohmann::json>>& entries) const {
  if (entries.empty()) {
    return;
  }
  std::vector<std::string> texts;
  texts.reserve(entries.size());
  for (const auto& [key, entry] : entries) {
    check_key(key);
    // A provider's reply may hold invalid UTF-8; replace it rather than fail the run.
    texts.push_back(util::dump_json(entry));
  }
  const auto stored = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();

  std::lock_guard<std::mutex> lock(m_store->mutex);
  connect(*m_store, m_dir, database(), true);
  sqlite3* db = m_store->db;
  std::string reason;
  const auto write_all = [&] {
    // IMMEDIATE: take the write lock now, waiting for another process's batch if need be,
    // rather than fail later when a read lock cannot be upgraded.
    int rc = exec(db, "BEGIN IMMEDIATE");
    for (std::size_t i = 0; rc == SQLITE_OK && i < entries.size(); ++i) {
      sqlite3_stmt* stmt = m_store->upsert.get();
      const Reset reset{stmt};
      const std::string& key = entries[i].first;
      sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_text(stmt, 2, texts[i].data(), static_cast<int>(texts[i].size()), SQLITE_STATIC);
      sqlite3_bind_int64(stmt, 3, stored);
      rc = sqlite3_step(stmt);
      rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_OK) {
      rc = exec(db, "COMMIT");
    }
    if (rc != SQLITE_OK) {
      reason = reason_of(db, rc); // before the rollback takes the connection's message
      if (!sqlite3_get_autocommit(db)) {
        exec(db, "ROLLBACK");
      }
    }
    return rc;
  };
  int rc = write_all();
  for (const auto deadline = Clock::now() + k_busy_timeout;
       is_busy(rc) && Clock::now() < deadline;) {
    pause_briefly();
    rc = write_all();
  }
  if (rc != SQLITE_OK) {
    fail(m_dir, reason);
  }
}

ResponseCache::Stats ResponseCache::stats() const {
  Stats stats;
  std::lock_guard<std::mutex> lock(m_store->mutex);
  if (!connect(*m_store, m_dir, database(), false)) {
    return stats;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(m_store->db,
                         "SELECT count(*), coalesce(sum(length(CAST(entry AS BLOB))), 0) "
                         "FROM replies",
                         -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    stats.entries = static_cast<std::uintmax_t>(sqlite3_column_int64(stmt, 0));
    stats.bytes = static_cast<std::uintmax_t>(sqlite3_column_int64(stmt, 1));
  }
  sqlite3_finalize(stmt);
  for (const char* suffix : {"", "-wal"}) {
    stats.disk_bytes += file_size_or_zero(database().string() + suffix);
  }
  return stats;
}

std::uintmax_t ResponseCache::clear() const {
  std::uintmax_t removed = 0;
  const fs::path old = m_dir / k_old_layout;
  if (std::error_code ec; fs::is_directory(old, ec)) {
    removed += count_old_entries(old);
    fs::remove_all(old, ec);
  }
  std::lock_guard<std::mutex> lock(m_store->mutex);
  if (!connect(*m_store, m_dir, database(), false)) {
    return removed;
  }
  if (exec(m_store->db, "DELETE FROM replies") == SQLITE_OK) {
    removed += static_cast<std::uintmax_t>(sqlite3_changes64(m_store->db));
    // Give the space back: best effort, since another process may be reading.
    exec(m_store->db, "VACUUM");
    exec(m_store->db, "PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return removed;
}

} // namespace promptops::providers
