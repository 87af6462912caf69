#include "registry/prompt_diff.hpp"
#include "registry/registry.hpp"
#include "registry/source.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

using namespace promptops::registry;

namespace {

// Registry files in memory: the seam that lets diff_prompts run on parsed prompts without a
// folder or a repository.
class MemorySource final : public Source {
public:
  explicit MemorySource(std::map<std::string, std::string> files) : m_files(std::move(files)) {}

  std::optional<std::string> read(std::string_view path) const override {
    const auto it = m_files.find(std::string(path));
    return it == m_files.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override {
    std::vector<std::string> out;
    const std::string prefix = std::string(dir) + "/";
    for (const auto& [path, _] : m_files) {
      if (path.rfind(prefix, 0) == 0 && path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(path);
      }
    }
    return out;
  }
  std::string display(std::string_view path) const override { return "mem:" + std::string(path); }

private:
  std::map<std::string, std::string> m_files;
};

// Prompt `name` with `yaml` as its file, plus `files` (partials, schemas), read at `ref`.
ResolvedPrompt load(const std::string& name, const std::string& yaml,
                    std::map<std::string, std::string> files = {},
                    const std::string& ref = "HEAD") {
  const std::string path = prompt_path(name);
  files[path] = yaml;
  const MemorySource source(std::move(files));
  return resolve_prompt(parse_prompt(name, yaml, path, source.display(path)), source, ref);
}

ResolvedPrompt load_work(const std::string& name, const std::string& yaml,
                         std::map<std::string, std::string> files = {}) {
  return load(name, yaml, std::move(files), "");
}

std::string unified(const std::string& a, const std::string& b) {
  return TextDiff{"a", "b", diff_lines(a, b)}.unified();
}

const std::string k_classify = "description: Classify a ticket\n"
                               "provider: default\n"
                               "params: {temperature: 0, max_tokens: 200}\n"
                               "messages:\n"
                               "  - role: system\n"
                               "    content: |\n"
                               "      You classify tickets.\n"
                               "      {{> categories}}\n"
                               "  - role: user\n"
                               "    content: \"Ticket: {{ticket}}\"\n"
                               "input:\n"
                               "  required: [ticket]\n"
                               "  optional: [customer]\n"
                               "output_schema: schemas/out.json\n";

const std::map<std::string, std::string> k_files = {
    {"prompts/partials/categories.mustache", "Categories:\n- billing\n- other\n"},
    {"schemas/out.json", "{\"type\": \"object\", \"required\": [\"category\"]}\n"}};

} // namespace

TEST_CASE("registry::diff_lines, unified hunks with three lines of context", "[registry][diff]") {
  SECTION("equal texts have no hunks") {
    CHECK(diff_lines("a\nb\n", "a\nb\n").empty());
    CHECK(diff_lines("", "").empty());
  }
  SECTION("one changed line in the middle") {
    CHECK(unified("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n") ==
          "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  }
  SECTION("changes 6 lines apart share a hunk, 7 apart do not") {
    CHECK(unified("a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n") ==
          "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n");
    CHECK(unified("a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n") ==
          "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n");
  }
  SECTION("removals come before additions, and a count of 1 or 0 is written as diff does") {
    CHECK(unified("x\ny\n", "p\nq\nr\n") == "@@ -1,2 +1,3 @@\n-x\n-y\n+p\n+q\n+r\n");
    CHECK(unified("", "new\n") == "@@ -0,0 +1 @@\n+new\n");
    CHECK(unified("old\n", "") == "@@ -1 +0,0 @@\n-old\n");
    CHECK(unified("a\nb\n", "a\nb\nc\n") == "@@ -1,2 +1,3 @@\n a\n b\n+c\n");
  }
  SECTION("a missing final line break is shown only when the other side has one") {
    CHECK(unified("Hi {{name}}", "Hello {{name}}") ==
          "@@ -1 +1 @@\n-Hi {{name}}\n+Hello {{name}}\n");
    CHECK(unified("a\nb", "a\nb\n") ==
          "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
  }
  SECTION("any bytes: NUL, CR and invalid UTF-8 are lines like others") {
    const std::string a = std::string("x\0y\n", 4) + "\xff\xfe\r\n";
    const std::string b = std::string("x\0y\n", 4) + "ok\r\n";
    CHECK(unified(a, b) == std::string("@@ -1,2 +1,2 @@\n x\0y\n", 21) + "-\xff\xfe\r\n+ok\r\n");
  }
}

TEST_CASE("registry::diff_prompts, the same version is empty", "[registry][diff]") {
  const auto a = load("support/classify", k_classify, k_files);
  const auto b = load_work("support/classify", k_classify, k_files);
  const auto d = diff_prompts(a, b);
  CHECK(d.empty());
  CHECK(d.before.version == d.after.version);
  CHECK(format_diff(d, Color::no) ==
        "no differences: support/classify@HEAD and support/classify are the same version (" +
            a.short_version() + ")\n");
  const auto j = to_json(d);
  CHECK(j["identical"] == true);
  CHECK(j["before"]["ref"] == "HEAD");
  CHECK(j["after"]["ref"].is_null());
}

TEST_CASE("registry::diff_prompts, description, provider, model, escape and params",
          "[registry][diff]") {
  const auto a = load("p", "description: Old\nprovider: default\n"
                           "params: {temperature: 0, max_tokens: 200, stop: [\"\\n\"]}\n"
                           "template: Hi\n");
  const auto b = load_work("p", "description: New\nmodel: gpt-4o\nescape: html\n"
                                "params: {temperature: 0.2, max_tokens: 200, top_p: 0.9}\n"
                                "template: Hi\n");
  const auto d = diff_prompts(a, b);
  REQUIRE(d.description);
  CHECK(d.description->before == "Old");
  CHECK(d.description->after == "New");
  REQUIRE(d.provider);
  CHECK(d.provider->before == "default");
  CHECK(d.provider->after == "");
  REQUIRE(d.model);
  CHECK(d.model->after == "gpt-4o");
  REQUIRE(d.escape);
  CHECK(d.escape->before == "none");
  CHECK(d.escape->after == "html");
  CHECK_FALSE(d.kind);
  CHECK_FALSE(d.name);
  REQUIRE(d.params.size() == 3);
  CHECK(d.params[0].pointer == "/stop");
  CHECK(d.params[0].change == Change::removed);
  CHECK(*d.params[0].before == nlohmann::json::array({"\n"}));
  CHECK_FALSE(d.params[0].after);
  CHECK(d.params[1].pointer == "/temperature");
  CHECK(d.params[1].change == Change::changed);
  CHECK(*d.params[1].before == 0);
  CHECK(*d.params[1].after == 0.2);
  CHECK(d.params[2].pointer == "/top_p");
  CHECK(d.params[2].change == Change::added);
  CHECK(d.messages.empty());
  CHECK(d.texts.empty());
  CHECK(format_diff(d, Color::no) == "diff p@HEAD (" + a.short_version() + ") -> p (" +
                                         b.short_version() +
                                         ")\n"
                                         "description: \"Old\" -> \"New\"\n"
                                         "provider: \"default\" -> (none)\n"
                                         "model: (none) -> \"gpt-4o\"\n"
                                         "escape: none -> html\n"
                                         "params:\n"
                                         "  - stop: [\"\\n\"]\n"
                                         "  ~ temperature: 0 -> 0.2\n"
                                         "  + top_p: 0.9\n");
  const auto j = to_json(d);
  CHECK(j["params"][1] ==
        nlohmann::ordered_json{
            {"key", "temperature"}, {"change", "changed"}, {"before", 0}, {"after", 0.2}});
  CHECK(j["params"][0].contains("after") == false);
  CHECK(j["model"] == nlohmann::ordered_json{{"before", nullptr}, {"after", "gpt-4o"}});
  CHECK(j["kind"].is_null());
}

TEST_CASE("registry::diff_prompts, messages aligned by content and role", "[registry][diff]") {
  const std::string before = "messages:\n"
                             "  - {role: system, content: \"Be brief.\"}\n"
                             "  - {role: user, content: \"Q: {{q}}\"}\n"
                             "  - {role: assistant, content: \"A: ok\"}\n";
  SECTION("a message inserted at the front changes nothing after it") {
    const auto d = diff_prompts(load("c", before),
                                load_work("c", "messages:\n"
                                               "  - {role: system, content: \"Safety first.\"}\n"
                                               "  - {role: system, content: \"Be brief.\"}\n"
                                               "  - {role: user, content: \"Q: {{q}}\"}\n"
                                               "  - {role: assistant, content: \"A: ok\"}\n"));
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0].change() == Change::added);
    CHECK(d.messages[0].after->index == 0);
    CHECK(d.messages[0].after->role == "system");
    REQUIRE(d.texts.size() == 1);
    CHECK(d.texts[0].label_before == "/dev/null");
    CHECK(d.texts[0].label_after == "c messages[0] (system)");
    CHECK(d.texts[0].unified() == "@@ -0,0 +1 @@\n+Safety first.\n");
  }
  SECTION("role changed, content changed, removed") {
    const auto d = diff_prompts(load("c", before),
                                load_work("c", "messages:\n"
                                               "  - {role: user, content: \"Be brief.\"}\n"
                                               "  - {role: user, content: \"Question: {{q}}\"}\n"));
    REQUIRE(d.messages.size() == 3);
    CHECK(d.messages[0].change() == Change::changed);
    CHECK(d.messages[0].role_changed);
    CHECK_FALSE(d.messages[0].content_changed);
    CHECK(d.messages[0].before->role == "system");
    CHECK(d.messages[0].after->role == "user");
    CHECK(d.messages[1].change() == Change::changed);
    CHECK_FALSE(d.messages[1].role_changed);
    CHECK(d.messages[1].content_changed);
    CHECK(d.messages[2].change() == Change::removed);
    CHECK(d.messages[2].before->index == 2);
    REQUIRE(d.texts.size() == 2);
    CHECK(d.texts[0].label_before == "c@HEAD messages[1] (user)");
    CHECK(d.texts[0].label_after == "c messages[1] (user)");
    CHECK(d.texts[0].unified() == "@@ -1 +1 @@\n-Q: {{q}}\n+Question: {{q}}\n");
    CHECK(d.texts[1].label_before == "c@HEAD messages[2] (assistant)");
    CHECK(d.texts[1].label_after == "/dev/null");
    CHECK(d.texts[1].unified() == "@@ -1 +0,0 @@\n-A: ok\n");
    const std::string out = format_diff(d, Color::no);
    CHECK_THAT(out, Catch::Contains("messages:\n"
                                    "  ~ messages[0]: role system -> user\n"
                                    "  ~ messages[1] (user): content changed\n"
                                    "  - messages[2] (assistant)\n"));
  }
  SECTION("chat to text: the template counts as one user message") {
    const auto d = diff_prompts(load("c", "messages:\n  - {role: user, content: \"Q: {{q}}\"}\n"),
                                load_work("c", "template: \"Q: {{q}}\"\n"));
    REQUIRE(d.kind);
    CHECK(d.kind->before == "chat");
    CHECK(d.kind->after == "text");
    CHECK(d.messages.empty());
    const auto e = diff_prompts(load("c", "template: \"Q: {{q}}\"\n"),
                                load_work("c", "messages:\n"
                                               "  - {role: system, content: \"Be brief.\"}\n"
                                               "  - {role: user, content: \"Q: {{q}}!\"}\n"));
    CHECK_THAT(format_diff(e, Color::no), Catch::Contains("kind: text -> chat\n"
                                                          "messages:\n"
                                                          "  + messages[0] (system)\n"
                                                          "  ~ template -> messages[1]: content "
                                                          "changed\n"));
  }
}

TEST_CASE("registry::diff_prompts, output schema path and JSON changes", "[registry][diff]") {
  auto files_b = k_files;
  files_b["schemas/out.json"] =
      "{\"type\": \"object\", \"required\": [\"category\", \"urgency\"],\n"
      " \"properties\": {\"urgency\": {\"type\": \"string\"}}}\n";
  SECTION("the same path, new content") {
    const auto d = diff_prompts(load("support/classify", k_classify, k_files),
                                load_work("support/classify", k_classify, files_b));
    CHECK_FALSE(d.output_schema);
    CHECK(d.output_schema_text_changed);
    REQUIRE(d.output_schema_changes.size() == 2);
    CHECK(d.output_schema_changes[0].pointer == "/properties");
    CHECK(d.output_schema_changes[0].change == Change::added);
    CHECK(d.output_schema_changes[1].pointer == "/required");
    CHECK(d.output_schema_changes[1].change == Change::changed);
    CHECK(*d.output_schema_changes[1].after == nlohmann::json::array({"category", "urgency"}));
    REQUIRE(d.texts.size() == 1);
    CHECK(d.texts[0].label_before == "support/classify@HEAD schemas/out.json");
    CHECK(d.texts[0].unified() ==
          "@@ -1 +1,2 @@\n"
          "-{\"type\": \"object\", \"required\": [\"category\"]}\n"
          "+{\"type\": \"object\", \"required\": [\"category\", \"urgency\"],\n"
          "+ \"properties\": {\"urgency\": {\"type\": \"string\"}}}\n");
    CHECK_THAT(format_diff(d, Color::no),
               Catch::Contains("output schema \"schemas/out.json\":\n"
                               "  + /properties: {\"urgency\":{\"type\":\"string\"}}\n"
                               "  ~ /required: [\"category\"] -> [\"category\",\"urgency\"]\n"));
  }
  SECTION("JSON Pointers inside nested objects and arrays of the same length") {
    auto files_c = k_files;
    files_c["schemas/out.json"] = "{\"type\": \"object\", \"required\": [\"kind\"]}";
    const auto d = diff_prompts(load("support/classify", k_classify, k_files),
                                load_work("support/classify", k_classify, files_c));
    REQUIRE(d.output_schema_changes.size() == 1);
    CHECK(d.output_schema_changes[0].pointer == "/required/0");
  }
  SECTION("a new path and no schema at all") {
    std::string yaml = k_classify;
    yaml.replace(yaml.find("schemas/out.json"), 16, "schemas/v2.json");
    auto files = k_files;
    files["schemas/v2.json"] = files_b["schemas/out.json"];
    const auto d = diff_prompts(load("support/classify", k_classify, k_files),
                                load_work("support/classify", yaml, files));
    REQUIRE(d.output_schema);
    CHECK(d.output_schema->before == "schemas/out.json");
    CHECK(d.output_schema->after == "schemas/v2.json");
    CHECK(d.output_schema_changes.size() == 2);
    CHECK_THAT(format_diff(d, Color::no),
               Catch::Contains("output schema: \"schemas/out.json\" -> \"schemas/v2.json\"\n"
                               "  + /properties: "));

    const std::string none = k_classify.substr(0, k_classify.find("output_schema:"));
    const auto e = diff_prompts(load("support/classify", k_classify, k_files),
                                load_work("support/classify", none, k_files));
    REQUIRE(e.output_schema);
    CHECK(e.output_schema->after == "");
    CHECK(e.output_schema_changes.empty());
    REQUIRE(e.texts.size() == 1);
    CHECK(e.texts[0].label_after == "/dev/null");
    CHECK_THAT(format_diff(e, Color::no),
               Catch::Contains("output schema: \"schemas/out.json\" -> (none)\n"));
  }
}

TEST_CASE("registry::diff_prompts, partials added, removed and changed", "[registry][diff]") {
  auto files_b = k_files;
  files_b["prompts/partials/categories.mustache"] =
      "Categories:\n- billing\n- shipping\n- other\n{{> footer}}";
  files_b["prompts/partials/footer.mustache"] = "Reply for {{customer}}.";
  const auto d = diff_prompts(load("support/classify", k_classify, k_files),
                              load_work("support/classify", k_classify, files_b));
  REQUIRE(d.partials.size() == 2);
  CHECK(d.partials[0].name == "categories");
  CHECK(d.partials[0].change == Change::changed);
  CHECK(d.partials[1].name == "footer");
  CHECK(d.partials[1].change == Change::added);
  CHECK(d.messages.empty());
  REQUIRE(d.texts.size() == 2);
  CHECK(d.texts[0].label_before == "support/classify@HEAD prompts/partials/categories.mustache");
  CHECK(d.texts[0].label_after == "support/classify prompts/partials/categories.mustache");
  CHECK(d.texts[0].unified() == "@@ -1,3 +1,5 @@\n"
                                " Categories:\n"
                                " - billing\n"
                                "+- shipping\n"
                                " - other\n"
                                "+{{> footer}}\n"
                                "\\ No newline at end of file\n");
  CHECK(d.texts[1].label_before == "/dev/null");
  CHECK(d.texts[1].unified() == "@@ -0,0 +1 @@\n+Reply for {{customer}}.\n");
  // The partial's variables count as used: "customer" is declared and now used.
  REQUIRE(d.variables.size() == 1);
  CHECK(d.variables[0].name == "customer");
  CHECK_FALSE(d.variables[0].used_before);
  CHECK(d.variables[0].used_after);
  CHECK(d.variables[0].severity == Severity::info);

  const auto back = diff_prompts(load("support/classify", k_classify, files_b),
                                 load_work("support/classify", k_classify, k_files));
  REQUIRE(back.partials.size() == 2);
  CHECK(back.partials[1].change == Change::removed);
  CHECK(back.variables[0].severity == Severity::warning);
}

TEST_CASE("registry::diff_prompts, variables: new required ones break callers",
          "[registry][diff]") {
  const auto a = load("v", "template: \"{{a}} {{b}} {{c}} {{d}} {{u}}\"\n"
                           "input: {required: [a, b], optional: [c, d]}\n");
  const auto b = load_work("v", "template: \"{{a}} {{b}} {{c}} {{n}} {{x}}\"\n"
                                "input: {required: [a, c, n], optional: [b, o]}\n");
  const auto d = diff_prompts(a, b);
  // Sorted by name: b required -> optional, c optional -> required, d optional removed,
  // n new required, o new optional, u no longer used, x newly used (undeclared).
  REQUIRE(d.variables.size() == 7);
  const auto& v = d.variables;
  CHECK(v[0].name == "b");
  CHECK(v[0].before == Declaration::required);
  CHECK(v[0].after == Declaration::optional);
  CHECK(v[0].severity == Severity::info);
  CHECK(v[1].name == "c");
  CHECK(v[1].severity == Severity::breaking);
  CHECK(v[2].name == "d");
  CHECK(v[2].after == Declaration::none);
  CHECK(v[2].used_before);
  CHECK_FALSE(v[2].used_after);
  CHECK(v[2].severity == Severity::warning);
  CHECK(v[3].name == "n");
  CHECK(v[3].before == Declaration::none);
  CHECK(v[3].severity == Severity::breaking);
  CHECK(v[4].name == "o");
  CHECK(v[4].severity == Severity::info);
  CHECK(v[5].name == "u");
  CHECK(v[5].severity == Severity::warning);
  CHECK(v[6].name == "x");
  CHECK(v[6].severity == Severity::info);
  CHECK(d.count(Severity::breaking) == 2);
  CHECK(d.count(Severity::warning) == 2);
  CHECK(format_diff(d, Color::no) ==
        "diff v@HEAD (" + a.short_version() + ") -> v (" + b.short_version() +
            ")\n"
            "messages:\n"
            "  ~ template: content changed\n"
            "variables:\n"
            "  ~ b: required -> optional\n"
            "  ~ c: optional -> required [BREAKING]\n"
            "  - d: optional variable removed; the templates no longer use it [warning]\n"
            "  + n: new required variable; the templates now use it [BREAKING]\n"
            "  + o: new optional variable\n"
            "  - u: the templates no longer use it [warning]\n"
            "  + x: the templates now use it (undeclared)\n"
            "2 breaking changes for callers, 2 warnings\n"
            "\n"
            "--- v@HEAD template\n"
            "+++ v template\n"
            "@@ -1 +1 @@\n"
            "-{{a}} {{b}} {{c}} {{d}} {{u}}\n"
            "+{{a}} {{b}} {{c}} {{n}} {{x}}\n");
  const auto j = to_json(d);
  CHECK(j["breaking"] == 2);
  CHECK(j["warnings"] == 2);
  CHECK(j["variables"][1] == nlohmann::ordered_json{{"name", "c"},
                                                    {"before", "optional"},
                                                    {"after", "required"},
                                                    {"used_before", true},
                                                    {"used_after", true},
                                                    {"severity", "breaking"}});
  CHECK(j["variables"][3]["before"].is_null());
}

TEST_CASE("registry::diff_prompts, a rename and a change of layout only", "[registry][diff]") {
  const auto a = load("old/name", k_classify, k_files);
  const auto b = load_work("new/name", k_classify, k_files);
  auto d = diff_prompts(a, b);
  CHECK_FALSE(d.empty());
  CHECK(a.version == b.version);
  REQUIRE(d.name);
  CHECK(d.name->before == "old/name");
  CHECK(d.name->after == "new/name");
  CHECK(d.texts.empty());
  CHECK(format_diff(d, Color::no) == "diff old/name@HEAD (" + a.short_version() +
                                         ") -> new/name (" + a.short_version() +
                                         ")\n"
                                         "name: \"old/name\" -> \"new/name\"\n");

  const auto c = load_work("old/name", "# a comment\n" + k_classify, k_files);
  d = diff_prompts(a, c);
  CHECK(d.only_file_layout_changed);
  REQUIRE(d.texts.size() == 1);
  CHECK(d.texts[0].label_before == "old/name@HEAD prompts/old/name.yaml");
  CHECK(d.texts[0].unified() ==
        "@@ -1,3 +1,4 @@\n+# a comment\n description: Classify a ticket\n provider: default\n"
        " params: {temperature: 0, max_tokens: 200}\n");
  CHECK_THAT(format_diff(d, Color::no),
             Catch::Contains("prompt file: only comments, formatting or order changed\n"));
}

TEST_CASE("registry::diff_prompts, tags and metadata", "[registry][diff]") {
  const auto d = diff_prompts(load("t", "template: x\ntags: [a, b]\nmetadata: {owner: ann}\n"),
                              load_work("t", "template: x\ntags: [b, c]\nmetadata: {team: x}\n"));
  CHECK(d.tags_added == std::vector<std::string>{"c"});
  CHECK(d.tags_removed == std::vector<std::string>{"a"});
  REQUIRE(d.metadata.size() == 2);
  CHECK_FALSE(d.only_file_layout_changed);
  CHECK_THAT(format_diff(d, Color::no), Catch::EndsWith("tags:\n"
                                                        "  + \"c\"\n"
                                                        "  - \"a\"\n"
                                                        "metadata:\n"
                                                        "  - owner: \"ann\"\n"
                                                        "  + team: \"x\"\n"));
}

TEST_CASE("registry::format_diff, colour only when asked", "[registry][diff]") {
  const auto d = diff_prompts(load("p", "template: \"Hi {{name}}\"\ninput: {required: [name]}\n"),
                              load_work("p", "template: \"Hey {{name}} {{day}}\"\n"
                                             "input: {required: [name, day]}\n"));
  const std::string plain = format_diff(d, Color::no);
  CHECK(plain.find('\x1b') == std::string::npos);
  const std::string colored = format_diff(d, Color::yes);
  CHECK_THAT(colored, Catch::StartsWith("\x1b[1mdiff p@HEAD ("));
  CHECK_THAT(colored, Catch::Contains("\n\x1b[31m-Hi {{name}}\x1b[0m\n"
                                      "\x1b[32m+Hey {{name}} {{day}}\x1b[0m\n"));
  CHECK_THAT(colored, Catch::Contains("\x1b[32m  + day: new required variable; the templates "
                                      "now use it\x1b[0m \x1b[1;31m[BREAKING]\x1b[0m\n"));
  CHECK_THAT(colored, Catch::Contains("\x1b[1m--- p@HEAD template\x1b[0m\n"
                                      "\x1b[1m+++ p template\x1b[0m\n"
                                      "\x1b[36m@@ -1 +1 @@\x1b[0m\n"));
}

TEST_CASE("registry::to_json, every key, and any bytes", "[registry][diff]") {
  const auto d = diff_prompts(load("p", "template: \"caf\\xE9 ok\"\n"),
                              load_work("p", "template: \"caf\xC3\xA9 \xff\"\n"));
  const auto j = to_json(d);
  std::vector<std::string> keys;
  for (const auto& [key, _] : j.items()) {
    keys.push_back(key);
  }
  CHECK(keys == std::vector<std::string>{
                    "before",   "after",       "identical", "breaking",      "warnings",
                    "name",     "description", "kind",      "provider",      "model",
                    "escape",   "params",      "messages",  "output_schema", "tools",
                    "partials", "variables",   "tags",      "metadata",      "file_layout_only",
                    "texts"});
  CHECK(j["identical"] == false);
  REQUIRE(j["texts"].size() == 1);
  // Invalid UTF-8 in a prompt is data: the dump replaces it instead of throwing.
  const std::string text = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  CHECK_THAT(text, Catch::Contains("+caf\xC3\xA9 \xEF\xBF\xBD"));
  CHECK_NOTHROW(format_diff(d, Color::yes));
}
