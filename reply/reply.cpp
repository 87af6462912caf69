#include "reply/reply.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace promptops::reply {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<FinishReason, const char*>, 6> k_finish_reasons{{
    {FinishReason::stop, "stop"},
    {FinishReason::length, "length"},
    {FinishReason::tool_calls, "tool_calls"},
    {FinishReason::refusal, "refusal"},
    {FinishReason::content_filter, "content_filter"},
    {FinishReason::error, "error"},
}};

constexpr std::array<std::pair<Allowance, const char*>, 5> k_allowances{{
    {Allowance::length, "length"},
    {Allowance::refusal, "refusal"},
    {Allowance::tool_calls, "tool_calls"},
    {Allowance::content_filter, "content_filter"},
    {Allowance::empty, "empty"},
}};

constexpr std::array<std::pair<const char*, std::optional<std::int64_t> Usage::*>, 5> k_counts{{
    {"input_tokens", &Usage::input_tokens},
    {"output_tokens", &Usage::output_tokens},
    {"cached_input_tokens", &Usage::cached_input_tokens},
    {"cache_write_tokens", &Usage::cache_write_tokens},
    {"reasoning_tokens", &Usage::reasoning_tokens},
}};

bool allowed(const Allowances& allowances, Allowance a) {
  return allowances.count(a) != 0;
}

} // namespace

const char* to_string(FinishReason reason) {
  for (const auto& [value, text] : k_finish_reasons) {
    if (value == reason) {
      return text;
    }
  }
  return "";
}

FinishReason finish_reason_from_string(std::string_view text) {
  for (const auto& [value, name] : k_finish_reasons) {
    if (text == name) {
      return value;
    }
  }
  return FinishReason::unknown;
}

ToolCall tool_call(std::string id, std::string name, std::string_view arguments_text) {
  ToolCall call;
  call.id = std::move(id);
  call.name = std::move(name);
  // Some servers send "" for a call without arguments: that is no arguments, not bad ones.
  if (arguments_text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return call;
  }
  json parsed = json::parse(arguments_text, nullptr, false);
  if (parsed.is_discarded()) {
    call.arguments = std::string(arguments_text);
    call.arguments_parsed = false;
  } else {
    call.arguments = std::move(parsed);
  }
  return call;
}

