#include "mustache/template.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using promptops::mustache::Escape;
using promptops::mustache::MissingPartial;
using promptops::mustache::PartialSource;
using promptops::mustache::RenderOptions;
using promptops::mustache::Template;
using promptops::mustache::TemplateRenderError;
using promptops::mustache::TemplateSyntaxError;

std::string render(std::string_view source, const json& data, const RenderOptions& options = {}) {
  return Template::parse(source).render(data, options);
}

PartialSource partials_from(std::map<std::string, std::string> sources) {
  return [sources = std::move(sources)](const std::string& name) -> std::optional<std::string> {
    const auto found = sources.find(name);
    if (found == sources.end()) {
      return std::nullopt;
    }
    return found->second;
  };
}

RenderOptions with_partials(std::map<std::string, std::string> sources) {
  RenderOptions options;
  options.partials = partials_from(std::move(sources));
  return options;
}

// The error Template::parse throws for `source`, as "line:column: problem".
std::string syntax_error(std::string_view source) {
  try {
    Template::parse(source);
  } catch (const TemplateSyntaxError& e) {
    return std::to_string(e.line()) + ":" + std::to_string(e.column()) + ": " + e.problem();
  }
  return "no error";
}

std::string repeat(std::string_view text, std::size_t times) {
  std::string result;
  result.reserve(text.size() * times);
  for (std::size_t i = 0; i < times; ++i) {
    result += text;
  }
  return result;
}

} // namespace

TEST_CASE("mustache::Template::render, values go in as they are by default", "[mustache]") {
  const json data = {{"ticket", "<b>Refund</b> & \"now\" 'please'"}};
  CHECK(render("Ticket: {{ticket}}", data) == "Ticket: <b>Refund</b> & \"now\" 'please'");
  CHECK(render("Ticket: {{{ticket}}}", data) == "Ticket: <b>Refund</b> & \"now\" 'please'");
  CHECK(render("Ticket: {{&ticket}}", data) == "Ticket: <b>Refund</b> & \"now\" 'please'");
}

TEST_CASE("mustache::Template::render, html escaping is opt-in", "[mustache]") {
  const json data = {{"ticket", "<b>Refund</b> & \"now\" 'please'"}};
  RenderOptions options;
  options.escape = Escape::html;
  // The spec's set: & " < >; the apostrophe stays.
  CHECK(render("{{ticket}}", data, options) ==
        "&lt;b&gt;Refund&lt;/b&gt; &amp; &quot;now&quot; 'please'");
  CHECK(render("{{{ticket}}}|{{&ticket}}", data, options) ==
        "<b>Refund</b> & \"now\" 'please'|<b>Refund</b> & \"now\" 'please'");
  CHECK(render("{{order}}", {{"order", {{"note", "a<b"}}}}, options) ==
        "{&quot;note&quot;:&quot;a&lt;b&quot;}");
}

TEST_CASE("mustache::Template::render, numbers, booleans, null, objects and arrays", "[mustache]") {
  // Numbers as JSON writes them (the spec: 85 -> "85", 1.21 -> "1.21"); true/false as words,
  // as a prompt author reading "Premium: {{premium}}" expects; null as nothing (the spec);
  // objects and arrays as compact JSON, the form a model reads best.
  const json data = json::parse(R"({"int": 85, "negative": -3, "big": 18446744073709551615,
      "decimal": 1.21, "whole": 1.0, "tiny": 1e-7, "yes": true, "no": false, "nothing": null,
      "object": {"b": 1, "a": [true, null]}, "array": [1, "two", 3.5], "empty": [],
      "text": "plain"})");
  CHECK(render("{{int}} {{negative}} {{big}}", data) == "85 -3 18446744073709551615");
  CHECK(render("{{decimal}} {{whole}} {{tiny}}", data) == "1.21 1.0 1e-07");
  CHECK(render("{{yes}} {{no}} [{{nothing}}] [{{missing}}]", data) == "true false [] []");
  CHECK(render("{{object}} {{array}} {{empty}}", data) ==
        R"({"a":[true,null],"b":1} [1,"two",3.5] [])");
  CHECK(render("{{{object}}} {{&array}}", data) == R"({"a":[true,null],"b":1} [1,"two",3.5])");
  CHECK(render("{{object.a}}", data) == "[true,null]");
}

