#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::registry {

// Where registry files are read from: the work tree, or a commit's tree in git. Paths are
// relative to the registry root, '/'-separated ("prompts/support/classify.yaml"). The seam
// lets every loader run unchanged on committed versions and in tests.
class Source {
public:
  virtual ~Source() = default;

  // The bytes of `path`, or std::nullopt if there is no such file. Throws InputError when it
  // exists but cannot be read.
  virtual std::optional<std::string> read(std::string_view path) const = 0;

  // Every file below folder `dir` whose name ends in `suffix`, relative to the root, sorted.
  virtual std::vector<std::string> list(std::string_view dir, std::string_view suffix) const = 0;

  // How `path` is shown in messages: relative to the current folder for the work tree,
  // "HEAD:path" for a commit.
  virtual std::string display(std::string_view path) const = 0;
};

// Registry files that cannot change under the reader, each with an id of its bytes: a
// commit's tree (git::TreeSource, where the id is the blob id) or, in tests, files in memory.
// Equal ids mean equal bytes, so a move can compare files without reading them.
class SnapshotSource : public Source {
public:
  // The id of `path`'s bytes, or std::nullopt when there is no such file.
  virtual std::optional<std::string> file_id(std::string_view path) const = 0;

  // Every file, relative to the root (in no particular order).
  virtual std::vector<std::string> files() const = 0;
};

// The registry's folder on disk. `display_prefix` is put before paths in messages (the
// registry root relative to the current folder, "" or ending in '/').
class WorkTreeSource final : public Source {
public:
  WorkTreeSource(std::filesystem::path root, std::string display_prefix);

  std::optional<std::string> read(std::string_view path) const override;
  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override;
  std::string display(std::string_view path) const override;

  const std::filesystem::path& root() const { return m_root; }

private:
  std::filesystem::path m_root;
  std::string m_display_prefix;
};

} // namespace promptops::registry
