#include "jsonschema/regex.hpp"
#include "jsonschema/uri.hpp"
#include "jsonschema/validator.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using nlohmann::json;
using promptops::jsonschema::CompileOptions;
using promptops::jsonschema::Draft;
using promptops::jsonschema::SchemaError;
using promptops::jsonschema::ValidationError;
using promptops::jsonschema::Validator;

namespace {

Validator compile(const char* schema, const CompileOptions& options = {}) {
  return Validator::compile(json::parse(schema), options);
}

// The only error `instance` has against `validator`; fails the test when there isn't exactly one.
ValidationError only_error(const Validator& validator, const char* instance) {
  const auto errors = validator.validate(json::parse(instance));
  INFO("instance " << instance);
  for (const auto& error : errors) {
    UNSCOPED_INFO(error.instance_location << " " << error.keyword << ": " << error.message);
  }
  REQUIRE(errors.size() == 1);
  CHECK_FALSE(validator.is_valid(json::parse(instance)));
  return errors.front();
}

std::string schema_error(const char* schema, const CompileOptions& options = {}) {
  try {
    Validator::compile(json::parse(schema), options);
  } catch (const SchemaError& e) {
    return e.what();
  }
  FAIL("no SchemaError for " << schema);
  return {};
}

} // namespace

TEST_CASE("jsonschema::Validator, valid instance has no errors", "[jsonschema]") {
  const auto validator = compile(R"({
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"]
  })");
  CHECK(validator.is_valid(json::parse(R"({"name": "ada", "age": 36})")));
  CHECK(validator.validate(json::parse(R"({"name": "ada", "age": 36})")).empty());
}

TEST_CASE("jsonschema::Validator, wrong type", "[jsonschema]") {
  const auto validator = compile(R"({"properties": {"n": {"type": "integer"}}})");
  const auto error = only_error(validator, R"({"n": 12.5})");
  CHECK(error.message == "12.5 is not of type \"integer\"");
  CHECK(error.keyword == "type");
  CHECK(error.instance_location == "/n");
  CHECK(error.schema_location == "/properties/n/type");

  const auto several = compile(R"({"type": ["string", "null", "array"]})");
  CHECK(only_error(several, "5").message == "5 is not of type \"string\", \"null\" or \"array\"");
}

TEST_CASE("jsonschema::Validator, required property missing", "[jsonschema]") {
  const auto validator = compile(R"({"required": ["ticket", "title"]})");
  const auto errors = validator.validate(json::parse(R"({"title": "x"})"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "missing required property \"ticket\"");
  CHECK(errors[0].keyword == "required");
  CHECK(errors[0].instance_location.empty());
  CHECK(errors[0].schema_location == "/required");
  // Non-objects are not checked by "required".
  CHECK(validator.is_valid(json("text")));
}

TEST_CASE("jsonschema::Validator, additional property points at the property", "[jsonschema]") {
  const auto validator = compile(R"({
    "type": "object",
    "properties": {"messages": {"type": "array"}},
    "additionalProperties": false
  })");
  const auto error = only_error(validator, R"({"mesages": []})");
  CHECK(error.message == "property \"mesages\" is not allowed");
  CHECK(error.keyword == "additionalProperties");
  CHECK(error.instance_location == "/mesages");
  CHECK(error.schema_location == "/additionalProperties");

  SECTION("names with / and ~ are escaped in the location") {
    CHECK(only_error(validator, R"({"a/b~c": 1})").instance_location == "/a~1b~0c");
  }
  SECTION("additionalProperties as a schema reports the inner error") {
    const auto typed = compile(R"({"additionalProperties": {"type": "string"}})");
    const auto inner = only_error(typed, R"({"x": 1})");
    CHECK(inner.message == "1 is not of type \"string\"");
    CHECK(inner.instance_location == "/x");
    CHECK(inner.schema_location == "/additionalProperties/type");
  }
}

