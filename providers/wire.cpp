#include "providers/wire.hpp"

#include "util/hash.hpp"
#include "util/json_fields.hpp"
#include "util/json_lines.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace promptops::providers {
namespace {

using nlohmann::json;

constexpr std::size_t k_max_error_chars = 300;
constexpr std::size_t k_preview_chars = 80;
constexpr std::string_view k_redacted = "[redacted]";

std::string join_url(const std::string& base, const std::string& path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  return out + path;
}

// The prompt's tools, [{"name", "description", "parameters"}], in a vendor's shape: OpenAI
// nests each under "function" with "parameters", Anthropic lists them flat with "input_schema".
json vendor_tools(const json& tools, bool anthropic) {
  json out = json::array();
  if (!tools.is_array()) {
    return out;
  }
  for (const json& tool : tools) {
    if (!tool.is_object()) {
      continue;
    }
    json t = {{"name", util::string_field(tool, "name")}};
    if (const auto d = tool.find("description"); d != tool.end() && d->is_string()) {
      t["description"] = *d;
    }
    const auto p = tool.find("parameters");
    json schema = p != tool.end() && p->is_object() ? *p : json{{"type", "object"}};
    if (anthropic) {
      t["input_schema"] = std::move(schema); // required by the Messages API
      out.push_back(std::move(t));
    } else {
      t["parameters"] = std::move(schema);
      out.push_back({{"type", "function"}, {"function", std::move(t)}});
    }
  }
  return out;
}

json openai_body(const Request& request) {
  json body = json::object();
  body["model"] = request.model;
  json messages = json::array();
  for (const auto& m : request.messages) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  body["messages"] = std::move(messages);
  for (const auto& [key, value] : request.params.items()) {
    body[key] = value;
  }
  if (request.tools && !body.contains("tools")) {
    body["tools"] = vendor_tools(*request.tools, false);
  }
  if (request.output_schema && !body.contains("response_format")) {
    std::string name = request.output_schema_name.empty() ? "output" : request.output_schema_name;
    // OpenAI allows [a-zA-Z0-9_-]{1,64} here.
    for (char& c : name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
      if (!ok) {
        c = '_';
      }
    }
    name = name.substr(0, 64);
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema", {{"name", name}, {"schema", *request.output_schema}}}};
  }
  return body;
}

json anthropic_body(const Request& request) {
  json body = json::object();
  body["model"] = request.model;
  std::string system;
  json messages = json::array();
  for (const auto& m : request.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
  }
  if (!system.empty()) {
    body["system"] = system;
  }
  body["messages"] = std::move(messages);
  for (const auto& [key, value] : request.params.items()) {
    body[key] = value;
  }
  if (request.tools && !body.contains("tools")) {
    body["tools"] = vendor_tools(*request.tools, true);
  }
  if (!body.contains("max_tokens")) {
    body["max_tokens"] = 1024; // required by the Messages API
  }
  return body;
}

// ---- Keys --------------------------------------------------------------------------------

// The forms of `key` to redact besides the masked one: itself, upper- and lower-cased, and the
// base64 characters that encode it wherever it sits in a longer text ("user:key", "key:"), at
// each of the three byte alignments. Computed once per key and thread.
const std::vector<std::string>& key_forms(const std::string& key) {
  thread_local std::string last_key;
  thread_local std::vector<std::string> forms;
  if (!forms.empty() && key == last_key) {
    return forms;
  }
  last_key = key;
  forms = {key};
  if (key.size() >= 8) {
    for (const bool upper : {true, false}) {
      std::string cased = key;
      for (char& c : cased) {
        c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                    : std::tolower(static_cast<unsigned char>(c)));
      }
      if (std::find(forms.begin(), forms.end(), cased) == forms.end()) {
        forms.push_back(std::move(cased));
      }
    }
    for (std::size_t align = 0; align < 3; ++align) {
      // Only the 4-character groups made of key bytes alone are the same in any text.
      const std::string encoded = util::base64(std::string(align, '\0') + key);
      const std::size_t first = (align + 2) / 3;
      const std::size_t last = (align + key.size()) / 3; // one past the last whole group
      if (last > first + 1) {
        forms.push_back(encoded.substr(4 * first, 4 * (last - first)));
      }
    }
  }
  return forms;
}

