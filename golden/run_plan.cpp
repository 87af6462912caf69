#include "golden/run_plan.hpp"

#include "evaluators/evaluator.hpp"
#include "golden/evidence_inputs.hpp"
#include "golden/fingerprint.hpp"
#include "golden/judge_prompt.hpp"
#include "registry/render.hpp"
#include "util/error.hpp"
#include "util/json_fields.hpp"
#include "util/json_pointer.hpp"
#include "util/suggest.hpp"

#include <algorithm>

namespace promptops::golden {
namespace {

using nlohmann::json;
using providers::ProviderRuntime;
namespace judge = evaluators::judge;

bool case_selected(const Case& c, const std::vector<std::string>& filters) {
  if (filters.empty()) {
    return true;
  }
  for (const auto& f : filters) {
    if (c.id == f) {
      return true;
    }
    if (c.tags.is_array()) {
      for (const auto& t : c.tags) {
        if (t.is_string() && t.get<std::string>() == f) {
          return true;
        }
      }
    }
  }
  return false;
}

} // namespace

RunPlan::RunPlan(const registry::Registry& registry, const TestOptions& selection)
    : m_registry(registry), m_selection(selection) {
  plan_suites();
  plan_cases();
  check_renders();
}

RunPlan::~RunPlan() {
  wait_for_baselines();
}

std::string RunPlan::done_key(const std::string& suite, const std::string& provider,
                              const std::string& prompt, const std::string& id) {
  return suite + '\x1f' + provider + '\x1f' + prompt + '\x1f' + id;
}

std::string RunPlan::done_key(const PlannedCase& pc) const {
  const PlannedCandidate& cand = candidate(pc);
  return done_key(m_suites[pc.suite].suite.name, cand.provider->settings.name,
                  cand.prompt->prompt.name, pc.test_case->id);
}

const Baseline* RunPlan::baseline(const std::string& suite, const std::string& provider) const {
  const auto it = m_baselines.find(baseline_path(suite, provider));
  return it == m_baselines.end() ? nullptr : it->second.get();
}

void RunPlan::wait_for_baselines() {
  for (auto& prints : m_baseline_prints) {
    prints.get();
  }
  m_baseline_prints.clear();
}

void RunPlan::plan_suites() {
  const registry::Config& config = m_registry.config();
  registry::PromptRef override_ref;
  if (!m_selection.prompt_override.empty()) {
    override_ref = registry::parse_prompt_ref(m_selection.prompt_override);
    const auto prompts = m_registry.prompt_names();
    if (std::find(prompts.begin(), prompts.end(), override_ref.name) == prompts.end()) {
      throw InputError("--prompt: unknown prompt \"" + override_ref.name + "\"" +
                       util::did_you_mean(override_ref.name, prompts));
    }
  }
  const std::vector<std::string> names = suite_names();
  m_suites.reserve(names.size());
  for (const auto& name : names) {
    m_suites.push_back(plan_suite(name, override_ref));
  }
  if (!m_selection.provider.empty() && !config.find_provider(m_selection.provider)) {
    throw InputError("unknown provider \"" + m_selection.provider + "\"" +
                     util::did_you_mean(m_selection.provider, config.provider_names()) +
                     " (providers are defined in " + config.display_path + ")");
  }
}

// The suites selected, as names under golden/. Throws InputErrors naming the unknown ones.
std::vector<std::string> RunPlan::suite_names() const {
  const auto available = suite_names_from_paths(m_registry.work_tree().list("golden", ".yaml"));
  std::vector<std::string> names = m_selection.suites;
  if (names.empty()) {
    names = available;
  }
  std::vector<InputError> errors;
  for (auto& name : names) {
    // Accept "classify", "golden/classify" and "golden/classify.yaml".
    if (name.rfind("golden/", 0) == 0) {
      name = name.substr(7);
    }
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0) {
      name.resize(name.size() - 5);
    }
    if (std::find(available.begin(), available.end(), name) == available.end()) {
      errors.emplace_back("unknown suite \"" + name + "\"" + util::did_you_mean(name, available) +
                          (available.empty() ? " (golden/ has no suite)" : ""));
    }
  }
  throw_if_any(std::move(errors));
  if (names.empty()) {
    throw NothingToDoError("nothing to test: " + m_registry.display("golden") +
                           " has no suite (golden/<name>.yaml)");
  }
  return names;
}

