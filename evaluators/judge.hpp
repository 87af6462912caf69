#pragma once

#include "evaluators/evaluator.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// llm_judge: a model grades an output against a rubric. The runner renders the judge prompt
// and makes the calls; this reads the options, the judge's answers and the vote.
namespace promptops::evaluators::judge {

// An llm_judge spec, read (check_spec has checked it).
struct Options {
  std::string provider;
  std::string rubric;
  std::optional<double> threshold;
  int n = 1;             // samples, decided by majority
  bool pairwise = false; // compare with the baseline's output instead of grading alone
  std::string prompt;    // the judge prompt's name in the registry; "" for the default
};

Options read_options(const nlohmann::json& spec);

// The judge prompt used when the spec names none: a registry prompt of this name overrides
// the built-in one.
std::string default_prompt_name(bool pairwise);

// One call's result: the judge's reply, or why there is none.
struct Answer {
  bool ok = false;
  std::string text;  // the reply when ok
  std::string error; // the provider's error otherwise
};

// The judge's reply without its reasoning: the sections between <think> and </think> (also
// <thinking>, <reasoning>; ASCII case ignored) are left out, an opening tag that is never closed
// hides everything after it, and a closing tag with no opening tag before it hides everything
// before it (DeepSeek-R1 and QwQ-32B chat templates open <think> in the prompt, so that the
// reply holds only "</think>").
std::string final_answer(std::string_view reply);

// The verdict is the LAST JSON object of the final answer that has "score" or "pass" (alone, in
// a code fence or after prose): a judge drafts verdicts while it reasons, and quotes the
// candidate's JSON, which has neither key. That object must then be a whole verdict.
// {"score": 0..1, "pass": bool, "reason": text}; or why it is not one.
struct Verdict {
  std::optional<double> score;
  bool pass = false;
  std::string reason;
  std::string problem; // set when the reply is not a verdict
};
Verdict read_verdict(std::string_view reply);

// {"winner": "A" | "B" | "tie", "reason": text}: the last object of the final answer with
// "winner", as for read_verdict.
enum class Winner { a, b, tie };
struct Preference {
  Winner winner = Winner::tie;
  std::string reason;
  std::string problem; // set when the reply is not a preference
};
Preference read_preference(std::string_view reply);

// Grading: `answers` holds the n samples. Each sample passes when the judge says pass and,
// with a threshold, its score reaches it. The majority of n decides; a sample whose call
// failed or whose verdict cannot be read counts for neither side, and when the missing
// samples could have changed the outcome the evaluation is an error (never a pass). An even
// split of readable verdicts fails. The score is the mean of the readable scores.
Evaluation grade(const Options& options, const std::vector<Answer>& answers);

// Pairwise: `answers` holds n pairs, each the judge's answer with the candidate's output as A
// (the first of the pair) and then as B. A sample is a win when both orders prefer the
// candidate, a loss when both prefer the baseline, and a tie otherwise (a disagreement between
// orders is position bias, not a preference). The majority outcome of n decides (none: a tie);
// unreadable samples count as in grade(). Scores: win 1, tie 0.5, loss 0; it passes at the
// threshold, 0.5 by default (no worse than the baseline).
Evaluation compare(const Options& options, const std::vector<std::pair<Answer, Answer>>& answers);

// The variables a judge prompt is rendered with: rubric, output, expected (the case's
// reference answer as text: a string as is, anything else as JSON; "" when none), input (the
// candidate prompt's last message), vars (the case's), and for pairwise output_a and output_b.
nlohmann::json grading_vars(const Options& options, const std::string& output,
                            const nlohmann::json& expected, const std::string& input,
                            const nlohmann::json& vars);
nlohmann::json pairwise_vars(const Options& options, const std::string& first,
                             const std::string& second, const nlohmann::json& expected,
                             const std::string& input, const nlohmann::json& vars);

} // namespace promptops::evaluators::judge
