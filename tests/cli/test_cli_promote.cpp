// Versions, environments and promotion on real repositories, through the built binary.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <git2.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

using promptops::test::run_promptops;
using promptops::test::run_promptops_together;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

// A committed registry: promptops.yaml with staging and a protected prod, and prompts.
struct Fixture {
  TempDir dir;
  std::unique_ptr<TestRepo> repo;
  Fixture() {
    dir.write("promptops.yaml", "version: 1\nenvironments: [staging, prod]\nprotected: [prod]\n"
                                "providers:\n  default: {type: echo}\n");
    dir.write("prompts/greet.yaml", "template: \"{{> tone}} Hello {{name}}\"\n"
                                    "input: {required: [name]}\n");
    dir.write("prompts/partials/tone.mustache", "Be kind.");
    dir.write("prompts/other.yaml", "template: other\noutput_schema: schemas/o.json\n");
    dir.write("schemas/o.json", "{\"type\": \"string\"}");
    repo = std::make_unique<TestRepo>(dir.path());
    repo->commit_all("first");
  }
  promptops::test::ProcessResult run(const std::vector<std::string>& args) const {
    return run_promptops(args, dir.path());
  }
  nlohmann::json json(const std::vector<std::string>& args) const {
    const auto r = run(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
  }
  // The files on an environment branch.
  std::set<std::string> files(const std::string& env) const {
    git_object* obj = nullptr;
    const std::string spec = "refs/heads/promptops/env/" + env + "^{tree}";
    REQUIRE(git_revparse_single(&obj, repo->get(), spec.c_str()) == 0);
    std::set<std::string> out;
    git_tree_walk(
        reinterpret_cast<git_tree*>(obj), GIT_TREEWALK_PRE,
        [](const char* root, const git_tree_entry* e, void* payload) {
          if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
            static_cast<std::set<std::string>*>(payload)->insert(std::string(root) +
                                                                 git_tree_entry_name(e));
          }
          return 0;
        },
        &out);
    git_object_free(obj);
    return out;
  }
};

} // namespace

