// push and pull through the built binary: two registries (A and its clone B) share a bare
// repository on disk as their remote "origin".
#include "tests/support/process.hpp"
#include "tests/support/remote_repo.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

using promptops::test::ref_tip;
using promptops::test::run_promptops;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

const std::string k_staging = "refs/heads/promptops/env/staging";
const std::string k_prod = "refs/heads/promptops/env/prod";

struct Sharing {
  TempDir dir;
  std::filesystem::path bare, a, b;
  std::unique_ptr<TestRepo> repo_a;

  Sharing() : bare(dir.path() / "remote.git"), a(dir.path() / "a"), b(dir.path() / "b") {
    promptops::test::init_bare(bare);
    dir.write("a/promptops.yaml", "version: 1\nenvironments: [staging, prod]\nprotected: [prod]\n"
                                  "providers:\n  default: {type: echo}\n");
    dir.write("a/prompts/greet.yaml", "template: \"Hello {{name}}\"\n");
    repo_a = std::make_unique<TestRepo>(a);
    repo_a->commit_all("first");
    promptops::test::add_remote(a, "origin", bare.string());
    promptops::test::push_current_branch(a, "origin");
    promptops::test::clone_repo(bare.string(), b, "Other Author");
  }
  promptops::test::ProcessResult in_a(const std::vector<std::string>& args) const {
    return run_promptops(args, a);
  }
  // B's promotions are Other Author's.
  promptops::test::ProcessResult in_b(const std::vector<std::string>& args) const {
    return run_promptops(
        args, b,
        {{"GIT_AUTHOR_NAME", "Other Author"}, {"GIT_AUTHOR_EMAIL", "other@example.invalid"}});
  }
  // Edit greet in B and commit it there.
  void edit_in_b(const std::string& text) {
    dir.write("b/prompts/greet.yaml", "template: \"" + text + " {{name}}\"\n");
    TestRepo repo_b(b);
    repo_b.commit_all("edit greet in B");
  }
};

std::string short_id(const std::optional<std::string>& id) {
  REQUIRE(id);
  return id->substr(0, 7);
}

} // namespace

