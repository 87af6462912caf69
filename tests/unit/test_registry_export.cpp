#include "registry/export.hpp"
#include "registry/registry.hpp"
#include "tests/support/env_branch.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using promptops::InputError;
using promptops::test::commit_env_branch;
using promptops::test::files_from;
using promptops::test::TempDir;
using promptops::test::TestRepo;
using namespace promptops::registry;
using ordered = nlohmann::ordered_json;

namespace {

const std::vector<std::string> k_pinned = {"prompts/support/greet.yaml", "prompts/note.yaml",
                                           "prompts/partials/tone.mustache",
                                           "prompts/partials/adverb.mustache", "schemas/out.json"};

void write_registry(const TempDir& dir) {
  dir.write("promptops.yaml", "version: 1\n"
                              "environments: [staging, prod]\n"
                              "providers:\n  default:\n    type: echo\n    model: m1\n"
                              "    params: {temperature: 0.5}\n");
  dir.write("prompts/support/greet.yaml",
            "description: Greet\n"
            "provider: default\n"
            "model: echo-2\n"
            "params: {max_tokens: 10}\n"
            "messages:\n"
            "  - role: system\n    content: \"{{> tone}}\"\n"
            "  - role: user\n    content: \"Hi {{name}}{{#title}} ({{title}}){{/title}}\"\n"
            "input: {required: [name], optional: [title]}\n"
            "output_schema: schemas/out.json\n");
  dir.write("prompts/note.yaml", "template: \"Note: {{text}}\"\nescape: html\n"
                                 "input: {required: [text]}\n");
  dir.write("prompts/draft.yaml", "template: \"not pinned anywhere\"\n");
  dir.write("prompts/partials/tone.mustache", "Be {{> adverb}} kind.");
  dir.write("prompts/partials/adverb.mustache", "very");
  dir.write("schemas/out.json", "{\"type\": \"object\", \"required\": [\"a\"]}");
}

// The message Registry gives for reference `ref`, or "" when it takes it.
std::string registry_error(const Registry& registry, const std::string& ref) {
  try {
    registry.source_for(ref);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("registry::export_environment, the exact bundle of an environment branch",
          "[registry][git]") {
  TempDir dir;
  write_registry(dir);
  TestRepo repo(dir.path());
  const std::string commit =
      commit_env_branch(dir.path(), "prod", files_from(dir.path(), k_pinned));
  const Registry registry = Registry::open(dir.path());
  const std::string greet = registry.resolve({"support/greet", "prod"}).version;
  const std::string note = registry.resolve({"note", "prod"}).version;
  CHECK(greet == registry.resolve({"support/greet", ""}).version);
  CHECK(greet.size() == 64);

  const ordered expected = {
      {"format", "promptops-bundle/1"},
      {"environment", "prod"},
      {"commit", commit},
      {"prompts",
       {{"note",
         {{"version", note},
          {"kind", "text"},
          {"provider", nullptr},
          {"model", nullptr},
          {"params", ordered::object()},
          {"input", {{"required", {"text"}}, {"optional", ordered::array()}}},
          {"template", "Note: {{text}}"},
          {"escape", "html"},
          {"partials", ordered::object()},
          {"output_schema", nullptr}}},
        {"support/greet",
         {{"version", greet},
          {"kind", "chat"},
          {"provider", "default"},
          {"model", "echo-2"},
          {"params", {{"max_tokens", 10}}},
          {"input", {{"required", {"name"}}, {"optional", {"title"}}}},
          {"messages",
           {{{"role", "system"}, {"content", "{{> tone}}"}},
            {{"role", "user"}, {"content", "Hi {{name}}{{#title}} ({{title}}){{/title}}"}}}},
          {"escape", "none"},
          {"partials", {{"adverb", "very"}, {"tone", "Be {{> adverb}} kind."}}},
          {"output_schema", {{"type", "object"}, {"required", {"a"}}}}}}}}};
  // Compared as text: key order is part of the format.
  CHECK(export_environment(registry, "prod").dump(2) == expected.dump(2));
}

TEST_CASE("registry::export_environment, reads the branch tip, not the work tree",
          "[registry][git]") {
  TempDir dir;
  write_registry(dir);
  TestRepo repo(dir.path());
  const std::string first = commit_env_branch(dir.path(), "prod", files_from(dir.path(), k_pinned));
  const Registry registry = Registry::open(dir.path());
  const ordered before = export_environment(registry, "prod");

  // An edit in the work tree changes nothing until it is pinned.
  dir.write("prompts/note.yaml", "template: \"Edited {{text}}\"\ninput: {required: [text]}\n");
  CHECK(export_environment(registry, "prod").dump() == before.dump());

  const std::string second =
      commit_env_branch(dir.path(), "prod", files_from(dir.path(), k_pinned), "promote note");
  REQUIRE(second != first);
  const ordered after = export_environment(registry, "prod");
  CHECK(after["commit"] == second);
  CHECK(after["prompts"]["note"]["template"] == "Edited {{text}}");
  CHECK(after["prompts"]["note"]["escape"] == "none");
  CHECK(after["prompts"]["note"]["version"] != before["prompts"]["note"]["version"]);
  CHECK(after["prompts"]["support/greet"] == before["prompts"]["support/greet"]);

  // An environment whose tree pins nothing exports no prompt.
  commit_env_branch(dir.path(), "staging", {{"README", "nothing pinned\n"}});
  const ordered empty = export_environment(registry, "staging");
  CHECK(empty["environment"] == "staging");
  CHECK(empty["prompts"] == ordered::object());
}

TEST_CASE("registry::export_environment, unknown environments and broken pins", "[registry][git]") {
  TempDir dir;
  write_registry(dir);
  TestRepo repo(dir.path());
  const Registry registry = Registry::open(dir.path());

  // Not in promptops.yaml, and in it with nothing promoted: the errors Registry gives.
  const std::string unknown = registry_error(registry, "prd");
  CHECK_THAT(unknown, Catch::Contains("did you mean \"prod\"?"));
  REQUIRE_THROWS_WITH(export_environment(registry, "prd"), unknown);
  const std::string nothing = registry_error(registry, "prod");
  CHECK(nothing == "environment \"prod\" has nothing promoted yet (no branch promptops/env/prod)");
  REQUIRE_THROWS_WITH(export_environment(registry, "prod"), nothing);
  // References that are not environments.
  REQUIRE_THROWS_WITH(export_environment(registry, "HEAD"),
                      "\"HEAD\" is not an environment: use one of the environments of " +
                          registry.config().display_path);
  REQUIRE_THROWS_AS(export_environment(registry, ""), InputError);

  // A pin whose partial is missing from the branch does not load.
  commit_env_branch(dir.path(), "prod",
                    files_from(dir.path(), {"prompts/support/greet.yaml", "schemas/out.json"}));
  REQUIRE_THROWS_WITH(export_environment(registry, "prod"),
                      "prod:prompts/support/greet.yaml: partial \"tone\" not found (no file "
                      "prod:prompts/partials/tone.mustache)");
}
