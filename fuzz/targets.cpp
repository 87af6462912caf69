#include "fuzz/targets.hpp"

#include "evaluators/judge.hpp"
#include "golden/drift.hpp"
#include "golden/fingerprint.hpp"
#include "golden/result.hpp"
#include "golden/runner.hpp"
#include "golden/suite.hpp"
#include "jsonschema/validator.hpp"
#include "mustache/template.hpp"
#include "providers/wire.hpp"
#include "registry/config.hpp"
#include "registry/prompt.hpp"
#include "report/run_record.hpp"
#include "util/error.hpp"
#include "util/json_lines.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promptops::fuzz {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A broken invariant: abort, so that libFuzzer keeps the input and the replay test fails.
void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// `text` split at its first `separator`; the second part is empty when there is none.
std::pair<std::string_view, std::string_view> split(std::string_view text,
                                                    std::string_view separator) {
  const std::size_t at = text.find(separator);
  if (at == std::string_view::npos) {
    return {text, {}};
  }
  return {text.substr(0, at), text.substr(at + separator.size())};
}

const json& default_data() {
  static const json data = json::parse(R"({"name": "Ada", "ticket": "late parcel",
    "customer": {"name": "Ada", "tier": "gold"}, "items": [{"sku": "A1"}, {"sku": "B2"}],
    "flag": true, "off": false, "none": null, "n": 0, "empty": [], "obj": {}})");
  return data;
}

mustache::RenderOptions render_options(mustache::Escape escape) {
  mustache::RenderOptions options;
  options.escape = escape;
  options.missing_partial = mustache::MissingPartial::empty;
  options.partials = [](const std::string& name) -> std::optional<std::string> {
    if (name == "item") {
      return std::string("- {{sku}}\n");
    }
    if (name == "bad") {
      return std::string("{{#open}}");
    }
    return std::nullopt;
  };
  return options;
}

} // namespace

// The template, then optionally a NUL byte and the JSON data it renders with.
void fuzz_mustache(const std::uint8_t* data, std::size_t size) {
  const auto [source, data_text] = split(as_text(data, size), std::string_view("\0", 1));
  json values = default_data();
  if (!data_text.empty()) {
    json parsed = json::parse(data_text, nullptr, false);
    if (!parsed.is_discarded()) {
      values = std::move(parsed);
    }
  }
  try {
    const mustache::Template t = mustache::Template::parse(source);
    (void)t.variables();
    (void)t.partials();
    (void)t.render(values, render_options(mustache::Escape::none));
    (void)t.render(values, render_options(mustache::Escape::html));
  } catch (const mustache::TemplateSyntaxError& e) {
    require(e.line() >= 1 && e.column() >= 1);
  } catch (const mustache::TemplateRenderError&) {
  }
}

void fuzz_config(const std::uint8_t* data, std::size_t size) {
  try {
    const registry::Config config = registry::parse_config(as_text(data, size), "promptops.yaml");
    for (const std::string& name : config.provider_names()) {
      require(config.find_provider(name) != nullptr);
    }
  } catch (const Error&) {
  }
}

void fuzz_prompt(const std::uint8_t* data, std::size_t size) {
  try {
    const registry::Prompt prompt = registry::parse_prompt(
        "fuzz", as_text(data, size), "prompts/fuzz.yaml", "prompts/fuzz.yaml");
    (void)prompt.template_variables();
    (void)prompt.template_partials();
    const mustache::RenderOptions options = render_options(prompt.escape);
    for (const registry::Message& message : prompt.messages) {
      (void)message.compiled.render(default_data(), options);
    }
    if (prompt.text) {
      (void)prompt.text->render(default_data(), options);
    }
  } catch (const Error&) {
  } catch (const mustache::TemplateRenderError&) {
  }
}

void fuzz_suite(const std::uint8_t* data, std::size_t size) {
  static const registry::Config config = registry::parse_config(R"(version: 1
environments: [staging, prod]
providers:
  default: {type: echo}
  openai: {type: openai, base_url: "http://127.0.0.1:1/v1", model: gpt-4o-mini}
  judge: {type: echo}
)",
                                                                "promptops.yaml");
  try {
    const golden::Suite suite = golden::parse_suite("fuzz", as_text(data, size), "golden/fuzz.yaml",
                                                    "golden/fuzz.yaml", config);
    for (const golden::Candidate& candidate : suite.candidates) {
      require(config.find_provider(candidate.provider) != nullptr);
    }
  } catch (const Error&) {
  }
}

