#include "registry/prompt.hpp"

#include <catch2/catch.hpp>

using promptops::InputError;
using namespace promptops::registry;

namespace {
Prompt parse(const std::string& text) {
  return parse_prompt("p", text, "prompts/p.yaml", "prompts/p.yaml");
}
} // namespace

TEST_CASE("registry::check_name, names stay inside prompts/", "[registry]") {
  CHECK_NOTHROW(check_name("support/classify", "prompt"));
  CHECK_NOTHROW(check_name("a.b-c_d", "prompt"));
  REQUIRE_THROWS_WITH(check_name("../x", "prompt"),
                      "invalid prompt name \"../x\": \".\" and \"..\" may not appear in a name "
                      "(names stay inside prompts/)");
  REQUIRE_THROWS_WITH(check_name("/etc/passwd", "prompt"),
                      "invalid prompt name \"/etc/passwd\": a name may not start or end with '/' "
                      "or contain \"//\"");
  REQUIRE_THROWS_WITH(check_name("a b", "partial"),
                      "invalid partial name \"a b\": use letters, digits, '_', '-', '.' and '/' "
                      "between folders");
  REQUIRE_THROWS_AS(check_name("", "prompt"), InputError);
  REQUIRE_THROWS_AS(check_name("a/./b", "prompt"), InputError);
}

TEST_CASE("registry::parse_prompt_ref, NAME and NAME@REF", "[registry]") {
  CHECK(parse_prompt_ref("support/classify").ref.empty());
  const auto ref = parse_prompt_ref("support/classify@HEAD");
  CHECK(ref.name == "support/classify");
  CHECK(ref.ref == "HEAD");
  REQUIRE_THROWS_WITH(parse_prompt_ref("x@"),
                      "empty reference after '@' in \"x@\": use NAME or NAME@HEAD");
}

TEST_CASE("registry::parse_prompt, a chat prompt", "[registry]") {
  const Prompt p =
      parse("description: d\nprovider: default\nparams: {temperature: 0}\n"
            "messages:\n  - role: system\n    content: Be brief.\n"
            "  - role: user\n    content: \"{{> head}}Q: {{question}} {{#ctx}}{{x}}{{/ctx}}\"\n"
            "input:\n  required: [question]\n  optional: [ctx]\n");
  CHECK(p.kind == PromptKind::chat);
  CHECK(p.messages.size() == 2);
  CHECK(p.provider == "default");
  CHECK(p.params["temperature"] == 0);
  CHECK(p.required.size() == 1);
  CHECK(p.required[0].name == "question");
  CHECK(p.required[0].position.line == 10);
  CHECK(p.template_variables() == std::vector<std::string>{"question", "ctx", "x"});
  CHECK(p.template_partials() == std::vector<std::string>{"head"});
}

TEST_CASE("registry::parse_prompt, a text prompt", "[registry]") {
  const Prompt p = parse("template: \"Hello {{name}}\"\nescape: html\n");
  CHECK(p.kind == PromptKind::text);
  CHECK(p.escape == promptops::mustache::Escape::html);
  CHECK(p.text_source == "Hello {{name}}");
}

TEST_CASE("registry::parse_prompt, neither or both of messages and template", "[registry]") {
  REQUIRE_THROWS_WITH(parse("description: nothing\n"),
                      "prompts/p.yaml:1:1: a prompt needs \"messages:\" (chat) or \"template:\" "
                      "(text)");
  REQUIRE_THROWS_WITH(parse("template: a\nmessages:\n  - {role: user, content: b}\n"),
                      "prompts/p.yaml:1:1: a prompt has \"messages:\" (chat) or \"template:\" "
                      "(text), not both");
  REQUIRE_THROWS_WITH(parse(""), "prompts/p.yaml:1:1: empty prompt file: it needs \"messages:\" "
                                 "or \"template:\"");
}

TEST_CASE("registry::parse_prompt, an unknown key gets a suggestion at its line", "[registry]") {
  REQUIRE_THROWS_WITH(parse("description: d\nmesages:\n  - {role: user, content: hi}\n"),
                      Catch::StartsWith("prompts/p.yaml:2:1: unknown key \"mesages\", did you "
                                        "mean \"messages\"?"));
}

TEST_CASE("registry::parse_prompt, a template that does not parse names the message",
          "[registry]") {
  REQUIRE_THROWS_WITH(parse("messages:\n  - role: user\n    content: \"Hi {{#customer}}\"\n"),
                      Catch::StartsWith("prompts/p.yaml:3:14: messages[0].content: unclosed "
                                        "section \"customer\""));
}

TEST_CASE("registry::parse_prompt, a bad role is named with its choices", "[registry]") {
  REQUIRE_THROWS_WITH(parse("messages:\n  - role: sytem\n    content: x\n"),
                      "prompts/p.yaml:2:11: messages[0].role: \"sytem\" is not allowed, did you "
                      "mean \"system\"?");
}

TEST_CASE("registry::parse_prompt, a variable both required and optional", "[registry]") {
  REQUIRE_THROWS_WITH(parse("template: \"{{a}}\"\ninput: {required: [a], optional: [a]}\n"),
                      "prompts/p.yaml:2:35: variable \"a\" is both required and optional");
}
