#include "util/json_lines.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

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

TEST_CASE("util::parse_json_object_lines keeps order and line numbers, on two threads too",
          "[util][json_lines]") {
  for (const int count : {12, 10000}) { // 10,000 lines are parsed on two threads
    CAPTURE(count);
    // Line i holds {"n": i}, but line count/2 is blank and line count/3 is not JSON.
    std::string text;
    for (int i = 1; i <= count; ++i) {
      if (i == count / 2) {
        text += "  \r\n";
      } else if (i == count / 3) {
        text += "not json\n";
      } else {
        text += "{\"n\": " + std::to_string(i) + ", \"fingerprint\": {}}\n";
      }
    }
    const auto lines = promptops::util::parse_json_object_lines(text, {"fingerprint"});
    REQUIRE(lines.size() == static_cast<std::size_t>(count - 1));
    std::size_t bad = 0;
    for (const auto& line : lines) {
      if (!line.parsed) {
        ++bad;
        CHECK(line.number == static_cast<std::size_t>(count / 3));
        CHECK(line.text == "not json");
        continue;
      }
      CHECK(line.value["n"] == line.number);
      CHECK_FALSE(line.value.contains("fingerprint"));
    }
    CHECK(bad == 1);
  }
}

TEST_CASE("util::parse_json accepts what nlohmann accepts, with the same values and types",
          "[util][json_lines]") {
  std::vector<std::string> texts = {
      R"({"id": "c1", "output": "Sure! \"quoted\" \u00e9\ud83d\ude00 tab\t", "score": 0.25})",
      R"([1, -2, 3.5, "x", null, true, {"b": 1, "a": 2}])",
      R"("just a string")",
      "42",
      "-0",
      "-0.0",
      "1e-400",
      R"({"u": 18446744073709551615, "big": 123456789012345678901234567890})",
      R"({"a": 1, "a": "last"})",
      " \n {} \t",
      // Refused by both.
      "",
      "{\"a\": 1",
      "[1, 2] x",
      "{\"a\": \"\xff\"}",
      "{\"a\": 1e999}",
      "{'a': 1}",
      "NaN",
  };
  // Deeper than simdjson's limit (1,024): nlohmann still reads it.
  texts.push_back(std::string(1500, '[') + std::string(1500, ']'));
  for (const std::string& text : texts) {
    CAPTURE(text.substr(0, 80));
    nlohmann::json fast;
    const nlohmann::json slow = nlohmann::json::parse(text, nullptr, false);
    CHECK(promptops::util::parse_json(text, fast) == !slow.is_discarded());
    if (!slow.is_discarded()) {
      CHECK(fast == slow);
      CHECK(fast.dump() == slow.dump()); // the same types: 42 an integer, 1e-400 a double
    }
  }
}
