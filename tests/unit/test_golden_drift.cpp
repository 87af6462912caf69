#include "golden/compare.hpp"
#include "golden/drift.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <string>
#include <vector>

using namespace promptops::golden;

namespace {

using Make = std::function<std::string(int)>;

// The fingerprints of `n` outputs made by `make(0)`, `make(1)`, ...
std::vector<Fingerprint> prints(int n, const Make& make) {
  std::vector<Fingerprint> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(fingerprint(make(i)));
  }
  return out;
}

// `n` outputs of which the first `k` are made by `changed` and the rest by `same`.
std::vector<Fingerprint> prints(int n, int k, const Make& changed, const Make& same) {
  return prints(n, [&](int i) { return i < k ? changed(i) : same(i); });
}

// Case i of the baseline paired with case i of the run (the run's extra cases have no pair).
std::vector<DriftFinding> drift(const std::vector<Fingerprint>& baseline,
                                const std::vector<Fingerprint>& run,
                                const DriftOptions& options = {}) {
  std::vector<DriftCase> cases;
  for (std::size_t i = 0; i < std::max(baseline.size(), run.size()); ++i) {
    cases.push_back(
        {i < baseline.size() ? &baseline[i] : nullptr, i < run.size() ? &run[i] : nullptr});
  }
  return detect_drift(cases, options);
}

std::string features(const std::vector<DriftFinding>& findings) {
  std::string out;
  for (const DriftFinding& f : findings) {
    out += (out.empty() ? "" : ",") + f.feature;
  }
  return out;
}

DriftFinding only(const std::vector<DriftFinding>& findings) {
  REQUIRE(findings.size() == 1);
  return findings.front();
}

DriftFinding find(const std::vector<DriftFinding>& findings, const std::string& feature) {
  for (const DriftFinding& f : findings) {
    if (f.feature == feature) {
      return f;
    }
  }
  FAIL("no finding for " << feature << " among " << features(findings));
  throw std::logic_error("unreachable");
}

constexpr std::array<const char*, 8> k_names = {"Ann", "Bob",   "Chen", "Dana",
                                                "Eve", "Farid", "Gita", "Hugo"};
constexpr std::array<const char*, 4> k_statuses = {"shipped", "pending", "cancelled", "refunded"};
constexpr std::array<std::pair<const char*, const char*>, 10> k_capitals = {{{"France", "Paris"},
                                                                             {"Japan", "Tokyo"},
                                                                             {"Kenya", "Nairobi"},
                                                                             {"Peru", "Lima"},
                                                                             {"Canada", "Ottawa"},
                                                                             {"Egypt", "Cairo"},
                                                                             {"Norway", "Oslo"},
                                                                             {"Chile", "Santiago"},
                                                                             {"India", "New Delhi"},
                                                                             {"Spain", "Madrid"}}};

std::string name(int i) {
  return k_names[static_cast<std::size_t>(i) % k_names.size()];
}
std::string status(int i) {
  return k_statuses[static_cast<std::size_t>(i) % k_statuses.size()];
}
std::string total(int i) {
  return std::to_string(10 + (i * 7) % 90) + "." + std::to_string(i % 10);
}

// A compact JSON answer, with snake_case keys or camelCase ones.
std::string order(int i) {
  return R"({"order_id": )" + std::to_string(1000 + 37 * i) + R"(, "customer_name": ")" + name(i) +
         R"(", "status": ")" + status(i) + R"(", "total": )" + total(i) + "}";
}
std::string order_camel(int i) {
  return R"({"orderId": )" + std::to_string(1000 + 37 * i) + R"(, "customerName": ")" + name(i) +
         R"(", "status": ")" + status(i) + R"(", "total": )" + total(i) + "}";
}
// The same content in another form.
std::string fenced(int i) {
  return "```json\n" + order(i) + "\n```";
}
std::string pretty(int i) {
  return "{\n  \"order_id\": " + std::to_string(1000 + 37 * i) + ",\n  \"customer_name\": \"" +
         name(i) + "\",\n  \"status\": \"" + status(i) + "\",\n  \"total\": " + total(i) + "\n}";
}

std::string capital(int i) {
  const auto& [country, city] = k_capitals[static_cast<std::size_t>(i) % k_capitals.size()];
  return std::string("The capital of ") + country + " is " + city + ".";
}
std::string capital_reworded(int i) {
  const auto& [country, city] = k_capitals[static_cast<std::size_t>(i) % k_capitals.size()];
  return std::string(city) + " is the capital city of " + country + ", of course.";
}

std::string steps(int i, const std::string& marker) {
  return "To reset the " + name(i) + " device:\n" + marker + " Open the settings\n" + marker +
         " Choose " + status(i) + "\n" + marker + " Confirm";
}

// Chen et al.: gpt-4-0314 reasoned for ~528 characters and ended with the tag.
std::string prime_reasoning(int i) {
  const std::string tail = i % 2 == 0 ? "\nSo the answer is [Yes]" : "\nSo the answer is [No]";
  std::string text = "Let us think step by step about " + std::to_string(7919 + 2 * i) + ".\n";
  for (int step = 1; text.size() < 528; ++step) {
    text += "Step " + std::to_string(step) + ": check divisibility by " +
            std::to_string(2 * step + 1) + "; no remainder found.\n";
  }
  text.resize(528 - tail.size());
  return text + tail;
}
std::string prime_tag_only(int i) {
  return i % 4 == 3 ? "[Yes]" : "[No]";
}

// LeetCode answers as plain code.
std::string code(int i) {
  return "class Solution:\n    def solve" + std::to_string(i) +
         "(self, nums):\n        result = 0\n        for n in nums:\n            result += n * " +
         std::to_string(i + 2) + "\n        return result";
}

