#include "registry/init.hpp"

#include "registry/example_files.hpp"
#include "registry/git.hpp"
#include "registry/registry.hpp"
#include "schemas/builtin.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

namespace promptops::registry {

bool write_editor_schemas(const std::filesystem::path& root) {
  try {
    for (const auto& schema : schemas::builtin_schemas()) {
      const auto path = root / ".promptops" / "schemas" / std::string(schema.path);
      auto existing = util::read_file_if_exists(path);
      if (!existing || *existing != schema.text) {
        util::write_file_atomic(path, schema.text);
      }
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

InitResult init_registry(const std::filesystem::path& dir, InitGit git_mode) {
  std::error_code ec;
  if (std::filesystem::exists(dir / k_config_file, ec)) {
    throw InputError("\"" + (dir / k_config_file).string() +
                     "\" already exists: this folder is already a promptops registry");
  }
  // Check everything first, so that a refusal leaves nothing half-written.
  for (const auto& file : example_files()) {
    if (std::filesystem::exists(dir / std::string(file.path), ec)) {
      throw InputError("\"" + (dir / std::string(file.path)).string() +
                       "\" already exists; promptops init writes only into new files");
    }
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw InputError("cannot create folder \"" + dir.string() + "\": " + ec.message());
  }

  InitResult result;
  for (const auto& file : example_files()) {
    util::write_file_atomic(dir / std::string(file.path), file.text);
    result.files_written.emplace_back(file.path);
  }
  write_editor_schemas(dir);

  auto repo = git::discover(dir);
  if (!repo && git_mode == InitGit::create_repository) {
    git::ensure_library();
    git_repository* raw = nullptr;
    git::check(git_repository_init(&raw, dir.c_str(), 0), "cannot create a git repository");
    repo = git::Repository(raw);
    result.created_repository = true;
  }
  if (repo) {
    git_config* raw_config = nullptr;
    git::check(git_repository_config(&raw_config, repo->get()), "cannot open the git config");
    git::Config config(raw_config);
    // libgit2 1.5.1 writes no reflog for refs outside refs/heads without this.
    git::check(git_config_set_string(config.get(), "core.logAllRefUpdates", "always"),
               "cannot set core.logAllRefUpdates");
  }
  return result;
}

} // namespace promptops::registry
