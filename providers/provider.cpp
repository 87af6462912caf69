#include "providers/provider.hpp"

#include "providers/wire.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json_fields.hpp"
#include "util/json_pointer.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"

#include <cstdlib>

namespace promptops::providers {

using nlohmann::json;

std::string ProviderSettings::api_key() const {
  if (api_key_env.empty()) {
    return {};
  }
  const char* value = std::getenv(api_key_env.c_str());
  return value == nullptr ? std::string() : std::string(value);
}

bool ProviderSettings::needs_api_key() const {
  if (type != "openai" && type != "anthropic") {
    return false;
  }
  if (api_key_env_given) {
    return true;
  }
  // The host of the base_url: between "://" and the next '/', ':' or the end.
  const std::size_t scheme = base_url.find("://");
  const std::size_t begin = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t end = base_url.find_first_of("/:?#", begin);
  const std::string host = base_url.substr(begin, end == std::string::npos ? end : end - begin);
  return host == "api.openai.com" || host == "api.anthropic.com";
}

void require_api_key(const ProviderSettings& provider) {
  if (!provider.needs_api_key() || !provider.api_key().empty()) {
    return;
  }
  throw InputError("provider \"" + provider.name + "\" (" + provider.type +
                   ") needs an API key: the environment variable " + provider.api_key_env +
                   (provider.api_key_env_given
                        ? " (its api_key_env)"
                        : " (the default for " + mask_url_credentials(provider.base_url) + ")") +
                   " is not set");
}

std::optional<double> ProviderSettings::cost(const Usage& usage) const {
  return reply::cost(pricing, usage);
}

std::string ProviderSettings::reply_too_large() const {
  return "the reply exceeds max_reply_bytes (" + util::text::size_text(max_reply_bytes) + ")";
}

std::string expand_environment(const std::string& text, const std::string& where) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      throw InputError(where + ": unterminated \"${\" in \"" + mask_url_credentials(text) + "\"");
    }
    const std::string inner = text.substr(i + 2, close - i - 2);
    const std::size_t dash = inner.find(":-");
    const std::string name = inner.substr(0, dash);
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      out += value;
    } else if (dash != std::string::npos) {
      out += inner.substr(dash + 2);
    } else {
      throw InputError(where + ": environment variable " + name + " is not set (write ${" + name +
                       ":-default} for a fallback)");
    }
    i = close + 1;
  }
  return out;
}

ProviderSettings settings_from_config(const registry::ProviderConfig& config,
                                      const registry::Config& whole) {
  const json& s = config.settings;
  const std::string pointer = util::pointer_append("/providers", config.name);
  auto where = [&](const std::string& key) {
    const SourcePosition p = whole.source_map.value_position(pointer + "/" + key);
    return whole.display_path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  ProviderSettings out;
  out.name = config.name;
  out.type = config.type;
  out.model = config.model;
  if (config.params.is_object()) {
    out.params = config.params; // stream: true is refused by promptops.yaml's schema
  }
  if (out.type == "openai" || out.type == "anthropic") {
    const bool openai = out.type == "openai";
    out.api_key_env_given = s.contains("api_key_env");
    out.api_key_env = s.value("api_key_env", openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
    const std::string base =
        s.value("base_url", openai ? "https://api.openai.com/v1" : "https://api.anthropic.com/v1");
    out.base_url = expand_environment(base, where("base_url"));
    if (out.base_url.rfind("http://", 0) != 0 && out.base_url.rfind("https://", 0) != 0) {
      throw InputError(where("base_url") + ": base_url \"" + mask_url_credentials(out.base_url) +
                       "\" must start with http:// or https://");
    }
    if (out.model.empty()) {
      throw InputError(whole.display_path, config.position,
                       "provider \"" + config.name + "\" (" + out.type + ") needs a model");
    }
  }
  out.concurrency = s.value("concurrency", out.type == "exec" ? 4 : 8);
  if (auto rl = s.find("rate_limit"); rl != s.end()) {
    out.requests_per_minute = rl->value("requests_per_minute", 0.0);
    out.tokens_per_minute = rl->value("tokens_per_minute", 0.0);
  }
  out.timeout_s = s.value("timeout_s", out.timeout_s);
  out.retries = s.value("retries", out.retries);
  if (auto m = s.find("max_reply_bytes"); m != s.end()) {
    // The schema has checked it too; this holds for settings made in code.
    if (!m->is_number_integer() || m->get<std::int64_t>() < k_min_reply_bytes ||
        m->get<std::int64_t>() > k_max_reply_bytes) {
      throw InputError(where("max_reply_bytes") +
                       ": max_reply_bytes must be a whole number of bytes from 1024 (1 KiB) to "
                       "1073741824 (1 GiB)");
    }
    out.max_reply_bytes = m->get<std::int64_t>();
  }
  if (auto p = s.find("pricing"); p != s.end()) {
    out.pricing = reply::pricing_from_json(*p, out.type);
  }
  if (out.type == "exec") {
    auto c = s.find("command");
    if (c == s.end()) {
      throw InputError(whole.display_path, config.position,
                       "provider \"" + config.name + "\" (exec) needs a command");
    }
    if (c->is_string()) {
      out.command = {"/bin/sh", "-c", c->get<std::string>()};
    } else {
      out.command = c->get<std::vector<std::string>>();
    }
  }
  if (out.type == "replay") {
    out.from = util::string_field(s, "from");
    if (out.from.empty()) {
      throw InputError(whole.display_path, config.position,
                       "provider \"" + config.name +
                           "\" (replay) needs \"from:\", a baseline or results.jsonl file");
    }
  }
  return out;
}

std::string cache_key(const ProviderSettings& provider, const Request& request) {
  // The canonical JSON of {"command", "endpoint", "messages": [[role, content]...], "model",
  // "output_schema", "params", "sample" (after the first), "tools" (when any), "type", "v": 1},
  // keys sorted as nlohmann sorts them, hashed. Written out here rather than built as a json
  // object: that copied the output schema for every request. The bytes are the same (a test
  // checks).
  std::string text = "{\"command\":";
  util::append_json(text, json(provider.command));
  text += ",\"endpoint\":";
  util::append_json_string(text, provider.base_url);
  text += ",\"messages\":[";
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    text += i == 0 ? "[" : ",[";
    util::append_json_string(text, request.messages[i].role);
    text += ',';
    util::append_json_string(text, request.messages[i].content);
    text += ']';
  }
  text += "],\"model\":";
  util::append_json_string(text, request.model);
  text += ",\"output_schema\":";
  if (request.output_schema) {
    // One schema is shared by every request of a prompt: write it once per thread.
    thread_local std::shared_ptr<const json> last_schema;
    thread_local std::string last_text;
    if (last_schema != request.output_schema) {
      last_schema = request.output_schema;
      last_text = util::dump_json(*last_schema);
    }
    text += last_text;
  } else {
    text += "null";
  }
  text += ",\"params\":";
  util::append_json(text, request.params);
  if (request.sample > 0) {
    text += ",\"sample\":" + std::to_string(request.sample); // absent for the first, so
                                                             // older entries still match
  }
  if (request.tools) {
    text += ",\"tools\":"; // absent without tools, so that older entries still match
    util::append_json(text, *request.tools);
  }
  text += ",\"type\":";
  util::append_json_string(text, provider.type);
  text += ",\"v\":1}";
  return util::sha256_hex(text);
}

std::int64_t estimate_tokens(const Request& request) {
  std::size_t chars = 0;
  for (const auto& m : request.messages) {
    chars += m.content.size();
  }
  return static_cast<std::int64_t>(chars / 4 + 1);
}

} // namespace promptops::providers