TEST_CASE("jsonschema::Validator, enum and const", "[jsonschema]") {
  const auto validator = compile(R"({"enum": ["a", "b"]})");
  const auto error = only_error(validator, R"("bogus")");
  CHECK(error.message == "\"bogus\" is not one of [\"a\", \"b\"]");
  CHECK(error.keyword == "enum");
  CHECK(error.schema_location == "/enum");

  const auto constant = compile(R"({"const": {"a": [1, 2]}})");
  CHECK(constant.is_valid(json::parse(R"({"a": [1.0, 2]})")));
  CHECK(only_error(constant, R"({"a": [1]})").message ==
        "expected {\"a\": [1, 2]}, got {\"a\": [1]}");

  SECTION("numbers compare by value") {
    const auto numbers = compile(R"({"enum": [1, 2.5]})");
    CHECK(numbers.is_valid(json::parse("1.0")));
    CHECK(numbers.is_valid(json::parse("2.5")));
    CHECK_FALSE(numbers.is_valid(json::parse("true")));
    CHECK_FALSE(numbers.is_valid(json::parse("\"1\"")));
  }
}

TEST_CASE("jsonschema::Validator, array size and item errors", "[jsonschema]") {
  const auto validator = compile(R"({
    "properties": {"messages": {
      "type": "array", "minItems": 1, "maxItems": 2,
      "items": {"type": "object", "required": ["role"],
                "properties": {"role": {"enum": ["user", "system"]}}}
    }}
  })");
  const auto empty = only_error(validator, R"({"messages": []})");
  CHECK(empty.message == "expected at least 1 items, got 0");
  CHECK(empty.keyword == "minItems");
  CHECK(empty.instance_location == "/messages");

  CHECK(only_error(validator,
                   R"({"messages": [{"role": "user"}, {"role": "user"}, {"role": "user"}]})")
            .message == "expected at most 2 items, got 3");

  const auto nested = only_error(validator, R"({"messages": [{"role": "user"}, {"role": "bot"}]})");
  CHECK(nested.instance_location == "/messages/1/role");
  CHECK(nested.schema_location == "/properties/messages/items/properties/role/enum");
  CHECK(nested.message == "\"bot\" is not one of [\"user\", \"system\"]");
}

TEST_CASE("jsonschema::Validator, string, number and object bounds", "[jsonschema]") {
  const auto strings = compile(R"({"minLength": 2, "maxLength": 3, "pattern": "^[a-z🐲]+$"})");
  CHECK(strings.is_valid(json("🐲🐲"))); // two code points, eight bytes
  CHECK(only_error(strings, R"("a")").message == "expected at least 2 characters, got 1");
  CHECK(only_error(strings, R"("abcd")").message == "expected at most 3 characters, got 4");
  const auto pattern = only_error(strings, R"("AB")");
  CHECK(pattern.message == "\"AB\" does not match pattern \"^[a-z🐲]+$\"");
  CHECK(pattern.keyword == "pattern");

  const auto numbers = compile(R"({"minimum": 1, "exclusiveMaximum": 10, "multipleOf": 0.5})");
  CHECK(only_error(numbers, "0.5").message == "0.5 is less than the minimum of 1");
  CHECK(only_error(numbers, "10").message ==
        "10 is greater than or equal to the exclusive maximum of 10");
  CHECK(only_error(numbers, "1.2").message == "1.2 is not a multiple of 0.5");

  const auto objects = compile(R"({"minProperties": 1, "maxProperties": 1})");
  CHECK(only_error(objects, "{}").message == "expected at least 1 property, got 0");
  CHECK(only_error(objects, R"({"a": 1, "b": 2})").message == "expected at most 1 property, got 2");
}