// A reply that called `tools` instead of answering: no text, as the providers give it.
std::vector<Fingerprint> tool_prints(int n, int k, const std::vector<std::string>& tools,
                                     const Make& same) {
  std::vector<Fingerprint> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(i < k ? fingerprint("", tools) : fingerprint(same(i)));
  }
  return out;
}

} // namespace

TEST_CASE("golden::fisher_exact, known values", "[golden][drift]") {
  // Fisher's tea-tasting experiment.
  CHECK(fisher_exact(3, 1, 1, 3) == Approx(0.485714).epsilon(1e-5));
  // Wikipedia's dieting example: 0.001346 one-sided, 0.002759 two-sided.
  CHECK(fisher_exact(1, 9, 11, 3) == Approx(0.002759).epsilon(1e-3));
  // A total change in 10 vs 10: 2 / C(20, 10).
  CHECK(fisher_exact(0, 10, 10, 0) == Approx(2.0 / 184756).epsilon(1e-9));
  // A total change in 3 vs 3 is 1 in 10 by chance.
  CHECK(fisher_exact(0, 3, 3, 0) == Approx(0.1).epsilon(1e-9));
  CHECK(fisher_exact(0, 0, 0, 0) == 1);
  CHECK(fisher_exact(5, 0, 5, 0) == 1);
  CHECK(fisher_exact(25, 25, 25, 25) == Approx(1));
  CHECK(fisher_exact(1, 3, 3, 1) == fisher_exact(3, 1, 1, 3));
  CHECK(fisher_exact(0, 50, 44, 6) < 1e-20);
  CHECK(fisher_exact(3000, 7000, 3100, 6900) > 0.1); // big counts stay finite
}

TEST_CASE("golden::mann_whitney, known values", "[golden][drift]") {
  // R: wilcox.test(1:5, 6:10, exact = FALSE) gives p = 0.01219.
  CHECK(mann_whitney({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}) == Approx(0.01219).epsilon(1e-3));
  CHECK(mann_whitney({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}) ==
        mann_whitney({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}));
  // With ties: U = 2.5, variance 16/12 * (9 - 36/56) = 11.14, z = (5.5 - 0.5) / sqrt(11.14).
  CHECK(mann_whitney({1, 2, 2, 3}, {2, 3, 4, 4}) == Approx(0.134169).epsilon(1e-4));
  CHECK(mann_whitney({1, 1, 1}, {1, 1}) == 1);
  CHECK(mann_whitney({}, {1, 2}) == 1);
  // 3 vs 3, fully separated: not below 0.001.
  CHECK(mann_whitney({500, 510, 520}, {4, 5, 4}) > 0.05);
}

TEST_CASE("golden::detect_drift, code fences appear and disappear", "[golden][drift]") {
  const auto plain = prints(50, order);
  const auto wrapped = prints(50, 44, fenced, order);
  const DriftFinding& f = only(drift(plain, wrapped));
  CHECK(f.feature == "code_fence");
  CHECK(f.baseline == "0 of 50");
  CHECK(f.candidate == "44 of 50 (```json)");
  CHECK(f.cases == 44);
  CHECK(f.message == "44 of 50 outputs now wrap JSON in ```json fences (baseline 0 of 50)");
  CHECK(f.p_value < 1e-10);
  REQUIRE(f.indices.size() == 44);
  CHECK(f.indices.front() == 0);
  CHECK(f.indices.back() == 43);

  const DriftFinding& back = only(drift(prints(50, fenced), plain));
  CHECK(back.feature == "code_fence");
  CHECK(back.cases == 50);
  CHECK(back.message == "no outputs now wrap JSON in ```json fences (baseline 50 of 50)");

  SECTION("the language tag changes") {
    const auto bare = prints(40, [](int i) { return "```\n" + order(i) + "\n```"; });
    CHECK(only(drift(prints(40, fenced), bare)).message ==
          "code fences changed from ```json to ``` (no language tag) in 40 of 40 outputs "
          "(baseline 0 of 40)");
  }
}

TEST_CASE("golden::detect_drift, a change spread over many values", "[golden][drift]") {
  SECTION("fences in four languages, none of them common enough alone") {
    constexpr std::array<const char*, 4> k_langs = {"python", "js", "go", "rust"};
    const Make plain = [](int i) { return "x = " + std::to_string(1000 + i); };
    const Make any = [&](int i) {
      return std::string("```") + k_langs[static_cast<std::size_t>(i) % 4] + "\n" + plain(i) +
             "\n```";
    };
    const DriftFinding& f = find(drift(prints(40, plain), prints(40, any)), "code_fence");
    CHECK(f.cases == 40);
    CHECK(f.candidate == "40 of 40");
    CHECK(f.message == "40 of 40 outputs now wrap their answer in code fences (baseline 0 of 40)");
  }
  SECTION("every output has a new JSON shape") {
    const Make one = [](int i) { return R"({"a": )" + std::to_string(i) + R"(, "b": "x"})"; };
    const Make each = [](int i) { return R"({"k)" + std::to_string(i) + R"(": 1})"; };
    const DriftFinding& f = only(drift(prints(40, one), prints(40, each)));
    CHECK(f.feature == "json_shape");
    CHECK(f.message == "no outputs now have the JSON shape a:number,b:string (baseline 40 of 40)");
  }
}

TEST_CASE("golden::detect_drift, whole-output fences", "[golden][drift]") {
  const Make python = [](int i) { return "```python\n" + code(i) + "\n```"; };
  // 9 of 40 gain a preamble and 9 others a closing remark: neither alone is a large change,
  // together 18 of 40 outputs are no longer just the fence.
  const Make split = [&](int i) {
    if (i < 9) {
      return "Here is the code:\n" + python(i);
    }
    return i < 18 ? python(i) + "\nThis runs in O(n)." : python(i);
  };
  const DriftFinding& f = only(drift(prints(40, python), prints(40, split)));
  CHECK(f.feature == "whole_fence");
  CHECK(f.cases == 18);
  CHECK(f.message == "only 22 of 40 outputs are now one code fence and nothing else (baseline "
                     "40 of 40): about 45% of outputs changed, a partial rollout?");
  CHECK(only(drift(prints(40, split), prints(40, python))).message ==
        "40 of 40 outputs are now one code fence and nothing else (baseline 22 of 40)");
}

