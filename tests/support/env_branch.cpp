#include "tests/support/env_branch.hpp"

#include "tests/support/test_repo.hpp"

#include <git2.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace promptops::test {

namespace {

// Frees what it holds whatever path the test helper leaves by.
struct Handles {
  git_repository* repo = nullptr;
  git_index* index = nullptr;
  git_tree* tree = nullptr;
  git_signature* signature = nullptr;
  git_commit* parent = nullptr;
  ~Handles() {
    git_commit_free(parent);
    git_signature_free(signature);
    git_tree_free(tree);
    git_index_free(index);
    git_repository_free(repo);
  }
};

} // namespace

std::string commit_env_branch(const std::filesystem::path& repo_dir, const std::string& env,
                              const std::map<std::string, std::string>& files,
                              const std::string& message) {
  const std::string ref = "refs/heads/promptops/env/" + env;
  Handles h;
  check_git(git_repository_open(&h.repo, repo_dir.c_str()), "open " + repo_dir.string());
  // An index of our own, in memory: nested paths become nested trees, and neither the work
  // tree nor the repository's index is touched.
  check_git(git_index_new(&h.index), "new index");
  for (const auto& [path, content] : files) {
    git_index_entry entry{};
    entry.mode = GIT_FILEMODE_BLOB;
    entry.path = path.c_str();
    check_git(git_blob_create_from_buffer(&entry.id, h.repo, content.data(), content.size()),
              "blob " + path);
    check_git(git_index_add(h.index, &entry), "add " + path);
  }
  git_oid tree_id;
  check_git(git_index_write_tree_to(&tree_id, h.index, h.repo), "write tree");
  check_git(git_tree_lookup(&h.tree, h.repo, &tree_id), "tree");
  check_git(git_signature_now(&h.signature, "Test Releaser", "releaser@example.invalid"),
            "signature");
  git_oid parent_id;
  if (git_reference_name_to_id(&parent_id, h.repo, ref.c_str()) == 0) {
    check_git(git_commit_lookup(&h.parent, h.repo, &parent_id), "parent");
  }
  const git_commit* parents[] = {h.parent};
  git_oid commit_id;
  check_git(git_commit_create(&commit_id, h.repo, ref.c_str(), h.signature, h.signature, nullptr,
                              message.c_str(), h.tree, h.parent != nullptr ? 1 : 0, parents),
            "commit to " + ref);
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &commit_id);
  return hex;
}

std::map<std::string, std::string> files_from(const std::filesystem::path& root,
                                              const std::vector<std::string>& paths) {
  std::map<std::string, std::string> files;
  for (const auto& path : paths) {
    std::ifstream in(root / path, std::ios::binary);
    if (!in) {
      throw std::runtime_error("cannot read " + (root / path).string());
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    files[path] = ss.str();
  }
  return files;
}

} // namespace promptops::test
