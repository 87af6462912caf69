#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace promptops::test {

// Helpers for push and pull tests: a bare repository on disk stands in for a git host.

// Create an empty bare repository at `dir`.
void init_bare(const std::filesystem::path& dir);

// Add remote `name` with `url` (a plain path works) to the repository at `repo_dir`.
void add_remote(const std::filesystem::path& repo_dir, const std::string& name,
                const std::string& url);

// Push the branch HEAD points at in `repo_dir` to the same name on `remote`, and point the
// remote's HEAD at it, so that a clone checks it out.
void push_current_branch(const std::filesystem::path& repo_dir, const std::string& remote);

// Clone `url` into `dir` (its remote is "origin") and give the clone a test identity
// (`author_name`, with an example.invalid e-mail).
void clone_repo(const std::string& url, const std::filesystem::path& dir,
                const std::string& author_name);

// The commit id `ref` points at in the repository at `repo_dir` (bare or not), or
// std::nullopt when there is no such ref.
std::optional<std::string> ref_tip(const std::filesystem::path& repo_dir, const std::string& ref);

// Point `ref` at `target` (another ref's name) in the repository at `repo_dir`, like
// git branch -f.
void set_ref(const std::filesystem::path& repo_dir, const std::string& ref,
             const std::string& target);

} // namespace promptops::test