TEST_CASE("golden::detect_drift, text before and after the JSON", "[golden][drift]") {
  const Make sure = [](int i) { return "Sure! Here is the JSON you asked for:\n" + order(i); };
  SECTION("a preamble appears") {
    const DriftFinding& f = only(drift(prints(40, order), prints(40, 31, sure, order)));
    CHECK(f.feature == "preamble");
    CHECK(f.cases == 31);
    CHECK(f.message == "31 of 40 outputs now start with text before the JSON (\"Sure! Here is "
                       "the JSON\xE2\x80\xA6\"; baseline 0 of 40)");
  }
  SECTION("a preamble disappears") {
    CHECK(only(drift(prints(40, sure), prints(40, order))).message ==
          "no outputs now start with text before the JSON (\"Sure! Here is the "
          "JSON\xE2\x80\xA6\"; baseline 40 of 40)");
  }
  const Make trailing = [](int i) {
    return order(i) + "\n\nLet me know if you need anything else!";
  };
  SECTION("trailing text appears") {
    const DriftFinding& f = only(drift(prints(40, order), prints(40, trailing)));
    CHECK(f.feature == "trailing_text");
    CHECK(f.message == "40 of 40 outputs now have text after the JSON (\"Let me know if you "
                       "need\xE2\x80\xA6\"; baseline 0 of 40)");
  }
  SECTION("trailing text disappears") {
    CHECK(only(drift(prints(40, 30, trailing, order), prints(40, order))).message ==
          "no outputs now have text after the JSON (\"Let me know if you need\xE2\x80\xA6\"; "
          "baseline 30 of 40)");
  }
}

TEST_CASE("golden::detect_drift, stock openers", "[golden][drift]") {
  const Make sure = [](int i) { return "Sure! " + capital(i); };
  const DriftFinding& f = only(drift(prints(40, capital), prints(40, sure)));
  CHECK(f.feature == "opener");
  CHECK_THAT(f.message, Catch::StartsWith("40 of 40 outputs now open with a stock phrase "
                                          "(\"Sure! The capital of"));
  CHECK_THAT(f.message, Catch::EndsWith("; baseline 0 of 40)"));
  CHECK_THAT(only(drift(prints(40, sure), prints(40, capital))).message,
             Catch::StartsWith("no outputs now open with a stock phrase"));
}

TEST_CASE("golden::detect_drift, JSON appears, disappears, changes type", "[golden][drift]") {
  SECTION("JSON disappears") {
    const auto findings = drift(prints(40, order), prints(40, capital));
    CHECK(find(findings, "json").message ==
          "no outputs now hold a JSON object (baseline 40 of 40)");
    CHECK(find(findings, "json").cases == 40);
  }
  SECTION("JSON appears") {
    const auto findings = drift(prints(40, capital), prints(40, 36, order, capital));
    CHECK(find(findings, "json").message ==
          "36 of 40 outputs now hold a JSON object (baseline 0 of 40)");
  }
  SECTION("the top-level type changes") {
    const Make listed = [](int i) { return "[" + order(i) + "]"; };
    const auto findings = drift(prints(40, order), prints(40, listed));
    CHECK(features(findings) == "json,json_shape");
    CHECK(find(findings, "json").message == "the top-level JSON type changed from object to array "
                                            "in 40 of 40 outputs (baseline 0 of 40)");
  }
}

TEST_CASE("golden::detect_drift, JSON keys", "[golden][drift]") {
  SECTION("key case changes, and the shape is not reported again") {
    const DriftFinding& f = only(drift(prints(40, order), prints(40, order_camel)));
    CHECK(f.feature == "key_case");
    CHECK(f.baseline == "0 of 40");
    CHECK(f.candidate == "40 of 40 (camelCase)");
    CHECK(f.message == "JSON keys changed from snake_case to camelCase in 40 of 40 outputs "
                       "(baseline 0 of 40)");
    CHECK(only(drift(prints(40, order_camel), prints(40, order))).message ==
          "JSON keys changed from camelCase to snake_case in 40 of 40 outputs (baseline 0 of 40)");
  }
  const Make renamed = [](int i) {
    return R"({"order_id": )" + std::to_string(i) + R"(, "customer_name": ")" + name(i) +
           R"(", "state": ")" + status(i) + R"(", "total": ")" + total(i) + R"("})";
  };
  SECTION("keys added, removed, retyped") {
    const DriftFinding& f = only(drift(prints(40, order), prints(40, renamed)));
    CHECK(f.feature == "json_shape");
    CHECK(f.cases == 40);
    CHECK(f.message == "the JSON shape changed in 40 of 40 outputs (baseline 0 of 40): \"state\" "
                       "added, \"total\" changed from number to string, \"status\" removed");
    CHECK(only(drift(prints(40, renamed), prints(40, order))).message ==
          "the JSON shape changed in 40 of 40 outputs (baseline 0 of 40): \"status\" added, "
          "\"total\" changed from string to number, \"state\" removed");
  }
}