bool key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// OpenAI's 401 quotes a wrong key masked: "Incorrect API key provided: sk-proj-****...WXYZ."
// (the key's first characters, asterisks, its last four). Redacts each such form of `key`.
void redact_masked(std::string& text, const std::string& key) {
  if (key.size() < 8) {
    return;
  }
  const std::string tail = key.substr(key.size() - 4);
  std::size_t at = 0;
  while ((at = text.find(tail, at)) != std::string::npos) {
    std::size_t stars = at;
    while (stars > 0 && text[stars - 1] == '*') {
      --stars;
    }
    std::size_t begin = stars;
    while (begin > 0 && key_char(text[begin - 1])) {
      --begin;
    }
    const std::string_view prefix(text.data() + begin, stars - begin);
    if (at - stars >= 3 && !prefix.empty() && key.compare(0, prefix.size(), prefix) == 0) {
      text.replace(begin, at + tail.size() - begin, k_redacted);
      at = begin + k_redacted.size();
    } else {
      at += tail.size();
    }
  }
}

void replace_all(std::string& text, const std::string& what) {
  std::size_t at = 0;
  while ((at = text.find(what, at)) != std::string::npos) {
    text.replace(at, what.size(), k_redacted);
    at += k_redacted.size();
  }
}

// Redacts the string values of `value`, walked without recursion (arguments may nest deep).
void redact_strings(json& value, const std::string& key) {
  std::vector<json*> stack{&value};
  while (!stack.empty()) {
    json* v = stack.back();
    stack.pop_back();
    if (v->is_string()) {
      std::string& s = v->get_ref<std::string&>();
      s = redact(std::move(s), key);
    } else if (v->is_structured()) {
      for (json& child : *v) {
        stack.push_back(&child);
      }
    }
  }
}

bool deeper_than(const json& value, std::size_t limit) {
  std::vector<std::pair<const json*, std::size_t>> stack{{&value, 1}};
  while (!stack.empty()) {
    const auto [v, depth] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) {
      continue;
    }
    if (depth > limit) {
      return true;
    }
    for (const json& child : *v) {
      stack.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

// ---- Invalid UTF-8 -------------------------------------------------------------------------

std::optional<unsigned> hex4(std::string_view s, std::size_t at) {
  if (at + 4 > s.size()) {
    return std::nullopt;
  }
  unsigned v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const char c = s[at + k];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) {
      return std::nullopt;
    }
    v = v * 16 + static_cast<unsigned>(d);
  }
  return v;
}

// `text` with each invalid UTF-8 byte replaced by U+FFFD and each "\uXXXX" escape of a lone
// surrogate by "\ufffd"; std::nullopt when it had neither. Runs only on a body that did not
// parse, so a good reply costs nothing.
std::optional<std::string> repair_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool changed = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\' && i + 1 < text.size()) {
      const std::optional<unsigned> unit = text[i + 1] == 'u' ? hex4(text, i + 2) : std::nullopt;
      if (unit && *unit >= 0xD800 && *unit <= 0xDFFF) {
        const bool high = *unit <= 0xDBFF;
        const std::optional<unsigned> low =
            high && text.substr(i + 6, 2) == "\\u" ? hex4(text, i + 8) : std::nullopt;
        if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
          out.append(text.substr(i, 12)); // a pair: one character
          i += 12;
        } else {
          out += "\\ufffd";
          i += 6;
          changed = true;
        }
        continue;
      }
      out.append(text.substr(i, 2)); // an escape: its second character is not a quote's end
      i += 2;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t n = util::text::utf8_sequence_length(
        reinterpret_cast<const unsigned char*>(text.data()) + i, text.size() - i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      changed = true;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  if (!changed) {
    return std::nullopt;
  }
  return out;
}

// ---- Error bodies --------------------------------------------------------------------------

