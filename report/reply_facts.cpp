#include "report/reply_facts.hpp"

#include "util/json_write.hpp"
#include "util/text.hpp"

namespace promptops::report {
namespace {

// Enough of a call's arguments to recognise it; results.jsonl has them whole.
constexpr std::size_t k_max_argument_chars = 200;

} // namespace

std::string reply_facts_text(const golden::CaseResult& result) {
  const reply::Facts& facts = result.facts;
  std::string out;
  const bool unusual = facts.finish_reason != reply::FinishReason::stop &&
                       facts.finish_reason != reply::FinishReason::unknown;
  if (unusual) {
    out += std::string("finish_reason ") + reply::to_string(facts.finish_reason);
    if (!facts.vendor_finish_reason.empty() &&
        facts.vendor_finish_reason != reply::to_string(facts.finish_reason)) {
      out += " (" + facts.vendor_finish_reason + ")";
    }
    out += "\n";
  }
  for (const reply::ToolCall& call : facts.tool_calls) {
    const std::string arguments = call.arguments_parsed        ? util::dump_json(call.arguments)
                                  : call.arguments.is_string() ? call.arguments.get<std::string>()
                                                               : util::dump_json(call.arguments);
    out += "tool call: " + call.name + "(" +
           util::text::truncate_utf8(arguments, k_max_argument_chars, "...") + ")" +
           (call.arguments_parsed ? "" : " [arguments are not JSON]") + "\n";
  }
  if (!facts.refusal.empty()) {
    out += "refused: " + facts.refusal + "\n";
  }
  for (const std::string& note : result.notes) {
    out += "note: " + note + "\n";
  }
  return out;
}

} // namespace promptops::report
