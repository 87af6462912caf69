#pragma once

#include <filesystem>
#include <string>

struct git_repository;

namespace promptops::test {

// Throws std::runtime_error "what: <libgit2's message>" when `rc` < 0.
void check_git(int rc, const std::string& what);

// A real git repository in a folder, made with libgit2, with a test identity in its config.
class TestRepo {
public:
  explicit TestRepo(const std::filesystem::path& dir);
  ~TestRepo();
  TestRepo(const TestRepo&) = delete;
  TestRepo& operator=(const TestRepo&) = delete;

  // Stage every file of the work tree (like git add -A) and commit; returns the commit id.
  std::string commit_all(const std::string& message);

  git_repository* get() const { return m_repo; }

private:
  git_repository* m_repo = nullptr;
};

} // namespace promptops::test
