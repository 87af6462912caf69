#include "evaluators/judge.hpp"

#include <catch2/catch.hpp>

namespace judge = promptops::evaluators::judge;
using judge::Answer;
using nlohmann::json;

namespace {

Answer said(const std::string& text) {
  return {true, text, ""};
}

Answer failed(const std::string& error) {
  return {false, "", error};
}

std::string v(double score, bool pass, const std::string& reason = "r") {
  return json({{"score", score}, {"pass", pass}, {"reason", reason}}).dump();
}

std::string w(const std::string& winner) {
  return json({{"winner", winner}, {"reason", "because"}}).dump();
}

} // namespace

TEST_CASE("judge::read_verdict, strict fields, tolerant of fences and prose",
          "[evaluators][judge]") {
  auto ok = judge::read_verdict(v(0.75, true, "fine"));
  CHECK(ok.problem.empty());
  CHECK(*ok.score == 0.75);
  CHECK(ok.pass);
  CHECK(ok.reason == "fine");
  CHECK(judge::read_verdict("```json\n" + v(1, true) + "\n```").problem.empty());
  CHECK(judge::read_verdict("Let me think. The answer is right.\n" + v(1, true)).problem.empty());

  CHECK_THAT(judge::read_verdict("").problem, Catch::Contains("empty"));
  CHECK_THAT(judge::read_verdict("PASS").problem, Catch::Contains("holds no JSON object"));
  CHECK_THAT(judge::read_verdict("[1, 2]").problem, Catch::Contains("holds no JSON object"));
  CHECK_THAT(judge::read_verdict(R"({"pass": true, "reason": "x"})").problem,
             Catch::Contains("no \"score\""));
  CHECK_THAT(judge::read_verdict(R"({"score": 1, "pass": "yes", "reason": "x"})").problem,
             Catch::Contains("no \"pass\""));
  CHECK_THAT(judge::read_verdict(R"({"score": 1, "pass": true})").problem,
             Catch::Contains("no \"reason\""));
  CHECK_THAT(judge::read_verdict(v(8, true)).problem, Catch::Contains("outside 0..1"));
  CHECK_THAT(judge::read_verdict(v(-0.1, false)).problem, Catch::Contains("outside 0..1"));
}

// Reasoning judges write their thoughts into the reply text when the server does not take them
// apart (vLLM and SGLang without a reasoning parser, Ollama before it split them into
// `reasoning`). The shapes below are theirs:
// - DeepSeek-R1 on Ollama: "<think>\n...\n</think>\n\n" then the answer (ollama/ollama#8837);
// - DeepSeek-R1 and QwQ-32B whose chat templates open "<think>\n" in the prompt: the reply
//   holds only the closing "</think>" (deepseek-ai/DeepSeek-R1#526, vllm-project/vllm#13125,
//   xorbitsai/inference#3036; QwQ's template keeps content.split('</think>')[-1],
//   ggml-org/llama.cpp#12275);
// - Anthropic-style prompts ask for <thinking> tags; some judge prompts for <reasoning>.
TEST_CASE("judge::final_answer, without the reasoning", "[evaluators][judge]") {
  CHECK(judge::final_answer("<think>\nhmm\n</think>\n\nanswer") == "\n\nanswer");
  CHECK(judge::final_answer("hmm, so the output\n</think>\n\nanswer") == "\n\nanswer");
  CHECK(judge::final_answer("a<thinking>x</thinking>b<reasoning>y</reasoning>c") == "abc");
  CHECK(judge::final_answer("a<THINK>x</Think>b") == "ab");
  CHECK(judge::final_answer("answer <think>never closed {\"pass\": true}") == "answer ");
  CHECK(judge::final_answer("plain") == "plain");
  // A closing tag of another kind does not end a section.
  CHECK(judge::final_answer("<think>x</thinking>y</think>z") == "z");
  // Linear however many tags: a megabyte of them.
  std::string many;
  for (int i = 0; i < 60000; ++i) {
    many += "<think>x</think>{a}";
  }
  std::string braces;
  for (int i = 0; i < 60000; ++i) {
    braces += "{a}";
  }
  CHECK(judge::final_answer(many) == braces);
  CHECK_THAT(judge::read_verdict(many).problem, Catch::Contains("holds no JSON object"));
}