json to_json(const std::vector<ToolCall>& calls) {
  json out = json::array();
  for (const ToolCall& c : calls) {
    json j = {{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}};
    if (!c.arguments_parsed) {
      j["arguments_parsed"] = false;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<ToolCall> tool_calls_from_json(const json& calls) {
  std::vector<ToolCall> out;
  if (!calls.is_array()) {
    return out;
  }
  for (const json& c : calls) {
    if (!c.is_object()) {
      continue;
    }
    ToolCall call;
    if (auto it = c.find("id"); it != c.end() && it->is_string()) {
      call.id = it->get<std::string>();
    }
    if (auto it = c.find("name"); it != c.end() && it->is_string()) {
      call.name = it->get<std::string>();
    }
    if (auto it = c.find("arguments"); it != c.end()) {
      call.arguments = *it;
    }
    if (auto it = c.find("arguments_parsed"); it != c.end() && it->is_boolean()) {
      call.arguments_parsed = it->get<bool>();
    }
    out.push_back(std::move(call));
  }
  return out;
}

json to_json(const Usage& usage) {
  json out = json::object();
  for (const auto& [key, member] : k_counts) {
    if (const auto& value = usage.*member) {
      out[key] = *value;
    }
  }
  return out;
}

template <typename Json>
void read_count(Usage& usage, std::optional<std::int64_t> Usage::*count, const Json* value,
                std::string_view name) {
  if (!usage.invalid.empty() || value == nullptr || !value->is_number()) {
    return;
  }
  std::string problem;
  if (value->is_number_unsigned()) {
    // Above INT64_MAX, read as signed, 2^64 - 1 was -1.
    if (value->template get<std::uint64_t>() <= static_cast<std::uint64_t>(k_max_token_count)) {
      usage.*count = static_cast<std::int64_t>(value->template get<std::uint64_t>());
      return;
    }
    problem = "is over 10^12";
  } else if (value->is_number_integer()) {
    const auto n = value->template get<std::int64_t>();
    if (n >= 0 && n <= k_max_token_count) {
      usage.*count = n;
      return;
    }
    problem = n < 0 ? "is negative" : "is over 10^12";
  } else {
    const double d = value->template get<double>();
    if (d >= 0 && d <= static_cast<double>(k_max_token_count) && std::floor(d) == d) {
      usage.*count = static_cast<std::int64_t>(d); // 12.0: a count written as a float
      return;
    }
    problem = d < 0                ? "is negative"
              : std::floor(d) != d ? "is not a whole number"
                                   : "is over 10^12";
  }
  usage = Usage{};
  usage.invalid = std::string(name) + " " + value->dump() + " " + problem;
}

template void read_count<json>(Usage&, std::optional<std::int64_t> Usage::*, const json*,
                               std::string_view);
template void read_count<nlohmann::ordered_json>(Usage&, std::optional<std::int64_t> Usage::*,
                                                 const nlohmann::ordered_json*, std::string_view);

std::optional<std::string> usage_note(const Usage& usage) {
  if (usage.invalid.empty()) {
    return std::nullopt;
  }
  return "the reply's token counts were not taken: " + usage.invalid +
         " (counts are whole numbers from 0 to 10^12); its usage and cost are unknown";
}

template <typename Json> Usage usage_from_json(const Json& usage) {
  Usage out;
  if (!usage.is_object()) {
    return out;
  }
  for (const auto& [key, member] : k_counts) {
    const auto it = usage.find(key);
    read_count(out, member, it == usage.end() ? nullptr : &*it, key);
  }
  return out;
}

template <typename Json> Facts facts_from_json(const Json& object) {
  Facts out;
  if (!object.is_object()) {
    return out;
  }
  const auto text = [&object](const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->template get<std::string>() : std::string();
  };
  out.finish_reason = finish_reason_from_string(text("finish_reason"));
  out.vendor_finish_reason = text("vendor_finish_reason");
  out.refusal = text("refusal");
  if (const auto calls = object.find("tool_calls");
      calls != object.end() && calls->is_array() && !calls->empty()) {
    out.tool_calls = tool_calls_from_json(json(*calls));
  }
  return out;
}

template Facts facts_from_json<json>(const json& object);
template Facts facts_from_json<nlohmann::ordered_json>(const nlohmann::ordered_json& object);

template Usage usage_from_json<json>(const json& usage);
template Usage usage_from_json<nlohmann::ordered_json>(const nlohmann::ordered_json& usage);

Pricing pricing_from_json(const json& pricing, std::string_view provider_type) {
  Pricing out;
  if (!pricing.is_object()) {
    return out;
  }
  for (auto [key, member] : {std::pair{"input_per_mtok", &Pricing::input_per_mtok},
                             std::pair{"output_per_mtok", &Pricing::output_per_mtok},
                             std::pair{"cached_input_per_mtok", &Pricing::cached_input_per_mtok},
                             std::pair{"cache_write_per_mtok", &Pricing::cache_write_per_mtok}}) {
    if (const auto it = pricing.find(key); it != pricing.end() && it->is_number()) {
      out.*member = it->get<double>();
    }
  }
  return with_vendor_defaults(out, provider_type);
}

Pricing with_vendor_defaults(Pricing pricing, std::string_view provider_type) {
  if (!pricing.input_per_mtok) {
    return pricing;
  }
  const double input = *pricing.input_per_mtok;
  // Published ratios, checked 2026-12 (docs/file-formats.md#pricing): Anthropic bills cache
  // reads at 0.1x and five-minute cache writes at 1.25x the input price; OpenAI bills cached
  // input at 0.5x (GPT-4o; newer models less: give cached_input_per_mtok) and writes nothing
  // extra.
  double cached = 1.0;
  double write = 1.0;
  if (provider_type == "anthropic") {
    cached = 0.1;
    write = 1.25;
  } else if (provider_type == "openai") {
    cached = 0.5;
  }
  if (!pricing.cached_input_per_mtok) {
    pricing.cached_input_per_mtok = input * cached;
  }
  if (!pricing.cache_write_per_mtok) {
    pricing.cache_write_per_mtok = input * write;
  }
  return pricing;
}

std::optional<double> cost(const Pricing& pricing, const Usage& usage) {
  if (pricing.empty() || !usage.invalid.empty()) {
    return std::nullopt;
  }
  // A negative price (refused by promptops.yaml's schema, possible in code) is no price.
  for (const auto& price : {pricing.input_per_mtok, pricing.output_per_mtok,
                            pricing.cached_input_per_mtok, pricing.cache_write_per_mtok}) {
    if (price && !(*price >= 0)) {
      return std::nullopt;
    }
  }
  // A price without its tokens makes the cost unknown, not smaller.
  if ((pricing.input_per_mtok && !usage.input_tokens) ||
      (pricing.output_per_mtok && !usage.output_tokens)) {
    return std::nullopt;
  }
  const double in_price = pricing.input_per_mtok.value_or(0);
  const auto total_in = static_cast<double>(usage.input_tokens.value_or(0));
  // Sub-counts are clamped into the whole: a server's odd numbers never make a cost negative.
  const double cached =
      std::clamp(static_cast<double>(usage.cached_input_tokens.value_or(0)), 0.0, total_in);
  const double written =
      std::clamp(static_cast<double>(usage.cache_write_tokens.value_or(0)), 0.0, total_in - cached);
  const double plain = total_in - cached - written;
  const double input_cost = plain * in_price +
                            cached * pricing.cached_input_per_mtok.value_or(in_price) +
                            written * pricing.cache_write_per_mtok.value_or(in_price);
  const double output_cost =
      static_cast<double>(usage.output_tokens.value_or(0)) * pricing.output_per_mtok.value_or(0);
  return (input_cost + output_cost) / 1e6;
}

const char* to_string(Allowance allowance) {
  for (const auto& [value, text] : k_allowances) {
    if (value == allowance) {
      return text;
    }
  }
  return "";
}

std::optional<Allowance> allowance_from_string(std::string_view text) {
  for (const auto& [value, name] : k_allowances) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> unusable_reason(std::string_view output, const Facts& facts,
                                           const Allowances& allowances) {
  const bool has_text = output.find_first_not_of(" \t\r\n") != std::string_view::npos;
  switch (facts.finish_reason) {
  case FinishReason::length:
    if (!allowed(allowances, Allowance::length)) {
      return std::string("the reply was cut at the token limit (finish_reason length") +
             (facts.vendor_finish_reason.empty()
                  ? ""
                  : ", " + util::text::quote(facts.vendor_finish_reason, 40)) +
             "); allow: [length] accepts it";
    }
    break;
  case FinishReason::content_filter:
    if (!allowed(allowances, Allowance::content_filter)) {
      return std::string("the provider's content filter blocked the reply (finish_reason "
                         "content_filter); allow: [content_filter] accepts it");
    }
    break;
  default:
    break;
  }
  if (facts.refused() && !allowed(allowances, Allowance::refusal)) {
    return "the model refused" +
           (facts.refusal.empty() ? std::string() : ": " + util::text::quote(facts.refusal)) +
           "; allow: [refusal] accepts it";
  }
  if ((!facts.tool_calls.empty() || facts.finish_reason == FinishReason::tool_calls) &&
      !allowed(allowances, Allowance::tool_calls)) {
    return std::string(
        "the model called tools instead of answering; allow: [tool_calls] accepts it");
  }
  if (!has_text && facts.tool_calls.empty() && !allowed(allowances, Allowance::empty)) {
    return std::string("the reply is empty") +
           (facts.vendor_finish_reason.empty()
                ? ""
                : " (finish_reason " + util::text::quote(facts.vendor_finish_reason, 40) + ")") +
           "; allow: [empty] accepts it";
  }
  return std::nullopt;
}

} // namespace promptops::reply