TEST_CASE("jsonschema::Validator, integers and multipleOf with floats", "[jsonschema]") {
  const auto integer = compile(R"({"type": "integer"})");
  CHECK(integer.is_valid(json::parse("1.0")));
  CHECK(integer.is_valid(json::parse("-9223372036854775808")));
  CHECK(integer.is_valid(json::parse("18446744073709551615")));
  CHECK_FALSE(integer.is_valid(json::parse("1.5")));

  const auto tiny = compile(R"({"multipleOf": 0.0001})");
  CHECK(tiny.is_valid(json::parse("0.0075")));
  CHECK_FALSE(tiny.is_valid(json::parse("0.00751")));
  const auto cents = compile(R"({"multipleOf": 0.01})");
  CHECK(cents.is_valid(json::parse("19.99")));
  CHECK(cents.is_valid(json::parse("4")));
  const auto whole = compile(R"({"multipleOf": 3})");
  CHECK(whole.is_valid(json::parse("-9")));
  CHECK(whole.is_valid(json::parse("9.0")));
  CHECK_FALSE(whole.is_valid(json::parse("10")));
}

TEST_CASE("jsonschema::Validator, uniqueItems uses JSON equality", "[jsonschema]") {
  const auto validator = compile(R"({"uniqueItems": true})");
  CHECK(validator.is_valid(json::parse(R"([1, "1", true, null, {"a": 1}, [1]])")));
  const auto error = only_error(validator, R"([1, 2, 1.0])");
  CHECK(error.message == "items at index 0 and 2 are equal, expected unique items");
  CHECK_FALSE(validator.is_valid(json::parse(R"([{"a": 1, "b": [2]}, {"b": [2.0], "a": 1}])")));
  CHECK(validator.is_valid(json::parse(R"([false, 0])")));

  json many = json::array();
  for (int i = 0; i < 1000; ++i) {
    many.push_back({{"id", i}});
  }
  CHECK(validator.is_valid(many));
  many.push_back({{"id", 500.0}});
  CHECK_FALSE(validator.is_valid(many));
}

TEST_CASE("jsonschema::Validator, anyOf and oneOf give one summary error", "[jsonschema]") {
  const auto validator = compile(R"({
    "properties": {"content": {"anyOf": [
      {"type": "string"},
      {"type": "array", "items": {"type": "object", "required": ["text"]}}
    ]}}
  })");
  const auto type_only = only_error(validator, R"({"content": 5})");
  CHECK(type_only.message == "5 is not of type \"string\" or \"array\"");
  CHECK(type_only.keyword == "anyOf");
  CHECK(type_only.instance_location == "/content");
  CHECK(type_only.schema_location == "/properties/content/anyOf");

  const auto closest = only_error(validator, R"({"content": [{"text": "a"}, {}]})");
  CHECK(closest.keyword == "anyOf");
  CHECK(closest.message == "[{\"text\": \"a\"}, {}] does not match any of the 2 schemas in "
                           "\"anyOf\" (closest is schema 1: at \"/content/1\", missing required "
                           "property \"text\")");

  const auto one_of = compile(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})");
  CHECK(one_of.is_valid(json(1)));
  CHECK(one_of.is_valid(json(2.5)));
  const auto both = only_error(one_of, "3");
  CHECK(both.keyword == "oneOf");
  CHECK(both.message == "3 matches schemas 0 and 1 of \"oneOf\", expected exactly one");
  CHECK(only_error(one_of, "1.5").keyword == "oneOf");
}

TEST_CASE("jsonschema::Validator, allOf, not and if/then/else", "[jsonschema]") {
  const auto all_of = compile(R"({"allOf": [{"required": ["a"]}, {"required": ["b"]}]})");
  const auto errors = all_of.validate(json::object());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].schema_location == "/allOf/0/required");
  CHECK(errors[1].schema_location == "/allOf/1/required");

  const auto negated = compile(R"({"not": {"type": "null"}})");
  CHECK(only_error(negated, "null").message == "null must not match the \"not\" schema");

  const auto conditional = compile(R"({
    "if": {"properties": {"kind": {"const": "chat"}}},
    "then": {"required": ["messages"]},
    "else": {"required": ["prompt"]}
  })");
  const auto then_error = only_error(conditional, R"({"kind": "chat"})");
  CHECK(then_error.message == "missing required property \"messages\"");
  CHECK(then_error.schema_location == "/then/required");
  CHECK(only_error(conditional, R"({"kind": "text"})").message ==
        "missing required property \"prompt\"");
  CHECK(conditional.is_valid(json::parse(R"({"kind": "chat", "messages": []})")));
}