TEST_CASE("golden::detect_drift, answer tags", "[golden][drift]") {
  const Make tagged = [](int i) {
    return std::string(i % 3 == 0 ? "(A)" : "(B)") + " Somewhat likely, for " + name(i) + ".";
  };
  const Make prose = [](int i) { return "Fairly likely; " + name(i) + " may differ."; };
  SECTION("tags disappear (OpinionQA)") {
    const DriftFinding& f = only(drift(prints(40, tagged), prints(40, 10, tagged, prose)));
    CHECK(f.feature == "answer_tag");
    CHECK(f.cases == 30);
    CHECK(f.indices.size() == 30);
    CHECK(f.indices.front() == 10);
    CHECK(f.candidate == "10 of 40 (tag start)");
    CHECK(f.message ==
          "only 10 of 40 outputs now start with an answer tag (\"(B)\"; baseline 40 of 40)");
  }
  SECTION("tags appear") {
    CHECK(only(drift(prints(40, prose), prints(40, tagged))).message ==
          "40 of 40 outputs now start with an answer tag (\"(B)\"; baseline 0 of 40)");
  }
  SECTION("the tag style changes") {
    const Make bracketed = [](int i) { return "[A] Somewhat likely, for " + name(i) + "."; };
    CHECK(only(drift(prints(40, tagged), prints(40, bracketed))).message ==
          "answer tags changed from (X) to [X] in 40 of 40 outputs (baseline 0 of 40)");
  }
}

TEST_CASE("golden::detect_drift, Chen et al. primes: reasoning gives way to the tag alone",
          "[golden][drift]") {
  const auto march = prints(50, prime_reasoning);
  const auto june = prints(50, 47, prime_tag_only, prime_reasoning);
  const auto findings = drift(march, june);
  CHECK(features(findings) == "answer_tag,length,lines");
  CHECK(find(findings, "answer_tag").message ==
        "47 of 50 outputs are now only an answer tag (\"[No]\"; baseline 0 of 50)");
  const DriftFinding& length = find(findings, "length");
  CHECK(length.baseline == "median 528");
  CHECK(length.candidate == "median 4");
  CHECK(length.cases == 47);
  CHECK(length.indices.size() == 47);
  CHECK(length.message == "median length fell from 528 to 4 characters; 47 of 50 outputs now "
                          "have at most 263 characters (baseline 0 of 50)");
  CHECK_THAT(find(findings, "lines").message, Catch::StartsWith("median line count fell from "));
  CHECK(find(findings, "lines").candidate == "median 1");
}

TEST_CASE("golden::detect_drift, Chen et al. LeetCode: code gets fenced", "[golden][drift]") {
  const Make june = [](int i) {
    if (i < 41) {
      return "```python\n" + code(i) + "\n```";
    }
    return i < 44 ? "Here is the solution:\n\n```python\n" + code(i) + "\n```" : code(i);
  };
  const DriftFinding& f = only(drift(prints(50, code), prints(50, june)));
  CHECK(f.feature == "code_fence");
  CHECK(f.cases == 44);
  CHECK(f.candidate == "44 of 50 (```python)");
  CHECK(f.message ==
        "44 of 50 outputs now wrap their answer in ```python fences (baseline 0 of 50)");
}

TEST_CASE("golden::detect_drift, boxed answers", "[golden][drift]") {
  const Make worked = [](int i) {
    return "We iterate the sum of squares of digits.\nStep 1: " + std::to_string(i * 3) +
           "\nStep 2: it reaches 1, so the number is happy.\nThe answer is \\boxed{" +
           std::to_string(i % 5) + "}.";
  };
  const Make boxed = [](int i) { return "\\boxed{" + std::to_string(i % 5) + "}"; };
  const auto findings = drift(prints(40, worked), prints(40, boxed));
  CHECK(features(findings) == "boxed,length,lines");
  CHECK(find(findings, "boxed").message ==
        "40 of 40 outputs are now only a \\boxed{} answer (baseline 0 of 40)");
  const Make plain = [](int i) { return "The answer is " + std::to_string(i % 5) + "."; };
  CHECK(only(drift(prints(40, plain), prints(40,
                                             [](int i) {
                                               return "The answer is \\boxed{" +
                                                      std::to_string(i % 5) + "}.";
                                             })))
            .message ==
        "40 of 40 outputs now give a \\boxed{} answer within text (baseline 0 of 40)");
}

TEST_CASE("golden::detect_drift, refusals", "[golden][drift]") {
  const Make refuse = [](int) { return std::string("I'm sorry, but I can't help with that."); };
  const auto findings = drift(prints(40, capital), prints(40, 30, refuse, capital));
  CHECK(find(findings, "refusal").message ==
        "30 of 40 outputs now contain a refusal (\"I'm sorry, but I can't\xE2\x80\xA6\"; "
        "baseline 0 of 40)");
  CHECK(find(drift(prints(40, 30, refuse, capital), prints(40, capital)), "refusal").message ==
        "no outputs now contain a refusal (\"I'm sorry, but I can't\xE2\x80\xA6\"; baseline 30 of "
        "40)");
}

