#include "util/json_write.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

using nlohmann::json;
using nlohmann::ordered_json;
using promptops::util::append_json_string;
using promptops::util::dump_json;

namespace {

template <class Json> std::string reference(const Json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Strings of every kind: ASCII, escapes, control characters, valid multi-byte UTF-8 at every
// length, and broken UTF-8 (cut short, overlong, surrogates, past U+10FFFF, lone bytes).
std::string random_string(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "/",
                                                  "\n",
                                                  "\t",
                                                  "\r",
                                                  "\b",
                                                  "\f",
                                                  std::string(1, '\0'),
                                                  "\x01",
                                                  "\x1f",
                                                  "\x7f",
                                                  "é",
                                                  "日本",
                                                  "🙂",
                                                  "\xC3",
                                                  "\xE2\x82",
                                                  "\xF0\x9F\x99",
                                                  "\xC0\xAF",
                                                  "\xE0\x80\x80",
                                                  "\xED\xA0\x80",
                                                  "\xF4\x90\x80\x80",
                                                  "\xF5\x80\x80\x80",
                                                  "\x80",
                                                  "\xBF",
                                                  "\xFF",
                                                  "\xFE",
                                                  "\xEF\xBF\xBD",
                                                  "\xF4\x8F\xBF\xBF",
                                                  "\xED\x9F\xBF",
                                                  "\xE0\xA0\x80",
                                                  "plain text of some length"};
  std::uniform_int_distribution<std::size_t> count(0, 12);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::string s;
  for (std::size_t n = count(rng); n > 0; --n) {
    s += pieces[pick(rng)];
  }
  return s;
}

template <class Json> Json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 6 : 8);
  switch (kind(rng)) {
  case 0:
    return nullptr;
  case 1:
    return rng() % 2 == 0;
  case 2:
    return static_cast<std::int64_t>(rng()) - static_cast<std::int64_t>(rng()) * 4096;
  case 3:
    return std::uint64_t{rng()} << 32 | rng();
  case 4: {
    static const double doubles[] = {0.0,
                                     -0.0,
                                     1.0,
                                     0.1,
                                     1e300,
                                     -2.5e-7,
                                     97.529395,
                                     1e20,
                                     std::numeric_limits<double>::quiet_NaN(),
                                     std::numeric_limits<double>::infinity()};
    return doubles[rng() % (sizeof doubles / sizeof doubles[0])];
  }
  case 5:
  case 6:
    return random_string(rng);
  case 7: {
    Json a = Json::array();
    for (int n = static_cast<int>(rng() % 5); n > 0; --n) {
      a.push_back(random_value<Json>(rng, depth + 1));
    }
    return a;
  }
  default: {
    Json o = Json::object();
    for (int n = static_cast<int>(rng() % 5); n > 0; --n) {
      o[random_string(rng)] = random_value<Json>(rng, depth + 1);
    }
    return o;
  }
  }
}

} // namespace

TEST_CASE("util::append_json writes what nlohmann's dump writes, byte for byte", "[util]") {
  std::mt19937 rng(20261126);
  for (int i = 0; i < 20000; ++i) {
    const json value = random_value<json>(rng, 0);
    INFO(reference(value));
    REQUIRE(dump_json(value) == reference(value));
    const ordered_json ordered = random_value<ordered_json>(rng, 0);
    INFO(reference(ordered));
    REQUIRE(dump_json(ordered) == reference(ordered));
  }
}

TEST_CASE("util::append_json, the cases by name", "[util]") {
  CHECK(dump_json(json::parse(R"({"b": [1, -2, 3.5, true, null], "a": "x"})")) ==
        R"({"a":"x","b":[1,-2,3.5,true,null]})");
  // Insertion order is kept for ordered_json.
  CHECK(dump_json(ordered_json::parse(R"({"b": 1, "a": 2})")) == R"({"b":1,"a":2})");
  CHECK(dump_json(json(std::numeric_limits<std::uint64_t>::max())) == "18446744073709551615");
  CHECK(dump_json(json(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(dump_json(json(1.0)) == "1.0");
  CHECK(dump_json(json(std::nan(""))) == "null");
  std::string out = "prefix:";
  append_json_string(out, "a\"b\\c\n\x01\x7f é");
  CHECK(out == "prefix:\"a\\\"b\\\\c\\n\\u0001\x7f é\"");
  // Invalid UTF-8 is replaced, as nlohmann replaces it.
  out = "prefix:";
  append_json_string(out, "ok \xff\xfe end");
  CHECK(out == "prefix:\"ok \xEF\xBF\xBD\xEF\xBF\xBD end\"");
}
