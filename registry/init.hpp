#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace promptops::registry {

enum class InitGit { create_repository, leave_alone };

struct InitResult {
  std::vector<std::string> files_written; // relative to the new registry's root
  bool created_repository = false;
};

// Create a working example registry in `dir` (created if missing): the files of
// examples/support, plus the editor schemas under .promptops/schemas/. Refuses (InputError)
// when `dir` already holds a promptops.yaml or any of the files it would write, so nothing
// of the user's is overwritten. With InitGit::create_repository, a folder that is not in a
// git repository gets one. In either case the repository is configured to keep reflogs for
// every ref (core.logAllRefUpdates=always), which promotion history relies on.
InitResult init_registry(const std::filesystem::path& dir, InitGit git);

// Write (or refresh) the JSON Schemas of promptops's formats into `root`/.promptops/schemas/,
// where the example files' "yaml-language-server" lines point. Returns false, writing
// nothing, when the folder cannot be written.
bool write_editor_schemas(const std::filesystem::path& root);

} // namespace promptops::registry