TEST_CASE("judge::read_verdict, stray braces cost bounded work", "[evaluators][judge]") {
  const std::string verdict = R"({"score": 1, "pass": true, "reason": "ok"})";
  // A few braces that never close, before the verdict: it is still found.
  CHECK(judge::read_verdict("{ {{ " + std::string(100000, 'x') + verdict).problem.empty());
  // Hundreds of them in two megabytes: a bounded search that gives up (an error, never a pass).
  const std::string stray = std::string(400, '{') + std::string(2 << 20, 'x') + verdict;
  CHECK_THAT(judge::read_verdict(stray).problem,
             Catch::Contains("too many braces that never close"));
}

TEST_CASE("judge::read_verdict, the last verdict outside the reasoning", "[evaluators][judge]") {
  SECTION("a draft verdict inside <think>, then the real one (DeepSeek-R1 on Ollama)") {
    const auto v = judge::read_verdict(
        "<think>\nOkay, the rubric asks whether the reply names the product. My first take: "
        "{\"score\": 0.2, \"pass\": false, \"reason\": \"no product\"}. Wait, it says "
        "\"Acme Router X2\" in the second sentence, so it does.\n</think>\n\n"
        "{\"score\": 0.9, \"pass\": true, \"reason\": \"Names the Acme Router X2.\"}");
    CHECK(v.problem.empty());
    CHECK(*v.score == 0.9);
    CHECK(v.pass);
    CHECK(v.reason == "Names the Acme Router X2.");
  }
  SECTION("the template opened <think>: only </think> in the reply (QwQ-32B, R1 on vLLM)") {
    const auto v = judge::read_verdict(
        "Let me check the output against the reference. {\"score\": 1, \"pass\": true, "
        "\"reason\": \"draft\"} would be too generous: the refund amount is wrong.\n</think>\n\n"
        "```json\n{\"score\": 0.3, \"pass\": false, \"reason\": \"Wrong refund amount.\"}\n```");
    CHECK(v.problem.empty());
    CHECK_FALSE(v.pass);
    CHECK(v.reason == "Wrong refund amount.");
  }
  SECTION("a candidate's JSON quoted before the verdict is not the verdict") {
    const auto v = judge::read_verdict(
        "The candidate answered {\"category\": \"billing\", \"confidence\": 0.4}, and the "
        "reference is {\"category\": \"billing\"}. They agree.\n"
        "{\"score\": 1, \"pass\": true, \"reason\": \"Same category as the reference.\"}");
    CHECK(v.problem.empty());
    CHECK(v.reason == "Same category as the reference.");
    // Quoted after it, too.
    CHECK(judge::read_verdict("{\"score\": 0, \"pass\": false, \"reason\": \"r\"}\nThe output "
                              "was {\"category\": \"other\"}.")
              .problem.empty());
    // Quoted alone, it is never taken for a verdict.
    CHECK_THAT(judge::read_verdict("The output is {\"category\": \"billing\"}.").problem,
               Catch::Contains("no \"score\" or \"pass\""));
  }
  SECTION("a verdict with nothing after it") {
    CHECK(judge::read_verdict("Verdict: {\"score\": 1, \"pass\": true, \"reason\": \"ok\"}")
              .problem.empty());
  }
  SECTION("the last of two verdicts decides, and must be whole") {
    const auto v = judge::read_verdict("{\"score\": 1, \"pass\": true, \"reason\": \"first\"}\n"
                                       "On reflection:\n"
                                       "{\"score\": 0, \"pass\": false, \"reason\": \"second\"}");
    CHECK(v.reason == "second");
    CHECK_FALSE(v.pass);
    CHECK_THAT(judge::read_verdict("{\"score\": 1, \"pass\": true, \"reason\": \"first\"}\n"
                                   "{\"pass\": false}")
                   .problem,
               Catch::Contains("no \"score\""));
  }
  SECTION("a verdict only inside the reasoning is not readable") {
    // Cut at the token limit while thinking: the tag never closes.
    CHECK_THAT(judge::read_verdict("<think>\nThe answer is right, so {\"score\": 1, \"pass\": "
                                   "true, \"reason\": \"right\"}. Let me double-check the")
                   .problem,
               Catch::Contains("holds nothing outside its reasoning"));
    CHECK_THAT(
        judge::read_verdict("<think>{\"score\": 1, \"pass\": true, \"reason\": \"r\"}</think>\n")
            .problem,
        Catch::Contains("holds nothing outside its reasoning"));
    CHECK_THAT(judge::read_verdict("<think>{\"score\": 1, \"pass\": true, \"reason\": \"r\"}"
                                   "</think>\nThe reply is fine.")
                   .problem,
               Catch::Contains("holds no JSON object"));
    // Unreadable is never a pass.
    const auto e = judge::grade({}, {said("<think>{\"score\": 1, \"pass\": true, \"reason\": "
                                          "\"r\"}</think>")});
    CHECK(e.error);
    CHECK_FALSE(e.pass);
  }
  SECTION("a verdict in a code fence after prose") {
    const auto v = judge::read_verdict(
        "**Assessment.** The reply is polite and names the product, but it promises a refund "
        "the policy does not allow.\n\n```json\n{\n  \"score\": 0.4,\n  \"pass\": false,\n  "
        "\"reason\": \"Promises a refund outside the policy.\"\n}\n```\n");
    CHECK(v.problem.empty());
    CHECK(*v.score == 0.4);
  }
}

