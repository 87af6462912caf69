// End-to-end: the built promptops binary on real folders and real git repositories.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using promptops::test::run_promptops;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::filesystem::path k_example =
    std::filesystem::path(PROMPTOPS_SOURCE_DIR) / "examples" / "support";

} // namespace

TEST_CASE("cli --version, prints the version", "[cli]") {
  TempDir dir;
  const auto r = run_promptops({"--version"}, dir.path());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Matches("promptops [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_CASE("cli, usage errors exit 2", "[cli]") {
  TempDir dir;
  auto r = run_promptops({"rendr", "x"}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: unknown command \"rendr\", did you mean \"render\"? (see "
                 "promptops --help)\n");
  r = run_promptops({"render"}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("NAME is required"));
  r = run_promptops({"render", "x", "--bogus"}, dir.path());
  CHECK(r.exit_code == 2);
  r = run_promptops({}, dir.path());
  CHECK(r.exit_code == 2);
  r = run_promptops({"--help"}, dir.path());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("render"));
}

TEST_CASE("cli init, writes the example registry, byte for byte", "[cli]") {
  TempDir dir;
  const auto r = run_promptops({"init", "demo"}, dir.path());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("Created a promptops registry in demo:\n"));
  std::size_t compared = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(k_example)) {
    const auto rel = entry.path().lexically_relative(k_example);
    if (!entry.is_regular_file() || rel.begin()->string() == ".promptops") {
      continue;
    }
    INFO(rel.string());
    CHECK(slurp(dir.path() / "demo" / rel) == slurp(entry.path()));
    ++compared;
  }
  CHECK(compared >= 8);
  // Editors get the schemas the yaml-language-server lines point at.
  CHECK(std::filesystem::exists(dir.path() / "demo/.promptops/schemas/prompt.schema.json"));
  CHECK_THAT(slurp(dir.path() / "demo/prompts/support/classify.yaml"),
             Catch::StartsWith("# yaml-language-server: $schema=../../.promptops/schemas/"
                               "prompt.schema.json\n"));
  // A git repository with reflogs for every ref.
  CHECK(std::filesystem::exists(dir.path() / "demo/.git"));
  CHECK_THAT(slurp(dir.path() / "demo/.git/config"), Catch::Contains("logAllRefUpdates = always"));

  // Refuses to write over a registry, and changes nothing.
  const std::string before = slurp(dir.path() / "demo/promptops.yaml");
  const auto again = run_promptops({"init", "demo"}, dir.path());
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::EndsWith("already exists: this folder is already a promptops "
                                        "registry\n"));
  CHECK(slurp(dir.path() / "demo/promptops.yaml") == before);
}

TEST_CASE("cli init, refuses to overwrite a user's file", "[cli]") {
  TempDir dir;
  dir.write("mine/prompts/summarize.yaml", "template: mine\n");
  const auto r = run_promptops({"init", "mine", "--no-git"}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("prompts/summarize.yaml\" already exists"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "mine/promptops.yaml"));
  CHECK(dir.read("mine/prompts/summarize.yaml") == "template: mine\n");
}

TEST_CASE("cli validate, list and show on the example", "[cli]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo", "--no-git"}, dir.path()).exit_code == 0);
  const auto demo = dir.path() / "demo";

  auto r = run_promptops({"validate"}, demo);
  CHECK(r.err == "");
  CHECK(r.out == "ok: 2 prompts, 1 partial, 1 schema, 1 suite, 4 cases\n");
  CHECK(r.exit_code == 0);

  r = run_promptops({"list"}, demo);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "summarize         text  Summarize a support conversation\n"
                 "support/classify  chat  Classify a support ticket\n");

  r = run_promptops({"list", "--json"}, demo);
  CHECK(nlohmann::json::parse(r.out).size() == 2);

  r = run_promptops({"show", "support/classify"}, demo);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("required:      ticket\n"));
  CHECK_THAT(r.out, Catch::Contains("partials:      categories\n"));
  CHECK_THAT(r.out, Catch::Contains("output schema: schemas/classification.json\n"));

  r = run_promptops({"show", "summarize", "--json"}, demo);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["kind"] == "text");
  CHECK(j["input"]["required"] == nlohmann::json::array({"customer", "messages"}));
  CHECK(j["version"].get<std::string>().size() == 64);
}

