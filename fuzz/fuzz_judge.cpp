#include "evaluators/judge.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/targets.hpp"

namespace {

namespace judge = promptops::evaluators::judge;

constexpr std::string_view k_verdict = R"({"score": 0.5, "pass": true, "reason": "fuzz"})";

bool reads_the_verdict(const std::string& reply) {
  const judge::Verdict v = judge::read_verdict(reply);
  return v.problem.empty() && v.score && *v.score == 0.5 && v.pass && v.reason == "fuzz";
}

// How the final verdict is found (docs/llm-judge.md): whatever a judge reasons inside <think>,
// a verdict after it is the one read; and text that holds no tag and no object cannot hide or
// replace a verdict that follows it.
void check_final_verdict(std::string_view text) {
  if (judge::final_answer(text).size() > text.size()) {
    std::abort();
  }
  if (text.find('<') != std::string_view::npos) {
    return;
  }
  const std::string thought = "<think>" + std::string(text) + "</think>\n" + std::string(k_verdict);
  if (!reads_the_verdict(thought)) {
    std::abort();
  }
  // Without brackets: no object to take, and no nesting too deep to read.
  if (text.find_first_of("{[") == std::string_view::npos &&
      !reads_the_verdict(std::string(text) + "\n" + std::string(k_verdict))) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  promptops::fuzz::fuzz_judge(data, size);
  check_final_verdict(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