TEST_CASE("mustache::Template::render, what counts as falsey in a section", "[mustache]") {
  const json data = json::parse(R"({"empty_text": "", "zero": 0, "zero_text": "0",
      "empty_object": {}, "empty_list": [], "no": false, "nothing": null})");
  // Missing, null, false, "" and [] hide a section; 0, "0" and {} show it.
  CHECK(render("{{#missing}}x{{/missing}}{{#nothing}}x{{/nothing}}{{#no}}x{{/no}}"
               "{{#empty_text}}x{{/empty_text}}{{#empty_list}}x{{/empty_list}}",
               data) == "");
  CHECK(
      render("{{#zero}}a{{/zero}}{{#zero_text}}b{{/zero_text}}{{#empty_object}}c{{/empty_object}}",
             data) == "abc");
  CHECK(render("{{^empty_text}}none{{/empty_text}} {{^zero}}none{{/zero}}", data) == "none ");
}

TEST_CASE("mustache::Template::render, nested objects and arrays", "[mustache]") {
  const json data = json::parse(R"({
    "customer": {"name": "Ada", "tier": "gold", "address": {"city": "Paris"}},
    "orders": [
      {"id": 1, "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
      {"id": 2, "items": []}
    ],
    "tags": ["urgent", "billing"],
    "matrix": [[1, 2], [3]]
  })");
  CHECK(render("{{customer.name}} from {{customer.address.city}}", data) == "Ada from Paris");
  CHECK(render("{{#customer}}{{name}} ({{tier}}){{/customer}}", data) == "Ada (gold)");
  const std::string orders = "{{#orders}}\n"
                             "Order {{id}} for {{customer.name}}:\n"
                             "{{#items}}\n"
                             "  - {{sku}} x{{qty}}\n"
                             "{{/items}}\n"
                             "{{^items}}\n"
                             "  (no items)\n"
                             "{{/items}}\n"
                             "{{/orders}}\n";
  CHECK(render(orders, data) == "Order 1 for Ada:\n"
                                "  - A x2\n"
                                "  - B x1\n"
                                "Order 2 for Ada:\n"
                                "  (no items)\n");
  CHECK(render("{{#tags}}[{{.}}]{{/tags}}", data) == "[urgent][billing]");
  CHECK(render("{{#matrix}}({{#.}}{{.}};{{/.}}){{/matrix}}", data) == "(1;2;)(3;)");
  // A name missing in the item is looked up further down the stack; a dotted name is not.
  CHECK(render("{{#orders}}{{customer.tier}}{{id}}{{/orders}}", data) == "gold1gold2");
  CHECK(render("{{#customer}}{{address.name}}{{/customer}}", data) == "");
}

TEST_CASE("mustache::Template::render, unknown partial is an error by default", "[mustache]") {
  const Template tpl = Template::parse("Hello {{> signature}}!");
  REQUIRE_THROWS_AS(tpl.render(json::object()), TemplateRenderError);
  REQUIRE_THROWS_WITH(tpl.render(json::object()), "unknown partial \"signature\"");
  REQUIRE_THROWS_WITH(tpl.render(json::object(), with_partials({{"other", "x"}})),
                      "unknown partial \"signature\"");

  RenderOptions lenient = with_partials({});
  lenient.missing_partial = MissingPartial::empty;
  CHECK(tpl.render(json::object(), lenient) == "Hello !");
  // A partial that is never reached is never looked up.
  CHECK(render("{{#no}}{{>signature}}{{/no}}ok", {{"no", false}}) == "ok");
}

TEST_CASE("mustache::Template::render, partial with a syntax error names the partial",
          "[mustache]") {
  const auto options = with_partials({{"footer", "Thanks,\n  {{#signature}}\n{{name}}"}});
  REQUIRE_THROWS_AS(render("{{>footer}}", json::object(), options), TemplateRenderError);
  REQUIRE_THROWS_WITH(render("{{>footer}}", json::object(), options),
                      "partial \"footer\" at 2:3: unclosed section \"signature\"");
}