TEST_CASE("jsonschema::Validator, $ref inside the document", "[jsonschema]") {
  const auto validator = compile(R"({
    "$defs": {
      "message": {"type": "object", "required": ["role"]},
      "a/b~c%d": {"type": "string"}
    },
    "properties": {
      "messages": {"type": "array", "items": {"$ref": "#/$defs/message"}},
      "odd": {"$ref": "#/$defs/a~1b~0c%25d"}
    }
  })");
  CHECK(validator.is_valid(json::parse(R"({"messages": [{"role": "user"}], "odd": "x"})")));
  const auto error = only_error(validator, R"({"messages": [{}]})");
  CHECK(error.instance_location == "/messages/0");
  CHECK(error.schema_location == "/$defs/message/required");
  CHECK_FALSE(validator.is_valid(json::parse(R"({"odd": 1})")));

  SECTION("recursive schemas") {
    const auto tree = compile(R"({
      "type": "object",
      "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
      "additionalProperties": false
    })");
    CHECK(tree.is_valid(json::parse(R"({"children": [{"children": [{}]}]})")));
    CHECK(only_error(tree, R"({"children": [{"children": [{"x": 1}]}]})").instance_location ==
          "/children/0/children/0/x");
  }
  SECTION("$anchor and $id") {
    const auto anchored = compile(R"({
      "$id": "https://example.com/root.json",
      "properties": {"a": {"$ref": "#num"}, "b": {"$ref": "other.json"}},
      "$defs": {
        "n": {"$anchor": "num", "type": "number"},
        "o": {"$id": "other.json", "type": "string"}
      }
    })");
    CHECK(anchored.is_valid(json::parse(R"({"a": 1, "b": "x"})")));
    CHECK_FALSE(anchored.is_valid(json::parse(R"({"a": "1"})")));
    CHECK_FALSE(anchored.is_valid(json::parse(R"({"b": 1})")));
  }
}

TEST_CASE("jsonschema::Validator, draft chosen by $schema", "[jsonschema]") {
  // Draft-07 ignores the siblings of "$ref"; 2020-12 applies them.
  const char* draft7 = R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {"s": {"type": "string"}},
    "properties": {"x": {"$ref": "#/definitions/s", "maxLength": 2}}
  })";
  CHECK(compile(draft7).is_valid(json::parse(R"({"x": "long"})")));
  const char* draft2020 = R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"s": {"type": "string"}},
    "properties": {"x": {"$ref": "#/$defs/s", "maxLength": 2}}
  })";
  CHECK_FALSE(compile(draft2020).is_valid(json::parse(R"({"x": "long"})")));

  SECTION("default_draft applies without $schema") {
    CompileOptions options;
    options.default_draft = Draft::draft7;
    const auto tuple =
        compile(R"({"items": [{"type": "string"}], "additionalItems": false})", options);
    CHECK(tuple.is_valid(json::parse(R"(["a"])")));
    const auto extra = only_error(tuple, R"(["a", 1])");
    CHECK(extra.keyword == "additionalItems");
    CHECK(extra.instance_location == "/1");
    CHECK(extra.message == "unexpected item at index 1, expected at most 1 item, got 2");

    const auto dependencies = compile(R"({"dependencies": {"a": ["b"]}})", options);
    const auto missing = only_error(dependencies, R"({"a": 1})");
    CHECK(missing.message == "missing property \"b\", required when \"a\" is present");
    CHECK(missing.keyword == "dependencies");
  }
  SECTION("2020-12 tuples") {
    const auto tuple = compile(R"({"prefixItems": [{"type": "string"}], "items": false})");
    CHECK(tuple.is_valid(json::parse(R"(["a"])")));
    CHECK(only_error(tuple, R"(["a", 1])").keyword == "items");
  }
}

