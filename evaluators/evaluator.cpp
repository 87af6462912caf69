#include "evaluators/evaluator.hpp"

#include "evaluators/text.hpp"
#include "jsonschema/validator.hpp"
#include "util/command.hpp"
#include "util/json_fields.hpp"
#include "util/suggest.hpp"
#include "util/text.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace promptops::evaluators {

namespace {

using json = nlohmann::json;
using util::text::quote;
using util::text::show_json;

// Every type evaluator.schema.json knows, for "did you mean".
const std::vector<std::string>& known_types() {
  static const std::vector<std::string> types = {
      "exact_match", "contains", "not_contains",  "contains_any", "contains_all", "regex",
      "starts_with", "is_json",  "json_schema",   "llm_judge",    "similarity",   "latency_ms",
      "cost",        "exec",     "finish_reason", "refusal",      "tool_call"};
  return types;
}

constexpr std::array<std::string_view, 17> k_supported = {
    "exact_match", "contains",  "not_contains",  "contains_any", "contains_all", "regex",
    "starts_with", "is_json",   "json_schema",   "latency_ms",   "cost",         "similarity",
    "exec",        "llm_judge", "finish_reason", "refusal",      "tool_call"};

// The types that judge the reply's facts or its cost, not a text: `on` means nothing to them,
// and the trust rule does not apply (unusable()).
bool reads_facts(std::string_view type) {
  return type == "latency_ms" || type == "cost" || type == "finish_reason" || type == "refusal" ||
         type == "tool_call";
}

// The normalised finish reasons `finish_reason`'s `value` may name.
bool known_finish_reason(const json& value) {
  return value.is_string() &&
         reply::finish_reason_from_string(value.get<std::string>()) != reply::FinishReason::unknown;
}

// The problem with `pointer` as a JSON Pointer (RFC 6901), or "" when it is one.
std::string pointer_problem(std::string_view pointer) {
  if (!pointer.empty() && pointer.front() != '/') {
    return "\"path\" " + quote(pointer) +
           " is not a JSON Pointer: it must be empty or start with \"/\"";
  }
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' &&
        (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
      return "\"path\" " + quote(pointer) +
             " is not a JSON Pointer: \"~\" must be followed by \"0\" or \"1\"";
    }
  }
  return "";
}

RE2::Options regex_options() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

std::string regex_problem(const std::string& pattern, const RE2& re) {
  return "invalid regex " + quote(pattern) + ": " + util::text::printable(re.error());
}

// `pattern` compiled once for every case that uses it (compiling took 7% of a 10,000-case run
// with one regex evaluator). RE2 matches from any thread; the cache is shared under a lock and
// emptied when it holds many patterns (cases' own patterns may all differ).
std::shared_ptr<const RE2> compiled_regex(const std::string& pattern) {
  static std::mutex lock;
  static std::unordered_map<std::string, std::shared_ptr<const RE2>> cache;
  const std::lock_guard<std::mutex> guard(lock);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    if (cache.size() >= 1024) {
      cache.clear();
    }
    it = cache.emplace(pattern, std::make_shared<const RE2>(pattern, regex_options())).first;
  }
  return it->second;
}

const char* const k_allowances = "length, refusal, tool_calls, content_filter or empty";

// tool_call's options: `tool` or `calls`, `arguments` with `tool`, `order` with `calls`. (Not
// `name`: every evaluator's `name` is its label in reports.)
void check_tool_call(const json& spec, const std::string& where) {
  const auto fail = [&](const std::string& problem) { throw InputError(where, {}, problem); };
  const auto tool = spec.find("tool");
  const auto calls = spec.find("calls");
  const auto non_empty = [](const json& v) {
    return v.is_string() && !v.get_ref<const std::string&>().empty();
  };
  if (tool != spec.end() && !non_empty(*tool)) {
    fail("evaluator \"tool_call\": \"tool\" must be a tool's name (a string)");
  }
  if (calls != spec.end() &&
      (!calls->is_array() || !std::all_of(calls->begin(), calls->end(), non_empty))) {
    fail("evaluator \"tool_call\": \"calls\" must be a list of tools' names");
  }
  if (tool != spec.end() && calls != spec.end()) {
    fail("evaluator \"tool_call\" takes \"tool\" (one call) or \"calls\" (every call), not both");
  }
  if (const auto args = spec.find("arguments"); args != spec.end()) {
    if (!args->is_object()) {
      fail("evaluator \"tool_call\": \"arguments\" must be an object of expected values");
    }
    if (tool == spec.end()) {
      fail("evaluator \"tool_call\": \"arguments\" needs \"tool\" (the tool they are for)");
    }
  }
  if (const auto order = spec.find("order"); order != spec.end()) {
    if (*order != "exact" && *order != "any") {
      fail("evaluator \"tool_call\": \"order\" must be \"exact\" or \"any\"");
    }
    if (calls == spec.end()) {
      fail("evaluator \"tool_call\": \"order\" goes with \"calls\"");
    }
  }
  if (const auto schema = spec.find("schema"); schema != spec.end() && !non_empty(*schema)) {
    fail("evaluator \"tool_call\": \"schema\" must be a schema file's path");
  }
}