TEST_CASE("mustache::Template::render, standalone partial indentation", "[mustache]") {
  const auto options = with_partials({
      {"outer", "Steps:\n  {{>inner}}\nDone.\n"},
      {"inner", "1. {{first}}\n{{#more}}\n2. {{.}}\n{{/more}}\n"},
  });
  const json data = {{"first", "read\nthe ticket"}, {"more", {"reply", "close"}}};
  // Each source line of a standalone partial takes the tag's indentation, nested partials add
  // theirs; interpolated text is not re-indented, and the partial's standalone lines vanish.
  CHECK(render("Plan:\n    {{>outer}}\nEnd\n", data, options) == "Plan:\n"
                                                                 "    Steps:\n"
                                                                 "      1. read\n"
                                                                 "the ticket\n"
                                                                 "      2. reply\n"
                                                                 "      2. close\n"
                                                                 "    Done.\n"
                                                                 "End\n");
  // Inline, a partial is not indented.
  CHECK(render("Plan: {{>outer}}", data, options) == "Plan: Steps:\n"
                                                     "  1. read\n"
                                                     "the ticket\n"
                                                     "  2. reply\n"
                                                     "  2. close\n"
                                                     "Done.\n");
  // "\r\n" line endings keep their "\r"; a closing tag at a line start inside the partial
  // gets the indentation of the text before it.
  const auto crlf = with_partials({{"p", "a\r\n{{#more}}{{.}}\r\n{{/more}}b"}});
  CHECK(render(">\r\n\t{{>p}}\r\n<", data, crlf) == ">\r\n\ta\r\n\treply\r\n\tclose\r\n\tb<");
}

TEST_CASE("mustache::Template::render, each partial is fetched and parsed once per render",
          "[mustache]") {
  std::map<std::string, int> calls;
  RenderOptions options;
  options.partials = [&calls](const std::string& name) -> std::optional<std::string> {
    ++calls[name];
    if (name == "item") {
      return "<{{.}}>";
    }
    return std::nullopt;
  };
  options.missing_partial = MissingPartial::empty;
  const Template tpl = Template::parse("{{#list}}[{{>item}}\n  {{>item}}\n{{>gone}}]{{/list}}");
  CHECK(tpl.render({{"list", {1, 2, 3}}}, options) == "[<1>\n  <1>][<2>\n  <2>][<3>\n  <3>]");
  CHECK(calls == std::map<std::string, int>{{"item", 1}, {"gone", 1}});
  tpl.render({{"list", {1}}}, options);
  CHECK(calls == std::map<std::string, int>{{"item", 2}, {"gone", 2}});
}

TEST_CASE("mustache::Template::render, partial recursion guard", "[mustache]") {
  const auto forever = with_partials({{"loop", "x{{>loop}}"}});
  REQUIRE_THROWS_AS(render("{{>loop}}", json::object(), forever), TemplateRenderError);
  REQUIRE_THROWS_WITH(render("{{>loop}}", json::object(), forever),
                      "partial \"loop\" nested deeper than 64 levels");

  // Exactly max_partial_depth levels are fine.
  auto chain = with_partials({{"a", "a{{>b}}"}, {"b", "b{{>c}}"}, {"c", "c"}});
  chain.max_partial_depth = 3;
  CHECK(render("{{>a}}", json::object(), chain) == "abc");
  chain.max_partial_depth = 2;
  REQUIRE_THROWS_WITH(render("{{>a}}", json::object(), chain),
                      "partial \"c\" nested deeper than 2 levels");

  // Recursion that data ends is fine (the spec's "Recursion"). A leaf needs its own empty
  // "kids": without it, the lookup finds its parent's and recurses until the guard stops it.
  const auto tree = with_partials({{"node", "{{name}}({{#kids}}{{>node}}{{/kids}})"}});
  const json data = json::parse(R"({"name": "r", "kids": [{"name": "a", "kids": [{"name": "b",
      "kids": []}]}, {"name": "c", "kids": []}]})");
  CHECK(render("{{>node}}", data, tree) == "r(a(b())c())");
}