TEST_CASE("cli render, a chat prompt exactly as sent", "[cli]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo", "--no-git"}, dir.path()).exit_code == 0);
  const auto r = run_promptops({"render", "support/classify", "--var",
                                "ticket=I was charged <twice>", "--var", "customer.name=Ada & co"},
                               dir.path() / "demo");
  CHECK(r.err == "");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "[system]\n"
                 "You classify support tickets. Answer with JSON only.\n"
                 "Categories:\n"
                 "- billing: charges, refunds, invoices\n"
                 "- shipping: parcels, delivery, returns\n"
                 "- account: login, password, profile\n"
                 "- other: anything else\n"
                 "Reply as {\"category\": \"<one of the above>\"}.\n"
                 "\n"
                 "[user]\n"
                 "Ticket: I was charged <twice> (customer Ada & co)\n");
}

TEST_CASE("cli render, a text prompt prints its text and nothing else", "[cli]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo", "--no-git"}, dir.path()).exit_code == 0);
  const auto r = run_promptops({"render", "summarize", "--vars-file", "vars/summarize.json"},
                               dir.path() / "demo");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "Summarize this conversation with Ada in at most 3 bullet points.\n"
                 "- Ada: My invoice shows two charges for March.\n"
                 "- Agent: I see them. One is a duplicate; I have refunded it.\n"
                 "- Ada: Thanks! When will the money arrive?\n"
                 "- Agent: Within five working days.\n");
  // An inverted section fills in when the optional variable is absent; --var wins over the file.
  const auto r2 = run_promptops(
      {"render", "summarize", "--vars-file", "vars/summarize.json", "--var", "customer=Bob"},
      dir.path() / "demo");
  CHECK_THAT(r2.out, Catch::StartsWith("Summarize this conversation with Bob in at most 3"));
}

TEST_CASE("cli render --json, the shape applications read", "[cli]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo", "--no-git"}, dir.path()).exit_code == 0);
  const auto r = run_promptops({"render", "support/classify", "--json", "--var", "ticket=Hi"},
                               dir.path() / "demo");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["name"] == "support/classify");
  CHECK(j["provider"] == "default");
  CHECK(j["params"] == nlohmann::json{{"temperature", 0}, {"max_tokens", 200}});
  CHECK(j["messages"].size() == 2);
  CHECK(j["messages"][1] == nlohmann::json{{"role", "user"}, {"content", "Ticket: Hi"}});
  CHECK_FALSE(j.contains("text"));
  const auto show = nlohmann::json::parse(
      run_promptops({"show", "support/classify", "--json"}, dir.path() / "demo").out);
  CHECK(j["version"] == show["version"]);
}

TEST_CASE("cli, -C and walking up to the registry root", "[cli]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo", "--no-git"}, dir.path()).exit_code == 0);
  auto r = run_promptops(
      {"-C", "demo", "render", "summarize", "--var", "customer=A", "--var", "messages="},
      dir.path());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out,
             Catch::StartsWith("Summarize this conversation with A in a few bullet points."));
  r = run_promptops({"render", "summarize", "--var", "customer=A", "--var", "messages="},
                    dir.path() / "demo" / "prompts" / "support");
  CHECK(r.exit_code == 0);
  // Paths in messages are relative to where the command runs.
  r = run_promptops({"render", "support/classify"}, dir.path() / "demo" / "golden");
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: ../prompts/support/classify.yaml:13:14: missing required "
                 "variable \"ticket\" for prompt \"support/classify\"\n");
  r = run_promptops({"-C", "nowhere", "list"}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("promptops: error: cannot change to folder \"nowhere\""));
}

TEST_CASE("cli render NAME@HEAD, reads the last commit through libgit2", "[cli][git]") {
  TempDir dir;
  REQUIRE(run_promptops({"init", "demo"}, dir.path()).exit_code == 0);
  const auto demo = dir.path() / "demo";
  auto r = run_promptops({"render", "summarize@HEAD", "--var", "customer=A", "--var", "messages="},
                         demo);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "promptops: error: \"@HEAD\": the repository has no commits yet\n");

  {
    TestRepo repo(demo);
    repo.commit_all("add prompts");
  }
  dir.write("demo/prompts/summarize.yaml", "template: \"edited {{customer}}\"\n"
                                           "input: {required: [customer]}\n");
  r = run_promptops({"render", "summarize@HEAD", "--var", "customer=A", "--var", "messages="},
                    demo);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("Summarize this conversation with A"));
  r = run_promptops({"render", "summarize", "--var", "customer=A"}, demo);
  CHECK(r.out == "edited A");

  const auto head =
      nlohmann::json::parse(run_promptops({"show", "summarize@HEAD", "--json"}, demo).out);
  const auto work = nlohmann::json::parse(run_promptops({"show", "summarize", "--json"}, demo).out);
  CHECK(head["ref"] == "HEAD");
  CHECK(head["version"] != work["version"]);
}