TEST_CASE("jsonschema::Validator, unevaluatedProperties through allOf and $ref", "[jsonschema]") {
  const auto validator = compile(R"({
    "$defs": {"base": {"properties": {"id": {"type": "integer"}}}},
    "allOf": [{"$ref": "#/$defs/base"}],
    "properties": {"name": {"type": "string"}},
    "unevaluatedProperties": false
  })");
  CHECK(validator.is_valid(json::parse(R"({"id": 1, "name": "x"})")));
  const auto error = only_error(validator, R"({"id": 1, "nmae": "x"})");
  CHECK(error.message == "property \"nmae\" is not allowed");
  CHECK(error.keyword == "unevaluatedProperties");
  CHECK(error.instance_location == "/nmae");
}

TEST_CASE("jsonschema::Validator, boolean schemas", "[jsonschema]") {
  CHECK(compile("true").is_valid(json::parse(R"({"anything": [1]})")));
  CHECK_FALSE(compile("false").is_valid(json(nullptr)));
  CHECK(compile("false").validate(json(1)).size() == 1);
  const auto forbidden = compile(R"({"properties": {"secret": false}})");
  const auto error = only_error(forbidden, R"({"secret": 1})");
  CHECK(error.message == "property \"secret\" is not allowed");
  CHECK(error.instance_location == "/secret");
  CHECK(error.schema_location == "/properties/secret");
}

TEST_CASE("jsonschema::Validator, propertyNames", "[jsonschema]") {
  const auto validator = compile(R"({"propertyNames": {"pattern": "^[a-z_]+$"}})");
  const auto error = only_error(validator, R"({"Bad": 1})");
  CHECK(error.message == "property name \"Bad\" does not match pattern \"^[a-z_]+$\"");
  CHECK(error.instance_location == "/Bad");
}

TEST_CASE("jsonschema::Validator, format is an annotation unless asserted", "[jsonschema]") {
  const char* schema = R"({"format": "date-time"})";
  CHECK(compile(schema).is_valid(json("yesterday")));
  CompileOptions options;
  options.format_assertion = true;
  const auto asserting = compile(schema, options);
  CHECK(asserting.is_valid(json("2024-02-29T12:00:00Z")));
  CHECK(only_error(asserting, R"("2023-02-29T12:00:00Z")").message ==
        "\"2023-02-29T12:00:00Z\" is not a valid \"date-time\"");
  CHECK(asserting.is_valid(json(5))); // formats only constrain strings

  const auto check = [&](const char* format, const char* good, const char* bad) {
    const auto validator = Validator::compile(json{{"format", format}}, options);
    INFO(format);
    CHECK(validator.is_valid(json(good)));
    CHECK_FALSE(validator.is_valid(json(bad)));
  };
  check("date", "2024-01-31", "2024-01-32");
  check("time", "23:59:60Z", "12:00:00");
  check("email", "joe.bloggs@example.com", "joe..bloggs@example.com");
  check("ipv4", "192.168.0.1", "192.168.0.256");
  check("ipv6", "::ffff:192.168.0.1", "1::2::3");
  check("uri", "https://example.com/a?b#c", "/relative");
  check("uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08aa9811eab4aa73b441d16380");
  check("regex", "^[a-z]+$", "^(abc]");
  check("hostname", "api.example.com", "-bad.example.com");
  check("json-pointer", "/a/b~0c", "/a~2");
  // An unknown format never fails.
  CHECK(Validator::compile(json{{"format", "unknown-format"}}, options).is_valid(json("")));
}

