#include "registry/registry.hpp"
#include "registry/remote.hpp"
#include "tests/support/env_branch.hpp"
#include "tests/support/remote_repo.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <git2.h>

using promptops::test::commit_env_branch;
using promptops::test::ref_tip;
using promptops::test::TempDir;
using promptops::test::TestRepo;
using namespace promptops::registry;

namespace {

const std::string k_prod = "refs/heads/promptops/env/prod";

// Registry A with remote "origin" (a bare repository) and its clone B.
struct Pair {
  TempDir dir;
  std::filesystem::path bare, a, b;
  Pair() : bare(dir.path() / "remote.git"), a(dir.path() / "a"), b(dir.path() / "b") {
    promptops::test::init_bare(bare);
    dir.write("a/promptops.yaml", "version: 1\nenvironments: [staging, prod]\n");
    TestRepo repo(a);
    repo.commit_all("first");
    promptops::test::add_remote(a, "origin", bare.string());
    promptops::test::push_current_branch(a, "origin");
    promptops::test::clone_repo(bare.string(), b, "Other Author");
  }
};

} // namespace

TEST_CASE("registry::push and pull, statuses per environment", "[registry][remote]") {
  Pair p;
  const auto tip = commit_env_branch(p.a, "prod", {{"prompts/x.yaml", "template: x\n"}});
  const auto pushed = push(Registry::open(p.a), "origin");
  REQUIRE(pushed.environments.size() == 2);
  CHECK(pushed.environments[0].status == PushStatus::not_promoted);
  CHECK(pushed.environments[1].status == PushStatus::pushed);
  CHECK(pushed.environments[1].old_commit.empty());
  CHECK(pushed.environments[1].new_commit == tip);
  CHECK_FALSE(pushed.rejected());
  CHECK(ref_tip(p.a, "refs/remotes/origin/promptops/env/prod") == tip);

  const auto pulled = pull(Registry::open(p.b), "origin");
  CHECK(pulled.environments[0].status == PullStatus::not_on_remote);
  CHECK(pulled.environments[1].status == PullStatus::created);
  CHECK(pulled.environments[1].new_commit == tip);
  CHECK_FALSE(pulled.refused());
  CHECK(ref_tip(p.b, k_prod) == tip);
}

TEST_CASE("registry::pull, refuses to move a checked-out environment branch",
          "[registry][remote]") {
  Pair p;
  const auto first = commit_env_branch(p.b, "prod", {{"prompts/x.yaml", "template: x\n"}});
  REQUIRE(push(Registry::open(p.b), "origin").environments[1].status == PushStatus::pushed);
  REQUIRE(pull(Registry::open(p.a), "origin").environments[1].status == PullStatus::created);
  {
    // A checks prod out (HEAD only; the work tree does not matter here).
    git_repository* repo = nullptr;
    REQUIRE(git_repository_open(&repo, p.a.c_str()) == 0);
    REQUIRE(git_repository_set_head(repo, k_prod.c_str()) == 0);
    git_repository_free(repo);
  }
  const auto second = commit_env_branch(p.b, "prod", {{"prompts/x.yaml", "template: y\n"}});
  REQUIRE(push(Registry::open(p.b), "origin").environments[1].status == PushStatus::pushed);
  const auto pulled = pull(Registry::open(p.a), "origin");
  CHECK(pulled.environments[1].status == PullStatus::conflict);
  CHECK(pulled.environments[1].message ==
        "promptops/env/prod is checked out here; pulling would move it under your work tree. "
        "Check out another branch and pull again");
  CHECK(pulled.refused());
  CHECK(ref_tip(p.a, k_prod) == first);
  CHECK(pulled.environments[1].remote_commit == second);
}

TEST_CASE("registry::push, unknown remote", "[registry][remote]") {
  Pair p;
  CHECK_THROWS_WITH(push(Registry::open(p.a), "origni"),
                    "unknown remote \"origni\", did you mean \"origin\"? (remotes: origin)");
}