// A suite, its selected cases and its candidates (on the selected provider).
PlannedSuite RunPlan::plan_suite(const std::string& name, const registry::PromptRef& override_ref) {
  const registry::Config& config = m_registry.config();
  const std::string path = "golden/" + name + ".yaml";
  const std::string shown = m_registry.display(path);
  PlannedSuite ps;
  ps.suite = parse_suite(name, *m_registry.work_tree().read(path), path, shown, config);
  const std::string cases_shown = m_registry.display(ps.suite.cases_path);
  auto text = m_registry.work_tree().read(ps.suite.cases_path);
  if (!text) {
    throw InputError(shown, ps.suite.cases_position,
                     "cases file " + cases_shown + " does not exist");
  }
  CaseFile cases = parse_cases(*text, cases_shown);
  throw_if_any(std::move(cases.errors));
  for (auto& c : cases.cases) {
    if (case_selected(c, m_selection.filters) && in_shard(name, c.id)) {
      ps.cases.push_back(std::move(c));
    }
  }
  for (Candidate candidate : ps.suite.candidates) {
    if (!override_ref.name.empty() && candidate.prompt.name == override_ref.name) {
      candidate.prompt.ref = override_ref.ref;
    }
    PlannedCandidate pc;
    pc.prompt = &resolve(candidate, shown);
    std::string provider = candidate.provider;
    if (provider.empty()) {
      provider = pc.prompt->prompt.provider.empty() ? "default" : pc.prompt->prompt.provider;
    }
    if (!m_selection.provider.empty() && provider != m_selection.provider) {
      continue;
    }
    const registry::ProviderConfig* pconf = config.find_provider(provider);
    if (pconf == nullptr) {
      throw InputError(shown, candidate.position,
                       "no provider for prompt \"" + candidate.prompt.name +
                           "\": list it under \"providers:\", give the prompt a "
                           "\"provider:\", or define a provider named \"default\"");
    }
    pc.provider = &runtime(*pconf);
    pc.label = candidate.prompt.name +
               (candidate.prompt.ref.empty() ? "" : "@" + candidate.prompt.ref) + " on " + provider;
    pc.baseline = load_baseline_of(name, pc.provider->settings.name);
    ps.candidates.push_back(pc);
  }
  return ps;
}

// Every case on every candidate, its evaluators checked before the first request: a typo
// found after ten minutes of calls wastes them.
void RunPlan::plan_cases() {
  for (std::size_t s = 0; s < m_suites.size(); ++s) {
    PlannedSuite& ps = m_suites[s];
    std::vector<const PlannedJudge*> suite_judges;
    for (std::size_t i = 0; i < ps.suite.evaluators.size(); ++i) {
      const SourcePosition p =
          ps.suite.source_map.value_position(util::pointer_append("/evaluators", i));
      const std::string where =
          ps.suite.display_path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
      evaluators::check_spec(ps.suite.evaluators[i], where);
      suite_judges.push_back(plan_judge(ps.suite.evaluators[i], where, ps));
    }
    const std::string cases_shown = m_registry.display(ps.suite.cases_path);
    const auto suite_evals = std::make_shared<const json>(ps.suite.evaluators);
    for (const auto& c : ps.cases) {
      std::shared_ptr<const json> evals = suite_evals;
      std::vector<const PlannedJudge*> judges = suite_judges;
      if (c.evaluators.is_array() && !c.evaluators.empty()) {
        json own = ps.suite.evaluators;
        for (const auto& e : c.evaluators) {
          const std::string where = cases_shown + ":" + std::to_string(c.line);
          evaluators::check_spec(e, where);
          judges.push_back(plan_judge(e, where, ps));
          own.push_back(e);
        }
        evals = std::make_shared<const json>(std::move(own));
      }
      if (std::all_of(judges.begin(), judges.end(), [](auto* j) { return j == nullptr; })) {
        judges.clear();
      }
      for (std::size_t k = 0; k < ps.candidates.size(); ++k) {
        m_cases.push_back({s, k, &c, evals, judges});
      }
    }
  }
  if (m_cases.empty()) {
    throw NothingToDoError(m_selection.filters.empty() && m_selection.provider.empty()
                               ? "nothing to test: the selected suites have no cases"
                               : "nothing to test: no case matched the --filter and "
                                 "--provider given");
  }
}