TEST_CASE("golden::detect_drift, markdown structure", "[golden][drift]") {
  const Make dashes = [](int i) { return steps(i, "-"); };
  const Make stars = [](int i) { return steps(i, "*"); };
  const Make numbered = [](int i) { return steps(i, "1."); };
  const Make flat = [](int i) {
    return "To reset the " + name(i) + " device, open the settings, choose " + status(i) +
           " and confirm.";
  };
  SECTION("list markers change") {
    const DriftFinding& f = only(drift(prints(40, dashes), prints(40, stars)));
    CHECK(f.feature == "list_marker");
    CHECK(f.message ==
          "list markers changed from \"-\" to \"*\" in 40 of 40 outputs (baseline 0 of 40)");
    CHECK(only(drift(prints(40, dashes), prints(40, numbered))).message ==
          "list markers changed from \"-\" to \"1.\" in 40 of 40 outputs (baseline 0 of 40)");
  }
  SECTION("lists appear and disappear") {
    const auto appear = drift(prints(40, flat), prints(40, dashes));
    CHECK(find(appear, "list_marker").message ==
          "40 of 40 outputs now have lists with \"-\" markers (baseline 0 of 40)");
    CHECK(find(drift(prints(40, numbered), prints(40, flat)), "list_marker").message ==
          "no outputs now have numbered lists (\"1.\") (baseline 40 of 40)");
  }
  const Make headed = [&](int i) { return "## Reset\n\n" + flat(i); };
  SECTION("headings") {
    CHECK(only(drift(prints(40, flat), prints(40, headed))).message ==
          "40 of 40 outputs now have markdown headings (baseline 0 of 40)");
    CHECK(only(drift(prints(40, headed), prints(40, flat))).message ==
          "no outputs now have markdown headings (baseline 40 of 40)");
  }
  const Make table = [](int i) {
    return "| name | status |\n|---|---|\n| " + name(i) + " | " + status(i) + " |";
  };
  const Make row = [](int i) { return name(i) + " | " + status(i); };
  SECTION("tables") {
    CHECK(find(drift(prints(40, row), prints(40, table)), "table").candidate ==
          "40 of 40 (table: yes)");
    CHECK(find(drift(prints(40, row), prints(40, table)), "table").message ==
          "40 of 40 outputs now have markdown tables (baseline 0 of 40)");
    CHECK(find(drift(prints(40, table), prints(40, row)), "table").message ==
          "no outputs now have markdown tables (baseline 40 of 40)");
  }
  const Make bold = [](int i) { return "The status is **" + status(i) + "**."; };
  const Make unbold = [](int i) { return "The status is " + status(i) + "."; };
  SECTION("bold") {
    CHECK(only(drift(prints(40, unbold), prints(40, bold))).message ==
          "40 of 40 outputs now use **bold** text (baseline 0 of 40)");
    CHECK(only(drift(prints(40, bold), prints(40, unbold))).message ==
          "no outputs now use **bold** text (baseline 40 of 40)");
  }
}

TEST_CASE("golden::detect_drift, quote characters and whitespace", "[golden][drift]") {
  const Make straight = [](int i) { return name(i) + "'s order is \"" + status(i) + "\"."; };
  const Make curly = [](int i) {
    return name(i) + "\xE2\x80\x99s order is \xE2\x80\x9C" + status(i) + "\xE2\x80\x9D.";
  };
  CHECK(only(drift(prints(40, straight), prints(40, curly))).message ==
        "quote characters changed from straight to curly in 40 of 40 outputs (baseline 0 of 40)");
  CHECK(only(drift(prints(40, curly), prints(40, straight))).message ==
        "quote characters changed from curly to straight in 40 of 40 outputs (baseline 0 of 40)");

  const Make newline = [](int i) { return order(i) + "\n"; };
  const Make leading = [](int i) { return "\n\n" + order(i); };
  CHECK(only(drift(prints(40, order), prints(40, newline))).message ==
        "40 of 40 outputs now end with a line break (baseline 0 of 40)");
  CHECK(only(drift(prints(40, newline), prints(40, order))).message ==
        "no outputs now end with a line break (baseline 40 of 40)");
  CHECK(only(drift(prints(40, order), prints(40, leading))).message ==
        "40 of 40 outputs now start with a line break (baseline 0 of 40)");
  CHECK(only(drift(prints(40, leading), prints(40, order))).message ==
        "no outputs now start with a line break (baseline 40 of 40)");
}

TEST_CASE("golden::detect_drift, length and line count", "[golden][drift]") {
  SECTION("JSON gets pretty-printed") {
    const DriftFinding& f = only(drift(prints(40, order), prints(40, pretty)));
    CHECK(f.feature == "lines");
    CHECK(f.message == "median line count rose from 1 to 6; 40 of 40 outputs now have at least 3 "
                       "lines (baseline 0 of 40)");
    CHECK(only(drift(prints(40, pretty), prints(40, order))).message ==
          "median line count fell from 6 to 1; 40 of 40 outputs now have at most 2 lines "
          "(baseline 0 of 40)");
  }
  SECTION("answers grow") {
    const Make longer = [](int i) {
      return capital(i) + " It has a long history, many museums, parks and a busy centre, and "
                          "it is known for its food.";
    };
    const DriftFinding& f = only(drift(prints(40, capital), prints(40, longer)));
    CHECK(f.feature == "length");
    CHECK_THAT(f.message, Catch::StartsWith("median length rose from "));
    CHECK_THAT(f.message, Catch::Contains("40 of 40 outputs now have at least "));
  }
}

TEST_CASE("golden::detect_drift, content changes are not drift", "[golden][drift]") {
  SECTION("other values in the same JSON") {
    const Make other = [](int i) { return order(i + 13); };
    CHECK(drift(prints(50, order), prints(50, other)).empty());
  }
  SECTION("other wording in prose") {
    CHECK(drift(prints(40, capital), prints(40, capital_reworded)).empty());
  }
  SECTION("an optional key as often on both sides") {
    const Make maybe = [](int i) {
      std::string out = order(i);
      out.pop_back();
      return out + (i % 4 == 0 ? R"(, "note": null})" : R"(, "note": "gift"})");
    };
    const Make maybe_shifted = [&](int i) { return maybe(i + 1); };
    CHECK(drift(prints(40, maybe), prints(40, maybe_shifted)).empty());
  }
  SECTION("other list items and another number of them") {
    const Make more = [](int i) { return steps(i, "-") + "\n- Restart the " + name(i + 1); };
    CHECK(drift(prints(40, [](int i) { return steps(i, "-"); }), prints(40, more)).empty());
  }
  SECTION("other code in the same fences") {
    const Make a = [](int i) { return "```python\n" + code(i) + "\n```"; };
    const Make b = [](int i) { return "```python\n" + code(i + 7) + "\n    # done\n```"; };
    CHECK(drift(prints(40, a), prints(40, b)).empty());
  }
  SECTION("slightly longer answers in a big sample") {
    // The rank test finds the 20% growth certain; the median ratio floor keeps it quiet.
    const Make base = [](int i) { return capital(i) + " " + std::string(200 + i % 50, 'a'); };
    const Make longer = [](int i) { return capital(i) + " " + std::string(240 + i % 60, 'a'); };
    REQUIRE(mann_whitney({200, 210, 220}, {240, 250, 260}) < 1); // sanity
    CHECK(drift(prints(1000, base), prints(1000, longer)).empty());
  }
  SECTION("the same outputs") {
    CHECK(drift(prints(30, fenced), prints(30, fenced)).empty());
  }
}