TEST_CASE("jsonschema::Validator, patterns run on RE2", "[jsonschema]") {
  SECTION("a 1 MB string does not crash") {
    const std::string long_text(1 << 20, 'a');
    const auto validator = compile(R"({"pattern": "^(a|b)*$"})");
    CHECK(validator.is_valid(json(long_text)));
    CHECK_FALSE(validator.is_valid(json(long_text + "c")));
    const auto nested = compile(R"({"pattern": "^(?:(a+)+)$"})");
    CHECK(nested.is_valid(json(long_text)));
    CHECK(compile(R"({"patternProperties": {"^a+$": {"type": "null"}}})")
              .validate(json{{long_text, 1}})
              .size() == 1);
  }
  SECTION("ECMA-262 escapes") {
    const auto letters = compile(R"({"pattern": "^\\p{Letter}+$"})");
    CHECK(letters.is_valid(json("héllo")));
    CHECK_FALSE(letters.is_valid(json("h3llo")));
    const auto spaces = compile(R"({"pattern": "^\\s$"})");
    CHECK(spaces.is_valid(json("\u00a0")));
    CHECK(compile(R"({"pattern": "^\\u0041$"})").is_valid(json("A")));
    CHECK(compile(R"({"pattern": "^\\d+$"})").is_valid(json("123")));
    CHECK_FALSE(compile(R"({"pattern": "^\\d+$"})").is_valid(json("١٢٣")));
  }
  SECTION("patterns are unanchored") {
    CHECK(compile(R"({"pattern": "b"})").is_valid(json("abc")));
  }
}

TEST_CASE("jsonschema::Validator, max_errors limits the errors", "[jsonschema]") {
  const auto validator = compile(R"({"items": {"type": "string"}})");
  const json instance = json::parse("[1, 2, 3, 4, 5]");
  CHECK(validator.validate(instance).size() == 5);
  CHECK(validator.validate(instance, 2).size() == 2);
  CHECK(validator.validate(instance, 0).empty());
}

TEST_CASE("jsonschema::Validator, meta-schemas resolve without network", "[jsonschema]") {
  const auto draft7 = compile(R"({"$ref": "http://json-schema.org/draft-07/schema#"})");
  CHECK(draft7.is_valid(json::parse(R"({"type": "string", "minLength": 1})")));
  CHECK_FALSE(draft7.is_valid(json::parse(R"({"minLength": -1})")));
  CHECK_FALSE(draft7.is_valid(json::parse(R"({"type": "strin"})")));

  const auto draft2020 = compile(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})");
  CHECK(draft2020.is_valid(json::parse(R"({"$defs": {"a": {"type": "integer"}}})")));
  CHECK_FALSE(draft2020.is_valid(json::parse(R"({"$defs": {"a": {"type": 5}}})")));
  const auto errors =
      draft2020.validate(json::parse(R"({"properties": {"a": {"minLength": "x"}}})"));
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().instance_location == "/properties/a/minLength");
}

TEST_CASE("jsonschema::Validator, references to other documents use the loader", "[jsonschema]") {
  int loads = 0;
  CompileOptions options;
  options.base_uri = "https://example.com/schemas/prompt.json";
  options.loader = [&](const std::string& uri) -> std::optional<json> {
    ++loads;
    if (uri == "https://example.com/schemas/common.json") {
      return json::parse(R"({"$defs": {"id": {"type": "string", "pattern": "^[a-z]+$"}}})");
    }
    return std::nullopt;
  };
  const auto validator = compile(R"({
    "properties": {"a": {"$ref": "common.json#/$defs/id"}, "b": {"$ref": "common.json#/$defs/id"}}
  })",
                                 options);
  CHECK(loads == 1);
  CHECK(validator.is_valid(json::parse(R"({"a": "x", "b": "y"})")));
  const auto error = only_error(validator, R"({"a": "X"})");
  CHECK(error.schema_location == "https://example.com/schemas/common.json#/$defs/id/pattern");

  CHECK(schema_error(R"({"$ref": "missing.json"})", options) ==
        "invalid schema at \"/$ref\": cannot resolve \"missing.json\"");
}