void fuzz_cases(const std::uint8_t* data, std::size_t size) {
  const golden::CaseFile file = golden::parse_cases(as_text(data, size), "golden/fuzz.jsonl");
  for (const golden::Case& c : file.cases) {
    require(c.vars.is_object() && c.tags.is_array() && c.evaluators.is_array() && c.line >= 1);
  }
}

// Result lines, read as `promptops report` reads results.jsonl; each line's JSON must read as
// nlohmann's parser reads it, and as the same result whether its strings are moved or copied.
void fuzz_results(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  report::RunRecord record;
  for (util::JsonLine& line : util::parse_json_object_lines(text)) {
    const ordered_json expected = ordered_json::parse(line.text, nullptr, false);
    // nlohmann's parser ends the text at a NUL byte ("{}\0junk" reads as {}); simdjson does
    // not, and refuses the line: the stricter answer.
    if (line.text.find('\0') == std::string_view::npos) {
      require(line.parsed == (!expected.is_discarded() && expected.is_object()));
      if (line.parsed) {
        require(line.value == expected);
      }
    }
    if (!line.parsed) {
      continue;
    }
    if (const auto it = line.value.find("fingerprint"); it != line.value.end()) {
      (void)golden::fingerprint_from_json(*it);
    }
    golden::CaseResult result;
    try {
      const golden::CaseResult copied =
          golden::case_result_from_json(line.value, golden::Fingerprints::skip);
      result = golden::case_result_from_json(std::move(line.value), golden::Fingerprints::skip);
      // Moving the strings out reads the same result as copying them.
      require(golden::result_line(result) == golden::result_line(copied));
    } catch (const InputError&) { // a newer format_version: refused, as load_run refuses it
      continue;
    }
    const std::string reason = golden::failure_reason(result);
    const std::optional<golden::Failure> failure = golden::failure_of(result);
    require(failure.has_value() == (result.status != golden::CaseStatus::pass));
    require(!failure || failure->reason == reason);
    record.results.push_back(std::move(result));
  }
  for (const report::ResultGroup& group : report::group_results(record)) {
    (void)report::group_name(group);
  }
}

namespace {

void read_wire(const std::string& type, const std::uint8_t* data, std::size_t size) {
  providers::ProviderSettings provider;
  provider.name = type;
  provider.type = type;
  provider.model = "model";
  provider.pricing.input_per_mtok = 1.0;
  provider.pricing.output_per_mtok = 2.0;
  const std::string body(as_text(data, size));
  for (const long status : {200L, 429L, 500L}) {
    providers::WireOutcome outcome = providers::read_response(provider, status, body);
    require(outcome.ok || !outcome.error.empty());
    if (outcome.ok) {
      (void)provider.cost(outcome.reply.usage);
      // Redaction walks tool call arguments of any shape.
      providers::redact_reply(outcome.reply, "sk-fuzz-0123456789abcdef");
    }
  }
  (void)providers::read_response(provider, 503, body, "false");
  // A body under another Content-Type takes the unparseable-body path with its preview.
  for (const char* content_type : {"text/html", "text/event-stream"}) {
    const providers::WireOutcome outcome =
        providers::read_response(provider, providers::HttpResponse{200, body, content_type, {}});
    require(outcome.ok || !outcome.error.empty());
  }
  require(providers::redact(body, "sk-fuzz-0123456789abcdef").find("sk-fuzz-0123456789abcdef") ==
          std::string::npos);
}

} // namespace

void fuzz_openai(const std::uint8_t* data, std::size_t size) {
  read_wire("openai", data, size);
}

void fuzz_anthropic(const std::uint8_t* data, std::size_t size) {
  read_wire("anthropic", data, size);
}

void fuzz_judge(const std::uint8_t* data, std::size_t size) {
  const std::string text(as_text(data, size));
  const evaluators::judge::Verdict verdict = evaluators::judge::read_verdict(text);
  if (verdict.problem.empty() && verdict.score) {
    require(*verdict.score >= 0 && *verdict.score <= 1);
  }
  (void)evaluators::judge::read_preference(text);
  evaluators::judge::Options options;
  options.threshold = 0.5;
  options.n = 3;
  const evaluators::judge::Answer answer{true, text, {}};
  const evaluators::judge::Answer failed{false, {}, "timeout"};
  (void)evaluators::judge::grade(options, {answer, answer, failed});
  options.pairwise = true;
  (void)evaluators::judge::compare(options, {{answer, answer}, {answer, failed}, {answer, answer}});
}