void RunPlan::check_renders() const {
  // Every case is rendered now, so that a template error stops the run before any call; the
  // request is rendered again when its case starts. Keeping 100,000 rendered requests cost
  // 3 KB a case, and freeing them one by one left the heap fragmented for the whole run.
  std::vector<InputError> render_errors;
  for (std::size_t i = 0; i < m_cases.size(); ++i) {
    try {
      request(m_cases[i]);
    } catch (const InputError& e) {
      render_errors.push_back(e);
    }
    if (render_errors.size() >= 20) {
      break;
    }
  }
  throw_if_any(std::move(render_errors));
}

// The judge of an llm_judge entry (null for any other type): its provider, its prompt (whose
// variables it must be able to fill) and, when pairwise, the baselines of the suite's
// candidates. Throws InputError at `where`.
const PlannedJudge* RunPlan::plan_judge(const json& spec, const std::string& where,
                                        PlannedSuite& ps) {
  if (util::string_field(spec, "type") != "llm_judge") {
    return nullptr;
  }
  judge::Options options = judge::read_options(spec);
  const registry::Config& config = m_registry.config();
  const registry::ProviderConfig* provider = config.find_provider(options.provider);
  if (provider == nullptr) {
    throw InputError(where, {},
                     "unknown judge provider \"" + options.provider + "\"" +
                         util::did_you_mean(options.provider, config.provider_names()) +
                         " (providers are defined in " + config.display_path + ")");
  }
  const std::string prompt_name =
      options.prompt.empty() ? judge::default_prompt_name(options.pairwise) : options.prompt;
  auto prompt_it = m_judge_prompts.find(prompt_name);
  if (prompt_it == m_judge_prompts.end()) {
    std::unique_ptr<registry::ResolvedPrompt> loaded;
    try {
      loaded =
          std::make_unique<registry::ResolvedPrompt>(load_judge_prompt(m_registry, prompt_name));
    } catch (const InputError& e) {
      if (e.path().empty()) {
        throw InputError(where, {}, e.problem());
      }
      throw;
    }
    prompt_it = m_judge_prompts.emplace(prompt_name, std::move(loaded)).first;
  }
  const registry::ResolvedPrompt& prompt = *prompt_it->second;
  const std::vector<std::string> given =
      options.pairwise
          ? std::vector<std::string>{"rubric", "output_a", "output_b", "input", "expected", "vars"}
          : std::vector<std::string>{"rubric", "output", "input", "expected", "vars"};
  for (const auto& v : prompt.prompt.required) {
    if (std::find(given.begin(), given.end(), v.name) == given.end()) {
      std::string list;
      for (const auto& g : given) {
        list += (list.empty() ? "" : ", ") + g;
      }
      throw InputError(where, {},
                       "judge prompt \"" + prompt_name + "\" requires variable \"" + v.name +
                           "\", which llm_judge does not give (it gives " + list + ")");
    }
  }
  if (options.pairwise) {
    for (const auto& cand : ps.candidates) {
      if (cand.baseline == nullptr) {
        throw InputError(
            where, {},
            "llm_judge with pairwise: true compares with the baseline, but " +
                m_registry.display(baseline_path(ps.suite.name, cand.provider->settings.name)) +
                " does not exist (a baseline line is {\"id\": ..., \"output\": "
                "...}; promptops baseline record writes one)");
      }
    }
  }
  auto planned = std::make_unique<PlannedJudge>();
  planned->options = std::move(options);
  planned->prompt = &prompt;
  planned->provider = &runtime(*provider);
  m_planned_judges.push_back(std::move(planned));
  return m_planned_judges.back().get();
}