TEST_CASE("cli push and pull, A's promotions reach B through the remote", "[cli][remote]") {
  Sharing s;
  REQUIRE(s.in_a({"promote", "greet", "--to", "staging"}).exit_code == 0);
  REQUIRE(
      s.in_a({"promote", "greet", "--to", "prod", "--force", "--reason", "release 1"}).exit_code ==
      0);

  auto r = s.in_a({"push"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto staging = ref_tip(s.a, k_staging);
  const auto prod = ref_tip(s.a, k_prod);
  CHECK(r.out == "To " + s.bare.string() + " (origin)\n" + "  promptops/env/staging  pushed " +
                     short_id(staging) + " (new on origin)\n" + "  promptops/env/prod     pushed " +
                     short_id(prod) + " (new on origin)\n");
  CHECK(r.err.empty());
  CHECK(ref_tip(s.bare, k_staging) == staging);
  CHECK(ref_tip(s.bare, k_prod) == prod);
  r = s.in_a({"push", "origin"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("promptops/env/prod     up to date (" + short_id(prod) + ")"));

  // B has nothing promoted until it pulls; pull creates the missing branches.
  CHECK(s.in_b({"render", "greet@prod", "--var", "name=B"}).exit_code == 2);
  const auto head_before = ref_tip(s.b, "HEAD");
  r = s.in_b({"pull"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "From " + s.bare.string() + " (origin)\n" +
                     "  promptops/env/staging  created at " + short_id(staging) + "\n" +
                     "  promptops/env/prod     created at " + short_id(prod) + "\n");
  CHECK(ref_tip(s.b, k_prod) == prod);
  CHECK(ref_tip(s.b, "HEAD") == head_before);
  CHECK(s.in_b({"render", "greet@prod", "--var", "name=B"}).out == "Hello B");

  // B's history of prod is A's: the same promotion, with its trailers.
  r = s.in_b({"env", "history", "prod", "--json"});
  REQUIRE(r.exit_code == 0);
  const auto history = nlohmann::json::parse(r.out);
  REQUIRE(history.size() == 1);
  CHECK(history[0]["commit"] == *prod);
  CHECK(history[0]["trailers"]["Promoted-By"] == "Test Author <test@example.invalid>");
  CHECK(history[0]["trailers"]["Reason"] == "release 1");
  CHECK_THAT(history[0]["trailers"]["Prompt-Version"].get<std::string>(),
             Catch::StartsWith("greet "));

  // A promotes again and pushes: B fast-forwards staging, prod stays.
  s.dir.write("a/prompts/greet.yaml", "template: \"Hi {{name}}\"\n");
  s.repo_a->commit_all("say hi");
  REQUIRE(s.in_a({"promote", "greet", "--to", "staging"}).exit_code == 0);
  // Before pushing, pull in A says it is ahead, and changes nothing.
  r = s.in_a({"pull"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out,
             Catch::Contains("promptops/env/staging  ahead of origin by 1 commit (run promptops "
                             "push)"));
  const auto staging2 = ref_tip(s.a, k_staging);
  r = s.in_a({"push"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("promptops/env/staging  pushed " + short_id(staging) + ".." +
                                    short_id(staging2) + "\n"));
  r = s.in_b({"pull", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto pulled = nlohmann::json::parse(r.out);
  CHECK(pulled["remote"] == "origin");
  CHECK(pulled["environments"][0]["status"] == "fast_forwarded");
  CHECK(pulled["environments"][0]["old"] == *staging);
  CHECK(pulled["environments"][0]["new"] == *staging2);
  CHECK(pulled["environments"][1]["status"] == "up_to_date");
  CHECK(s.in_b({"render", "greet@staging", "--var", "name=B"}).out == "Hi B");
  CHECK(s.dir.read("b/prompts/greet.yaml") == "template: \"Hello {{name}}\"\n"); // work tree
  CHECK(ref_tip(s.b, "HEAD") == head_before);
}

TEST_CASE("cli push, rejected where the remote has promotions you do not have", "[cli][remote]") {
  Sharing s;
  REQUIRE(s.in_a({"promote", "greet", "--to", "staging"}).exit_code == 0);
  REQUIRE(s.in_a({"push"}).exit_code == 0);
  const auto a_staging = ref_tip(s.a, k_staging);

  // B promotes without pulling: staging diverges, prod is new.
  s.edit_in_b("Howdy");
  REQUIRE(s.in_b({"promote", "greet", "--to", "staging"}).exit_code == 0);
  REQUIRE(s.in_b({"promote", "greet", "--to", "prod", "--force", "--reason", "demo"}).exit_code ==
          0);
  const auto b_staging = ref_tip(s.b, k_staging);
  const auto b_prod = ref_tip(s.b, k_prod);

  auto r = s.in_b({"push"});
  CHECK(r.exit_code == 3);
  CHECK(r.out == "To " + s.bare.string() + " (origin)\n" +
                     "  promptops/env/staging  rejected: origin has promotions you do not have\n" +
                     "  promptops/env/prod     pushed " + short_id(b_prod) + " (new on origin)\n");
  CHECK(r.err == "promptops: error: promptops/env/staging on origin has promotions you do not "
                 "have (1 commit, newest " +
                     short_id(a_staging) +
                     " \"promote greet from HEAD to staging\" by Test Author); run promptops pull "
                     "first\n");
  // Nothing lost: the remote keeps A's staging; B's prod went through.
  CHECK(ref_tip(s.bare, k_staging) == a_staging);
  CHECK(ref_tip(s.bare, k_prod) == b_prod);
  CHECK(ref_tip(s.b, k_staging) == b_staging);

  r = s.in_b({"push", "--json"});
  CHECK(r.exit_code == 3);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["environments"][0]["status"] == "rejected");
  CHECK(j["environments"][0]["old"] == *a_staging);
  CHECK(j["environments"][0]["new"] == *b_staging);
  CHECK(j["environments"][0]["divergence"]["local_only"] == 1);
  CHECK(j["environments"][0]["divergence"]["remote_only"] == 1);
  CHECK(j["environments"][1]["status"] == "up_to_date");

  // Pull refuses the diverged environment and leaves it as it was.
  r = s.in_b({"pull"});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out,
             Catch::Contains("  promptops/env/staging  diverged: 1 commit only here, 1 commit only "
                             "on origin; left at " +
                             short_id(b_staging) + "\n"));
  CHECK_THAT(r.out, Catch::Contains("only here: " + short_id(b_staging) +
                                    " promote greet from HEAD to staging\n"));
  CHECK_THAT(r.out, Catch::Contains("  promptops/env/prod     up to date"));
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: promptops/env/staging has diverged from "
                                      "origin: yours is at " +
                                      short_id(b_staging) +
                                      " \"promote greet from HEAD to staging\" by Other Author, "
                                      "with 1 commit origin lacks; origin's is at " +
                                      short_id(a_staging) +
                                      " \"promote greet from HEAD to staging\" by Test Author, "));
  CHECK_THAT(r.err, Catch::Contains(", with 1 commit you lack. Nothing was changed. To resolve, "
                                    "promote again on top of origin's"));
  CHECK(ref_tip(s.b, k_staging) == b_staging);

  // The suggested way out: move to origin's tip and promote again, then push.
  promptops::test::set_ref(s.b, k_staging, "refs/remotes/origin/promptops/env/staging");
  REQUIRE(s.in_b({"promote", "greet", "--to", "staging"}).exit_code == 0);
  r = s.in_b({"push"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("promptops/env/staging  pushed " + short_id(a_staging) + ".."));
  CHECK(s.in_a({"pull"}).exit_code == 0);
  CHECK(s.in_a({"render", "greet@staging", "--var", "name=A"}).out == "Howdy A");
}

TEST_CASE("cli push and pull, unknown remote", "[cli][remote]") {
  Sharing s;
  auto r = s.in_a({"push", "orign"});
  CHECK(r.exit_code == 2);
  CHECK(r.err ==
        "promptops: error: unknown remote \"orign\", did you mean \"origin\"? (remotes: origin)\n");
  r = s.in_b({"pull", "upstream"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: unknown remote \"upstream\" (remotes: origin)\n");

  TempDir plain;
  plain.write("promptops.yaml", "version: 1\nenvironments: [prod]\n");
  TestRepo repo(plain.path());
  repo.commit_all("first");
  r = run_promptops({"pull"}, plain.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: unknown remote \"origin\": this repository has no git remote "
                 "(add one with \"git remote add origin URL\")\n");
}

TEST_CASE("cli pull, nothing on the remote yet", "[cli][remote]") {
  Sharing s;
  auto r = s.in_b({"pull"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "From " + s.bare.string() + " (origin)\n" +
                     "  promptops/env/staging  not on origin\n" +
                     "  promptops/env/prod     not on origin\n");
  r = s.in_b({"push"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "To " + s.bare.string() + " (origin)\n" +
                     "  promptops/env/staging  nothing promoted here yet\n" +
                     "  promptops/env/prod     nothing promoted here yet\n");
}
