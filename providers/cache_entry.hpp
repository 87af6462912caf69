#pragma once

#include "providers/provider.hpp"

#include <nlohmann/json.hpp>

#include <optional>

// A reply as the response cache keeps it, and the one reader that checks an entry before a
// run trusts it: anyone who can write the cache's file can write anything into an entry.
namespace promptops::providers {

// The entry of an answered `reply`: {"output", "model", "system_fingerprint", "latency_ms",
// "usage", "finish_reason", "vendor_finish_reason"}, and "refusal", "tool_calls", "notes" and
// "usage_invalid" (why the reply's counts were refused) when it has them. Its cost, attempts
// and error are not kept (the cost is priced again).
nlohmann::json cache_entry(const Reply& reply);

// The reply an entry holds (ok and cached, latency as stored), or std::nullopt when `entry`
// is not one: not an object; "output" missing or not a string; "latency_ms" missing or not a
// finite number >= 0; "model", "system_fingerprint", "finish_reason" (one of
// reply::FinishReason's words), "vendor_finish_reason", "refusal" or "usage_invalid" present
// but not a string; "usage" present but not counts that reply::usage_from_json takes (its
// range rule) and reads back whole; "tool_calls" present but not an array of {"id", "name",
// "arguments"}; "notes" present but not an array of strings. Entries written before the reply
// model (no finish reason, no usage) are valid.
std::optional<Reply> reply_from_cache_entry(const nlohmann::json& entry);

} // namespace promptops::providers
