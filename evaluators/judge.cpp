#include "evaluators/judge.hpp"

#include "evaluators/text.hpp"
#include "util/text.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <string>

namespace promptops::evaluators::judge {
namespace {

using nlohmann::json;

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

// The tags that hold a reasoning model's thoughts in its reply text.
struct ReasoningTag {
  std::string_view open;
  std::string_view close;
};
constexpr std::array<ReasoningTag, 3> k_reasoning_tags = {
    {{"<think>", "</think>"}, {"<thinking>", "</thinking>"}, {"<reasoning>", "</reasoning>"}}};

// Finds one tag again only once the scan has passed it: linear however many tags there are.
class TagFinder {
public:
  TagFinder(const std::string& text, std::string_view tag) : m_text(text), m_tag(tag) {}
  std::size_t next(std::size_t from) {
    if (m_at != std::string::npos && (m_at < from || !m_found)) {
      m_at = m_text.find(m_tag, from);
      m_found = true;
    }
    return m_at;
  }

private:
  const std::string& m_text;
  std::string_view m_tag;
  std::size_t m_at = 0;
  bool m_found = false;
};

bool is_verdict(const json& object) {
  return object.contains("score") || object.contains("pass");
}

bool is_preference(const json& object) {
  return object.contains("winner");
}

// The reply's verdict object: the last object `wanted` accepts in its final answer. Sets
// `problem` when there is none; `what` names what was looked for.
std::optional<json> reply_object(std::string_view reply, bool (*wanted)(const json&),
                                 std::string_view what, std::string& problem) {
  if (util::text::trim(reply).empty()) {
    problem = "the judge's reply is empty";
    return std::nullopt;
  }
  const std::string answer = final_answer(reply);
  if (util::text::trim(answer).empty()) {
    problem = "the judge's reply holds nothing outside its reasoning (<think>...</think>): " +
              util::text::quote(reply);
    return std::nullopt;
  }
  if (util::text::nests_deeper(answer, util::text::k_max_json_depth)) {
    problem = "the judge's reply nests brackets more than " +
              std::to_string(util::text::k_max_json_depth) + " levels deep";
    return std::nullopt;
  }
  text::LastObject found = text::last_object(answer, wanted);
  if (found.wanted) {
    return std::move(found.wanted);
  }
  if (found.gave_up) {
    problem = "the judge's reply has too many braces that never close to find its verdict: " +
              util::text::quote(answer);
  } else if (!found.last) {
    problem = "the judge's reply holds no JSON object: " + util::text::quote(answer);
  } else {
    problem = "the judge's verdict has no " + std::string(what) + ": " +
              util::text::show_json(*found.last);
  }
  return std::nullopt;
}

std::string reason_of(const json& verdict) {
  const auto it = verdict.find("reason");
  return it != verdict.end() && it->is_string() ? it->get<std::string>() : "";
}

// Counts of a vote, for reasons: "2 of 3".
std::string of(std::size_t part, std::size_t whole) {
  return std::to_string(part) + " of " + std::to_string(whole);
}

Evaluation undecided(std::string reason) {
  Evaluation e;
  e.error = true;
  e.reason = std::move(reason);
  return e;
}

std::string first_problem(const std::vector<std::string>& problems) {
  return problems.empty() ? "" : "; " + problems.front();
}

} // namespace

Options read_options(const nlohmann::json& spec) {
  Options o;
  o.provider = spec.value("provider", "");
  o.rubric = spec.value("rubric", "");
  if (const auto t = spec.find("threshold"); t != spec.end() && t->is_number()) {
    o.threshold = t->get<double>();
  }
  if (const auto n = spec.find("n"); n != spec.end() && n->is_number_integer()) {
    o.n = std::max(1, n->get<int>());
  }
  if (const auto p = spec.find("pairwise"); p != spec.end() && p->is_boolean()) {
    o.pairwise = p->get<bool>();
  }
  if (const auto p = spec.find("prompt"); p != spec.end() && p->is_string()) {
    o.prompt = p->get<std::string>();
  }
  return o;
}

std::string default_prompt_name(bool pairwise) {
  return pairwise ? "promptops/judge-pairwise" : "promptops/judge";
}

std::string final_answer(std::string_view reply) {
  const std::string lower = util::text::ascii_lower(reply);
  std::vector<TagFinder> opens;
  std::vector<TagFinder> closes;
  for (const ReasoningTag& tag : k_reasoning_tags) {
    opens.emplace_back(lower, tag.open);
    closes.emplace_back(lower, tag.close);
  }
  std::string out;
  std::size_t pos = 0;
  while (pos < lower.size()) {
    // The first tag from `pos` on, opening or closing.
    std::size_t at = std::string::npos;
    std::size_t which = 0;
    bool opening = false;
    for (std::size_t k = 0; k < k_reasoning_tags.size(); ++k) {
      if (const std::size_t o = opens[k].next(pos); o < at) {
        at = o;
        which = k;
        opening = true;
      }
      if (const std::size_t c = closes[k].next(pos); c < at) {
        at = c;
        which = k;
        opening = false;
      }
    }
    if (at == std::string::npos) {
      out.append(reply.substr(pos));
      break;
    }
    if (!opening) {
      // A closing tag never opened here: the template opened it, all before it is reasoning.
      out.clear();
      pos = at + k_reasoning_tags[which].close.size();
      continue;
    }
    out.append(reply.substr(pos, at - pos));
    const std::size_t close = closes[which].next(at + k_reasoning_tags[which].open.size());
    if (close == std::string::npos) {
      break; // never closed: the rest is reasoning (a reply cut while thinking)
    }
    pos = close + k_reasoning_tags[which].close.size();
  }
  return out;
}

Verdict read_verdict(std::string_view reply) {
  Verdict v;
  const std::optional<json> j =
      reply_object(reply, is_verdict, "\"score\" or \"pass\" (a verdict)", v.problem);
  if (!j) {
    return v;
  }
  const auto score = j->find("score");
  const auto pass = j->find("pass");
  const auto reason = j->find("reason");
  std::string missing;
  if (score == j->end() || !score->is_number()) {
    missing = "\"score\" (a number from 0 to 1)";
  } else if (pass == j->end() || !pass->is_boolean()) {
    missing = "\"pass\" (true or false)";
  } else if (reason == j->end() || !reason->is_string()) {
    missing = "\"reason\" (text)";
  }
  if (!missing.empty()) {
    v.problem = "the judge's verdict has no " + missing + ": " + util::text::show_json(*j);
    return v;
  }
  const double s = score->get<double>();
  if (!(s >= 0 && s <= 1)) {
    v.problem = "the judge's score " + util::text::show_json(*score) + " is outside 0..1";
    return v;
  }
  v.score = s;
  v.pass = pass->get<bool>();
  v.reason = reason->get<std::string>();
  return v;
}

Preference read_preference(std::string_view reply) {
  Preference p;
  const std::optional<json> j =
      reply_object(reply, is_preference, "\"winner\" (\"A\", \"B\" or \"tie\")", p.problem);
  if (!j) {
    return p;
  }
  const auto winner = j->find("winner");
  const std::string w = winner != j->end() && winner->is_string() ? winner->get<std::string>() : "";
  if (w == "A" || w == "a") {
    p.winner = Winner::a;
  } else if (w == "B" || w == "b") {
    p.winner = Winner::b;
  } else if (w == "tie" || w == "TIE" || w == "Tie") {
    p.winner = Winner::tie;
  } else {
    p.problem = "the judge's verdict has no \"winner\" (\"A\", \"B\" or \"tie\"): " +
                util::text::show_json(*j);
    return p;
  }
  p.reason = reason_of(*j);
  return p;
}

Evaluation grade(const Options& options, const std::vector<Answer>& answers) {
  const std::size_t n = answers.size();
  std::size_t passes = 0;
  std::size_t fails = 0;
  double score_sum = 0;
  std::vector<std::string> problems;
  std::vector<std::string> scores;
  std::string pass_reason;
  std::string fail_reason;
  for (const Answer& a : answers) {
    if (!a.ok) {
      problems.push_back("the judge call failed: " + a.error);
      continue;
    }
    const Verdict v = read_verdict(a.text);
    if (!v.problem.empty()) {
      problems.push_back(v.problem);
      continue;
    }
    const bool pass = v.pass && (!options.threshold || *v.score + 1e-12 >= *options.threshold);
    (pass ? passes : fails) += 1;
    score_sum += *v.score;
    scores.push_back(number(*v.score));
    std::string& reason = pass ? pass_reason : fail_reason;
    if (reason.empty()) {
      reason = v.reason;
      if (v.pass && !pass) {
        // The judge said pass but the score missed the threshold.
        std::string under = "under the threshold " + number(*options.threshold);
        if (!reason.empty()) {
          under += ": " + reason;
        }
        reason = std::move(under);
      }
    }
  }
  const std::size_t majority = n / 2 + 1;
  const std::size_t readable = passes + fails;
  if (passes < majority && fails < majority && readable < n) {
    return undecided("llm_judge could not decide: " + of(readable, n) + " verdicts readable (" +
                     std::to_string(passes) + " pass, " + std::to_string(fails) + " fail)" +
                     first_problem(problems));
  }
  Evaluation e;
  e.pass = passes >= majority;
  e.score = score_sum / static_cast<double>(readable);
  std::string votes;
  if (n > 1) {
    std::string list;
    for (const auto& s : scores) {
      list += (list.empty() ? "" : ", ") + s;
    }
    votes = of(passes, n) + " judges passed it (scores " + list + ")";
  } else {
    votes = "score " + scores.front();
  }
  if (!e.pass && passes == fails) {
    e.reason = "a split vote fails: " + votes + " (an odd n avoids ties)";
  } else {
    const std::string& reason = e.pass ? pass_reason : fail_reason;
    e.reason = votes + (reason.empty() ? "" : ": " + reason);
  }
  return e;
}

Evaluation compare(const Options& options, const std::vector<std::pair<Answer, Answer>>& answers) {
  const std::size_t n = answers.size();
  std::size_t wins = 0;
  std::size_t losses = 0;
  std::size_t ties = 0;
  std::size_t biased = 0; // ties where each order preferred whichever came first (or second)
  std::vector<std::string> problems;
  std::string win_reason;
  std::string loss_reason;
  std::string tie_reason;
  for (const auto& [as_a, as_b] : answers) {
    Preference p[2];
    bool readable = true;
    for (int k = 0; k < 2; ++k) {
      const Answer& a = k == 0 ? as_a : as_b;
      if (!a.ok) {
        problems.push_back("the judge call failed: " + a.error);
        readable = false;
        break;
      }
      p[k] = read_preference(a.text);
      if (!p[k].problem.empty()) {
        problems.push_back(p[k].problem);
        readable = false;
        break;
      }
    }
    if (!readable) {
      continue;
    }
    // The candidate is A in the first order and B in the second.
    const bool won_first = p[0].winner == Winner::a;
    const bool won_second = p[1].winner == Winner::b;
    const bool lost_first = p[0].winner == Winner::b;
    const bool lost_second = p[1].winner == Winner::a;
    if (won_first && won_second) {
      ++wins;
      if (win_reason.empty()) {
        win_reason = p[0].reason;
      }
    } else if (lost_first && lost_second) {
      ++losses;
      if (loss_reason.empty()) {
        loss_reason = p[0].reason;
      }
    } else {
      ++ties;
      if (p[0].winner != Winner::tie && p[0].winner == p[1].winner) {
        ++biased;
      }
      if (tie_reason.empty()) {
        tie_reason = p[0].reason;
      }
    }
  }
  const std::size_t majority = n / 2 + 1;
  const std::size_t readable = wins + losses + ties;
  if (wins < majority && losses < majority && ties < majority && readable < n) {
    return undecided("llm_judge (pairwise) could not decide: " + of(readable, n) +
                     " comparisons readable" + first_problem(problems));
  }
  const double threshold = options.threshold.value_or(0.5);
  Evaluation e;
  std::string what;
  std::string reason;
  if (wins >= majority) {
    e.score = 1;
    what = "better than the baseline in both orders";
    reason = win_reason;
  } else if (losses >= majority) {
    e.score = 0;
    what = "worse than the baseline in both orders";
    reason = loss_reason;
  } else {
    e.score = 0.5;
    what = "no better or worse than the baseline";
    if (biased > 0) {
      what += " (the judge preferred the same position in both orders: position bias, counted "
              "as a tie)";
    }
    reason = tie_reason;
  }
  if (n > 1) {
    what += " (" + std::to_string(wins) + " wins, " + std::to_string(ties) + " ties, " +
            std::to_string(losses) + " losses of " + std::to_string(n) + ")";
  }
  e.pass = e.score + 1e-12 >= threshold;
  e.reason = what + (reason.empty() ? "" : ": " + reason);
  return e;
}

namespace {

std::string reference_text(const json& expected) {
  if (expected.is_null()) {
    return "";
  }
  if (expected.is_string()) {
    return expected.get<std::string>();
  }
  return expected.dump(-1, ' ', false, json::error_handler_t::replace);
}

json common_vars(const Options& options, const json& expected, const std::string& input,
                 const json& vars) {
  return {{"rubric", options.rubric},
          {"expected", reference_text(expected)},
          {"input", input},
          {"vars", vars.is_object() ? vars : json::object()}};
}

} // namespace

nlohmann::json grading_vars(const Options& options, const std::string& output,
                            const nlohmann::json& expected, const std::string& input,
                            const nlohmann::json& vars) {
  json v = common_vars(options, expected, input, vars);
  v["output"] = output;
  return v;
}

nlohmann::json pairwise_vars(const Options& options, const std::string& first,
                             const std::string& second, const nlohmann::json& expected,
                             const std::string& input, const nlohmann::json& vars) {
  json v = common_vars(options, expected, input, vars);
  v["output_a"] = first;
  v["output_b"] = second;
  return v;
}

} // namespace promptops::evaluators::judge
