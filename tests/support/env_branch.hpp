#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace promptops::test {

// Commit `files` (path from the tree's root -> content) as the whole tree of environment
// `env`'s branch, refs/heads/promptops/env/<env>, in the repository at `repo_dir`, on top of
// the branch's tip when it has one, and move the branch there. Returns the new commit id. It
// stands in for `promptops promote` in tests: the tree is exactly what it is given.
std::string commit_env_branch(const std::filesystem::path& repo_dir, const std::string& env,
                              const std::map<std::string, std::string>& files,
                              const std::string& message = "promote");

// The files at `paths` (relative to `root`, '/'-separated) read from disk, ready for
// commit_env_branch.
std::map<std::string, std::string> files_from(const std::filesystem::path& root,
                                              const std::vector<std::string>& paths);

} // namespace promptops::test