TEST_CASE("golden::detect_drift, small samples", "[golden][drift]") {
  SECTION("3 cases with a total change cannot be told from chance") {
    CHECK(drift(prints(3, order), prints(3, fenced)).empty());
    CHECK(drift(prints(3, prime_reasoning), prints(3, prime_tag_only)).empty());
  }
  SECTION("a total change on 8 cases is found") {
    CHECK(features(drift(prints(8, order), prints(8, fenced))) == "code_fence");
  }
  SECTION("fewer than min_cases outputs show it") {
    DriftOptions options;
    options.min_effect = 0.01;
    options.alpha = 1;
    CHECK(drift(prints(5, order), prints(5, 2, fenced, order), options).empty());
  }
  SECTION("either side empty") {
    CHECK(drift({}, prints(5, order)).empty());
    CHECK(drift(prints(5, order), {}).empty());
  }
}

// The cases that a partial rollout reaches: every `step`-th one from `first`.
Make rollout(int step, int first, const Make& changed, const Make& same) {
  return [=](int i) { return i % step == first ? changed(i) : same(i); };
}

std::string python_fenced(int i) {
  return "```python\n" + code(i) + "\n```";
}

TEST_CASE("golden::detect_drift, partial rollouts are found through the pairing",
          "[golden][drift]") {
  SECTION("12 of 50 answers start wrapping code in fences") {
    const auto base = prints(50, code);
    const auto run = prints(50, 12, python_fenced, code);
    const DriftFinding& f = find(drift(base, run), "code_fence");
    CHECK(f.message == "about 24% of outputs now wrap their answer in ```python fences (12 of 50; "
                       "baseline 0 of 50): a partial rollout?");
    CHECK(f.cases == 12);
    CHECK(f.indices.size() == 12);
    CHECK(f.p_value < 0.01);
  }
  SECTION("10 of 50 more outputs fenced, from a baseline where 5 of 50 were") {
    const auto base = prints(50, rollout(10, 0, python_fenced, code));
    const auto run =
        prints(50, [](int i) { return i % 10 == 0 || i % 5 == 1 ? python_fenced(i) : code(i); });
    const DriftFinding& f = find(drift(base, run), "code_fence");
    CHECK_THAT(f.message, Catch::Contains("(15 of 50; baseline 5 of 50): a partial rollout?"));
  }
  SECTION("option letters stop leading in 23% of 1,500 outputs") {
    const Make letter = [](int i) {
      return std::string(i % 2 ? "(B)" : "(A)") + ". Somewhat, for " + name(i) + ".";
    };
    const Make sentence = [](int i) { return "Somewhat, for " + name(i) + " (B)?"; };
    const auto base = prints(1500, letter);
    const auto run = prints(1500, [&](int i) { return i % 100 < 23 ? sentence(i) : letter(i); });
    const DriftFinding& f = find(drift(base, run), "answer_tag");
    CHECK(f.cases == 345);
    CHECK_THAT(f.message,
               Catch::StartsWith("only 1155 of 1500 outputs now start with an answer tag"));
    CHECK_THAT(f.message, Catch::EndsWith("about 23% of outputs changed, a partial rollout?"));
  }
  SECTION("about 20% of outputs shrink to a tag") {
    const auto base = prints(50, prime_reasoning);
    const auto run = prints(50, 10, prime_tag_only, prime_reasoning);
    const auto found = drift(base, run);
    CHECK(features(found) == "answer_tag,length,lines");
    CHECK(find(found, "length").message ==
          "about 20% of outputs are now at most half as long as before (10 of 50; their median "
          "length fell from 528 to 4 characters): a partial rollout?");
  }
}

TEST_CASE("golden::detect_drift, 10 of 12 cases change form", "[golden][drift]") {
  SECTION("option letters give way to hedging prose") {
    const Make letter = [](int i) {
      return std::string(i % 2 ? "B" : "A") + ". Very important, for " + name(i) + ".";
    };
    const Make hedging = [](int i) {
      return "That depends on personal views and circumstances; " + name(i) +
             " may see it otherwise.";
    };
    const auto found = drift(prints(12, letter), prints(12, 10, hedging, letter));
    CHECK(features(found).find("answer_tag") != std::string::npos);
    CHECK(
        find(found, "hedge").message ==
        "10 of 12 outputs now hedge instead of answering (\"That depends on…\"; baseline 0 of 12)");
  }
  SECTION("a [Yes]/[No] tag moves from the end to the start") {
    const Make end = [](int i) {
      return "Checking " + name(i) + "'s claim step by step, it holds.\nSo the answer is [" +
             std::string(i % 3 ? "Yes" : "No") + "]";
    };
    const Make start = [](int i) {
      return "[" + std::string(i % 3 ? "Yes" : "No") + "] Checking " + name(i) +
             "'s claim step by step, it holds.";
    };
    const DriftFinding& f = only(drift(prints(12, end), prints(12, 10, start, end)));
    CHECK(f.feature == "answer_tag");
    CHECK(f.message ==
          "10 of 12 outputs now start with an answer tag (\"[Yes]\"; baseline 0 of 12)");
  }
}