// The options of the reply model: `on`, `allow`, and those of finish_reason, refusal and
// tool_call.
void check_reply_options(const json& spec, const std::string& type, const std::string& where) {
  const auto fail = [&](const std::string& problem) { throw InputError(where, {}, problem); };
  if (const auto on = spec.find("on"); on != spec.end()) {
    if (*on != "output" && *on != "tool_calls") {
      fail("\"on\" must be \"output\" or \"tool_calls\", not " + show_json(*on));
    }
    if (reads_facts(type) || type == "llm_judge") {
      fail("evaluator " + quote(type) + " takes no \"on\": it does not read a text of the reply");
    }
  }
  if (const auto allow = spec.find("allow"); allow != spec.end()) {
    const auto known = [](const json& w) {
      return w.is_string() && reply::allowance_from_string(w.get<std::string>()).has_value();
    };
    if (!allow->is_array() || !std::all_of(allow->begin(), allow->end(), known)) {
      fail(std::string("\"allow\" must be a list of ") + k_allowances);
    }
  }
  if (type == "finish_reason") {
    const auto value = spec.find("value");
    if (value == spec.end() ||
        !(known_finish_reason(*value) ||
          (value->is_array() && !value->empty() &&
           std::all_of(value->begin(), value->end(), known_finish_reason)))) {
      fail("evaluator \"finish_reason\" needs \"value\": stop, length, tool_calls, refusal, "
           "content_filter or error, or a list of them");
    }
  }
  if (type == "refusal") {
    if (const auto value = spec.find("value"); value != spec.end() && !value->is_boolean()) {
      fail("evaluator \"refusal\" takes \"value\" true (it must refuse) or false");
    }
  }
  if (type == "tool_call") {
    check_tool_call(spec, where);
  }
}

// The checks evaluate() and check_spec() share; returns the type. Throws InputError at
// `where` ("" for no place).
std::string check_common(const json& spec, const std::string& where) {
  const auto fail = [&](const std::string& problem) { throw InputError(where, {}, problem); };
  if (!spec.is_object()) {
    fail("an evaluator must be an object, not " + std::string(spec.type_name()));
  }
  const auto type_it = spec.find("type");
  if (type_it == spec.end() || !type_it->is_string()) {
    fail("an evaluator needs a \"type\"");
  }
  const auto& type = type_it->get_ref<const std::string&>();
  const auto& known = known_types();
  if (std::find(known.begin(), known.end(), type) == known.end()) {
    fail("unknown evaluator " + quote(type) + util::did_you_mean(type, known));
  }
  if (const auto path = spec.find("path"); path != spec.end()) {
    if (!path->is_string()) {
      fail("\"path\" must be a string (a JSON Pointer such as \"/category\")");
    }
    if (const std::string problem = pointer_problem(path->get_ref<const std::string&>());
        !problem.empty()) {
      fail(problem);
    }
  }
  if (type == "regex") {
    const auto pattern = spec.find("pattern");
    if (pattern == spec.end() || !pattern->is_string()) {
      fail("evaluator \"regex\" needs a \"pattern\" (a string)");
    }
  }
  if (type == "llm_judge") {
    for (const char* key : {"provider", "rubric"}) {
      const auto it = spec.find(key);
      if (it == spec.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        fail(std::string("evaluator \"llm_judge\" needs \"") + key + "\" (a string)");
      }
    }
  }
  if (type == "latency_ms" || type == "cost") {
    const auto max = spec.find("max");
    if (max == spec.end() || !max->is_number()) {
      fail("evaluator " + quote(type) + " needs \"max\" (a number)");
    }
  }
  check_reply_options(spec, type, where);
  return type;
}

bool option(const json& spec, const char* name) {
  const auto it = spec.find(name);
  return it != spec.end() && it->is_boolean() && it->get<bool>();
}

// Shortest form up to 10 significant digits: "812", "0.000123", "1234567".
std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

// One evaluation in progress: the spec's options and what the evaluator sees.
struct Context {
  const json& spec;
  const EvalInput& input;
  std::string type;
  const reply::Facts& facts;
  // What the text evaluators read (`on`): the output, or the JSON of the reply's tool calls.
  const std::string& subject;
  std::string_view subject_name; // "the output", "the tool calls"
  std::optional<std::string> path = std::nullopt;
  text::Extract extract = text::Extract::no;
  text::Case cases = text::Case::sensitive;
};

Evaluation verdict(bool pass, std::string reason) {
  Evaluation e;
  e.pass = pass;
  e.score = pass ? 1.0 : 0.0;
  e.reason = std::move(reason);
  return e;
}

Evaluation fail(std::string reason) {
  return verdict(false, std::move(reason));
}

// The value at `path` in the parsed output, or the reason there is none.
struct AtPath {
  std::optional<json> value;
  std::string problem;
};

// "; set extract: true to accept it" when the output holds JSON in a fence or among prose.
std::string extract_hint(const text::ParsedOutput& parsed) {
  return parsed.wrapping == text::Wrapping::none ? "" : "; set extract: true to accept it";
}

AtPath value_at_path(const Context& ctx) {
  const text::ParsedOutput parsed = text::parse_output(ctx.subject, ctx.extract);
  const std::string shown_path = quote(*ctx.path);
  if (!parsed.value) {
    // With the hint as for is_json: `extract` works with `path` for every type, and without
    // it "needs JSON, but the output wraps its JSON in a code fence" leaves the fix unsaid.
    return {std::nullopt,
            "path " + shown_path + " needs JSON, but " + parsed.problem + extract_hint(parsed)};
  }
  try {
    const json::json_pointer pointer(*ctx.path);
    if (parsed.value->contains(pointer)) {
      return {parsed.value->at(pointer), ""};
    }
  } catch (const json::exception&) {
    // An array index that is not a number: no such value.
  }
  return {std::nullopt, "no value at " + shown_path + " in " + std::string(ctx.subject_name) + " " +
                            show_json(*parsed.value)};
}

