#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// The reply model: what a model answered, whatever the vendor's wire format. The providers
// fill it, the evaluators judge it, the results record it; SPEC's trust rule ("a reply that
// cannot be read is never a pass") is written once, here (unusable_reason).
namespace promptops::reply {

// Why the model stopped, normalised across vendors (docs/file-formats.md has the mapping).
enum class FinishReason {
  unknown, // the provider did not say (echo, replay, lines written before promptops read it)
  stop,
  length, // cut at the token limit: OpenAI "length", Anthropic "max_tokens"
  tool_calls,
  refusal,
  content_filter,
  error,
};

// "stop", "length", ...; "" for unknown.
const char* to_string(FinishReason reason);
// The inverse; unknown for "" and anything else.
FinishReason finish_reason_from_string(std::string_view text);

// One tool call of a reply.
struct ToolCall {
  std::string id;
  std::string name;
  // The arguments parsed, when they parse as JSON; otherwise the raw text as a JSON string
  // and arguments_parsed false.
  nlohmann::json arguments = nlohmann::json::object();
  bool arguments_parsed = true;

  bool operator==(const ToolCall&) const = default;
};

// A call whose arguments arrive as text (OpenAI sends a JSON string): parsed when they parse.
ToolCall tool_call(std::string id, std::string name, std::string_view arguments_text);

// [{"id", "name", "arguments"}] (with "arguments_parsed": false for raw arguments), as results
// and the cache write it; the reader keeps what is of the right type.
nlohmann::json to_json(const std::vector<ToolCall>& calls);
std::vector<ToolCall> tool_calls_from_json(const nlohmann::json& calls);

// Token counts with one meaning everywhere: input_tokens is all input, cached included, with
// sub-counts cached_input_tokens (read from a prompt cache) and cache_write_tokens (written to
// one); output_tokens is all output, reasoning included, with sub-count reasoning_tokens.
// Unset: the provider did not say.
struct Usage {
  std::optional<std::int64_t> input_tokens{};
  std::optional<std::int64_t> output_tokens{};
  std::optional<std::int64_t> cached_input_tokens{};
  std::optional<std::int64_t> cache_write_tokens{};
  std::optional<std::int64_t> reasoning_tokens{};
  // Why the counts the reply gave were not taken ("prompt_tokens -1000000000 is negative"):
  // then every count is unset and the cost unknown. "" when they were taken, or none came.
  std::string invalid{};

  bool operator==(const Usage&) const = default;
};

// The largest token count taken as true (10^12: a million times a large context window). A
// count must be a whole number from 0 to this; anything else is a server's bug or an attack.
inline constexpr std::int64_t k_max_token_count = 1'000'000'000'000;

// The one rule for a token count a reply gives: takes `value` (the JSON a vendor sent as
// `name`, null when it sent none) into `usage`.*`count` when it is a whole number from 0 to
// k_max_token_count. Any other number makes the whole usage invalid (Usage::invalid says why,
// every count unset); what is not a number leaves the count unset. Nothing is taken once
// `usage` is invalid.
template <typename Json>
void read_count(Usage& usage, std::optional<std::int64_t> Usage::*count, const Json* value,
                std::string_view name);

// The note a reply gets when its usage is invalid ("the reply's token counts were not taken:
// ..."), or std::nullopt.
std::optional<std::string> usage_note(const Usage& usage);

// {"input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
// "reasoning_tokens"}, the unset ones left out.
nlohmann::json to_json(const Usage& usage);
// The reader of the same, by read_count's rule: what is missing or not a number stays unset; a
// number out of range makes the usage invalid.
template <typename Json> Usage usage_from_json(const Json& usage);

// A provider's prices in its currency per million tokens (promptops.yaml's `pricing`).
struct Pricing {
  std::optional<double> input_per_mtok{};
  std::optional<double> output_per_mtok{};
  std::optional<double> cached_input_per_mtok{}; // unset: the vendor's ratio to input_per_mtok
  std::optional<double> cache_write_per_mtok{};  // unset: the vendor's ratio to input_per_mtok

  bool empty() const { return !input_per_mtok && !output_per_mtok; }
};

// `pricing` with the cache prices a vendor publishes filled in where only the input price was
// given (provider type "openai", "anthropic"; others: cached and written input at the input
// price). docs/file-formats.md gives the ratios and their date.
Pricing with_vendor_defaults(Pricing pricing, std::string_view provider_type);

// promptops.yaml's `pricing` object of a provider of `provider_type`, vendor defaults applied;
// empty when it has no price (or is not an object: the config's schema has refused that).
Pricing pricing_from_json(const nlohmann::json& pricing, std::string_view provider_type);

// What `usage` costs at `pricing`: uncached input at the input price, cached input and cache
// writes at theirs, output (reasoning included) at the output price. std::nullopt when the
// pricing is empty, a priced count is missing or the usage is invalid (a cost that is unknown,
// never smaller, never negative).
std::optional<double> cost(const Pricing& pricing, const Usage& usage);

// What a reply says, apart from its text, for the evaluators and the trust rule.
struct Facts {
  FinishReason finish_reason = FinishReason::unknown;
  std::string vendor_finish_reason; // as the vendor sent it ("end_turn", "MAX_TOKENS")
  std::string refusal;              // the refusal text a vendor sent apart ("" : none)
  std::vector<ToolCall> tool_calls;

  // The vendor's refusal signal: a refusal stop reason, or refusal text sent apart.
  bool refused() const { return finish_reason == FinishReason::refusal || !refusal.empty(); }
};

// The facts an object holds as results and the cache write them ("finish_reason",
// "vendor_finish_reason", "refusal", "tool_calls"); what is missing or of another type stays
// unset (an unknown stop reason).
template <typename Json> Facts facts_from_json(const Json& object);

// What a suite or evaluator may allow of a reply the trust rule would fail.
enum class Allowance { length, refusal, tool_calls, content_filter, empty };
using Allowances = std::set<Allowance>;

// "length", ...; the inverse returns std::nullopt for an unknown word.
const char* to_string(Allowance allowance);
std::optional<Allowance> allowance_from_string(std::string_view text);

// The trust rule: why an evaluator of the reply's text cannot pass on it (cut at the token
// limit, refused, blocked by a content filter, tool calls instead of an answer, empty), or
// std::nullopt when the reply is an answer or what makes it unusable is allowed.
std::optional<std::string> unusable_reason(std::string_view output, const Facts& facts,
                                           const Allowances& allowed);

} // namespace promptops::reply
