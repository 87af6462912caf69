#include "providers/response_cache.hpp"

#include "util/error.hpp"
#include "util/file.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace promptops::providers {

namespace {

namespace fs = std::filesystem;

// The layout's version: a change of entry format gets a new folder, so that an old promptops
// and a new one sharing a cache never read each other's entries.
constexpr const char* k_layout = "v1";
// A temporary file older than this is left over from a killed writer; clear() removes it.
constexpr auto k_stale_temp_age = std::chrono::hours(1);

bool is_entry_name(const std::string& name) {
  return name.size() > 5 && name.front() != '.' && name.ends_with(".json");
}

bool is_temp_name(const std::string& name) {
  return name.size() > 4 && name.front() == '.' && name.ends_with(".tmp");
}

void check_key(const std::string& key) {
  const bool hex = key.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (key.size() < 8 || !hex) {
    throw std::invalid_argument("response cache key \"" + key +
                                "\" is not a lower-case hex digest of 8 or more characters");
  }
}

// Unique across processes (pid), threads (thread id) and calls (counter), so that concurrent
// writers of one key never share a temporary file.
std::string temp_name(const std::string& rest) {
  static std::atomic<std::uint64_t> counter{0};
  return "." + rest + "." + std::to_string(::getpid()) + "-" +
         std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed)) + ".tmp";
}

std::optional<std::string> read_all(int fd) {
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return std::nullopt;
    }
    if (n == 0) {
      return out;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// Remove a damaged entry, but only if the file at `path` is still the one that was read: a
// writer may have renamed a good entry into place since.
void remove_if_same(const fs::path& path, const struct stat& read) {
  struct stat now {};
  if (::stat(path.c_str(), &now) == 0 && now.st_dev == read.st_dev && now.st_ino == read.st_ino) {
    ::unlink(path.c_str());
  }
}

} // namespace

ResponseCache::ResponseCache(std::filesystem::path dir) : m_dir(std::move(dir)) {}

std::filesystem::path ResponseCache::default_dir() {
  // The XDG Base Directory spec says to ignore a relative XDG_CACHE_HOME.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "promptops";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return fs::path(home) / ".cache" / "promptops";
  }
  return fs::path("/tmp") / ("promptops-cache-" + std::to_string(::getuid()));
}

std::optional<nlohmann::json> ResponseCache::get(const std::string& key) const {
  check_key(key);
  const fs::path path = m_dir / k_layout / key.substr(0, 2) / (key.substr(2) + ".json");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Missing, or unreadable: either way the caller asks the provider.
    return std::nullopt;
  }
  struct stat st {};
  const bool have_stat = ::fstat(fd, &st) == 0;
  std::optional<std::string> text = read_all(fd);
  ::close(fd);
  if (!text) {
    return std::nullopt;
  }
  nlohmann::json entry = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (entry.is_discarded()) {
    if (have_stat) {
      remove_if_same(path, st);
    }
    return std::nullopt;
  }
  return entry;
}

void ResponseCache::put(const std::string& key, const nlohmann::json& entry) const {
  check_key(key);
  const fs::path folder = m_dir / k_layout / key.substr(0, 2);
  const std::string rest = key.substr(2);
  const fs::path path = folder / (rest + ".json");
  // A provider's reply may hold invalid UTF-8; replace it rather than fail the run.
  const std::string content = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto fail = [&](const std::string& reason) {
    throw RunError("cannot write to the response cache in \"" + m_dir.string() + "\": " + reason);
  };

  // Open first and create the folders only when missing: a warm cache then costs no stat.
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temp = folder / temp_name(rest);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      break;
    }
    const int saved = errno;
    if (saved == ENOENT) {
      std::error_code ec;
      fs::create_directories(folder, ec);
      // Another writer may have created it at the same moment; only a folder that is still
      // missing is a failure.
      if (ec && !fs::is_directory(folder)) {
        fail(ec.message());
      }
    } else if (saved != EEXIST && saved != EINTR) {
      fail(std::strerror(saved));
    }
  }
  if (fd < 0) {
    fail("cannot create a temporary file in \"" + folder.string() + "\"");
  }
  // No fsync: this is a cache. An entry cut short by a crash fails to parse and reads as a miss.
  if (!util::write_all(fd, content)) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail(std::strerror(saved));
  }
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail(std::strerror(saved));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail(std::strerror(saved));
  }
}

ResponseCache::Stats ResponseCache::stats() const {
  Stats stats;
  std::error_code ec;
  for (fs::directory_iterator shard(m_dir / k_layout, ec), end; !ec && shard != end;
       shard.increment(ec)) {
    std::error_code shard_ec;
    for (fs::directory_iterator it(shard->path(), shard_ec); !shard_ec && it != end;
         it.increment(shard_ec)) {
      if (!is_entry_name(it->path().filename().string())) {
        continue;
      }
      std::error_code size_ec;
      const auto size = it->file_size(size_ec);
      if (!size_ec && it->is_regular_file(size_ec)) {
        ++stats.entries;
        stats.bytes += size;
      }
    }
  }
  return stats;
}

std::uintmax_t ResponseCache::clear() const {
  std::uintmax_t removed = 0;
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (fs::directory_iterator shard(m_dir / k_layout, ec), end; !ec && shard != end;
       shard.increment(ec)) {
    std::error_code shard_ec;
    for (fs::directory_iterator it(shard->path(), shard_ec); !shard_ec && it != end;
         it.increment(shard_ec)) {
      const std::string name = it->path().filename().string();
      if (is_entry_name(name)) {
        if (::unlink(it->path().c_str()) == 0) {
          ++removed;
        }
      } else if (is_temp_name(name)) {
        // A recent temporary file belongs to a writer still at work: leave it.
        std::error_code time_ec;
        const auto written = it->last_write_time(time_ec);
        if (!time_ec && now - written > k_stale_temp_age) {
          ::unlink(it->path().c_str());
        }
      }
    }
  }
  return removed;
}

} // namespace promptops::providers