// The schema (a JSON document on the first line), then the instance (the rest).
void fuzz_jsonschema(const std::uint8_t* data, std::size_t size) {
  const auto [schema_text, instance_text] = split(as_text(data, size), "\n");
  const json schema = json::parse(schema_text, nullptr, false);
  const json instance = json::parse(instance_text, nullptr, false);
  if (schema.is_discarded() || instance.is_discarded()) {
    return;
  }
  for (const bool format_assertion : {false, true}) {
    jsonschema::CompileOptions options;
    options.format_assertion = format_assertion;
    options.default_draft =
        format_assertion ? jsonschema::Draft::draft7 : jsonschema::Draft::draft2020_12;
    options.base_uri = "https://example.com/fuzz.json";
    options.loader = [](const std::string&) -> std::optional<json> { return std::nullopt; };
    try {
      const jsonschema::Validator validator = jsonschema::Validator::compile(schema, options);
      const bool valid = validator.is_valid(instance);
      const std::vector<jsonschema::ValidationError> errors = validator.validate(instance, 20);
      require(valid == errors.empty());
    } catch (const jsonschema::SchemaError&) {
    }
  }
}

// Outputs separated by NUL bytes: the first half is the baseline's, the second the run's.
void fuzz_fingerprint(const std::uint8_t* data, std::size_t size) {
  std::string_view text = as_text(data, size);
  std::vector<golden::Fingerprint> fingerprints;
  while (true) {
    const auto [output, rest] = split(text, std::string_view("\0", 1));
    // Every other output also "calls a tool" named by its first bytes: names are model text.
    std::vector<std::string> tools;
    if (fingerprints.size() % 2 == 1) {
      tools.emplace_back(output.substr(0, 64));
    }
    golden::Fingerprint fp = golden::fingerprint(output, tools);
    const std::optional<golden::Fingerprint> back =
        golden::fingerprint_from_json(golden::to_json(fp));
    require(back.has_value());
    (void)golden::to_ordered_json(fp);
    fingerprints.push_back(std::move(fp));
    if (rest.data() == nullptr || output.size() == text.size()) {
      break;
    }
    text = rest;
  }
  const std::size_t half = fingerprints.size() / 2;
  const std::vector<golden::Fingerprint> baseline(fingerprints.begin(),
                                                  fingerprints.begin() + static_cast<long>(half));
  const std::vector<golden::Fingerprint> run(fingerprints.begin() + static_cast<long>(half),
                                             fingerprints.end());
  golden::DriftOptions options;
  options.alpha = 0.5; // report freely, to reach the message code
  options.min_cases = 1;
  for (const golden::DriftFinding& finding : golden::detect_drift(baseline, run, options)) {
    require(finding.cases == finding.indices.size());
    (void)golden::to_json(finding);
  }
  // The same outputs paired case by case (the run's extra one, if any, without a pair).
  std::vector<golden::DriftCase> cases;
  for (std::size_t i = 0; i < run.size(); ++i) {
    cases.push_back({i < baseline.size() ? &baseline[i] : nullptr, &run[i]});
  }
  options.permutations = 50;
  for (const golden::DriftFinding& finding : golden::detect_drift(cases, options)) {
    require(finding.cases == finding.indices.size());
    for (const std::size_t i : finding.indices) {
      require(i < cases.size() && cases[i].run != nullptr);
    }
    (void)golden::to_json(finding);
  }
}

const std::vector<Target>& all_targets() {
  static const std::vector<Target> targets = {
      {"mustache", fuzz_mustache},
      {"config", fuzz_config},
      {"prompt", fuzz_prompt},
      {"suite", fuzz_suite},
      {"cases", fuzz_cases},
      {"results", fuzz_results},
      {"openai", fuzz_openai},
      {"anthropic", fuzz_anthropic},
      {"judge", fuzz_judge},
      {"jsonschema", fuzz_jsonschema},
      {"fingerprint", fuzz_fingerprint},
  };
  return targets;
}

} // namespace promptops::fuzz
