#pragma once

#include "evaluators/evaluator.hpp"
#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace promptops::test {

// One case's output on one provider, and what the evaluators see of it, for unit tests of
// evaluate().
struct EvaluatorOutput {
  std::string output;
  nlohmann::json expected = nullptr;
  double latency_ms = 0;
  std::optional<double> cost;
  // Schema files by path; "" is the prompt's output schema.
  std::map<std::string, nlohmann::json> schemas;

  evaluators::Evaluation run(const nlohmann::json& spec) const {
    const evaluators::EvalInput input{output, expected, latency_ms, cost,
                                      [this](const std::string& path) {
                                        const auto it = schemas.find(path);
                                        if (it == schemas.end()) {
                                          throw InputError(path, {}, "cannot read file");
                                        }
                                        return it->second;
                                      }};
    return evaluators::evaluate(spec, input);
  }
  evaluators::Evaluation eval(const std::string& spec) const {
    return run(nlohmann::json::parse(spec));
  }
};

} // namespace promptops::test
