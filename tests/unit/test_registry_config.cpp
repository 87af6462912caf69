#include "registry/config.hpp"

#include <catch2/catch.hpp>

using promptops::InputError;
using namespace promptops::registry;

TEST_CASE("registry::parse_config, the example configuration", "[registry]") {
  const Config c = parse_config("version: 1\nenvironments: [staging, prod]\nprotected: [prod]\n"
                                "providers:\n  default:\n    type: openai\n    model: gpt-4o-mini\n"
                                "    params: {temperature: 0}\n  local:\n    type: echo\n"
                                "gate: {min_pass_rate: 0.9, fail_on_drift: false}\n",
                                "promptops.yaml");
  CHECK(c.environments == std::vector<std::string>{"staging", "prod"});
  CHECK(c.protected_environments == std::vector<std::string>{"prod"});
  REQUIRE(c.find_provider("default") != nullptr);
  CHECK(c.find_provider("default")->model == "gpt-4o-mini");
  CHECK(c.find_provider("default")->params["temperature"] == 0);
  CHECK(c.find_provider("local")->type == "echo");
  CHECK(c.find_provider("nope") == nullptr);
  CHECK(c.gate.min_pass_rate == 0.9);
  CHECK(c.gate.fail_on_drift == std::vector<std::string>{}); // false: no kind
  CHECK_FALSE(c.gate.max_regressions.has_value());
}

TEST_CASE("registry::parse_config, unknown provider type with a suggestion", "[registry]") {
  REQUIRE_THROWS_WITH(parse_config("version: 1\nproviders:\n  a:\n    type: opneai\n", "c.yaml"),
                      "c.yaml:4:11: providers.a.type: \"opneai\" is not allowed, did you mean "
                      "\"openai\"?");
}

TEST_CASE("registry::parse_config, a stored API key is refused", "[registry]") {
  REQUIRE_THROWS_WITH(
      parse_config("version: 1\nproviders:\n  a:\n    type: echo\n    api_key: sk-123\n", "c.yaml"),
      "c.yaml:5:5: unknown key \"api_key\" in providers.a (keys are never stored in files: "
      "name the environment variable that holds it with api_key_env)");
}

TEST_CASE("registry::parse_config, checks across keys", "[registry]") {
  REQUIRE_THROWS_WITH(
      parse_config("version: 1\nenvironments: [staging, prod]\nprotected: [prd]\n", "c.yaml"),
      "c.yaml:3:13: protected environment \"prd\" is not listed in environments, "
      "did you mean \"prod\"?");
  REQUIRE_THROWS_WITH(parse_config("version: 1\nproviders:\n  x:\n    type: openai\n", "c.yaml"),
                      "c.yaml:3:3: provider \"x\" of type \"openai\" needs \"model\" (the model to "
                      "call)");
  REQUIRE_THROWS_WITH(parse_config("", "c.yaml"),
                      "c.yaml:1:1: empty configuration: at least \"version: 1\" is needed");
}

TEST_CASE("registry::parse_config, several problems are all reported", "[registry]") {
  try {
    parse_config("version: 2\nproviders:\n  a:\n    type: echo\n    concurrency: 0\n", "c.yaml");
    FAIL("expected errors");
  } catch (const promptops::InputErrors& e) {
    CHECK(e.errors().size() == 2);
    CHECK(e.errors()[0].position().line == 1);
    CHECK(e.errors()[1].position().line == 5);
  }
}

TEST_CASE("registry::parse_config, gate.fail_on_drift: a boolean or a list of kinds, "
          "drift_sensitivity",
          "[registry]") {
  const auto gate_of = [](const std::string& gate) {
    return parse_config("version: 1\ngate: " + gate + "\n", "c.yaml").gate;
  };
  CHECK(gate_of("{fail_on_drift: true}").fail_on_drift == std::vector<std::string>{"format"});
  CHECK(gate_of("{fail_on_drift: false}").fail_on_drift == std::vector<std::string>{});
  CHECK(gate_of("{fail_on_drift: [latency, tokens]}").fail_on_drift ==
        std::vector<std::string>{"tokens", "latency"});
  CHECK_FALSE(gate_of("{min_pass_rate: 1}").fail_on_drift.has_value());
  CHECK(gate_of("{drift_sensitivity: high}").drift_sensitivity == "high");
  CHECK_FALSE(gate_of("{min_pass_rate: 1}").drift_sensitivity.has_value());

  REQUIRE_THROWS_AS(gate_of("{fail_on_drift: [tokens, speed]}"), promptops::InputError);
  REQUIRE_THROWS_WITH(gate_of("{fail_on_drift: [tokens, speed]}"), Catch::StartsWith("c.yaml:2:"));
  REQUIRE_THROWS_WITH(gate_of("{fail_on_drift: yes please}"), Catch::StartsWith("c.yaml:2:"));
  REQUIRE_THROWS_WITH(gate_of("{drift_sensitivity: max}"), Catch::StartsWith("c.yaml:2:"));
}

TEST_CASE("registry::drift_kinds, as summary.json records it, old and new", "[registry]") {
  using nlohmann::json;
  CHECK(drift_kinds(json(true)) == std::vector<std::string>{"format"});
  CHECK(drift_kinds(json(false)).empty());
  CHECK(drift_kinds(json(nullptr)).empty());
  CHECK(drift_kinds(json::parse(R"(["cost", "format", "unknown"])")) ==
        std::vector<std::string>{"format", "cost"});
}