// The baseline of `suite` on `provider`, loaded once; null when there is none.
const Baseline* RunPlan::load_baseline_of(const std::string& suite, const std::string& provider) {
  const std::string path = baseline_path(suite, provider);
  auto it = m_baselines.find(path);
  if (it == m_baselines.end()) {
    auto loaded = load_baseline(m_registry, suite, provider);
    it =
        m_baselines.emplace(path, loaded ? std::make_unique<Baseline>(std::move(*loaded)) : nullptr)
            .first;
    if (Baseline* b = it->second.get()) {
      // The fingerprints of the baseline's outputs (for drift) are made on another core
      // while the run calls its providers. This thread reads other members of the cases
      // meanwhile, and `print` only after summarize() has waited for them.
      m_baseline_prints.push_back(std::async(std::launch::async, [b] {
        for (auto& [id, c] : b->cases) {
          if (!c.print) {
            c.print = fingerprint(c.output, c.tool_names);
          }
        }
      }));
    }
  }
  return it->second.get();
}

bool RunPlan::in_shard(const std::string& suite, const std::string& id) const {
  if (m_selection.shard_count <= 1) {
    return true;
  }
  // FNV-1a: the same share on every machine and build (std::hash promises neither).
  std::uint64_t h = 1469598103934665603ULL;
  for (const char ch : suite + '\0' + id) {
    h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  }
  return static_cast<int>(h % static_cast<std::uint64_t>(m_selection.shard_count)) ==
         m_selection.shard_index - 1;
}

const registry::ResolvedPrompt& RunPlan::resolve(const Candidate& candidate,
                                                 const std::string& shown) {
  const std::string key = candidate.prompt.name + "@" + candidate.prompt.ref;
  auto it = m_prompts.find(key);
  if (it != m_prompts.end()) {
    return *it->second;
  }
  try {
    auto resolved =
        std::make_unique<registry::ResolvedPrompt>(m_registry.resolve(candidate.prompt));
    return *m_prompts.emplace(key, std::move(resolved)).first->second;
  } catch (const InputError& e) {
    if (e.path().empty()) {
      throw InputError(shown, candidate.position, e.problem());
    }
    throw;
  }
}

const ProviderRuntime& RunPlan::runtime(const registry::ProviderConfig& config) {
  auto it = m_providers.find(config.name);
  if (it != m_providers.end()) {
    return *it->second;
  }
  auto rt = std::make_unique<ProviderRuntime>();
  rt->settings = providers::settings_from_config(config, m_registry.config());
  rt->workdir = m_registry.root();
  if (rt->settings.type == "replay") {
    const std::filesystem::path from = rt->settings.from;
    const std::filesystem::path file = from.is_absolute() ? from : m_registry.root() / from;
    rt->replay = providers::load_replay(file, m_registry.display(rt->settings.from), "");
  }
  return *m_providers.emplace(config.name, std::move(rt)).first->second;
}

std::string RunPlan::case_context(const PlannedCase& pc) const {
  return "case \"" + pc.test_case->id + "\" in " +
         m_registry.display(m_suites[pc.suite].suite.cases_path) + ":" +
         std::to_string(pc.test_case->line);
}

providers::Request RunPlan::request(const PlannedCase& pc) const {
  const PlannedCandidate& cand = m_suites[pc.suite].candidates[pc.candidate];
  return render(*cand.prompt, *cand.provider, pc.test_case->vars, case_context(pc),
                pc.test_case->id);
}

// `prompt` rendered with `vars` as a call to `provider`: the provider's params overridden by
// the prompt's, the prompt's model unless it has none. Throws InputError.
// The prompt's output schema parsed once for all its requests; null when it is not JSON.
std::shared_ptr<const json>
RunPlan::parsed_output_schema(const registry::ResolvedPrompt& prompt) const {
  auto [it, added] = m_output_schemas.try_emplace(&prompt);
  if (added) {
    json schema = json::parse(*prompt.output_schema, nullptr, false);
    if (!schema.is_discarded()) {
      it->second = std::make_shared<const json>(std::move(schema));
    }
  }
  return it->second;
}

