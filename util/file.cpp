#include "util/file.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace promptops::util {

namespace {

std::string shown(const std::filesystem::path& path, const std::string& display_path) {
  return display_path.empty() ? path.string() : display_path;
}

// Read through a raw descriptor: it is the fastest way and avoids iostream locale set-up on
// every small prompt file.
std::optional<std::string> read_impl(const std::filesystem::path& path,
                                     const std::string& display_path, bool missing_ok) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (missing_ok && errno == ENOENT) {
      return std::nullopt;
    }
    throw InputError(shown(path, display_path), {},
                     std::string("cannot read file: ") + std::strerror(errno));
  }
  // Read straight into the string, sized from fstat (a results.jsonl may be 100 MB and more):
  // no copy through a buffer, no regrowth. A file that grows meanwhile is read to its end.
  std::string out;
  struct stat info {};
  std::size_t size = 0;
  if (::fstat(fd, &info) == 0 && info.st_size > 0) {
    out.resize(static_cast<std::size_t>(info.st_size) + 1);
  }
  for (;;) {
    if (size == out.size()) {
      out.resize(std::max<std::size_t>(out.size() * 2, 65536));
    }
    const ssize_t n = ::read(fd, out.data() + size, out.size() - size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      ::close(fd);
      throw InputError(shown(path, display_path), {},
                       std::string("cannot read file: ") + std::strerror(saved));
    }
    if (n == 0) {
      break;
    }
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(size);
  return out;
}

} // namespace

std::string read_file(const std::filesystem::path& path, const std::string& display_path) {
  return *read_impl(path, display_path, false);
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path,
                                               const std::string& display_path) {
  return read_impl(path, display_path, true);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      throw Error("cannot create folder \"" + path.parent_path().string() + "\": " + ec.message(),
                  3);
    }
  }
  std::random_device rd;
  const std::filesystem::path tmp =
      path.string() + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error("cannot write \"" + path.string() + "\": " + std::strerror(errno), 3);
  }
  if (!write_all(fd, content)) {
    const int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write \"" + path.string() + "\": " + std::strerror(saved), 3);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write \"" + path.string() + "\": " + std::strerror(saved), 3);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write \"" + path.string() + "\": " + std::strerror(saved), 3);
  }
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

} // namespace promptops::util
