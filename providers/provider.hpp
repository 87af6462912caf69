#pragma once

#include "registry/config.hpp"
#include "reply/reply.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// What is sent to a model and what comes back, independent of any wire format.
namespace promptops::providers {

struct ChatMessage {
  std::string role; // system | user | assistant
  std::string content;
};

// One call: a rendered prompt for one case. Its cache key covers everything that shapes the
// reply and nothing secret.
struct Request {
  std::string case_id;
  std::vector<ChatMessage> messages;
  std::string model;
  nlohmann::json params = nlohmann::json::object(); // provider params, then the prompt's
  // The prompt's output schema, shared by all its requests (a run may have 100,000); null:
  // the prompt has none.
  std::shared_ptr<const nlohmann::json> output_schema;
  std::string output_schema_name; // for response_format's "name"
  // The prompt's tools, [{"name", "description", "parameters": JSON Schema}], shared like the
  // schema; null: none. Each wire format sends them in its own shape.
  std::shared_ptr<const nlohmann::json> tools;
  // Which of n identical calls this is (a judge asked n times): each is cached apart, so
  // that n samples are n answers, not one answer n times.
  int sample = 0;
};

using Usage = reply::Usage;

struct Reply {
  bool ok = false;
  std::string output; // the text; "" when there is none (tool calls, a refusal)
  reply::Facts facts; // stop reason, refusal, tool calls
  // What was mended to read the reply (invalid UTF-8 replaced, ...), for people.
  std::vector<std::string> notes;
  std::string model;              // as the server reports it ("" when it does not)
  std::string system_fingerprint; // OpenAI's system_fingerprint, when sent
  Usage usage;
  double latency_ms = 0; // of the successful attempt (0 when cached)
  std::optional<double> cost;
  int attempts = 0;
  std::string error; // !ok: the last attempt's error, never containing a key
  bool cached = false;
};

// A reply's largest size, decoded (promptops.yaml's max_reply_bytes): 64 MiB unless a provider
// says otherwise, from 1 KiB to 1 GiB.
inline constexpr std::int64_t k_default_max_reply_bytes = std::int64_t{64} << 20;
inline constexpr std::int64_t k_min_reply_bytes = std::int64_t{1} << 10;
inline constexpr std::int64_t k_max_reply_bytes = std::int64_t{1} << 30;

// A provider entry of promptops.yaml, read and checked for use. The API key is not here: it
// is read from the environment when a request is sent (api_key()).
struct ProviderSettings {
  std::string name;
  std::string type; // openai | anthropic | exec | replay | echo
  std::string base_url;
  std::string api_key_env;
  bool api_key_env_given = false; // promptops.yaml names api_key_env itself
  std::string model;
  nlohmann::json params = nlohmann::json::object();
  int concurrency = 8;
  double requests_per_minute = 0; // 0: unlimited
  double tokens_per_minute = 0;
  double timeout_s = 600; // the vendors' SDKs' default: a slow reasoning reply is not abandoned
  int retries = 2;
  double max_backoff_s = 30;
  // A reply's largest size, decoded (an exec command's standard output too); a larger one
  // fails its case, and is not retried.
  std::int64_t max_reply_bytes = k_default_max_reply_bytes;
  reply::Pricing pricing;           // vendor defaults applied
  std::vector<std::string> command; // exec: argv (a string becomes {"/bin/sh", "-c", it})
  std::string from;                 // replay: the file, relative to the registry root

  // The key's value, or "" when api_key_env is unset or empty.
  std::string api_key() const;
  // Whether a request cannot go without the key: api_key_env was given, or base_url is the
  // vendor's own (api.openai.com, api.anthropic.com). A local server's base_url without
  // api_key_env goes without a key when the variable is unset.
  bool needs_api_key() const;
  // Cost of `usage` in the pricing's currency, when the provider has pricing.
  std::optional<double> cost(const Usage& usage) const;
  // Why a reply larger than max_reply_bytes failed: "the reply exceeds max_reply_bytes
  // (64 MiB)".
  std::string reply_too_large() const;
};

// Expand ${VAR} and ${VAR:-default} from the environment. An unset ${VAR} without a default
// throws InputError naming `where` and the variable.
std::string expand_environment(const std::string& text, const std::string& where);

// Read a provider entry of the config. Throws InputError (naming the config's file and line)
// for a base_url that expands to nothing usable (its credentials masked in the message), a
// max_reply_bytes out of range, an exec provider without a command, a replay provider without
// `from`.
ProviderSettings settings_from_config(const registry::ProviderConfig& config,
                                      const registry::Config& whole);

// Throws InputError naming the provider and its variable when it needs_api_key() and the
// variable is unset or empty; the engine calls it before the first request it sends, so that
// a run answered from the cache needs no key.
void require_api_key(const ProviderSettings& provider);

// Hex SHA-256 over the provider type, endpoint, model, params, messages and output schema:
// what the cache is keyed by. Equal requests give equal keys whatever the key order of
// params; an API key is never part of it.
std::string cache_key(const ProviderSettings& provider, const Request& request);

// Rough input token count for rate limiting before the server says: a token is about four
// characters.
std::int64_t estimate_tokens(const Request& request);

} // namespace promptops::providers