// The text a text evaluator looks at: the output, or the value at `path` (a string as is,
// anything else as compact JSON).
struct ActualText {
  std::optional<std::string> text;
  std::string problem;
};

ActualText actual_text(const Context& ctx) {
  if (!ctx.path) {
    return {ctx.subject, ""};
  }
  AtPath at = value_at_path(ctx);
  if (!at.value) {
    return {std::nullopt, std::move(at.problem)};
  }
  if (at.value->is_string()) {
    return {at.value->get<std::string>(), ""};
  }
  return {at.value->dump(-1, ' ', false, json::error_handler_t::replace), ""};
}

// What a comparing evaluator compares with: `value`, else the case's `expected` at `path`
// (when it has one there), else the whole `expected`; std::nullopt when there is nothing.
std::optional<json> expected_value(const Context& ctx) {
  if (const auto value = ctx.spec.find("value"); value != ctx.spec.end()) {
    return *value;
  }
  const json& expected = ctx.input.expected;
  if (expected.is_null()) {
    return std::nullopt;
  }
  if (ctx.path && expected.is_structured()) {
    try {
      const json::json_pointer pointer(*ctx.path);
      if (expected.contains(pointer)) {
        return expected.at(pointer);
      }
    } catch (const json::exception&) {
      // Not in `expected`: compare with the whole of it.
    }
  }
  return expected;
}

const char* const k_nothing_expected =
    "nothing to compare with: the evaluator has no \"value\" and the case no \"expected\"";

std::string a_kind(const json& value) {
  const std::string kind = value.type_name();
  return (kind == "object" || kind == "array" ? "an " : "a ") + kind;
}

// The text to look for, from a string (as is) or a number or boolean (as JSON).
std::optional<std::string> as_needle(const json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number() || value.is_boolean()) {
    return value.dump();
  }
  return std::nullopt;
}

std::string not_text(const Context& ctx, const json& value) {
  return "evaluator " + quote(ctx.type) + " looks for text, but the expected value is " +
         a_kind(value) + ": " + show_json(value);
}

Evaluation exact_match(const Context& ctx) {
  const std::optional<json> expected = expected_value(ctx);
  if (!expected) {
    return fail(k_nothing_expected);
  }
  if (expected->is_string()) {
    std::string actual;
    if (ctx.path) {
      AtPath at = value_at_path(ctx);
      if (!at.value) {
        return fail(std::move(at.problem));
      }
      if (!at.value->is_string()) {
        return fail("expected " + show_json(*expected) + ", got " + show_json(*at.value));
      }
      actual = at.value->get<std::string>();
    } else {
      actual = ctx.subject;
    }
    const auto& wanted = expected->get_ref<const std::string&>();
    const auto prepare = [&](std::string_view s) {
      if (option(ctx.spec, "normalize_whitespace")) {
        return util::text::collapse_whitespace(s);
      }
      return std::string(option(ctx.spec, "trim") ? util::text::trim(s) : s);
    };
    if (text::find(prepare(actual), prepare(wanted), ctx.cases, text::Anchor::both)) {
      return verdict(true, "equals " + quote(wanted));
    }
    return fail("expected " + quote(wanted) + ", got " + quote(actual));
  }

  json actual;
  if (ctx.path) {
    AtPath at = value_at_path(ctx);
    if (!at.value) {
      return fail(std::move(at.problem));
    }
    actual = std::move(*at.value);
  } else {
    text::ParsedOutput parsed = text::parse_output(ctx.subject, ctx.extract);
    if (!parsed.value) {
      return fail("expected " + show_json(*expected) + ", but " + parsed.problem +
                  extract_hint(parsed));
    }
    actual = std::move(*parsed.value);
  }
  if (actual == *expected) {
    return verdict(true, "equals " + show_json(*expected));
  }
  return fail("expected " + show_json(*expected) + ", got " + show_json(actual));
}

// contains, not_contains, starts_with.
Evaluation contains(const Context& ctx) {
  const std::optional<json> expected = expected_value(ctx);
  if (!expected) {
    return fail(k_nothing_expected);
  }
  const std::optional<std::string> needle = as_needle(*expected);
  if (!needle) {
    return fail(not_text(ctx, *expected));
  }
  ActualText actual = actual_text(ctx);
  if (!actual.text) {
    return fail(std::move(actual.problem));
  }
  const std::string& haystack = *actual.text;
  if (ctx.type == "starts_with") {
    if (text::find(haystack, *needle, ctx.cases, text::Anchor::start)) {
      return verdict(true, "starts with " + quote(*needle));
    }
    return fail("expected to start with " + quote(*needle) + ", got " + quote(haystack));
  }
  const auto found = text::find(haystack, *needle, ctx.cases, text::Anchor::none);
  if (ctx.type == "not_contains") {
    if (found) {
      return fail("found " + quote(*needle) + " in " +
                  util::text::quote_around(haystack, found->first, found->second));
    }
    return verdict(true, "no " + quote(*needle));
  }
  if (found) {
    return verdict(true, "found " + quote(*needle));
  }
  return fail("missing " + quote(*needle) + " in " + quote(haystack));
}

std::string quote_list(const std::vector<std::string>& items) {
  constexpr std::size_t k_shown = 5;
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < k_shown; ++i) {
    out += (i == 0 ? "" : ", ") + quote(items[i], 40);
  }
  if (items.size() > k_shown) {
    out += ", and " + std::to_string(items.size() - k_shown) + " more";
  }
  return out;
}

