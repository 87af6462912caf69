#pragma once

#include "golden/result.hpp"

#include <string>

// What a report shows of a reply besides its text, the one wording every report uses.
namespace promptops::report {

// "finish_reason length (max_tokens)", "tool calls: get_weather({"city":"Paris"})", "refused:
// ..." and "note: ...", one per line, arguments cut short; "" for a reply that stopped
// normally with text alone. Raw text from the model: each report escapes it for its language.
std::string reply_facts_text(const golden::CaseResult& result);

} // namespace promptops::report