TEST_CASE("golden::detect_drift, controls that must stay quiet", "[golden][drift]") {
  const Make mixed = [](int i) {
    switch (i % 4) {
    case 0:
      return order(i);
    case 1:
      return fenced(i);
    case 2:
      return steps(i, i % 8 == 2 ? "*" : "-");
    default:
      return "**" + capital(i) + "**\n";
    }
  };
  SECTION("each case answered with another case's output") {
    for (const int shift : {1, 2, 5, 13}) {
      INFO(shift);
      CHECK(drift(prints(200, mixed), prints(200, [&](int i) { return mixed((i + shift) % 200); }))
                .empty());
    }
  }
  SECTION("minor features that vary between two samples of one model") {
    // 15% of the cases lose their bold, another 15% gain it; a trailing newline likewise.
    const Make sample = [&](int i) {
      std::string out = capital(i);
      out =
          (i % 20 < 10) != (i % 20 < 3 || (i % 20 >= 10 && i % 20 < 13)) ? "**" + out + "**" : out;
      return i % 7 == 0 ? out + "\n" : out;
    };
    const Make resample = [&](int i) {
      std::string out = capital(i);
      out = i % 20 < 10 ? "**" + out + "**" : out;
      return i % 7 == 1 ? out + "\n" : out;
    };
    for (const int n : {12, 50, 1000}) {
      INFO(n);
      CHECK(drift(prints(n, sample), prints(n, resample)).empty());
    }
  }
}

TEST_CASE("golden::detect_drift, sensitivity levels", "[golden][drift]") {
  CHECK(parse_drift_sensitivity("low") == DriftSensitivity::low);
  CHECK(parse_drift_sensitivity("default") == DriftSensitivity::standard);
  CHECK(parse_drift_sensitivity("high") == DriftSensitivity::high);
  CHECK_FALSE(parse_drift_sensitivity("medium"));
  CHECK(to_string(DriftSensitivity::standard) == "default");
  const auto base = prints(50, code);
  const auto run = prints(50, 12, python_fenced, code);
  CHECK(drift(base, run, DriftOptions::for_sensitivity(DriftSensitivity::low)).empty());
  CHECK(features(drift(base, run, DriftOptions::for_sensitivity(DriftSensitivity::high))) ==
        "code_fence");
}

TEST_CASE("golden::detect_drift, outputs without a pair are compared as samples",
          "[golden][drift]") {
  // The run's cases are all new: no pair, the two-sample tests decide.
  std::vector<Fingerprint> base = prints(40, order);
  std::vector<Fingerprint> run = prints(40, fenced);
  std::vector<DriftCase> cases;
  for (const Fingerprint& fp : base) {
    cases.push_back({&fp, nullptr});
  }
  for (const Fingerprint& fp : run) {
    cases.push_back({nullptr, &fp});
  }
  const DriftFinding& f = only(detect_drift(cases));
  CHECK(f.feature == "code_fence");
  CHECK(f.indices.front() == 40); // positions in `cases`
  CHECK(f.message == "40 of 40 outputs now wrap JSON in ```json fences (baseline 0 of 40)");
}

TEST_CASE("golden::sign_test and wilcoxon_signed_rank, known values", "[golden][drift]") {
  CHECK(sign_test(0, 10) == Approx(2.0 / 1024));
  CHECK(sign_test(10, 10) == Approx(2.0 / 1024));
  CHECK(sign_test(5, 10) == 1);
  CHECK(sign_test(2, 10) == Approx(2.0 * 56 / 1024)); // R: binom.test(2, 10)$p.value = 0.1094
  CHECK(sign_test(0, 0) == 1);
  CHECK(sign_test(40000, 100000) < 1e-100);
  // R's ?wilcox.test example (depression scores, paired): V = 40, p-value = 0.03906.
  const std::vector<double> x = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
  const std::vector<double> y = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
  std::vector<double> d;
  for (std::size_t i = 0; i < x.size(); ++i) {
    d.push_back(x[i] - y[i]);
  }
  CHECK(wilcoxon_signed_rank(d) == Approx(0.03906).epsilon(1e-3));
  CHECK(wilcoxon_signed_rank({1, 2, 3, 4, 5}) == Approx(0.0625));
  CHECK(wilcoxon_signed_rank({0, 0, 0}) == 1);
  std::vector<double> many(200, 1.0);
  CHECK(wilcoxon_signed_rank(many) < 1e-30);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 2, 3}) == 2.5);
  CHECK(quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.95) == 10);
  CHECK(quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5) == 5);
}

TEST_CASE("golden::detect_drift, stored fingerprints with hostile text", "[golden][drift]") {
  const auto evil = [](int) {
    Fingerprint fp;
    fp.categorical["code_fence"] = "fenced:\x1b[2J\n";
    fp.categorical["json"] = "object";
    fp.categorical["preamble"] = "yes";
    fp.excerpts["preamble"] = "Sure\x1b[31m\r\n" + std::string(500, 'x');
    fp.categorical["weird\x07"] = "value\x1b";
    return fp;
  };
  const auto plain = [](int) {
    Fingerprint fp;
    fp.categorical["code_fence"] = "none";
    fp.categorical["json"] = "object";
    fp.categorical["preamble"] = "no";
    fp.categorical["weird\x07"] = "other";
    return fp;
  };
  std::vector<Fingerprint> baseline;
  std::vector<Fingerprint> run;
  for (int i = 0; i < 40; ++i) {
    baseline.push_back(plain(i));
    run.push_back(evil(i));
  }
  const auto findings = drift(baseline, run);
  CHECK(findings.size() == 3);
  for (const DriftFinding& f : findings) {
    INFO(f.message);
    CHECK(f.message.size() < 300);
    for (const std::string& text : {f.message, f.baseline, f.candidate, f.feature}) {
      CHECK(std::none_of(text.begin(), text.end(),
                         [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }));
    }
  }
}

