#pragma once

#include "reply/reply.hpp"
#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// Scorers for one output. Each returns pass/fail, a score in [0,1] and a reason a person can
// act on. llm_judge needs provider calls: the runner makes them, and judge.hpp reads the
// verdicts; evaluate() scores every other type.
namespace promptops::jsonschema {
class Validator;
}

namespace promptops::evaluators {

struct Evaluation {
  std::string type; // the spec's `name` when given, else its `type`
  bool pass = false;
  double score = 0;
  std::string reason;
  bool required = true; // false: scored, but does not decide the case's status
  double weight = 1;
  // The evaluator could not decide (a judge call failed, or its verdicts could not be read):
  // the case is an error, never a pass.
  bool error = false;
};

// What an evaluator sees of one case on one provider.
struct EvalInput {
  const std::string& output;      // the model's output text
  const nlohmann::json& expected; // the case's `expected` (null when absent)
  double latency_ms = 0;
  std::optional<double> cost{}; // null when the provider has no pricing
  // Loads a schema file named relative to the registry root (json_schema's `schema:`), or
  // the prompt's output schema when called with "". Throws InputError when it cannot.
  std::function<nlohmann::json(const std::string& path)> load_schema{};
  // Where an `exec` evaluator's command runs (the registry root); "" : the current folder.
  std::filesystem::path workdir = {};
  const nlohmann::json* vars = nullptr; // the case's vars, for `exec` (null: none)
  // When set, json_schema takes its compiled schema from here (path as for load_schema): a
  // runner compiles each schema once and resolves "$ref"s to other files of the registry.
  // Unset, it loads with load_schema and compiles on every call. Throws InputError.
  std::function<std::shared_ptr<const jsonschema::Validator>(const std::string& path,
                                                             bool format_assertion)>
      compile_schema = {};
  // What the reply says apart from its text (null: nothing, as for a stored output).
  const reply::Facts* facts = nullptr;
  // What the suite allows of a reply the trust rule would fail (an evaluator's own `allow`
  // adds to it).
  const reply::Allowances* allowed = nullptr;
  // The tools the request declared, [{"name", "description", "parameters"}] (null: none), for
  // tool_call's argument check.
  const nlohmann::json* tools = nullptr;
};

// True for the types this module evaluates.
bool supports(std::string_view type);

// Checks a spec beyond its JSON Schema (evaluator.schema.json, checked by the loaders):
// a regex that RE2 cannot compile, a `path` that is not a JSON Pointer, a type that is
// unknown (with "did you mean"), an llm_judge without provider or rubric, an `on` or `allow`
// that is not one of their words (or an `on` for a type that reads no text), the options of
// finish_reason, refusal and tool_call. Throws InputError naming `where` (e.g.
// "golden/classify.yaml:7:5"; "" for no place) and the problem.
void check_spec(const nlohmann::json& spec, const std::string& where);

// Score `input` with `spec` (one entry of a suite's or case's `evaluators:`). Never throws
// for anything the output contains: a bad output is a failed evaluation with its reason
// (short, with at most ~80 characters of the output quoted and control characters escaped).
// Comparing evaluators take `value`, else the case's `expected` at `path` when it has one
// there, else the whole `expected`. `path` is a JSON Pointer into the output parsed as JSON;
// output that is not JSON then fails. With `on: tool_calls` the text evaluators read the JSON
// of the reply's tool calls (reply::to_json) instead of the output. finish_reason, refusal and
// tool_call read input.facts (and tool_call input.tools). JSON in a code fence or among prose fails
// is_json and json_schema unless `extract: true`. `ignore_case` uses Unicode simple case folding.
// Throws InputError for a spec check_spec() refuses, for a json_schema or tool_call schema that
// load_schema cannot load or that does not compile, and for a declared tool's `parameters`
// that do not compile.
Evaluation evaluate(const nlohmann::json& spec, const EvalInput& input);

// The trust rule applied to `spec`: a failed evaluation with the reason when `spec` judges the
// reply's text (`on: output`, the default; not finish_reason, refusal, tool_call, latency_ms
// or cost) and the reply is unusable for a reason neither the suite (input.allowed) nor the
// spec's own `allow` accepts. evaluate() applies it first; the runner applies it to llm_judge.
std::optional<Evaluation> unusable(const nlohmann::json& spec, const EvalInput& input);

// What evaluate() does last, for scorers outside it (llm_judge): the spec's `name`, `required`
// and `weight` applied to `e`, and its reason made safe to print.
void label(const nlohmann::json& spec, Evaluation& e);

} // namespace promptops::evaluators