TEST_CASE("judge::read_preference, the last preference outside the reasoning",
          "[evaluators][judge]") {
  const auto p = judge::read_preference(
      "<think>A is shorter, {\"winner\": \"A\"} perhaps; but B answers the question.</think>\n"
      "Output A says {\"status\": \"ok\"}.\n{\"winner\": \"B\", \"reason\": \"B answers it.\"}");
  CHECK(p.problem.empty());
  CHECK(p.winner == judge::Winner::b);
  CHECK(p.reason == "B answers it.");
  CHECK_THAT(judge::read_preference("<think>{\"winner\": \"A\", \"reason\": \"r\"}").problem,
             Catch::Contains("holds nothing outside its reasoning"));
}

TEST_CASE("judge::read_preference, A, B or tie", "[evaluators][judge]") {
  CHECK(judge::read_preference(w("A")).winner == judge::Winner::a);
  CHECK(judge::read_preference(w("b")).winner == judge::Winner::b);
  CHECK(judge::read_preference(w("tie")).winner == judge::Winner::tie);
  CHECK(judge::read_preference(w("A")).reason == "because");
  CHECK_THAT(judge::read_preference(w("C")).problem, Catch::Contains("no \"winner\""));
  CHECK_THAT(judge::read_preference(R"({"reason": "x"})").problem,
             Catch::Contains("no \"winner\""));
}

TEST_CASE("judge::grade, one sample", "[evaluators][judge]") {
  judge::Options o;
  auto e = judge::grade(o, {said(v(0.9, true, "good"))});
  CHECK(e.pass);
  CHECK_FALSE(e.error);
  CHECK(e.score == Approx(0.9));
  CHECK(e.reason == "score 0.9: good");
  e = judge::grade(o, {said(v(0.2, false, "bad"))});
  CHECK_FALSE(e.pass);
  CHECK_FALSE(e.error);
  e = judge::grade(o, {said("garbage")});
  CHECK_FALSE(e.pass);
  CHECK(e.error);
  e = judge::grade(o, {failed("HTTP 500")});
  CHECK(e.error);
  CHECK_THAT(e.reason, Catch::Contains("the judge call failed: HTTP 500"));
  SECTION("threshold: the judge's pass and its score must both hold") {
    o.threshold = 0.8;
    e = judge::grade(o, {said(v(0.7, true, "close"))});
    CHECK_FALSE(e.pass);
    CHECK(e.reason == "score 0.7: under the threshold 0.8: close");
    CHECK(judge::grade(o, {said(v(0.8, true))}).pass);
    CHECK_FALSE(judge::grade(o, {said(v(0.95, false))}).pass);
  }
}

TEST_CASE("judge::grade, n samples: majority, unreadable ones, splits", "[evaluators][judge]") {
  judge::Options o;
  o.n = 3;
  const Answer yes = said(v(1, true));
  const Answer no = said(v(0, false));
  const Answer junk = said("no idea");
  CHECK(judge::grade(o, {yes, no, yes}).pass);
  CHECK_FALSE(judge::grade(o, {no, yes, no}).pass);
  CHECK(judge::grade(o, {yes, yes, yes}).score == 1.0);
  CHECK(judge::grade(o, {yes, no, yes}).score == Approx(2.0 / 3.0));
  // Two agreeing verdicts decide whatever the third would have said.
  auto e = judge::grade(o, {yes, junk, yes});
  CHECK(e.pass);
  CHECK_FALSE(e.error);
  e = judge::grade(o, {no, failed("timeout"), no});
  CHECK_FALSE(e.pass);
  CHECK_FALSE(e.error);
  // Split, with a missing sample that could decide: an error.
  e = judge::grade(o, {yes, junk, no});
  CHECK(e.error);
  CHECK_FALSE(e.pass);
  CHECK_THAT(e.reason, Catch::Contains("could not decide: 2 of 3 verdicts readable"));
  SECTION("an even n split with every verdict readable fails") {
    o.n = 2;
    e = judge::grade(o, {yes, no});
    CHECK_FALSE(e.pass);
    CHECK_FALSE(e.error);
    CHECK_THAT(e.reason, Catch::Contains("a split vote fails"));
  }
}