TEST_CASE("golden::to_json, a drift finding", "[golden][drift]") {
  const DriftFinding f = only(drift(prints(50, order), prints(50, 44, fenced, order)));
  const nlohmann::json j = to_json(f);
  CHECK(j["feature"] == "code_fence");
  CHECK(j["baseline"] == "0 of 50");
  CHECK(j["candidate"] == "44 of 50 (```json)");
  CHECK(j["cases"] == 44);
  CHECK(j["message"] == f.message);
  CHECK(j["p_value"].get<double>() < 1e-10);
}

TEST_CASE("golden::detect_drift, the model switches from answering to calling tools",
          "[golden][drift][tools]") {
  const auto text = prints(12, capital);
  const auto tools = tool_prints(12, 10, {"get_weather"}, capital);
  const auto found = drift(text, tools);
  REQUIRE_FALSE(found.empty());
  // First: the gate quotes the first finding, and the text that went (length) follows from it.
  const DriftFinding& f = found.front();
  CHECK(f.feature == "tools");
  CHECK(f.message ==
        "the model now calls tools (get_weather) in 10 of 12 cases where the baseline answered "
        "in text");
  CHECK(f.baseline == "0 of 12");
  CHECK(f.candidate == "10 of 12 (calls get_weather)");
  CHECK(f.cases == 10);
  REQUIRE(f.indices.size() == 10);
  CHECK(f.indices.front() == 0);
  CHECK(f.indices.back() == 9);
  CHECK(f.p_value < 0.01);
  CHECK(features(found) == "tools,length");

  SECTION("and back to answering in text") {
    const auto answers = drift(tool_prints(12, 12, {"get_weather"}, capital),
                               tool_prints(12, 2, {"get_weather"}, capital));
    REQUIRE_FALSE(answers.empty());
    const DriftFinding& back = answers.front();
    CHECK(back.feature == "tools");
    CHECK(back.message == "the model now answers in text in 10 of 12 cases where the baseline "
                          "called tools (get_weather)");
    CHECK(back.candidate == "10 of 12 (no tool calls)");
    CHECK(back.cases == 10);
  }
  SECTION("to other tools") {
    const DriftFinding& other = only(drift(tool_prints(12, 12, {"get_weather"}, capital),
                                           tool_prints(12, 10, {"search_web"}, capital)));
    CHECK(other.feature == "tools");
    CHECK(other.message == "the model now calls other tools (search_web) in 10 of 12 cases where "
                           "the baseline called tools (get_weather)");
    CHECK(other.baseline == "0 of 12");
    CHECK(other.candidate == "10 of 12 (calls search_web)");
  }
  SECTION("each case to another tool: the answers in text went") {
    std::vector<Fingerprint> spread;
    for (int i = 0; i < 24; ++i) {
      spread.push_back(i < 20
                           ? fingerprint("", {"tool_" + std::string(1, static_cast<char>('a' + i))})
                           : fingerprint(capital(i)));
    }
    const auto found_many = drift(prints(24, capital), spread);
    REQUIRE_FALSE(found_many.empty());
    const DriftFinding& many = found_many.front();
    CHECK(many.feature == "tools");
    CHECK(many.message == "the model now calls tools (tool_a, tool_b, tool_c and 17 more) in 20 "
                          "of 24 cases where the baseline answered in text");
    CHECK(many.baseline == "0 of 24");
    CHECK(many.candidate == "20 of 24");
    CHECK(many.cases == 20);
  }
  SECTION("two samples of different cases") {
    const auto sampled =
        detect_drift(prints(50, capital), tool_prints(50, 40, {"get_weather"}, capital));
    REQUIRE_FALSE(sampled.empty());
    CHECK(sampled.front().feature == "tools");
    CHECK(sampled.front().message ==
          "the model now calls tools (get_weather) in 40 of 50 outputs (baseline 0 of 50)");
    CHECK(sampled.front().indices.size() == 40);
  }
}

TEST_CASE("golden::detect_drift, the same tools in another order or other arguments are quiet",
          "[golden][drift][tools]") {
  CHECK(drift(tool_prints(40, 40, {"get_weather", "search"}, capital),
              tool_prints(40, 40, {"search", "get_weather", "search"}, capital))
            .empty());
  // Half the cases call a tool on both sides, the other half answer in text on both.
  CHECK(drift(tool_prints(40, 20, {"lookup"}, capital), tool_prints(40, 20, {"lookup"}, capital))
            .empty());
}

TEST_CASE("golden::BaselineComparison, a baseline's tool calls are in its recomputed prints",
          "[golden][drift][tools]") {
  // The baseline's lines called get_weather and hold no fingerprint of this version (an older
  // promptops wrote them): their prints are made from the output and the tool calls.
  Baseline baseline;
  baseline.shown = "golden/baselines/weather/openai.jsonl";
  for (int i = 0; i < 12; ++i) {
    BaselineCase c;
    c.output = "";
    c.status = "pass";
    c.tool_names = {"get_weather"};
    baseline.cases.emplace("case-" + std::to_string(100 + i), std::move(c));
  }
  BaselineComparison comparison(baseline);
  for (int i = 0; i < 12; ++i) {
    CaseResult r;
    r.id = "case-" + std::to_string(100 + i);
    r.status = CaseStatus::pass;
    if (i < 10) {
      r.output = capital(i);
    } else {
      r.output = "";
      r.facts.tool_calls = {promptops::reply::tool_call("call_1", "get_weather", "{}")};
    }
    comparison.add(r); // no stored print: made from the output and the calls
  }
  const auto found = comparison.drift("weather", "openai", DriftOptions{}, std::nullopt);
  REQUIRE_FALSE(found.entries.empty());
  const DriftEntry& d = found.entries.front();
  CHECK(d.feature == "tools");
  CHECK(d.message ==
        "the model now answers in text in 10 of 12 cases where the baseline called tools "
        "(get_weather)");
  CHECK(d.count == 10);
  REQUIRE(d.cases.size() == 10);
  CHECK(d.cases.front() == "case-100");
}
