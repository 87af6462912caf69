#include "providers/cache_entry.hpp"

#include "reply/reply.hpp"
#include "util/json_fields.hpp"

#include <cmath>
#include <string>
#include <string_view>

namespace promptops::providers {
namespace {

using nlohmann::json;

// A member that may be missing, and is a string when present.
bool string_or_missing(const json& entry, std::string_view key) {
  const auto it = entry.find(key);
  return it == entry.end() || it->is_string();
}

// The usage an entry holds is valid when the reply module takes every count (its range rule,
// read_count) and reads each back as written: a count of the wrong type or a member it does
// not know is damage too.
bool usage_valid(const json& usage) {
  if (!usage.is_object()) {
    return false;
  }
  const reply::Usage read = reply::usage_from_json(usage);
  return read.invalid.empty() && reply::to_json(read) == usage;
}

bool tool_calls_valid(const json& calls) {
  if (!calls.is_array()) {
    return false;
  }
  for (const json& call : calls) {
    if (!call.is_object() || !call.contains("arguments") || !string_or_missing(call, "id") ||
        !string_or_missing(call, "name")) {
      return false;
    }
    const auto parsed = call.find("arguments_parsed");
    // Arguments that did not parse are kept as their raw text.
    if (parsed != call.end() &&
        (!parsed->is_boolean() || (!parsed->get<bool>() && !call["arguments"].is_string()))) {
      return false;
    }
  }
  return true;
}

bool notes_valid(const json& notes) {
  if (!notes.is_array()) {
    return false;
  }
  for (const json& note : notes) {
    if (!note.is_string()) {
      return false;
    }
  }
  return true;
}

bool entry_valid(const json& entry) {
  if (!entry.is_object()) {
    return false;
  }
  const auto output = entry.find("output");
  const auto latency = entry.find("latency_ms");
  if (output == entry.end() || !output->is_string() || latency == entry.end() ||
      !latency->is_number() || !std::isfinite(latency->get<double>()) ||
      latency->get<double>() < 0) {
    return false;
  }
  for (const char* key : {"model", "system_fingerprint", "finish_reason", "vendor_finish_reason",
                          "refusal", "usage_invalid"}) {
    if (!string_or_missing(entry, key)) {
      return false;
    }
  }
  const std::string_view finish = util::string_view_field(entry, "finish_reason");
  if (finish != reply::to_string(reply::finish_reason_from_string(finish))) {
    return false; // a word promptops never writes
  }
  const auto usage = entry.find("usage");
  const auto calls = entry.find("tool_calls");
  const auto notes = entry.find("notes");
  return (usage == entry.end() || usage_valid(*usage)) &&
         (calls == entry.end() || tool_calls_valid(*calls)) &&
         (notes == entry.end() || notes_valid(*notes));
}

} // namespace

json cache_entry(const Reply& reply) {
  json entry = {{"output", reply.output},
                {"model", reply.model},
                {"system_fingerprint", reply.system_fingerprint},
                {"latency_ms", reply.latency_ms}};
  entry["usage"] = reply::to_json(reply.usage);
  if (!reply.usage.invalid.empty()) {
    entry["usage_invalid"] = reply.usage.invalid; // the counts were refused: none are kept
  }
  entry["finish_reason"] = reply::to_string(reply.facts.finish_reason);
  entry["vendor_finish_reason"] = reply.facts.vendor_finish_reason;
  if (!reply.facts.refusal.empty()) {
    entry["refusal"] = reply.facts.refusal;
  }
  if (!reply.facts.tool_calls.empty()) {
    entry["tool_calls"] = reply::to_json(reply.facts.tool_calls);
  }
  if (!reply.notes.empty()) {
    entry["notes"] = reply.notes;
  }
  return entry;
}

std::optional<Reply> reply_from_cache_entry(const json& entry) {
  if (!entry_valid(entry)) {
    return std::nullopt;
  }
  Reply r;
  r.ok = true;
  r.cached = true;
  r.output = util::string_field(entry, "output");
  r.model = util::string_field(entry, "model");
  r.system_fingerprint = util::string_field(entry, "system_fingerprint");
  if (const auto usage = entry.find("usage"); usage != entry.end()) {
    r.usage = reply::usage_from_json(*usage);
  }
  if (std::string invalid = util::string_field(entry, "usage_invalid"); !invalid.empty()) {
    r.usage = reply::Usage{};
    r.usage.invalid = std::move(invalid);
  }
  r.facts = reply::facts_from_json(entry);
  if (const auto notes = entry.find("notes"); notes != entry.end()) {
    r.notes = notes->get<std::vector<std::string>>();
  }
  r.latency_ms = entry.at("latency_ms").get<double>();
  return r;
}

} // namespace promptops::providers
