#include "registry/registry.hpp"
#include "registry/render.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using promptops::InputError;
using promptops::test::TempDir;
using promptops::test::TestRepo;
using namespace promptops::registry;

namespace {

// Runs a block with the current folder set to `dir`, restoring it afterwards.
struct InFolder {
  explicit InFolder(const std::filesystem::path& dir) : m_old(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~InFolder() { std::filesystem::current_path(m_old); }
  std::filesystem::path m_old;
};

void write_registry(const TempDir& dir) {
  dir.write("promptops.yaml", "version: 1\nproviders:\n  default:\n    type: echo\n"
                              "    params: {temperature: 0, max_tokens: 50}\n");
  dir.write("prompts/greet.yaml", "provider: default\nparams: {max_tokens: 10}\n"
                                  "messages:\n  - role: system\n    content: \"{{> tone}}\"\n"
                                  "  - role: user\n    content: \"Hi {{name}}\"\n"
                                  "input: {required: [name]}\noutput_schema: schemas/out.json\n");
  dir.write("prompts/partials/tone.mustache", "Be kind.");
  dir.write("schemas/out.json", "{\"type\": \"object\"}");
}

} // namespace

TEST_CASE("registry::find_root, walks up to the nearest promptops.yaml", "[registry]") {
  TempDir dir;
  write_registry(dir);
  std::filesystem::create_directories(dir.path() / "a" / "b");
  CHECK(find_root(dir.path() / "a" / "b") == dir.path());
  CHECK(find_root(dir.path()) == dir.path());
  TempDir empty;
  CHECK_FALSE(find_root(empty.path()).has_value());
}

TEST_CASE("registry::Registry::resolve, partials, schema and a stable version", "[registry]") {
  TempDir dir;
  write_registry(dir);
  InFolder in(dir.path());
  const Registry registry = Registry::open(".");
  CHECK(registry.prompt_names() == std::vector<std::string>{"greet"});
  CHECK(registry.partial_names() == std::vector<std::string>{"tone"});

  const ResolvedPrompt r = registry.resolve({"greet", ""});
  CHECK(r.partials.at("tone") == "Be kind.");
  CHECK(r.output_schema == "{\"type\": \"object\"}");
  CHECK(r.version.size() == 64);
  CHECK(r.short_version() == r.version.substr(0, 12));
  CHECK(registry.resolve({"greet", ""}).version == r.version);
  // A renamed copy is the same version: the id is content, not place.
  dir.write("prompts/renamed/hello.yaml", dir.read("prompts/greet.yaml"));
  CHECK(registry.resolve({"renamed/hello", ""}).version == r.version);

  // A change to anything the prompt pulls in makes a new version.
  dir.write("prompts/partials/tone.mustache", "Be terse.");
  const std::string after_partial = registry.resolve({"greet", ""}).version;
  CHECK(after_partial != r.version);
  dir.write("schemas/out.json", "{\"type\": \"array\"}");
  CHECK(registry.resolve({"greet", ""}).version != after_partial);
}

TEST_CASE("registry::render_prompt, merges params and checks required variables", "[registry]") {
  TempDir dir;
  write_registry(dir);
  InFolder in(dir.path());
  const Registry registry = Registry::open(".");
  const ResolvedPrompt r = registry.resolve({"greet", ""});
  const RenderedPrompt out =
      render_prompt(r, registry.config(), nlohmann::json{{"name", "Ada <3"}});
  REQUIRE(out.messages.size() == 2);
  CHECK(out.messages[0].content == "Be kind.");
  CHECK(out.messages[1].content == "Hi Ada <3"); // no HTML escaping in prompts
  CHECK(out.provider == "default");
  CHECK(out.params == nlohmann::json{{"temperature", 0}, {"max_tokens", 10}});

  REQUIRE_THROWS_WITH(render_prompt(r, registry.config(), nlohmann::json::object()),
                      "prompts/greet.yaml:8:20: missing required variable \"name\" for prompt "
                      "\"greet\"");
  REQUIRE_THROWS_WITH(render_prompt(r, registry.config(), nlohmann::json{{"name", nullptr}},
                                    "case \"c1\" (golden/s.jsonl:3)"),
                      "prompts/greet.yaml:8:20: missing required variable \"name\" for prompt "
                      "\"greet\", in case \"c1\" (golden/s.jsonl:3)");
}

TEST_CASE("registry::Registry::resolve, unknown prompts, partials and schemas", "[registry]") {
  TempDir dir;
  write_registry(dir);
  InFolder in(dir.path());
  const Registry registry = Registry::open(".");
  REQUIRE_THROWS_WITH(
      registry.resolve({"gret", ""}),
      "unknown prompt \"gret\", did you mean \"greet\"? (no file prompts/gret.yaml)");
  dir.write("prompts/p2.yaml", "template: \"{{> tnoe}}\"\n");
  REQUIRE_THROWS_WITH(registry.resolve({"p2", ""}),
                      "prompts/p2.yaml: partial \"tnoe\" not found (no file "
                      "prompts/partials/tnoe.mustache), did you mean \"tone\"?");
  dir.write("prompts/p3.yaml", "template: x\noutput_schema: schemas/missing.json\n");
  REQUIRE_THROWS_WITH(registry.resolve({"p3", ""}),
                      "prompts/p3.yaml:2:16: output schema \"schemas/missing.json\" not found (no "
                      "file schemas/missing.json)");
  dir.write("prompts/p4.yaml", "template: x\noutput_schema: ../outside.json\n");
  REQUIRE_THROWS_WITH(registry.resolve({"p4", ""}),
                      "prompts/p4.yaml:2:16: output_schema \"../outside.json\" must be a path "
                      "inside the registry, relative to its root");
}

TEST_CASE("registry::Registry::open, outside a registry", "[registry]") {
  TempDir dir;
  InFolder in(dir.path());
  REQUIRE_THROWS_WITH(Registry::open("."),
                      Catch::StartsWith("not a promptops registry (no promptops.yaml in"));
}

TEST_CASE("registry::Registry::resolve, NAME@HEAD reads the committed version", "[registry][git]") {
  TempDir dir;
  write_registry(dir);
  InFolder in(dir.path());
  TestRepo repo(dir.path());
  {
    const Registry registry = Registry::open(".");
    REQUIRE_THROWS_WITH(registry.resolve({"greet", "HEAD"}),
                        "\"@HEAD\": the repository has no commits yet");
  }
  repo.commit_all("first");
  dir.write("prompts/partials/tone.mustache", "Be loud.");
  dir.write("prompts/new.yaml", "template: new\n");
  const Registry registry = Registry::open(".");
  const ResolvedPrompt head = registry.resolve({"greet", "HEAD"});
  CHECK(head.partials.at("tone") == "Be kind.");
  CHECK(head.prompt.display_path == "HEAD:prompts/greet.yaml");
  CHECK(head.version != registry.resolve({"greet", ""}).version);
  REQUIRE_THROWS_WITH(registry.resolve({"new", "HEAD"}),
                      "prompt \"new\" is not committed at HEAD (it exists only in the work tree)");
  REQUIRE_THROWS_WITH(registry.resolve({"greet", "prod"}),
                      Catch::StartsWith("unknown reference \"@prod\""));
}

TEST_CASE("registry::Registry::resolve, a registry in a sub-folder of the repository",
          "[registry][git]") {
  TempDir dir;
  TestRepo repo(dir.path());
  dir.write("app/main.c", "int main(void) { return 0; }\n");
  dir.write("app/prompts-registry/promptops.yaml", "version: 1\n");
  dir.write("app/prompts-registry/prompts/a.yaml", "template: committed\n");
  repo.commit_all("add registry");
  dir.write("app/prompts-registry/prompts/a.yaml", "template: edited\n");
  InFolder in(dir.path() / "app" / "prompts-registry");
  const Registry registry = Registry::open(".");
  CHECK(registry.resolve({"a", "HEAD"}).prompt.text_source == "committed");
  CHECK(registry.resolve({"a", ""}).prompt.text_source == "edited");
}

TEST_CASE("registry::Registry::resolve, @HEAD outside git", "[registry][git]") {
  TempDir dir;
  write_registry(dir);
  InFolder in(dir.path());
  const Registry registry = Registry::open(".");
  REQUIRE_THROWS_WITH(registry.resolve({"greet", "HEAD"}),
                      Catch::Contains("is not inside a git repository"));
}

TEST_CASE("registry::prompt_names, a file whose name breaks the rule is no prompt", "[registry]") {
  TempDir dir;
  dir.write("prompts/greet.yaml", "template: hi\n");
  dir.write("prompts/a b.yaml", "template: hi\n");
  dir.write("prompts/x\ny.yaml", "template: hi\n");
  const WorkTreeSource source(dir.path(), "");
  CHECK(prompt_names(source) == std::vector<std::string>{"greet"});
  const auto invalid = invalid_prompt_files(source);
  REQUIRE(invalid.size() == 2);
  CHECK(invalid[0] == "prompts/a b.yaml is not a prompt, passed over: invalid prompt name \"a "
                      "b\": use letters, digits, '_', '-', '.' and '/' between folders");
  CHECK(invalid[1].rfind("prompts/x\\ny.yaml is not a prompt", 0) == 0);

  // The registry's own work tree lists them, for validate to report and their use to refuse.
  write_registry(dir);
  InFolder in(dir.path());
  const Registry registry = Registry::open(".");
  CHECK(registry.prompt_names() == std::vector<std::string>{"a b", "greet", "x\ny"});
  CHECK(registry.prompt_names(&source) == std::vector<std::string>{"greet"});
}