TEST_CASE("mustache::Template::parse, syntax errors point at the tag", "[mustache]") {
  CHECK(syntax_error("Hello\n  {{#customer}}\n{{name}}\n") == "2:3: unclosed section \"customer\"");
  CHECK(syntax_error("{{#a}}{{#b}}\n{{/b}}") == "1:1: unclosed section \"a\"");
  CHECK(syntax_error("Hi\n{{name}} {{/customer}}") == "2:10: unexpected closing tag \"customer\"");
  CHECK(syntax_error("{{#a}}{{/b}}") == "1:7: closing tag \"b\" does not match open section \"a\"");
  CHECK(syntax_error("{{#a}}\n  {{^b}}\n  {{/a}}") ==
        "3:3: closing tag \"a\" does not match open section \"b\"");
  CHECK(syntax_error("Dear {{name,\nthanks") == "1:6: unclosed tag");
  CHECK(syntax_error("Dear {{{name}}") == "1:6: unclosed tag");
  CHECK(syntax_error("x {{! never closed") == "1:3: unclosed tag");
  CHECK(syntax_error("{{=<% %>}}") == "1:1: invalid set-delimiter tag \"=<% %>\"");
  CHECK(syntax_error("a\n {{=<%%>=}}") == "2:2: invalid set-delimiter tag \"=<%%>=\"");
  CHECK(syntax_error("{{=<% = %>=}}") == "1:1: invalid set-delimiter tag \"=<% = %>=\"");
  CHECK(syntax_error("{{=<% %> |=}}") == "1:1: invalid set-delimiter tag \"=<% %> |=\"");
  CHECK(syntax_error("{{=<% %>=}}\n<%#a%>") == "2:1: unclosed section \"a\"");
  CHECK(syntax_error("{{ }}") == "1:1: empty tag name");
  CHECK(syntax_error("ok {{#}}{{/}}") == "1:4: empty tag name");
  CHECK(syntax_error("{{>  }}") == "1:1: empty tag name");
  CHECK(syntax_error("{{first name}}") == "1:1: invalid tag name \"first name\"");
  CHECK(syntax_error("{{a..b}} {{.c}}") == "1:1: invalid tag name \"a..b\"");
  CHECK(syntax_error("{{c.}}") == "1:1: invalid tag name \"c.\"");
  CHECK(syntax_error("Answer like {{ \"label\": \"refund\", \"reason\": \"the customer was charged "
                     "twice\" }}") == "1:13: invalid tag name \"\"label\": \"refund\", \"reason\": "
                                      "\"the customer was charged twice...\"");
  // Columns count characters, not bytes; "\r\n" is one line break.
  CHECK(syntax_error("héllo wörld {{/x}}") == "1:13: unexpected closing tag \"x\"");
  CHECK(syntax_error("a\r\nb {{/x}}") == "2:3: unexpected closing tag \"x\"");

  try {
    Template::parse("line one\nline {{#two}}");
    FAIL("no error");
  } catch (const TemplateSyntaxError& e) {
    CHECK(e.line() == 2);
    CHECK(e.column() == 6);
    CHECK(e.problem() == "unclosed section \"two\"");
    CHECK(std::string(e.what()) == "2:6: unclosed section \"two\"");
  }
}

TEST_CASE("mustache::Template::variables, first segments in order of first use", "[mustache]") {
  const Template tpl = Template::parse(
      "{{greeting}} {{customer.name}}{{#items}}{{.}}{{title}}{{/items}}{{^customer.vip}}"
      "{{/customer.vip}}{{{raw}}}{{&greeting}}{{! comment }}{{>footer}}{{=<% %>=}}<%late%>");
  CHECK(tpl.variables() ==
        std::vector<std::string>{"greeting", "customer", "items", "title", "raw", "late"});
  CHECK(Template::parse("plain text").variables().empty());
  CHECK(Template::parse("{{#.}}{{.}}{{/.}}").variables().empty());
}

TEST_CASE("mustache::Template::partials, names in order of first use", "[mustache]") {
  const Template tpl =
      Template::parse("{{>header}}\n{{#x}}{{> body }}{{/x}}{{>header}}{{>sub/dir.name}}");
  CHECK(tpl.partials() == std::vector<std::string>{"header", "body", "sub/dir.name"});
  CHECK(Template::parse("{{x}}").partials().empty());
}