// contains_any, contains_all. contains_all scores the fraction found, so that a report can
// tell "nearly" from "none"; contains_any is all or nothing.
Evaluation contains_some(const Context& ctx) {
  const std::optional<json> expected = expected_value(ctx);
  if (!expected) {
    return fail(k_nothing_expected);
  }
  std::vector<std::string> needles;
  if (expected->is_array()) {
    for (const auto& item : *expected) {
      std::optional<std::string> needle = as_needle(item);
      if (!needle) {
        return fail(not_text(ctx, item));
      }
      needles.push_back(std::move(*needle));
    }
  } else if (std::optional<std::string> needle = as_needle(*expected)) {
    needles.push_back(std::move(*needle));
  } else {
    return fail(not_text(ctx, *expected));
  }
  ActualText actual = actual_text(ctx);
  if (!actual.text) {
    return fail(std::move(actual.problem));
  }
  std::vector<std::string> found;
  std::vector<std::string> missing;
  for (auto& needle : needles) {
    const bool hit = text::find(*actual.text, needle, ctx.cases, text::Anchor::none).has_value();
    (hit ? found : missing).push_back(std::move(needle));
  }
  if (ctx.type == "contains_any") {
    if (!found.empty()) {
      return verdict(true, "found " + quote(found.front()));
    }
    if (missing.empty()) {
      return fail("nothing to look for: the expected list is empty");
    }
    return fail("none of " + quote_list(missing) + " in " + quote(*actual.text));
  }
  const std::size_t total = found.size() + missing.size();
  if (missing.empty()) {
    return verdict(true, total == 1 ? "found " + quote(found.front())
                                    : "found all " + std::to_string(total));
  }
  Evaluation e = fail("missing " + quote_list(missing) + " (" + std::to_string(found.size()) +
                      " of " + std::to_string(total) + " found)");
  e.score = static_cast<double>(found.size()) / static_cast<double>(total);
  return e;
}

Evaluation regex(const Context& ctx) {
  const auto& pattern = ctx.spec.at("pattern").get_ref<const std::string&>();
  const std::shared_ptr<const RE2> compiled = compiled_regex(pattern);
  const RE2& re = *compiled;
  if (!re.ok()) {
    throw InputError(regex_problem(pattern, re));
  }
  ActualText actual = actual_text(ctx);
  if (!actual.text) {
    return fail(std::move(actual.problem));
  }
  re2::StringPiece match;
  if (re.Match(*actual.text, 0, actual.text->size(), RE2::UNANCHORED, &match, 1)) {
    return verdict(true, "matched " + quote(std::string_view(match.data(), match.size())));
  }
  return fail("no match for /" + util::text::printable(pattern.substr(0, 60)) +
              (pattern.size() > 60 ? "\xE2\x80\xA6/" : "/") + " in " + quote(*actual.text));
}

std::string taken_from(const text::ParsedOutput& parsed) {
  switch (parsed.wrapping) {
  case text::Wrapping::fence:
    return ", taken out of its code fence";
  case text::Wrapping::prose:
    return ", taken out of the text around it";
  case text::Wrapping::none:
    break;
  }
  return "";
}

// The JSON that is_json and json_schema check: the output, or the value at `path`.
struct Instance {
  std::optional<json> value;
  std::string problem; // why there is none
  std::string note;    // how it was found, for a passing reason
};

Instance instance(const Context& ctx) {
  if (ctx.path) {
    AtPath at = value_at_path(ctx);
    return {std::move(at.value), std::move(at.problem), " at " + quote(*ctx.path)};
  }
  text::ParsedOutput parsed = text::parse_output(ctx.subject, ctx.extract);
  if (!parsed.value) {
    return {std::nullopt, parsed.problem + extract_hint(parsed), ""};
  }
  return {std::move(parsed.value), "", taken_from(parsed)};
}

Evaluation is_json(const Context& ctx) {
  Instance found = instance(ctx);
  if (!found.value) {
    return fail(std::move(found.problem));
  }
  return verdict(true, "valid JSON (" + std::string(found.value->type_name()) + ")" + found.note);
}

// `schema` compiled, or InputError naming `what` ("the tool \"x\"'s parameters").
std::shared_ptr<const jsonschema::Validator> compile_json(const json& schema, bool format_assertion,
                                                          const std::string& what) {
  jsonschema::CompileOptions options;
  options.format_assertion = format_assertion;
  try {
    return std::make_shared<const jsonschema::Validator>(
        jsonschema::Validator::compile(schema, options));
  } catch (const jsonschema::SchemaError& e) {
    throw InputError(what + " is not a valid schema: " + e.what());
  }
}

// The schema file `schema_path` (relative to the registry root; "" for the prompt's output
// schema) compiled, for json_schema and tool_call. Throws InputError.
std::shared_ptr<const jsonschema::Validator> schema_file(const Context& ctx,
                                                         const std::string& schema_path) {
  const bool format_assertion = option(ctx.spec, "format_assertion");
  if (ctx.input.compile_schema) {
    return ctx.input.compile_schema(schema_path, format_assertion);
  }
  if (ctx.input.load_schema) {
    return compile_json(
        ctx.input.load_schema(schema_path), format_assertion,
        "evaluator " + quote(ctx.type) + ": " +
            (schema_path.empty() ? "the prompt's output schema" : quote(schema_path)));
  }
  throw InputError("evaluator " + quote(ctx.type) + " has no way to load a schema here");
}

