#include "registry/source.hpp"

#include "util/error.hpp"
#include "util/file.hpp"

#include <algorithm>

namespace promptops::registry {

WorkTreeSource::WorkTreeSource(std::filesystem::path root, std::string display_prefix)
    : m_root(std::move(root)), m_display_prefix(std::move(display_prefix)) {}

std::optional<std::string> WorkTreeSource::read(std::string_view path) const {
  const auto full = m_root / std::filesystem::path(std::string(path));
  std::error_code ec;
  const auto status = std::filesystem::status(full, ec); // follows symlinks
  if (std::filesystem::is_directory(status)) {
    throw InputError(display(path), {}, "is a folder, not a file");
  }
  if (std::filesystem::exists(status)) {
    // A symlink may point anywhere, and a device or pipe never ends: a registry (perhaps
    // someone else's) must not make promptops read outside itself or forever.
    if (!std::filesystem::is_regular_file(status)) {
      throw InputError(display(path), {}, "is not a regular file (a device, pipe or socket)");
    }
    const auto target = std::filesystem::canonical(full, ec);
    // The root's own path, resolved once per thread (a registry may have thousands of files).
    thread_local std::filesystem::path last_root;
    thread_local std::filesystem::path root;
    if (last_root != m_root) {
      root = std::filesystem::canonical(m_root, ec);
      last_root = ec ? std::filesystem::path() : m_root;
    }
    const auto inside = target.lexically_relative(root);
    if (ec || inside.empty() || *inside.begin() == "..") {
      throw InputError(display(path), {},
                       "leads to \"" + target.string() +
                           "\" through a symbolic link, outside the registry: promptops reads "
                           "only files inside it");
    }
  }
  return util::read_file_if_exists(full, display(path));
}

std::vector<std::string> WorkTreeSource::list(std::string_view dir, std::string_view suffix) const {
  std::vector<std::string> out;
  const auto base = m_root / std::filesystem::path(std::string(dir));
  std::error_code ec;
  if (!std::filesystem::is_directory(base, ec)) {
    return out;
  }
  // Symlinked folders are not followed: a registry must not read outside itself.
  for (auto it = std::filesystem::recursive_directory_iterator(
           base, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) {
      continue;
    }
    const std::string relative = it->path().lexically_relative(m_root).generic_string();
    if (relative.size() >= suffix.size() &&
        relative.compare(relative.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(relative);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string WorkTreeSource::display(std::string_view path) const {
  return m_display_prefix + std::string(path);
}

} // namespace promptops::registry
