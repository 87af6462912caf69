#include "util/yaml_json.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using promptops::InputError;
using promptops::util::parse_json;
using promptops::util::parse_yaml;

TEST_CASE("util::parse_yaml, core-schema scalars keep their types", "[util]") {
  const auto doc = parse_yaml("a: 1\nb: -2.5\nc: true\nd: ~\ne: \"1\"\nf: hello\ng: 0x1f\n"
                              "h: 1e3\ni: yes\nj: 'true'\nk: .inf\n",
                              "f.yaml");
  const auto& v = doc.value;
  CHECK(v["a"] == 1);
  CHECK(v["a"].is_number_integer());
  CHECK(v["b"] == -2.5);
  CHECK(v["c"] == true);
  CHECK(v["d"].is_null());
  CHECK(v["e"] == "1"); // quoted: a string
  CHECK(v["f"] == "hello");
  CHECK(v["g"] == 31);
  CHECK(v["h"] == 1000.0);
  CHECK(v["i"] == "yes"); // YAML 1.2: not a boolean
  CHECK(v["j"] == "true");
  CHECK(std::isinf(v["k"].get<double>()));
}

TEST_CASE("util::parse_yaml, the source map gives lines and columns of keys and values", "[util]") {
  const auto doc =
      parse_yaml("version: 1\nproviders:\n  default:\n    type: echo\nlist:\n  - a\n  - b\n",
                 "promptops.yaml");
  CHECK(doc.source_map.value_position("/providers/default/type").line == 4);
  CHECK(doc.source_map.value_position("/providers/default/type").column == 11);
  CHECK(doc.source_map.key_position("/providers/default/type").column == 5);
  CHECK(doc.source_map.value_position("/list/1").line == 7);
  // Unknown pointers fall back to the nearest ancestor.
  CHECK(doc.source_map.value_position("/providers/default/nothing").line == 4);
}

TEST_CASE("util::parse_yaml, syntax errors name file, line and column", "[util]") {
  REQUIRE_THROWS_WITH(parse_yaml("a: [1, 2\nb: 3\n", "bad.yaml"), Catch::StartsWith("bad.yaml:"));
  try {
    parse_yaml("key: value\n  bad: indent\n", "p.yaml");
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.path() == "p.yaml");
    CHECK(e.position().line == 2);
  }
}

TEST_CASE("util::parse_yaml, duplicate keys are an error", "[util]") {
  REQUIRE_THROWS_WITH(parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml"),
                      "d.yaml:3:1: duplicate key \"a\"");
}

TEST_CASE("util::parse_yaml, alias expansion is bounded (billion laughs)", "[util]") {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    text += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) {
      text += std::string(i ? ", *" : "*") + prev;
    }
    text += "]\n";
    prev = c;
  }
  REQUIRE_THROWS_WITH(parse_yaml(text, "lol.yaml"), Catch::Contains("document too large"));
}

TEST_CASE("util::parse_yaml, nesting is bounded", "[util]") {
  std::string text(10000, '[');
  text += std::string(10000, ']');
  REQUIRE_THROWS_AS(parse_yaml(text, "deep.yaml"), InputError);
}

TEST_CASE("util::parse_json, errors name line and column", "[util]") {
  CHECK(parse_json("{\"a\": [1, 2]}", "x.json")["a"][1] == 2);
  try {
    parse_json("{\n  \"a\": tru\n}", "x.json");
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.path() == "x.json");
    CHECK(e.position().line == 2);
    CHECK_THAT(e.problem(), Catch::StartsWith("invalid JSON: syntax error"));
  }
}