TEST_CASE("jsonschema::Validator, invalid schemas throw SchemaError", "[jsonschema]") {
  CHECK(schema_error(R"({"properties": {"a": {"$ref": "#/$defs/nope"}}})") ==
        "invalid schema at \"/properties/a/$ref\": cannot resolve \"#/$defs/nope\"");
  CHECK(schema_error(R"({"properties": {"a": {"type": 5}}})") ==
        "invalid schema at \"/properties/a/type\": 5 is not a type (expected \"array\", "
        "\"boolean\", \"integer\", \"null\", \"number\", \"object\" or \"string\")");
  CHECK(schema_error(R"({"type": "strin"})") ==
        "invalid schema at \"/type\": \"strin\" is not a type (expected \"array\", \"boolean\", "
        "\"integer\", \"null\", \"number\", \"object\" or \"string\")");
  CHECK(schema_error(R"({"minLength": -1})") ==
        "invalid schema at \"/minLength\": \"minLength\" must be a non-negative integer, got -1");
  CHECK(schema_error(R"({"required": "name"})") ==
        "invalid schema at \"/required\": \"required\" must be an array of strings");
  CHECK(schema_error(R"({"properties": {"a": 5}})") ==
        "invalid schema at \"/properties/a\": expected a schema (an object or a boolean), got 5");
  CHECK(schema_error(R"({"anyOf": []})") ==
        "invalid schema at \"/anyOf\": \"anyOf\" must be a non-empty array of schemas");
  CHECK(schema_error(R"({"multipleOf": 0})") ==
        "invalid schema at \"/multipleOf\": \"multipleOf\" must be a number greater than 0, got 0");
  CHECK(schema_error(R"({"items": [{"type": "string"}]})") ==
        "invalid schema at \"/items\": \"items\" must be a schema in draft 2020-12 (use "
        "\"prefixItems\" for a tuple)");
  CHECK_THAT(
      schema_error(R"({"pattern": "(a)\\1"})"),
      Catch::StartsWith("invalid schema at \"/pattern\": cannot compile pattern \"(a)\\\\1\""));
  CHECK_THAT(schema_error(R"j({"patternProperties": {"(?=x)": {}}})j"),
             Catch::StartsWith("invalid schema at \"/patternProperties/(?=x)\": cannot compile"));
  CHECK(schema_error(R"({"$schema": "https://example.com/unknown-meta"})") ==
        "invalid schema at \"/$schema\": unknown meta-schema \"https://example.com/unknown-meta\"");
  // Mistakes in unused definitions are reported too.
  CHECK(schema_error(R"({"$defs": {"unused": {"maxItems": "3"}}})") ==
        "invalid schema at \"/$defs/unused/maxItems\": \"maxItems\" must be a non-negative "
        "integer, got \"3\"");
}

TEST_CASE("jsonschema::Validator, endless $ref loops fail instead of crashing", "[jsonschema]") {
  const auto validator =
      compile(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                                     "$ref": "#/$defs/a"})");
  CHECK_FALSE(validator.is_valid(json(1)));
  const auto errors = validator.validate(json(1));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("nests too deeply"));
}

