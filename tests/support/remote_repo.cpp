#include "tests/support/remote_repo.hpp"

#include "tests/support/test_repo.hpp"

#include <git2.h>

#include <memory>
#include <stdexcept>

namespace promptops::test {

namespace {

struct RepoDeleter {
  void operator()(git_repository* r) const noexcept { git_repository_free(r); }
};
using Repo = std::unique_ptr<git_repository, RepoDeleter>;

Repo open(const std::filesystem::path& dir) {
  git_repository* raw = nullptr;
  check_git(git_repository_open(&raw, dir.c_str()), "open " + dir.string());
  return Repo(raw);
}

void set_identity(git_repository* repo, const std::string& name) {
  git_config* config = nullptr;
  check_git(git_repository_config(&config, repo), "git config");
  std::unique_ptr<git_config, void (*)(git_config*)> owned(config, git_config_free);
  check_git(git_config_set_string(config, "user.name", name.c_str()), "user.name");
  check_git(git_config_set_string(config, "user.email", "test@example.invalid"), "user.email");
  check_git(git_config_set_string(config, "core.logAllRefUpdates", "always"), "logAllRefUpdates");
}

} // namespace

void init_bare(const std::filesystem::path& dir) {
  git_repository* raw = nullptr;
  check_git(git_repository_init(&raw, dir.c_str(), 1), "git init --bare " + dir.string());
  git_repository_free(raw);
}

void add_remote(const std::filesystem::path& repo_dir, const std::string& name,
                const std::string& url) {
  Repo repo = open(repo_dir);
  git_remote* remote = nullptr;
  check_git(git_remote_create(&remote, repo.get(), name.c_str(), url.c_str()),
            "remote add " + name);
  git_remote_free(remote);
}

void push_current_branch(const std::filesystem::path& repo_dir, const std::string& remote_name) {
  Repo repo = open(repo_dir);
  git_reference* head = nullptr;
  check_git(git_reference_lookup(&head, repo.get(), "HEAD"), "HEAD");
  const std::string branch = git_reference_symbolic_target(head);
  git_reference_free(head);
  git_remote* remote = nullptr;
  check_git(git_remote_lookup(&remote, repo.get(), remote_name.c_str()), "remote " + remote_name);
  std::unique_ptr<git_remote, void (*)(git_remote*)> owned(remote, git_remote_free);
  const std::string spec = branch + ":" + branch;
  char* specs[] = {const_cast<char*>(spec.c_str())};
  const git_strarray refspecs{specs, 1};
  git_push_options options;
  check_git(git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION), "push options");
  check_git(git_remote_push(remote, &refspecs, &options), "push " + spec);
  Repo bare = open(git_remote_url(remote));
  check_git(git_repository_set_head(bare.get(), branch.c_str()), "set the remote's HEAD");
}

void clone_repo(const std::string& url, const std::filesystem::path& dir,
                const std::string& author_name) {
  git_repository* raw = nullptr;
  check_git(git_clone(&raw, url.c_str(), dir.c_str(), nullptr), "clone " + url);
  Repo repo(raw);
  set_identity(repo.get(), author_name);
}

std::optional<std::string> ref_tip(const std::filesystem::path& repo_dir, const std::string& ref) {
  Repo repo = open(repo_dir);
  git_oid id;
  const int rc = git_reference_name_to_id(&id, repo.get(), ref.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  check_git(rc, "read " + ref);
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &id);
  return std::string(hex);
}

void set_ref(const std::filesystem::path& repo_dir, const std::string& ref,
             const std::string& target) {
  Repo repo = open(repo_dir);
  git_oid id;
  check_git(git_reference_name_to_id(&id, repo.get(), target.c_str()), "read " + target);
  git_reference* raw = nullptr;
  check_git(git_reference_create(&raw, repo.get(), ref.c_str(), &id, 1, "test: set_ref"),
            "set " + ref);
  git_reference_free(raw);
}

} // namespace promptops::test