std::optional<std::int64_t> int_field(const json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

// What an error body says, in any of the shapes seen in the wild: OpenAI's and OpenRouter's
// {"error": {"message", "type", "code"}}, Anthropic's {"type": "error", "error": {...}},
// {"error": "text"}, older vLLM's top-level {"object": "error", "message", "code"}.
struct ErrorBody {
  bool found = false;
  std::string message;              // "type: message" when both are given
  std::optional<std::int64_t> code; // a numeric code (OpenRouter, llama.cpp, vLLM: the status)
  bool quota = false;               // a quota or billing limit: retrying cannot help
  bool busy = false;                // a type that says "try again" (overloaded, rate limited)
};

ErrorBody read_error(const json& j) {
  ErrorBody out;
  if (!j.is_object()) {
    return out;
  }
  const json* e = nullptr;
  if (const auto it = j.find("error"); it != j.end() && it->is_string()) {
    out.found = true;
    out.message = it->get<std::string>();
    return out;
  } else if (it != j.end() && it->is_object()) {
    e = &*it;
  } else if (util::string_view_field(j, "object") == "error") {
    e = &j;
  } else if (const auto m = j.find("message"); m != j.end() && m->is_string()) {
    out.found = true; // a bare {"message": ...}
    out.message = m->get<std::string>();
    return out;
  } else {
    return out;
  }
  out.found = true;
  const std::string type = util::string_field(*e, "type");
  const std::string message = util::string_field(*e, "message");
  out.message = type.empty() ? message : message.empty() ? type : type + ": " + message;
  out.code = int_field(*e, "code");
  const std::string code_text = util::string_field(*e, "code");
  std::string detail_code;
  if (const auto d = e->find("details"); d != e->end() && d->is_object()) {
    detail_code = util::string_field(*d, "error_code");
  }
  out.quota = code_text == "insufficient_quota" || type == "insufficient_quota" ||
              type == "billing_error" || detail_code == "enforced_spend_limit_reached";
  out.busy = type == "overloaded_error" || type == "rate_limit_error" || type == "api_error" ||
             type == "timeout_error" || code_text == "rate_limit_exceeded";
  return out;
}

bool retryable_status(std::int64_t status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

std::string quota_words(const ErrorBody& e) {
  return e.quota ? "a quota or billing limit, which retrying cannot fix: " : "";
}

// ---- Replies -------------------------------------------------------------------------------

// One tool call whose arguments came as text (OpenAI) or as JSON (Ollama's native form, some
// compatible servers, Anthropic's "input").
reply::ToolCall make_call(std::string id, std::string name, const json* arguments) {
  if (arguments != nullptr && arguments->is_string()) {
    const std::string& text = arguments->get_ref<const std::string&>();
    if (util::text::nests_deeper(text, util::text::k_max_json_depth)) {
      reply::ToolCall call{std::move(id), std::move(name), text, false};
      return call;
    }
    return reply::tool_call(std::move(id), std::move(name), text);
  }
  reply::ToolCall call;
  call.id = std::move(id);
  call.name = std::move(name);
  if (arguments != nullptr && !arguments->is_null()) {
    if (deeper_than(*arguments, util::text::k_max_json_depth)) {
      call.arguments = "(arguments nested deeper than " +
                       std::to_string(util::text::k_max_json_depth) + " levels)";
      call.arguments_parsed = false;
    } else {
      call.arguments = *arguments;
    }
  }
  return call;
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

reply::FinishReason openai_finish(std::string_view v) {
  using reply::FinishReason;
  if (v == "stop") {
    return FinishReason::stop;
  }
  if (v == "length") {
    return FinishReason::length;
  }
  // "function_call": the legacy form; "tool": llama.cpp's.
  if (v == "tool_calls" || v == "function_call" || v == "tool") {
    return FinishReason::tool_calls;
  }
  if (v == "content_filter") {
    return FinishReason::content_filter;
  }
  return FinishReason::unknown;
}

reply::FinishReason anthropic_finish(std::string_view v) {
  using reply::FinishReason;
  if (v == "end_turn" || v == "stop_sequence") {
    return FinishReason::stop;
  }
  // pause_turn: the server paused a long turn (server tools) before its end; what came is
  // incomplete, as a cut reply is.
  if (v == "max_tokens" || v == "model_context_window_exceeded" || v == "pause_turn") {
    return FinishReason::length;
  }
  if (v == "tool_use") {
    return FinishReason::tool_calls;
  }
  if (v == "refusal") {
    return FinishReason::refusal;
  }
  return FinishReason::unknown;
}

// message.content: a string, null, or an array of parts whose text parts are concatenated.
void read_openai_content(const json& message, Reply& reply) {
  const json* content = member(message, "content");
  if (content == nullptr) {
    return;
  }
  if (content->is_string()) {
    reply.output = content->get<std::string>();
    return;
  }
  if (!content->is_array()) {
    return;
  }
  for (const json& part : *content) {
    const std::string_view type = util::string_view_field(part, "type");
    if (type == "text" || type == "output_text") {
      reply.output += util::string_view_field(part, "text");
    } else if (type == "refusal") {
      reply.facts.refusal += util::string_view_field(part, "refusal");
    }
  }
}

void read_openai_tool_calls(const json& message, reply::Facts& facts) {
  if (const json* calls = member(message, "tool_calls"); calls != nullptr && calls->is_array()) {
    for (const json& c : *calls) {
      if (!c.is_object()) {
        continue;
      }
      // {"type": "function", "function": {name, arguments}}, or a custom tool's
      // {"type": "custom", "custom": {name, input}}.
      const json* fn = member(c, "function");
      const json* custom = fn == nullptr ? member(c, "custom") : nullptr;
      const json& body = fn != nullptr ? *fn : custom != nullptr ? *custom : c;
      facts.tool_calls.push_back(
          make_call(util::string_field(c, "id"), util::string_field(body, "name"),
                    member(body, custom != nullptr ? "input" : "arguments")));
    }
  }
  // The legacy single call, before tool_calls.
  if (const json* fc = member(message, "function_call"); fc != nullptr && fc->is_object()) {
    facts.tool_calls.push_back(
        make_call(std::string(), util::string_field(*fc, "name"), member(*fc, "arguments")));
  }
}

void read_openai_usage(const json& j, Usage& usage) {
  using reply::read_count;
  const json* u = member(j, "usage");
  if (u == nullptr || !u->is_object()) {
    // Ollama's native /api/chat counts apart.
    read_count(usage, &Usage::input_tokens, member(j, "prompt_eval_count"), "prompt_eval_count");
    read_count(usage, &Usage::output_tokens, member(j, "eval_count"), "eval_count");
    return;
  }
  // prompt_tokens includes the cached ones, completion_tokens the reasoning ones.
  read_count(usage, &Usage::input_tokens, member(*u, "prompt_tokens"), "prompt_tokens");
  read_count(usage, &Usage::output_tokens, member(*u, "completion_tokens"), "completion_tokens");
  if (const json* d = member(*u, "prompt_tokens_details")) {
    read_count(usage, &Usage::cached_input_tokens, member(*d, "cached_tokens"), "cached_tokens");
    read_count(usage, &Usage::cache_write_tokens, member(*d, "cache_write_tokens"),
               "cache_write_tokens");
  }
  if (const json* d = member(*u, "completion_tokens_details")) {
    read_count(usage, &Usage::reasoning_tokens, member(*d, "reasoning_tokens"), "reasoning_tokens");
  }
}

WireOutcome read_openai(const json& j) {
  WireOutcome out;
  const json* choices = member(j, "choices");
  const json* choice = nullptr;
  const char* finish_key = "finish_reason";
  if (choices != nullptr && choices->is_array() && !choices->empty() && (*choices)[0].is_object()) {
    choice = &(*choices)[0];
  } else if (choices == nullptr && j.contains("done_reason")) {
    choice = &j; // Ollama's native /api/chat: the message at the top, "done_reason"
    finish_key = "done_reason";
  }
  const json* message = choice != nullptr ? member(*choice, "message") : nullptr;
  if (message == nullptr || !message->is_object()) {
    out.retryable = true;
    out.error = "the reply has no choices[0].message";
    return out;
  }
  Reply& r = out.reply;
  read_openai_content(*message, r);
  if (const std::string_view refusal = util::string_view_field(*message, "refusal");
      !refusal.empty()) {
    r.facts.refusal = std::string(refusal);
  }
  read_openai_tool_calls(*message, r.facts);
  r.facts.vendor_finish_reason = util::string_field(*choice, finish_key);
  r.facts.finish_reason = openai_finish(r.facts.vendor_finish_reason);
  if (!r.facts.refusal.empty()) {
    r.facts.finish_reason = reply::FinishReason::refusal; // OpenAI sends "stop" with it
  }
  r.model = util::string_field(j, "model");
  r.system_fingerprint = util::string_field(j, "system_fingerprint");
  read_openai_usage(j, r.usage);
  out.ok = true;
  return out;
}

void read_anthropic_usage(const json& j, Usage& usage) {
  using reply::read_count;
  const json* u = member(j, "usage");
  if (u == nullptr || !u->is_object()) {
    return;
  }
  read_count(usage, &Usage::input_tokens, member(*u, "input_tokens"), "input_tokens");
  read_count(usage, &Usage::cached_input_tokens, member(*u, "cache_read_input_tokens"),
             "cache_read_input_tokens");
  read_count(usage, &Usage::cache_write_tokens, member(*u, "cache_creation_input_tokens"),
             "cache_creation_input_tokens");
  read_count(usage, &Usage::output_tokens, member(*u, "output_tokens"), "output_tokens");
  if (const json* d = member(*u, "output_tokens_details")) {
    read_count(usage, &Usage::reasoning_tokens, member(*d, "thinking_tokens"), "thinking_tokens");
  }
  // The whole input is the sum of the three (each checked, so the sum cannot overflow); each
  // is billed at its own rate.
  if (usage.input_tokens) {
    *usage.input_tokens +=
        usage.cached_input_tokens.value_or(0) + usage.cache_write_tokens.value_or(0);
  }
}

WireOutcome read_anthropic(const json& j) {
  WireOutcome out;
  const json* content = member(j, "content");
  if (content == nullptr || !content->is_array()) {
    out.retryable = true;
    out.error = "the reply has no content array";
    return out;
  }
  Reply& r = out.reply;
  for (const json& block : *content) {
    const std::string_view type = util::string_view_field(block, "type");
    if (type == "text") {
      r.output += util::string_view_field(block, "text");
    } else if (type == "tool_use") {
      r.facts.tool_calls.push_back(make_call(util::string_field(block, "id"),
                                             util::string_field(block, "name"),
                                             member(block, "input")));
    }
    // thinking, redacted_thinking and server tools' blocks are not the answer.
  }
  r.facts.vendor_finish_reason = util::string_field(j, "stop_reason");
  r.facts.finish_reason = anthropic_finish(r.facts.vendor_finish_reason);
  r.model = util::string_field(j, "model");
  read_anthropic_usage(j, r.usage);
  out.ok = true;
  return out;
}

// ---- Failures ------------------------------------------------------------------------------

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// A 2xx body that is an error object, not a reply (OpenRouter reports a failure that happens
// after the model started with HTTP 200).
bool is_error_body(const json& j) {
  if (util::string_view_field(j, "type") == "error" ||
      util::string_view_field(j, "object") == "error") {
    return true;
  }
  const json* e = member(j, "error");
  return e != nullptr && !e->is_null() && !j.contains("choices") && !j.contains("content");
}

WireOutcome error_in_2xx(long status, const json& j, const std::string& key) {
  const ErrorBody e = read_error(j);
  WireOutcome out;
  // Retried only when its code or type says so: an unknown error may be a bad request.
  out.retryable = !e.quota && ((e.code && retryable_status(*e.code)) || e.busy);
  out.error =
      "HTTP " + std::to_string(status) + " with an error: " + quota_words(e) +
      util::text::quote(redact(e.message.empty() ? j.dump() : e.message, key), k_max_error_chars);
  if (e.code) {
    out.error += " (code " + std::to_string(*e.code) + ")";
  }
  return out;
}

// A 2xx body that does not parse, even with its UTF-8 mended.
WireOutcome unparseable(const HttpResponse& response, const std::string& key) {
  WireOutcome out;
  const std::string_view body = response.body;
  const std::string status = std::to_string(response.status);
  const std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out.retryable = true;
    out.error = "HTTP " + status + " with an empty body";
    return out;
  }
  const std::string_view start = body.substr(first);
  const bool stream = contains(response.content_type, "event-stream") ||
                      start.rfind("data:", 0) == 0 || start.rfind("event:", 0) == 0;
  const bool json_type = response.content_type.empty() || contains(response.content_type, "json");
  if (!stream && json_type && (start[0] == '{' || start[0] == '[')) {
    // JSON cut short on the way (a proxy, a dropped connection): another try may get it whole.
    out.retryable = true;
    out.error = "HTTP " + status + " with a JSON body that is cut short or garbled (" +
                std::to_string(body.size()) + " bytes)";
    return out;
  }
  // An HTML page from a proxy or an event stream: the same again next time.
  out.error =
      "HTTP " + status + " with a body that is not JSON (Content-Type " +
      (response.content_type.empty() ? std::string("none")
                                     : util::text::quote(response.content_type, 60)) +
      ", " + std::to_string(body.size()) + " bytes" +
      (stream ? "; an event stream, which promptops never asks for: is stream: true set?" : "") +
      "): " + util::text::quote(redact(std::string(start.substr(0, 400)), key), k_preview_chars);
  return out;
}

WireOutcome read_failure(const HttpResponse& response, const std::string& key) {
  WireOutcome out;
  out.retryable = retryable_status(response.status);
  if (response.x_should_retry == "true") {
    out.retryable = true;
  } else if (response.x_should_retry == "false") {
    out.retryable = false;
  }
  const json j = json::parse(response.body, nullptr, false);
  const ErrorBody e = read_error(j);
  if (e.quota) {
    out.retryable = false; // whatever the status or the server says: waiting will not help
  }
  // Redact before shortening: a key cut in two at the limit would leak its first part.
  const std::string message = e.found ? e.message : std::string(response.body);
  out.error = "HTTP " + std::to_string(response.status) + ": " + quota_words(e) +
              util::text::shorten(redact(message, key), k_max_error_chars);
  return out;
}

} // namespace

HttpCall build_call(const ProviderSettings& provider, const Request& request) {
  HttpCall call;
  call.headers.emplace_back("Content-Type: application/json");
  const std::string key = provider.api_key();
  if (provider.type == "anthropic") {
    call.url = join_url(provider.base_url, "/messages");
    call.headers.emplace_back("anthropic-version: 2023-06-01");
    if (!key.empty()) {
      call.headers.emplace_back("x-api-key: " + key);
    }
    call.body = util::dump_json(anthropic_body(request));
  } else {
    call.url = join_url(provider.base_url, "/chat/completions");
    if (!key.empty()) {
      call.headers.emplace_back("Authorization: Bearer " + key);
    }
    call.body = util::dump_json(openai_body(request));
  }
  return call;
}

WireOutcome read_response(const ProviderSettings& provider, const HttpResponse& response) {
  const std::string key = provider.api_key();
  if (response.status < 200 || response.status >= 300) {
    return read_failure(response, key);
  }
  json j;
  std::vector<std::string> notes;
  if (!util::parse_json(response.body, j)) {
    // Mended only now: the common reply is parsed once.
    std::optional<std::string> mended = repair_utf8(response.body);
    if (!mended || !util::parse_json(*mended, j)) {
      return unparseable(response, key);
    }
    notes.emplace_back("the reply had invalid UTF-8; replaced by U+FFFD");
  }
  WireOutcome out;
  if (!j.is_object()) {
    out.retryable = true;
    out.error = "HTTP " + std::to_string(response.status) + " with JSON that is not an object";
    return out;
  }
  if (is_error_body(j)) {
    return error_in_2xx(response.status, j, key);
  }
  out = provider.type == "anthropic" ? read_anthropic(j) : read_openai(j);
  if (!out.ok) {
    out.error = redact("HTTP " + std::to_string(response.status) + ": " + out.error, key);
    return out;
  }
  if (std::optional<std::string> note = reply::usage_note(out.reply.usage)) {
    notes.push_back(std::move(*note));
  }
  out.reply.notes = std::move(notes);
  redact_reply(out.reply, key);
  return out;
}

WireOutcome read_response(const ProviderSettings& provider, long status, std::string_view body,
                          const std::string& x_should_retry) {
  return read_response(provider, HttpResponse{status, body, {}, x_should_retry});
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.size() < 4) {
    return text;
  }
  for (const std::string& form : key_forms(secret)) {
    replace_all(text, form);
  }
  redact_masked(text, secret);
  return text;
}

std::string mask_url_credentials(std::string text) {
  // The authority ends at the path, query or fragment, or where the URL's text ends.
  constexpr std::string_view k_authority_end = "/?#\"'<>\\ \t\r\n";
  std::size_t from = 0;
  while ((from = text.find("://", from)) != std::string::npos) {
    const std::size_t begin = from + 3;
    std::size_t end = text.find_first_of(k_authority_end, begin);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::size_t at = text.rfind('@', end == begin ? begin : end - 1);
    if (at != std::string::npos && at >= begin && at < end) {
      text.replace(begin, at - begin, "***");
      end = begin + 3 + (end - at);
    }
    from = end;
  }
  return text;
}

void redact_reply(Reply& reply, const std::string& secret) {
  if (secret.size() < 4) {
    return;
  }
  reply.output = redact(std::move(reply.output), secret);
  reply.facts.refusal = redact(std::move(reply.facts.refusal), secret);
  for (reply::ToolCall& call : reply.facts.tool_calls) {
    call.id = redact(std::move(call.id), secret);
    call.name = redact(std::move(call.name), secret);
    redact_strings(call.arguments, secret);
  }
}

} // namespace promptops::providers