Evaluation json_schema(const Context& ctx) {
  const std::string schema_path = util::string_field(ctx.spec, "schema");
  const std::string schema_name =
      schema_path.empty() ? "the prompt's output schema" : quote(schema_path);
  const std::shared_ptr<const jsonschema::Validator> compiled = schema_file(ctx, schema_path);
  const jsonschema::Validator& validator = *compiled;

  Instance found = instance(ctx);
  if (!found.value) {
    return fail(std::move(found.problem));
  }
  constexpr std::size_t k_max_errors = 20;
  constexpr std::size_t k_shown = 3;
  constexpr std::size_t k_max_location_chars = 100;
  const auto errors = validator.validate(*found.value, k_max_errors);
  if (errors.empty()) {
    return verdict(true, "matches " + schema_name + found.note);
  }
  std::string reason;
  for (std::size_t i = 0; i < errors.size() && i < k_shown; ++i) {
    const auto& error = errors[i];
    // Locations are relative to the checked value: with a `path`, prefix it.
    // Cut: the location holds the output's keys, and a key may be megabytes long (the
    // validator already shortens what its messages quote).
    const std::string location =
        util::text::shorten(ctx.path.value_or("") + error.instance_location, k_max_location_chars);
    reason += (i == 0 ? "" : "; ") + (location.empty() ? "" : location + ": ") + error.message;
  }
  if (errors.size() > k_shown) {
    reason += "; and " + std::to_string(errors.size() - k_shown) +
              (errors.size() == k_max_errors ? " or more" : " more");
  }
  return fail(std::move(reason));
}

Evaluation maximum(const Context& ctx) {
  const double max = ctx.spec.at("max").get<double>();
  if (ctx.type == "latency_ms") {
    // Tenths of a millisecond are noise in a reason.
    const double latency = std::round(ctx.input.latency_ms * 10) / 10;
    if (latency <= max) {
      return verdict(true, number(latency) + " ms (max " + number(max) + " ms)");
    }
    return fail(number(latency) + " ms, over the " + number(max) + " ms limit");
  }
  if (!ctx.input.cost) {
    // Unknown, never 0: no pricing, or token counts missing or invalid (reply::read_count).
    return fail("no cost to check: the provider has no pricing, or the reply gave no valid "
                "token counts");
  }
  const double cost = *ctx.input.cost;
  if (cost <= max) {
    return verdict(true, "$" + number(cost) + " (max $" + number(max) + ")");
  }
  return fail("$" + number(cost) + ", over the $" + number(max) + " limit");
}

// "stop (the vendor's \"end_turn\")", or "stop" when the vendor's word is not known; inside
// parentheses already, "stop, the vendor's \"end_turn\"".
enum class Nested { no, yes };
std::string finish_described(const reply::Facts& facts, Nested nested = Nested::no) {
  std::string out = facts.finish_reason == reply::FinishReason::unknown
                        ? std::string("not given")
                        : std::string(reply::to_string(facts.finish_reason));
  if (!facts.vendor_finish_reason.empty()) {
    const std::string vendor = "the vendor's " + quote(facts.vendor_finish_reason, 40);
    out += nested == Nested::yes ? ", " + vendor : " (" + vendor + ")";
  }
  return out;
}

Evaluation finish_reason(const Context& ctx) {
  const json& value = ctx.spec.at("value");
  const std::vector<std::string> wanted = value.is_array()
                                              ? value.get<std::vector<std::string>>()
                                              : std::vector<std::string>{value.get<std::string>()};
  std::string list;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == wanted.size() ? " or " : ", ") + wanted[i];
  }
  if (ctx.facts.finish_reason == reply::FinishReason::unknown) {
    return fail("the provider did not say why the reply ended" +
                (ctx.facts.vendor_finish_reason.empty()
                     ? std::string()
                     : " (its " + quote(ctx.facts.vendor_finish_reason, 40) +
                           " has no normalised meaning)") +
                "; expected " + list);
  }
  const std::string actual = reply::to_string(ctx.facts.finish_reason);
  if (std::find(wanted.begin(), wanted.end(), actual) != wanted.end()) {
    return verdict(true, "finish_reason " + finish_described(ctx.facts));
  }
  return fail("finish_reason " + finish_described(ctx.facts) + ", expected " + list);
}

// Reads the vendor's refusal signal (a refusal finish reason, or refusal text sent apart from
// the answer, as OpenAI's message.refusal), never the answer's wording.
Evaluation refusal(const Context& ctx) {
  const auto value = ctx.spec.find("value");
  const bool want = value == ctx.spec.end() || value->get<bool>();
  const reply::Facts& f = ctx.facts;
  const bool refused = f.refused();
  const std::string said =
      refused
          ? "the model refused" + (f.refusal.empty()
                                       ? " (finish_reason " + finish_described(f, Nested::yes) + ")"
                                       : ": " + quote(f.refusal))
          : "no refusal from the provider (finish_reason " + finish_described(f, Nested::yes) + ")";
  if (refused == want) {
    return verdict(true, said);
  }
  return fail(want ? "expected a refusal, but there is " + said : said + ", expected none");
}

// The tool `name` as the request declared it, or null.
const json* declared_tool(const EvalInput& input, const std::string& name) {
  if (input.tools == nullptr || !input.tools->is_array()) {
    return nullptr;
  }
  for (const json& tool : *input.tools) {
    if (util::string_view_field(tool, "name") == name) {
      return &tool;
    }
  }
  return nullptr;
}

std::string declared_list(const EvalInput& input) {
  std::string names;
  if (input.tools != nullptr && input.tools->is_array()) {
    for (const json& tool : *input.tools) {
      names += (names.empty() ? "" : ", ") + quote(util::string_view_field(tool, "name"), 40);
    }
  }
  return names.empty() ? " (it declares no tools)" : " (it declares " + names + ")";
}