providers::Request RunPlan::render(const registry::ResolvedPrompt& prompt,
                                   const ProviderRuntime& provider, const json& vars,
                                   const std::string& context, const std::string& case_id) const {
  const registry::RenderedPrompt rendered =
      registry::render_prompt(prompt, m_registry.config(), vars, context);
  providers::Request r;
  r.case_id = case_id;
  if (rendered.kind == registry::PromptKind::text) {
    r.messages.push_back({"user", rendered.text});
  } else {
    for (const auto& m : rendered.messages) {
      r.messages.push_back({m.role, m.content});
    }
  }
  const providers::ProviderSettings& settings = provider.settings;
  const registry::Prompt& p = prompt.prompt;
  r.model = p.model.empty() ? settings.model : p.model;
  r.params = settings.params.is_object() ? settings.params : json::object();
  if (p.params.is_object()) {
    r.params.update(p.params);
  }
  if (prompt.output_schema) {
    r.output_schema = parsed_output_schema(prompt);
    // response_format's name allows [a-zA-Z0-9_-] only: "support/classify" would be refused.
    r.output_schema_name = p.name;
    std::replace(r.output_schema_name.begin(), r.output_schema_name.end(), '/', '_');
  }
  r.tools = p.tools;
  return r;
}

providers::Job RunPlan::job_for(const ProviderRuntime& provider, providers::Request request) {
  providers::Job job;
  job.provider = &provider;
  job.request = std::move(request);
  const std::string& type = provider.settings.type;
  if (type != "echo" && type != "replay") {
    job.cache_key = providers::cache_key(provider.settings, job.request);
  }
  return job;
}
json RunPlan::prompt_versions() const {
  json versions = json::object();
  for (const auto& ps : m_suites) {
    for (const auto& c : ps.candidates) {
      versions[c.prompt->prompt.name + "@" + c.prompt->ref] = c.prompt->version;
    }
  }
  for (const auto& [name, prompt] : m_judge_prompts) {
    versions[name + "@" + prompt->ref] = prompt->version; // a changed judge changes verdicts
  }
  return versions;
}

json RunPlan::run_record(const std::string& run_id, const std::string& started) const {
  return {{"run_id", run_id},
          {"started", started},
          {"suites", m_selection.suites},
          {"provider", m_selection.provider},
          {"filters", m_selection.filters},
          {"shard_index", m_selection.shard_index},
          {"shard_count", m_selection.shard_count},
          {"prompt_override", m_selection.prompt_override},
          {"prompt_versions", prompt_versions()},
          {"evidence", to_json(evidence_inputs())}};
}

std::map<std::string, EvidenceInputs> RunPlan::evidence_inputs() const {
  std::map<std::string, EvidenceInputs> out;
  for (const auto& ps : m_suites) {
    out[ps.suite.name] =
        golden::evidence_inputs(m_registry.work_tree(), m_registry.config(), ps.suite, ps.cases);
  }
  return out;
}

void RunPlan::check_versions_unchanged(const json& record, const std::string& run_id) const {
  // What the verdict depends on besides the prompts: results from two versions of a suite
  // would be evidence for neither.
  if (const auto recorded = record.find("evidence"); recorded != record.end()) {
    const auto before = evidence_from_json(nlohmann::ordered_json(*recorded));
    for (const auto& [suite, now] : evidence_inputs()) {
      const auto it = before.find(suite);
      const std::vector<std::string> changed = it == before.end()
                                                   ? std::vector<std::string>{"its record"}
                                                   : changed_inputs(it->second, now);
      if (!changed.empty()) {
        std::string list;
        for (const auto& c : changed) {
          list += (list.empty() ? "" : ", ") + c;
        }
        throw InputError("cannot resume run \"" + run_id + "\": suite " + suite +
                         " changed since it started (" + list + "); start a new run");
      }
    }
  }
  const json before = record.value("prompt_versions", json::object());
  const json now = prompt_versions();
  for (const auto& [key, version] : now.items()) {
    if (before.contains(key) && before[key] != version) {
      throw InputError("cannot resume run \"" + run_id + "\": prompt " + key +
                       " changed since it started (" +
                       before[key].get<std::string>().substr(0, 12) + " -> " +
                       version.get<std::string>().substr(0, 12) + "); start a new run");
    }
  }
}

} // namespace promptops::golden
