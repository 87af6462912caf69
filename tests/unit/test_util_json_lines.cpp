#include "util/json_lines.hpp"

#include <catch2/catch.hpp>

#include <string>

using nlohmann::ordered_json;
using promptops::util::parse_json_object_line;

TEST_CASE("util::parse_json_object_line reads what nlohmann reads, with the same values",
          "[util][json_lines]") {
  const std::string lines[] = {
      R"({"id": "c1", "output": "Sure! \"quoted\" \u00e9\ud83d\ude00 tab\t", "score": 0.25})",
      R"({"n": -9223372036854775808, "u": 18446744073709551615, "big": 123456789012345678901234567890})",
      R"({"d": 1.5e-7, "z": -0.0, "i": 42, "t": true, "f": false, "x": null})",
      R"({"nested": {"a": [1, "two", {"b": []}, [[]]], "e": {}}, "empty": ""})",
      R"({"a": 1, "a": "last"})",
      "{}",
  };
  for (const std::string& line : lines) {
    ordered_json fast;
    REQUIRE(parse_json_object_line(line, fast));
    const ordered_json slow = ordered_json::parse(line);
    CHECK(fast == slow);
    CHECK(fast.dump() == slow.dump()); // same types too: 42 stays an integer, 1.5e-7 a double
  }
}

TEST_CASE("util::parse_json_object_line leaves out the members asked", "[util][json_lines]") {
  ordered_json j;
  REQUIRE(parse_json_object_line(R"({"id": "c1", "fingerprint": {"v": 1}, "output": "x"})", j,
                                 {"fingerprint"}));
  CHECK(j.dump() == R"({"id":"c1","output":"x"})");
}

TEST_CASE("util::parse_json_object_line refuses what is not a JSON object", "[util][json_lines]") {
  ordered_json j;
  for (const std::string line : {"", "[1, 2]", "\"text\"", "42", "{\"a\": 1", "{\"a\": 1} x",
                                 "{\"a\": \"\xff\"}", "{\"a\": 1e999}", "{'a': 1}"}) {
    CAPTURE(line);
    CHECK_FALSE(parse_json_object_line(line, j));
    CHECK_FALSE(ordered_json::parse(line, nullptr, false).is_object());
  }
}
