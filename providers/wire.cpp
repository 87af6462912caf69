#include "providers/wire.hpp"

#include "util/json_fields.hpp"
#include "util/json_lines.hpp"
#include "util/json_write.hpp"

#include <algorithm>

namespace promptops::providers {
namespace {

using nlohmann::json;

constexpr std::size_t k_max_error_chars = 300;

std::string join_url(const std::string& base, const std::string& path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  return out + path;
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
  if (!body.contains("max_tokens")) {
    body["max_tokens"] = 1024; // required by the Messages API
  }
  return body;
}

std::string truncate(std::string text, std::size_t n) {
  if (text.size() > n) {
    text.resize(n);
    text += "...";
  }
  return text;
}

// The message a provider put in its error body, in any of the shapes seen in the wild.
std::string error_message(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object()) {
        std::string type = util::string_field(*e, "type");
        std::string message = util::string_field(*e, "message");
        if (!message.empty()) {
          return type.empty() ? message : type + ": " + message;
        }
      } else if (e->is_string()) {
        return e->get<std::string>();
      }
    }
    if (auto m = j.find("message"); m != j.end() && m->is_string()) {
      return m->get<std::string>();
    }
  }
  return body;
}

std::optional<std::int64_t> int_field(const json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

WireOutcome read_openai(const json& j) {
  WireOutcome out;
  const json* choices = j.contains("choices") ? &j["choices"] : nullptr;
  if (choices == nullptr || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object() || !(*choices)[0].contains("message")) {
    out.retryable = true;
    out.error = "the reply has no choices[0].message";
    return out;
  }
  const json& message = (*choices)[0]["message"];
  if (message.contains("content") && message["content"].is_string()) {
    out.reply.output = message["content"].get<std::string>();
  } else if (message.contains("refusal") && message["refusal"].is_string()) {
    out.reply.output = message["refusal"].get<std::string>();
  }
  out.reply.model = util::string_field(j, "model");
  if (j.contains("system_fingerprint") && j["system_fingerprint"].is_string()) {
    out.reply.system_fingerprint = j["system_fingerprint"].get<std::string>();
  }
  if (j.contains("usage")) {
    out.reply.usage.input_tokens = int_field(j["usage"], "prompt_tokens");
    out.reply.usage.output_tokens = int_field(j["usage"], "completion_tokens");
  }
  out.ok = true;
  return out;
}

WireOutcome read_anthropic(const json& j) {
  WireOutcome out;
  if (!j.contains("content") || !j["content"].is_array()) {
    out.retryable = true;
    out.error = "the reply has no content array";
    return out;
  }
  for (const auto& block : j["content"]) {
    if (block.is_object() && util::string_field(block, "type") == "text" &&
        block.contains("text") && block["text"].is_string()) {
      out.reply.output += block["text"].get<std::string>();
    }
  }
  out.reply.model = util::string_field(j, "model");
  if (j.contains("usage")) {
    const json& usage = j["usage"];
    // The whole input is the sum of the three; each is billed at its own rate.
    std::optional<std::int64_t> input = int_field(usage, "input_tokens");
    if (input) {
      *input += int_field(usage, "cache_creation_input_tokens").value_or(0) +
                int_field(usage, "cache_read_input_tokens").value_or(0);
    }
    out.reply.usage.input_tokens = input;
    out.reply.usage.output_tokens = int_field(usage, "output_tokens");
  }
  out.ok = true;
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

WireOutcome read_response(const ProviderSettings& provider, long status, const std::string& body,
                          const std::string& x_should_retry) {
  const std::string key = provider.api_key();
  WireOutcome out;
  if (status < 200 || status >= 300) {
    out.retryable = status == 408 || status == 409 || status == 429 || status >= 500;
    if (x_should_retry == "true") {
      out.retryable = true;
    } else if (x_should_retry == "false") {
      out.retryable = false;
    }
    // Redact before truncating: a key cut in two at the limit would leak its first part.
    out.error = "HTTP " + std::to_string(status) + ": " +
                truncate(redact(error_message(body), key), k_max_error_chars);
    return out;
  }
  json j;
  util::parse_json(body, j);
  if (!j.is_object()) {
    out.retryable = true;
    out.error = "HTTP " + std::to_string(status) + " with a body that is not JSON (" +
                std::to_string(body.size()) + " bytes)";
    return out;
  }
  out = provider.type == "anthropic" ? read_anthropic(j) : read_openai(j);
  if (!out.ok) {
    out.error = redact("HTTP " + std::to_string(status) + ": " + out.error, key);
  }
  return out;
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.size() < 4) {
    return text;
  }
  std::size_t at = 0;
  while ((at = text.find(secret, at)) != std::string::npos) {
    text.replace(at, secret.size(), "[redacted]");
    at += 10;
  }
  return text;
}

} // namespace promptops::providers