TEST_CASE("judge::compare, both orders cancel position bias", "[evaluators][judge]") {
  judge::Options o;
  o.pairwise = true;
  const Answer a = said(w("A"));
  const Answer b = said(w("B"));
  const Answer tie = said(w("tie"));
  // The candidate is A in the first answer of a pair and B in the second.
  auto e = judge::compare(o, {{a, b}});
  CHECK(e.pass);
  CHECK(e.score == 1.0);
  e = judge::compare(o, {{b, a}});
  CHECK_FALSE(e.pass);
  CHECK(e.score == 0.0);
  e = judge::compare(o, {{a, a}}); // always the first position
  CHECK(e.pass);
  CHECK(e.score == 0.5);
  CHECK_THAT(e.reason, Catch::Contains("position bias"));
  e = judge::compare(o, {{tie, tie}});
  CHECK(e.score == 0.5);
  CHECK_THAT(e.reason, !Catch::Contains("position bias"));
  e = judge::compare(o, {{a, tie}}); // one order prefers it, the other sees no difference
  CHECK(e.score == 0.5);
  SECTION("threshold 1: only a win passes") {
    o.threshold = 1.0;
    CHECK_FALSE(judge::compare(o, {{a, a}}).pass);
    CHECK(judge::compare(o, {{a, b}}).pass);
  }
  SECTION("n samples") {
    o.n = 3;
    e = judge::compare(o, {{a, b}, {a, b}, {b, a}});
    CHECK(e.score == 1.0);
    CHECK_THAT(e.reason, Catch::Contains("2 wins, 0 ties, 1 losses of 3"));
    e = judge::compare(o, {{a, b}, {tie, tie}, {b, a}}); // no majority: a tie
    CHECK(e.score == 0.5);
    e = judge::compare(o, {{a, b}, {said("?"), b}, {b, a}});
    CHECK(e.error);
    e = judge::compare(o, {{a, b}, {a, failed("down")}, {a, b}});
    CHECK_FALSE(e.error);
    CHECK(e.score == 1.0);
  }
}

TEST_CASE("judge::grading_vars and pairwise_vars", "[evaluators][judge]") {
  judge::Options o;
  o.rubric = "be right";
  const json g = judge::grading_vars(o, "out", json{{"a", 1}}, "in", json{{"q", "x"}});
  CHECK(g["rubric"] == "be right");
  CHECK(g["output"] == "out");
  CHECK(g["expected"] == R"({"a":1})");
  CHECK(g["input"] == "in");
  CHECK(g["vars"]["q"] == "x");
  CHECK(judge::grading_vars(o, "out", nullptr, "", nullptr)["expected"] == "");
  CHECK(judge::grading_vars(o, "out", "text", "", nullptr)["expected"] == "text");
  const json p = judge::pairwise_vars(o, "first", "second", nullptr, "in", json::object());
  CHECK(p["output_a"] == "first");
  CHECK(p["output_b"] == "second");
  CHECK_FALSE(p.contains("output"));
}

TEST_CASE("judge::read_options", "[evaluators][judge]") {
  const auto o = judge::read_options(json{{"type", "llm_judge"},
                                          {"provider", "j"},
                                          {"rubric", "r"},
                                          {"threshold", 0.7},
                                          {"n", 5},
                                          {"pairwise", true},
                                          {"prompt", "my/judge"}});
  CHECK(o.provider == "j");
  CHECK(o.rubric == "r");
  CHECK(*o.threshold == 0.7);
  CHECK(o.n == 5);
  CHECK(o.pairwise);
  CHECK(o.prompt == "my/judge");
  const auto d = judge::read_options(json{{"provider", "j"}, {"rubric", "r"}});
  CHECK_FALSE(d.threshold);
  CHECK(d.n == 1);
  CHECK_FALSE(d.pairwise);
  CHECK(judge::default_prompt_name(false) == "promptops/judge");
  CHECK(judge::default_prompt_name(true) == "promptops/judge-pairwise");
}
