#include "tests/support/test_repo.hpp"

#include <git2.h>

#include <stdexcept>

namespace promptops::test {

void check_git(int rc, const std::string& what) {
  if (rc < 0) {
    const git_error* e = git_error_last();
    throw std::runtime_error(what + ": " +
                             (e != nullptr && e->message != nullptr ? e->message : "unknown"));
  }
}

TestRepo::TestRepo(const std::filesystem::path& dir) {
  check_git(git_repository_init(&m_repo, dir.c_str(), 0), "git init");
  git_config* config = nullptr;
  check_git(git_repository_config(&config, m_repo), "git config");
  check_git(git_config_set_string(config, "user.name", "Test Author"), "user.name");
  check_git(git_config_set_string(config, "user.email", "test@example.invalid"), "user.email");
  git_config_free(config);
}

TestRepo::~TestRepo() {
  git_repository_free(m_repo);
}

std::string TestRepo::commit_all(const std::string& message) {
  git_index* index = nullptr;
  check_git(git_repository_index(&index, m_repo), "index");
  git_strarray everything{nullptr, 0};
  check_git(git_index_add_all(index, &everything, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr), "add");
  check_git(git_index_update_all(index, &everything, nullptr, nullptr), "update");
  check_git(git_index_write(index), "index write");
  git_oid tree_id;
  check_git(git_index_write_tree(&tree_id, index), "write tree");
  git_index_free(index);
  git_tree* tree = nullptr;
  check_git(git_tree_lookup(&tree, m_repo, &tree_id), "tree");
  git_signature* sig = nullptr;
  check_git(git_signature_default(&sig, m_repo), "signature");
  git_oid parent_id;
  git_commit* parent = nullptr;
  if (git_reference_name_to_id(&parent_id, m_repo, "HEAD") == 0) {
    check_git(git_commit_lookup(&parent, m_repo, &parent_id), "parent");
  }
  const git_commit* parents[] = {parent};
  git_oid commit_id;
  check_git(git_commit_create(&commit_id, m_repo, "HEAD", sig, sig, nullptr, message.c_str(), tree,
                              parent ? 1 : 0, parents),
            "commit");
  git_commit_free(parent);
  git_signature_free(sig);
  git_tree_free(tree);
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &commit_id);
  return hex;
}

} // namespace promptops::test