TEST_CASE("cli log, versions in commit order across edits and renames", "[cli][registry]") {
  Fixture f;
  f.dir.write("prompts/partials/tone.mustache", "Be terse.");
  f.repo->commit_all("terse tone");
  f.dir.write("README", "unrelated change\n");
  f.repo->commit_all("unrelated");
  std::filesystem::rename(f.dir.path() / "prompts/greet.yaml",
                          f.dir.path() / "prompts/welcome.yaml");
  f.repo->commit_all("rename greet to welcome");
  f.dir.write("prompts/welcome.yaml",
              "template: \"{{> tone}} Hi {{name}}\"\ninput: {required: [name]}\n");
  f.repo->commit_all("say hi");

  const auto log = f.json({"log", "welcome", "--json"});
  REQUIRE(log.size() == 3);
  CHECK(log[0]["version"] == "v1");
  CHECK(log[0]["subject"] == "first");
  CHECK(log[0]["name"] == "greet"); // followed through the rename
  CHECK(log[1]["subject"] == "terse tone");
  CHECK(log[2]["version"] == "v3");
  CHECK(log[2]["subject"] == "say hi");
  CHECK(log[2]["name"] == "welcome");

  // Every reference form reads the right text.
  CHECK(f.run({"render", "welcome@v1", "--var", "name=A"}).out == "Be kind. Hello A");
  CHECK(f.run({"render", "welcome@v2", "--var", "name=A"}).out == "Be terse. Hello A");
  CHECK(f.run({"render", "welcome@HEAD", "--var", "name=A"}).out == "Be terse. Hi A");
  const std::string id = log[1]["id"];
  CHECK(f.run({"render", "welcome@" + id.substr(0, 8), "--var", "name=A"}).out ==
        "Be terse. Hello A");
  const auto show = f.json({"show", "welcome@v1", "--json"});
  CHECK(show["version"] == log[0]["id"]);

  auto r = f.run({"render", "welcome@v9"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: prompt \"welcome\" has no version v9 (it has v1 to v3; see "
                 "promptops log welcome)\n");
  r = f.run({"render", "welcome@abcdef12"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("has no version \"abcdef12\""));
  r = f.run({"render", "welcome@stagin"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown reference \"@stagin\", did you mean \"staging\"?"));
}

TEST_CASE("cli promote, pins exact files in one commit, work tree untouched", "[cli][registry]") {
  Fixture f;
  f.dir.write("prompts/greet.yaml", "template: \"uncommitted edit\"\n"); // not promoted: HEAD is
  const auto before = f.dir.read("prompts/greet.yaml");

  auto r = f.run({"promote", "greet", "other", "--to", "staging"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("promoted greet v1 "));
  CHECK(f.files("staging") == std::set<std::string>{"prompts/greet.yaml", "prompts/other.yaml",
                                                    "prompts/partials/tone.mustache",
                                                    "schemas/o.json"});
  CHECK(f.run({"render", "greet@staging", "--var", "name=A"}).out == "Be kind. Hello A");
  CHECK(f.dir.read("prompts/greet.yaml") == before); // the work tree is as it was

  // Promoting again changes nothing and writes nothing.
  r = f.run({"promote", "greet", "--to", "staging"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "nothing to do: staging already pins those versions\n");

  // Protected prod: refused without evidence, allowed with it or with --force --reason.
  r = f.run({"promote", "greet", "--to", "prod"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("\"prod\" is protected"));
  CHECK_THAT(r.err, Catch::Contains("no suite under golden/ in the last commit runs \"greet\""));
  r = f.run({"promote", "greet", "--to", "prod", "--force"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--force needs --reason TEXT"));
  // Evidence is a passing run of every suite that runs the prompt, at the promoted version:
  // found under .promptops/runs, never taken on the command line's word.
  f.dir.write("golden/g.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                               "evaluators:\n  - {type: contains, value: Hello}\n");
  f.dir.write("golden/g.jsonl", R"({"id": "ada", "vars": {"name": "Ada"}})"
                                "\n");
  // Suites count as committed: the work tree's may be an easier version (test_cli_attacks).
  r = f.run({"promote", "greet", "--to", "prod"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("no suite under golden/ in the last commit runs \"greet\""));
  f.repo->commit_all("g tests greet");
  r = f.run({"promote", "greet", "--to", "prod"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("no passing run of g covers greet at"));
  CHECK_THAT(r.err, Catch::Contains("--prompt greet@staging"));
  r = f.run({"test", "g", "--prompt", "greet@staging", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string run_id = nlohmann::json::parse(r.out)["run_id"].get<std::string>();
  r = f.run({"promote", "greet", "--to", "prod"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  r = f.run({"promote", "other", "--to", "prod", "--force", "--reason", "hotfix for incident 7"});
  CHECK(r.exit_code == 0);

  const auto history = f.json({"env", "history", "prod", "--json"});
  REQUIRE(history.size() == 2);
  CHECK(history[0]["trailers"]["Forced"] == "yes");
  CHECK(history[0]["trailers"]["Reason"] == "hotfix for incident 7");
  CHECK(history[1]["trailers"]["Evidence-Run"] == run_id);
  CHECK_THAT(history[1]["trailers"]["Promoted-From"].get<std::string>(),
             Catch::StartsWith("staging "));
  CHECK_THAT(history[1]["trailers"]["Prompt-Version"].get<std::string>(),
             Catch::StartsWith("greet "));
  CHECK(history[1]["author"] == "Test Author <test@example.invalid>");

  // The index and HEAD did not move.
  git_reference* head = nullptr;
  REQUIRE(git_repository_head(&head, f.repo->get()) == 0);
  CHECK(std::string(git_reference_shorthand(head)) == "master");
  git_reference_free(head);
}

TEST_CASE("cli promote, prompts sharing a partial move together", "[cli][registry]") {
  Fixture f;
  f.dir.write("prompts/greet2.yaml", "template: \"{{> tone}} Bye {{name}}\"\n");
  f.repo->commit_all("second prompt with the same partial");
  const auto r = f.run({"promote", "greet", "greet2", "--to", "staging"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(f.files("staging") == std::set<std::string>{"prompts/greet.yaml", "prompts/greet2.yaml",
                                                    "prompts/partials/tone.mustache"});
  CHECK(f.run({"render", "greet2@staging", "--var", "name=A"}).out == "Be kind. Bye A");
}

TEST_CASE("cli promote, errors", "[cli][registry]") {
  Fixture f;
  auto r = f.run({"promote", "greet", "--to", "prd"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: unknown environment \"prd\", did you mean \"prod\"? "
                 "(environments are listed in promptops.yaml)\n");
  r = f.run({"promote", "gret", "--to", "staging"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: prompt \"gret\" is not in HEAD, did you mean \"greet\"?\n");
  r = f.run({"promote", "greet", "--to", "prod", "--from", "staging"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: environment \"staging\" has nothing "
                                      "promoted yet"));
  r = f.run({"promote", "../x", "--to", "staging"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("cli rollback and env list", "[cli][registry]") {
  Fixture f;
  REQUIRE(f.run({"promote", "greet", "--to", "staging"}).exit_code == 0);
  f.dir.write("prompts/partials/tone.mustache", "Be terse.");
  f.repo->commit_all("terse");
  REQUIRE(f.run({"promote", "greet", "--to", "staging"}).exit_code == 0);
  CHECK(f.run({"render", "greet@staging", "--var", "name=A"}).out == "Be terse. Hello A");

  auto list = f.json({"env", "list", "--json"});
  REQUIRE(list.size() == 2);
  CHECK(list[0]["environment"] == "staging");
  CHECK(list[1]["environment"] == "prod");
  CHECK(list[1]["commit"].is_null());

  auto r = f.run({"rollback", "greet", "--env", "staging", "--reason", "terse was rude"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("rolled back greet v1 "));
  CHECK(f.run({"render", "greet@staging", "--var", "name=A"}).out == "Be kind. Hello A");
  const auto history = f.json({"env", "history", "staging", "--json"});
  REQUIRE(history.size() == 3); // a new commit: history is never rewritten
  CHECK(history[0]["trailers"]["Reason"] == "terse was rude");

  REQUIRE(f.run({"rollback", "greet", "--env", "staging", "--to", "v2"}).exit_code == 0);
  CHECK(f.run({"render", "greet@staging", "--var", "name=A"}).out == "Be terse. Hello A");

  list = f.json({"env", "list", "--json"});
  CHECK(list[0]["pins"][0]["name"] == "greet");
  CHECK(list[0]["pins"][0]["behind"] == false);
  r = f.run({"rollback", "other", "--env", "staging"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("cli promote, racing promotions: every winner kept, every loser told",
          "[cli][registry][race]") {
  Fixture f;
  for (int i = 0; i < 8; ++i) {
    f.dir.write("prompts/p" + std::to_string(i) + ".yaml",
                "template: p" + std::to_string(i) + "\n");
  }
  f.repo->commit_all("eight prompts");
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 8; ++i) {
    commands.push_back({"promote", "p" + std::to_string(i), "--to", "staging"});
  }
  const auto results = run_promptops_together(commands, f.dir.path());
  std::set<std::string> winners;
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO(results[i].err);
    REQUIRE((results[i].exit_code == 0 || results[i].exit_code == 3));
    if (results[i].exit_code == 0) {
      winners.insert("prompts/p" + std::to_string(i) + ".yaml");
    } else {
      CHECK_THAT(results[i].err, Catch::Contains("registry conflict: promptops/env/staging moved"));
      CHECK_THAT(results[i].err, Catch::Contains("Nothing was written"));
    }
  }
  REQUIRE_FALSE(winners.empty());
  CHECK(f.files("staging") == winners);
  CHECK(f.json({"env", "history", "staging", "--json"}).size() == winners.size());
}

TEST_CASE("cli promote, no git identity is a clear error", "[cli][registry]") {
  TempDir home;
  TempDir dir;
  REQUIRE(run_promptops({"init", "r"}, dir.path()).exit_code == 0);
  {
    TestRepo repo(dir.path() / "r"); // sets a local identity to make the commit...
    repo.commit_all("first");
    git_config* config = nullptr;
    REQUIRE(git_repository_config(&config, repo.get()) == 0);
    git_config_delete_entry(config, "user.name"); // ...then takes it away again
    git_config_delete_entry(config, "user.email");
    git_config_free(config);
  }
  const std::map<std::string, std::string> env{{"HOME", home.path().string()},
                                               {"XDG_CONFIG_HOME", home.path().string()},
                                               {"GIT_AUTHOR_NAME", ""},
                                               {"GIT_AUTHOR_EMAIL", ""},
                                               {"GIT_CONFIG_NOSYSTEM", "1"}};
  auto r = run_promptops({"promote", "summarize", "--to", "staging"}, dir.path() / "r", env);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no git identity to record who moved the environment"));
  auto with = env;
  with["GIT_AUTHOR_NAME"] = "Release Manager";
  with["GIT_AUTHOR_EMAIL"] = "rm@example.invalid";
  r = run_promptops({"promote", "summarize", "--to", "staging"}, dir.path() / "r", with);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("cli promote, a shared partial cannot change a prompt that is not moving",
          "[cli][registry]") {
  Fixture f;
  f.dir.write("prompts/farewell.yaml",
              "template: \"{{> tone}} Bye {{name}}\"\ninput: {required: [name]}\n");
  f.repo->commit_all("farewell");
  REQUIRE(f.run({"promote", "greet", "farewell", "--to", "staging"}).exit_code == 0);
  f.dir.write("prompts/partials/tone.mustache", "Be terse.");
  f.repo->commit_all("terse tone");

  // greet's new version brings the new tone, which farewell in staging also includes.
  const auto refused = f.run({"promote", "greet", "--to", "staging"});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("other prompt pinned in staging (farewell)") &&
                              Catch::Contains("prompts/partials/tone.mustache") &&
                              Catch::Contains("promptops promote greet farewell --to staging"));
  const auto unchanged = f.run({"render", "farewell@staging", "--var", "name=Ada"});
  CHECK(unchanged.out == "Be kind. Bye Ada");

  // Moved together, both take the new tone.
  const auto together = f.run({"promote", "greet", "farewell", "--to", "staging"});
  INFO(together.err);
  CHECK(together.exit_code == 0);
  CHECK(f.run({"render", "farewell@staging", "--var", "name=Ada"}).out == "Be terse. Bye Ada");
  CHECK(f.run({"render", "greet@staging", "--var", "name=Ada"}).out == "Be terse. Hello Ada");
}

TEST_CASE("cli promote, evidence must be for the exact version, and --run makes it",
          "[cli][registry]") {
  Fixture f;
  f.dir.write("golden/g.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                               "evaluators:\n  - {type: contains, value: Hello}\n");
  f.dir.write("golden/g.jsonl", R"({"id": "ada", "vars": {"name": "Ada"}})"
                                "\n");
  f.repo->commit_all("g tests greet");
  REQUIRE(f.run({"promote", "greet", "--to", "staging"}).exit_code == 0);
  REQUIRE(f.run({"test", "g", "--prompt", "greet@staging"}).exit_code == 0);
  // The prompt changes and the new version reaches staging: the old run is no evidence for it.
  f.dir.write("prompts/partials/tone.mustache", "Be terse.");
  f.repo->commit_all("terse");
  REQUIRE(f.run({"promote", "greet", "--to", "staging"}).exit_code == 0);
  auto r = f.run({"promote", "greet", "--to", "prod"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("no passing run of g covers greet"));
  // A run whose gate failed is no evidence either.
  f.dir.write("golden/g.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                               "evaluators:\n  - {type: contains, value: Goodbye}\n");
  f.repo->commit_all("g wants Goodbye");
  r = f.run({"promote", "greet", "--to", "prod", "--run"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("gate FAILED"));
  // --run runs the suite with the version staging pins, and its passing run is the evidence.
  f.dir.write("golden/g.yaml", "prompt: greet\nproviders: [default]\ncases: g.jsonl\n"
                               "evaluators:\n  - {type: contains, value: terse}\n");
  f.repo->commit_all("g wants terse");
  r = f.run({"promote", "greet", "--to", "prod", "--run"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("ran g with greet@staging"));
  CHECK(f.run({"render", "greet@prod", "--var", "name=A"}).out == "Be terse. Hello A");
  const auto history = f.json({"env", "history", "prod", "--json"});
  REQUIRE(history.size() == 1);
  CHECK(history[0]["trailers"]["Evidence-Pass-Rate"] == "1");
}