TEST_CASE("jsonschema::Validator, moved validators keep working", "[jsonschema]") {
  auto first = compile(
      R"({"properties": {"a": {"$ref": "#/$defs/n"}}, "$defs": {"n": {"type": "number"}}})");
  Validator second = std::move(first);
  CHECK(second.is_valid(json::parse(R"({"a": 1})")));
  Validator third = compile("true");
  third = std::move(second);
  CHECK_FALSE(third.is_valid(json::parse(R"({"a": "1"})")));
}

TEST_CASE("jsonschema::Validator, file paths as base URIs", "[jsonschema]") {
  std::vector<std::string> requested;
  CompileOptions options;
  options.base_uri = "schemas/prompt.schema.json";
  options.loader = [&](const std::string& uri) -> std::optional<json> {
    requested.push_back(uri);
    return json::parse(R"({"type": "string"})");
  };
  const auto validator = compile(R"({"properties": {"a": {"$ref": "common/name.json"}}})", options);
  REQUIRE(requested.size() == 1);
  CHECK(requested[0] == "schemas/common/name.json");
  CHECK_FALSE(validator.is_valid(json::parse(R"({"a": 1})")));
}

TEST_CASE("jsonschema::Validator, deeply nested instances", "[jsonschema]") {
  const auto validator = compile(R"({"type": "array", "items": {"$ref": "#"}})");
  // Built by the parser: copying a json this deep would recurse in nlohmann::json itself.
  const auto nested = [](std::size_t depth) {
    return json::parse(std::string(depth, '[') + std::string(depth, ']'));
  };
  CHECK(validator.is_valid(nested(100)));
  // Too deep to walk: invalid, not a stack overflow.
  const json deep = nested(100000);
  CHECK_FALSE(validator.is_valid(deep));
  const auto errors = validator.validate(deep);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("nests too deeply"));
}

TEST_CASE("jsonschema::Validator, $dynamicRef extends a recursive schema", "[jsonschema]") {
  const auto validator = compile(R"({
    "$id": "https://example.com/strict-tree",
    "$dynamicAnchor": "node",
    "$ref": "tree",
    "unevaluatedProperties": false,
    "$defs": {"tree": {
      "$id": "tree",
      "$dynamicAnchor": "node",
      "type": "object",
      "properties": {"data": true, "children": {"type": "array", "items": {"$dynamicRef": "#node"}}}
    }}
  })");
  CHECK(validator.is_valid(json::parse(R"({"children": [{"data": 1}]})")));
  const auto error = only_error(validator, R"({"children": [{"daat": 1}]})");
  CHECK(error.instance_location == "/children/0/daat");
  CHECK(error.keyword == "unevaluatedProperties");
}

TEST_CASE("jsonschema::detail::resolve_uri, RFC 3986 examples", "[jsonschema]") {
  using promptops::jsonschema::detail::resolve_uri;
  const std::string base = "http://a/b/c/d;p?q";
  CHECK(resolve_uri(base, "g:h") == "g:h");
  CHECK(resolve_uri(base, "g") == "http://a/b/c/g");
  CHECK(resolve_uri(base, "./g") == "http://a/b/c/g");
  CHECK(resolve_uri(base, "g/") == "http://a/b/c/g/");
  CHECK(resolve_uri(base, "/g") == "http://a/g");
  CHECK(resolve_uri(base, "//g") == "http://g");
  CHECK(resolve_uri(base, "?y") == "http://a/b/c/d;p?y");
  CHECK(resolve_uri(base, "#s") == "http://a/b/c/d;p?q#s");
  CHECK(resolve_uri(base, "") == "http://a/b/c/d;p?q");
  CHECK(resolve_uri(base, "..") == "http://a/b/");
  CHECK(resolve_uri(base, "../g") == "http://a/b/g");
  CHECK(resolve_uri(base, "../../../g") == "http://a/g");
  CHECK(resolve_uri(base, "g;x=1/../y") == "http://a/b/c/y");
  CHECK(resolve_uri("urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed", "#/$defs/a") ==
        "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#/$defs/a");
  CHECK(resolve_uri("", "#/definitions/a") == "#/definitions/a");
  CHECK(resolve_uri("schemas/a.json", "../common.json") == "common.json");
}

TEST_CASE("jsonschema::detail::translate_ecma_regex, ECMA-262 syntax for RE2", "[jsonschema]") {
  using promptops::jsonschema::detail::is_ecma_syntax;
  using promptops::jsonschema::detail::translate_ecma_regex;
  CHECK(translate_ecma_regex("^\\p{Letter}\\p{Script=Greek}$") == "^\\p{L}\\p{Greek}$");
  CHECK(translate_ecma_regex("\\cC\\u00e9\\uD83D\\uDC32") == "\\x{3}\\x{E9}\\x{1F432}");
  CHECK(translate_ecma_regex("(?<year>\\d{4})") == "(?P<year>\\d{4})");
  CHECK(translate_ecma_regex("[^]") == "[\\x00-\\x{10FFFF}]");
  CHECK(is_ecma_syntax("^(?:a|b)(?=c)\\d$"));
  CHECK_FALSE(is_ecma_syntax("\\a"));
  CHECK_FALSE(is_ecma_syntax("(?i)abc"));
  CHECK_FALSE(is_ecma_syntax("(?P<name>a)"));
}