// `actual` has every member of `expected` with an equal value; objects inside are compared
// the same way, member by member; anything else must be equal as JSON (1 equals 1.0).
bool subset_match(const json& expected, const json& actual) {
  if (!expected.is_object()) {
    return expected == actual;
  }
  if (!actual.is_object()) {
    return false;
  }
  for (const auto& [key, value] : expected.items()) {
    const auto it = actual.find(key);
    if (it == actual.end() || !subset_match(value, *it)) {
      return false;
    }
  }
  return true;
}

// "get_weather({"city":"Paris"})", cut.
std::string call_text(const reply::ToolCall& call) {
  return util::text::shorten(call.name, 40) + "(" + show_json(call.arguments, 60) + ")";
}

std::string calls_text(const std::vector<reply::ToolCall>& calls) {
  std::string out;
  for (std::size_t i = 0; i < calls.size() && i < 4; ++i) {
    out += (i == 0 ? "" : ", ") + call_text(calls[i]);
  }
  return calls.size() > 4 ? out + " and " + std::to_string(calls.size() - 4) + " more" : out;
}

std::string names_text(const std::vector<std::string>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : ", ") + util::text::shorten(names[i], 40);
  }
  return out + "]";
}

// Why `call` is not a valid call: a tool the request did not declare, arguments that are not
// JSON, or arguments that `given` (else the tool's declared `parameters`) refuses. "" if valid.
std::string call_problem(const Context& ctx, const reply::ToolCall& call,
                         const jsonschema::Validator* given, const std::string& given_name) {
  const json* tool = declared_tool(ctx.input, call.name);
  const std::string name = quote(call.name, 40);
  if (tool == nullptr) {
    return "the model called " + name + ", a tool the prompt does not declare" +
           declared_list(ctx.input);
  }
  if (!call.arguments_parsed) {
    const std::string raw = call.arguments.is_string() ? call.arguments.get<std::string>() : "";
    return "the arguments of the call to " + name + " are not JSON: " + quote(raw, 60);
  }
  std::shared_ptr<const jsonschema::Validator> declared;
  const jsonschema::Validator* validator = given;
  std::string schema_name = given_name;
  if (validator == nullptr) {
    const auto parameters = tool->find("parameters");
    if (parameters == tool->end() || parameters->is_null()) {
      return "";
    }
    declared = compile_json(*parameters, false, "the tool " + name + "'s parameters");
    validator = declared.get();
    schema_name = "its parameters";
  }
  const auto errors = validator->validate(call.arguments, 3);
  if (errors.empty()) {
    return "";
  }
  std::string reason =
      "the arguments of the call to " + name + " do not match " + schema_name + ": ";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const std::string location = util::text::shorten(errors[i].instance_location, 60);
    reason += (i == 0 ? "" : "; ") + (location.empty() ? "" : location + ": ") + errors[i].message;
  }
  return reason;
}

// No call at all: say what the model did instead.
std::string no_call(const Context& ctx) {
  if (!ctx.facts.refusal.empty()) {
    return "the model refused instead of calling a tool: " + quote(ctx.facts.refusal, 60);
  }
  if (util::text::trim(ctx.input.output).empty()) {
    return "the model called no tool, and its reply is empty (finish_reason " +
           finish_described(ctx.facts, Nested::yes) + ")";
  }
  return "the model answered in text instead of calling a tool: " + quote(ctx.input.output, 60);
}

// The calls' names against `tool` (one of them) or `calls` (all of them, in order unless
// `order: any`); "" when they match.
std::string names_problem(const Context& ctx, const std::vector<std::string>& called) {
  const std::string name = util::string_field(ctx.spec, "tool");
  if (const auto names = ctx.spec.find("calls"); names != ctx.spec.end()) {
    std::vector<std::string> wanted = names->get<std::vector<std::string>>();
    std::vector<std::string> got = called;
    const bool any_order = util::string_field(ctx.spec, "order") == "any";
    if (any_order) {
      std::sort(wanted.begin(), wanted.end());
      std::sort(got.begin(), got.end());
    }
    if (got != wanted) {
      return "expected calls to " + names_text(names->get<std::vector<std::string>>()) +
             (any_order ? " in any order" : "") + ", got " + names_text(called);
    }
  } else if (!name.empty() && std::find(called.begin(), called.end(), name) == called.end()) {
    return "expected a call to " + quote(name, 40) + ", got " + names_text(called);
  }
  return "";
}

Evaluation tool_call(const Context& ctx) {
  const std::vector<reply::ToolCall>& calls = ctx.facts.tool_calls;
  const auto names = ctx.spec.find("calls");
  if (calls.empty()) {
    if (names != ctx.spec.end() && names->empty()) {
      return verdict(true, "no tool called, as expected");
    }
    return fail(no_call(ctx));
  }
  std::vector<std::string> called;
  called.reserve(calls.size());
  for (const reply::ToolCall& call : calls) {
    called.push_back(call.name);
  }
  if (std::string problem = names_problem(ctx, called); !problem.empty()) {
    return fail(std::move(problem));
  }
  const std::string name = util::string_field(ctx.spec, "tool");
  const std::string schema_path = util::string_field(ctx.spec, "schema");
  std::shared_ptr<const jsonschema::Validator> given;
  if (!schema_path.empty()) {
    given = schema_file(ctx, schema_path);
  }
  for (const reply::ToolCall& call : calls) {
    // `schema` checks the calls to `tool`, or every call without one.
    const bool checked = given && (name.empty() || call.name == name);
    if (std::string problem =
            call_problem(ctx, call, checked ? given.get() : nullptr, quote(schema_path));
        !problem.empty()) {
      return fail(std::move(problem));
    }
  }
  const auto arguments = ctx.spec.find("arguments");
  if (arguments == ctx.spec.end()) {
    return verdict(true, "called " + calls_text(calls));
  }
  std::vector<reply::ToolCall> to_name;
  for (const reply::ToolCall& call : calls) {
    if (call.name == name) {
      if (subset_match(*arguments, call.arguments)) {
        return verdict(true, "called " + call_text(call));
      }
      to_name.push_back(call);
    }
  }
  return fail("expected a call to " + quote(name, 40) + " with arguments " +
              show_json(*arguments, 60) + ", got " + calls_text(to_name));
}