TEST_CASE("mustache::Template::render, set delimiters inside sections and partials", "[mustache]") {
  const json data = {{"on", true}, {"x", "X"}};
  CHECK(render("{{#on}}{{=<% %>=}}<%x%>{{x}}<%/on%><%x%>", data) == "X{{x}}X");
  CHECK(render("{{=| |=}}|{x}| |&x|", data) == "X X");
  // A partial starts with the default delimiters and does not change the parent's.
  const auto options = with_partials({{"p", "{{x}}{{=[ ]=}}[x]"}});
  CHECK(render("{{=<% %>=}}<%>p%>{{x}}<%x%>", data, options) == "XX{{x}}X");
}

TEST_CASE("mustache::Template::render, standalone lines", "[mustache]") {
  const json data = {{"a", true}, {"b", true}, {"x", "X"}};
  // Several standalone tags on one line still make it standalone.
  CHECK(render("{{#a}}{{#b}}\nx\n{{/b}}{{/a}}\nend", data) == "x\nend");
  CHECK(render("  {{#a}}  {{! c }}\t\r\n{{x}}\r\n  {{/a}}", data) == "X\r\n");
  // A value tag keeps the line.
  CHECK(render("{{#a}}{{x}}\n{{/a}}", data) == "X\n");
  CHECK(render("  {{^a}}{{/a}}  \n", data) == "");
  // Whitespace before a sigil is allowed, as in the reference implementation.
  CHECK(render("{{ #a }}yes{{ /a }}", data) == "yes");
}

TEST_CASE("mustache::Template, moves keep the parsed template", "[mustache]") {
  Template first = Template::parse("Hi {{name}}");
  Template second = std::move(first);
  CHECK(second.render({{"name", "Ada"}}) == "Hi Ada");
  Template third = Template::parse("x");
  third = std::move(second);
  CHECK(third.render({{"name", "Bo"}}) == "Hi Bo");
}

TEST_CASE("mustache::Template::render, a 1 MB template", "[mustache]") {
  constexpr std::size_t k_megabyte = std::size_t{1024} * 1024;
  const std::string line =
      "Case {{id}}: {{#customer}}{{name}} ({{tier}}){{/customer}}{{^customer}}anon{{/customer}} "
      "- {{body}}\n";
  const std::size_t lines = k_megabyte / line.size() + 1;
  const std::string source = repeat(line, lines);
  REQUIRE(source.size() > k_megabyte);
  const Template tpl = Template::parse(source);
  CHECK(tpl.variables() == std::vector<std::string>{"id", "customer", "name", "tier", "body"});
  const json data = {{"id", 7}, {"customer", {{"name", "Ada"}, {"tier", "gold"}}}, {"body", "hi"}};
  CHECK(tpl.render(data) == repeat("Case 7: Ada (gold) - hi\n", lines));
  CHECK(tpl.render({{"id", 8}}) == repeat("Case 8: anon - \n", lines));
}

TEST_CASE("mustache::Template::parse, a 10,000-deep nesting attack", "[mustache]") {
  const std::string sections = repeat("{{#a}}", 10000) + repeat("{{/a}}", 10000);
  // The 513th opening tag is past the limit: it starts at byte 512 * 6.
  CHECK(syntax_error(sections) == "1:3073: sections nested deeper than 512 levels");
  CHECK(syntax_error(repeat("{{^a}}\n", 10000)) == "513:1: sections nested deeper than 512 levels");
  CHECK(syntax_error(repeat("{{#a}}", 10000)) == "1:3073: sections nested deeper than 512 levels");
  CHECK(syntax_error(repeat("{{/a}}", 10000)) == "1:1: unexpected closing tag \"a\"");

  // 512 levels parse and render.
  const std::string deepest = repeat("{{#a}}", 512) + "{{x}}" + repeat("{{/a}}", 512);
  CHECK(render(deepest, {{"a", true}, {"x", "bottom"}}) == "bottom");

  // Deep sections in partials that include themselves: heap frames, then the depth guard.
  const auto hostile =
      with_partials({{"p", repeat("{{#a}}", 200) + "{{>p}}" + repeat("{{/a}}", 200)}});
  REQUIRE_THROWS_WITH(render("{{>p}}", {{"a", {1}}}, hostile),
                      "partial \"p\" nested deeper than 64 levels");
}