// The code points of UTF-8 `s` (a byte that starts no valid sequence counts as one).
std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80           ? 1
                          : (c >> 5) == 0x6  ? 2
                          : (c >> 4) == 0xe  ? 3
                          : (c >> 3) == 0x1e ? 4
                                             : 1;
    char32_t cp = n == 1 ? c : c & (0x7f >> n);
    std::size_t k = 1;
    for (; k < n && i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
         ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    // A lead byte without its continuation bytes (or a stray one, an overlong form, a
    // surrogate) is one character of its own: it used to take the next bytes with it, ASCII
    // included, so that "\xC3abcd" counted four characters, not five. Invalid bytes get values
    // above U+10FFFF, so that they never equal a real character.
    constexpr std::array<char32_t, 5> k_min = {0, 0, 0x80, 0x800, 0x10000};
    if ((c >= 0x80 && n == 1) || k < n ||
        (n > 1 && (cp < k_min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))) {
      cp = 0x110000 + c;
      k = 1;
    }
    out.push_back(cp);
    i += k;
  }
  return out;
}

// Levenshtein distance over code points, in O(min(n, m)) memory.
std::size_t edit_distance(const std::vector<char32_t>& a, const std::vector<char32_t>& b) {
  const auto& longer = a.size() >= b.size() ? a : b;
  const auto& shorter = a.size() >= b.size() ? b : a;
  std::vector<std::size_t> row(shorter.size() + 1);
  for (std::size_t j = 0; j <= shorter.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= longer.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= shorter.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (longer[i - 1] == shorter[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[shorter.size()];
}

// Outputs longer than this are not compared: the distance takes n x m steps.
constexpr std::size_t k_max_similarity_chars = 20000;

Evaluation similarity(const Context& ctx) {
  const ActualText actual = actual_text(ctx);
  if (!actual.text) {
    return fail(actual.problem);
  }
  const std::optional<json> expected = expected_value(ctx);
  if (!expected) {
    return fail(k_nothing_expected);
  }
  const std::optional<std::string> wanted = as_needle(*expected);
  if (!wanted) {
    return fail(not_text(ctx, *expected));
  }
  const auto a = code_points(*actual.text);
  const auto b = code_points(*wanted);
  if (a.size() > k_max_similarity_chars || b.size() > k_max_similarity_chars) {
    return fail("too long to compare (" + std::to_string(std::max(a.size(), b.size())) +
                " characters; the limit is " + std::to_string(k_max_similarity_chars) + ")");
  }
  const std::size_t longest = std::max(a.size(), b.size());
  const double score =
      longest == 0 ? 1.0
                   : 1.0 - static_cast<double>(edit_distance(a, b)) / static_cast<double>(longest);
  const double threshold = ctx.spec.value("threshold", 0.8);
  Evaluation e =
      verdict(score + 1e-12 >= threshold,
              "similarity " + number(std::round(score * 1000) / 1000) +
                  (score + 1e-12 >= threshold ? " (threshold " : ", under the threshold ") +
                  number(threshold) + (score + 1e-12 >= threshold ? ")" : ""));
  e.score = score;
  return e;
}

// `command` gets {"output", "expected", "vars", "latency_ms", "cost"} on stdin and prints
// {"pass": bool, "score"?: 0..1, "reason"?: text}. Anything else is a failed evaluation that
// says what came back: a verdict that cannot be read is never a pass.
Evaluation exec(const Context& ctx) {
  std::vector<std::string> argv;
  const json& command = ctx.spec.at("command");
  if (command.is_string()) {
    argv = {"/bin/sh", "-c", command.get<std::string>()};
  } else {
    argv = command.get<std::vector<std::string>>();
  }
  const double timeout = ctx.spec.value("timeout_s", 30.0);
  json input = {{"output", ctx.subject},
                {"tool_calls", reply::to_json(ctx.facts.tool_calls)},
                {"finish_reason", reply::to_string(ctx.facts.finish_reason)},
                {"expected", ctx.input.expected},
                {"vars", ctx.input.vars != nullptr ? *ctx.input.vars : json::object()},
                {"latency_ms", ctx.input.latency_ms},
                {"cost", ctx.input.cost ? json(*ctx.input.cost) : json(nullptr)}};
  const util::CommandResult r =
      util::run_command(argv, input.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                        timeout, ctx.input.workdir);
  if (!r.failure.empty()) {
    return fail(r.failure);
  }
  if (r.timed_out) {
    return fail("the command timed out after " + number(timeout) + " s");
  }
  if (r.exit_code != 0) {
    return fail("the command exited with status " + std::to_string(r.exit_code) +
                (r.err.empty() ? "" : ": " + util::text::printable(r.err.substr(0, 200))));
  }
  const json verdict_json = json::parse(r.out, nullptr, false);
  if (!verdict_json.is_object() || !verdict_json.contains("pass") ||
      !verdict_json["pass"].is_boolean()) {
    return fail("the command's verdict is not {\"pass\": true|false, ...}: " +
                util::text::printable(r.out.substr(0, 120)));
  }
  const bool pass = verdict_json["pass"].get<bool>();
  // The command's own reason, cut like everything else quoted in a reason: a command that
  // echoes a megabyte output back must not make a megabyte reason.
  constexpr std::size_t k_max_reason_chars = 300;
  Evaluation e = verdict(
      pass, verdict_json.contains("reason") && verdict_json["reason"].is_string()
                ? util::text::shorten(verdict_json["reason"].get<std::string>(), k_max_reason_chars)
                : (pass ? "passed" : "failed"));
  if (verdict_json.contains("score") && verdict_json["score"].is_number()) {
    e.score = std::clamp(verdict_json["score"].get<double>(), 0.0, 1.0);
  }
  return e;
}

} // namespace

bool supports(std::string_view type) {
  return std::find(k_supported.begin(), k_supported.end(), type) != k_supported.end();
}

void check_spec(const nlohmann::json& spec, const std::string& where) {
  const std::string type = check_common(spec, where);
  if (type == "regex") {
    const auto& pattern = spec.at("pattern").get_ref<const std::string&>();
    if (const auto re = compiled_regex(pattern); !re->ok()) {
      throw InputError(where, {}, regex_problem(pattern, *re));
    }
  }
}

std::optional<Evaluation> unusable(const nlohmann::json& spec, const EvalInput& input) {
  if (input.facts == nullptr) {
    return std::nullopt;
  }
  // An answer, the common case, costs one look at its facts: nothing is read of the spec.
  static const reply::Allowances k_none;
  const reply::Allowances& suite = input.allowed != nullptr ? *input.allowed : k_none;
  if (!reply::unusable_reason(input.output, *input.facts, suite)) {
    return std::nullopt;
  }
  // These judge the reply's facts, its cost or its tool calls, not its text.
  if (reads_facts(util::string_view_field(spec, "type")) ||
      util::string_view_field(spec, "on") == "tool_calls") {
    return std::nullopt;
  }
  reply::Allowances allowed = suite;
  if (const auto allow = spec.find("allow"); allow != spec.end() && allow->is_array()) {
    for (const auto& word : *allow) {
      if (auto a = word.is_string() ? reply::allowance_from_string(word.get<std::string>())
                                    : std::nullopt) {
        allowed.insert(*a);
      }
    }
  }
  std::optional<std::string> reason = reply::unusable_reason(input.output, *input.facts, allowed);
  if (!reason) {
    return std::nullopt;
  }
  Evaluation e;
  e.reason = std::move(*reason);
  label(spec, e);
  return e;
}

Evaluation evaluate(const nlohmann::json& spec, const EvalInput& input) {
  const std::string type = check_common(spec, "");
  if (std::optional<Evaluation> e = unusable(spec, input)) {
    return std::move(*e);
  }
  static const reply::Facts k_no_facts;
  const reply::Facts& facts = input.facts != nullptr ? *input.facts : k_no_facts;
  const bool on_calls = util::string_view_field(spec, "on") == "tool_calls";
  const std::string calls =
      on_calls
          ? reply::to_json(facts.tool_calls).dump(-1, ' ', false, json::error_handler_t::replace)
          : std::string();
  Context ctx{spec,
              input,
              type,
              facts,
              on_calls ? calls : input.output,
              on_calls ? "the tool calls" : "the output"};
  if (const auto path = spec.find("path"); path != spec.end()) {
    ctx.path = path->get<std::string>();
  }
  // `extract` is an option of every type (evaluator.schema.json's common part): it takes the
  // JSON out of a fence or prose for is_json, json_schema, `path` and JSON values alike.
  ctx.extract = option(spec, "extract") ? text::Extract::yes : text::Extract::no;
  ctx.cases = option(spec, "ignore_case") ? text::Case::fold : text::Case::sensitive;

  Evaluation e;
  if (type == "finish_reason") {
    e = finish_reason(ctx);
  } else if (type == "refusal") {
    e = refusal(ctx);
  } else if (type == "tool_call") {
    e = tool_call(ctx);
  } else if (type == "exact_match") {
    e = exact_match(ctx);
  } else if (type == "contains" || type == "not_contains" || type == "starts_with") {
    e = contains(ctx);
  } else if (type == "contains_any" || type == "contains_all") {
    e = contains_some(ctx);
  } else if (type == "regex") {
    e = regex(ctx);
  } else if (type == "is_json") {
    e = is_json(ctx);
  } else if (type == "json_schema") {
    e = json_schema(ctx);
  } else if (type == "similarity") {
    e = similarity(ctx);
  } else if (type == "exec") {
    e = exec(ctx);
  } else if (type == "llm_judge") {
    // It needs provider calls: the runner asks the judge and scores with judge.hpp.
    throw InputError("evaluator \"llm_judge\" is scored by the runner, not by evaluate()");
  } else {
    e = maximum(ctx);
  }

  label(spec, e);
  return e;
}

void label(const nlohmann::json& spec, Evaluation& e) {
  const auto name = spec.find("name");
  e.type = name != spec.end() && name->is_string() ? name->get<std::string>()
                                                   : util::string_field(spec, "type");
  const auto required = spec.find("required");
  e.required = required == spec.end() || !required->is_boolean() || required->get<bool>();
  const auto weight = spec.find("weight");
  e.weight = weight != spec.end() && weight->is_number() ? weight->get<double>() : 1.0;
  // Pieces of the output are escaped where they are quoted; this also covers messages from
  // the schema validator and a judge's reasons.
  e.reason = util::text::printable(e.reason);
}

} // namespace promptops::evaluators
