#include "golden/evidence_inputs.hpp"

#include "evaluators/judge.hpp"
#include "golden/baseline.hpp"
#include "golden/judge_prompt.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json_fields.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

namespace promptops::golden {
namespace {

using nlohmann::json;

constexpr const char* k_absent = "absent";

class Collector {
public:
  Collector(const registry::Source& source, EvidenceInputs& out) : m_source(source), m_out(out) {}

  // A file that must be there (the suite, its cases, a schema): "absent" when it is not.
  void file(const std::string& kind, const std::string& path) {
    std::string digest = k_absent;
    try {
      if (const auto text = m_source.read(path)) {
        digest = util::sha256_hex(*text);
      }
    } catch (const InputError& e) {
      digest = "unreadable: " + e.problem();
    }
    m_out.digests[kind + " " + path] = digest;
  }

  // A word of a command that may name a file of the registry ("scripts/check.sh",
  // "./judge.py"): recorded when it is one, so that editing the script the suite runs counts.
  void command_word(const std::string& word) {
    if (word.empty() || word.front() == '-' || word.front() == '/' ||
        word.find_first_of(" \t\n$`'\"|&;<>(){}*?~=") != std::string::npos) {
      return;
    }
    const std::string path = std::filesystem::path(word).lexically_normal().generic_string();
    if (path.empty() || path == "." || path.rfind("..", 0) == 0) {
      return;
    }
    try {
      if (const auto text = m_source.read(path)) {
        m_out.digests["file " + path] = util::sha256_hex(*text);
      }
    } catch (const InputError&) {
      // a folder or a path the registry refuses: not a file the command reads as a script
    }
  }

  void command(const json& command) {
    if (command.is_string()) {
      const std::string text = command.get<std::string>();
      std::size_t at = 0;
      while (at < text.size()) {
        const std::size_t end = std::min(text.find_first_of(" \t\n", at), text.size());
        command_word(text.substr(at, end - at));
        at = end + 1;
      }
    } else if (command.is_array()) {
      for (const json& word : command) {
        if (word.is_string()) {
          command_word(word.get<std::string>());
        }
      }
    }
  }

  void judge(const json& spec, std::set<std::string>& providers) {
    const evaluators::judge::Options options = evaluators::judge::read_options(spec);
    providers.insert(options.provider);
    const std::string name = options.prompt.empty()
                                 ? evaluators::judge::default_prompt_name(options.pairwise)
                                 : options.prompt;
    std::string digest;
    try {
      digest = load_judge_prompt(m_source, "", name).version;
    } catch (const InputError& e) {
      digest = "unreadable: " + e.problem();
    }
    m_out.digests["judge " + name] = digest;
  }

  void evaluators(const json& list, std::set<std::string>& providers) {
    if (!list.is_array()) {
      return;
    }
    for (const json& spec : list) {
      if (!spec.is_object()) {
        continue;
      }
      const std::string type = util::string_field(spec, "type");
      if (const std::string schema = util::string_field(spec, "schema"); !schema.empty()) {
        file("file", schema);
      }
      if (type == "exec") {
        command(spec.value("command", json()));
      } else if (type == "llm_judge") {
        judge(spec, providers);
      }
    }
  }

private:
  const registry::Source& m_source;
  EvidenceInputs& m_out;
};

// A provider's entry without what only paces the calls (concurrency, rate limits, timeouts,
// retries, size caps): changing those changes no verdict.
std::string provider_digest(const registry::ProviderConfig& provider) {
  json settings = provider.settings.is_object() ? provider.settings : json::object();
  for (const char* pacing : {"concurrency", "requests_per_minute", "tokens_per_minute", "timeout_s",
                             "retries", "max_backoff_s", "max_reply_bytes"}) {
    settings.erase(pacing);
  }
  return util::sha256_hex(settings.dump());
}

std::string gate_digest(const registry::Gate& gate) {
  json j = json::object();
  if (gate.min_pass_rate) {
    j["min_pass_rate"] = *gate.min_pass_rate;
  }
  if (gate.max_regressions) {
    j["max_regressions"] = *gate.max_regressions;
  }
  if (gate.fail_on_drift) {
    j["fail_on_drift"] = *gate.fail_on_drift;
  }
  if (gate.drift_sensitivity) {
    j["drift_sensitivity"] = *gate.drift_sensitivity;
  }
  return util::sha256_hex(j.dump());
}

} // namespace

std::string EvidenceInputs::hash() const {
  std::string text;
  for (const auto& [label, digest] : digests) {
    text += label;
    text += '\0';
    text += digest;
    text += '\n';
  }
  return util::sha256_hex(text);
}

EvidenceInputs evidence_inputs(const registry::Source& source, const registry::Config& config,
                               const Suite& suite, const std::vector<Case>& cases) {
  EvidenceInputs out;
  Collector collect(source, out);
  collect.file("suite", suite.path);
  collect.file("cases", suite.cases_path);
  std::set<std::string> providers;
  for (const Candidate& c : suite.candidates) {
    providers.insert(c.provider);
    collect.file("baseline", baseline_path(suite.name, c.provider));
    collect.file("latency", latency_summary_path(suite.name, c.provider));
  }
  collect.evaluators(suite.evaluators, providers);
  for (const Case& c : cases) {
    collect.evaluators(c.evaluators, providers);
  }
  for (const std::string& name : providers) {
    const registry::ProviderConfig* provider = config.find_provider(name);
    out.digests["provider " + name] = provider == nullptr ? k_absent : provider_digest(*provider);
    if (provider == nullptr) {
      continue;
    }
    if (provider->type == "exec") {
      collect.command(provider->settings.value("command", json()));
    } else if (provider->type == "replay") {
      collect.file("file", util::string_field(provider->settings, "from"));
    }
  }
  out.digests["gate"] = gate_digest(config.gate);
  return out;
}

std::vector<std::string> changed_inputs(const EvidenceInputs& recorded, const EvidenceInputs& now) {
  std::set<std::string> changed;
  for (const auto& [label, digest] : recorded.digests) {
    const auto it = now.digests.find(label);
    if (it == now.digests.end() || it->second != digest) {
      changed.insert(label);
    }
  }
  for (const auto& [label, digest] : now.digests) {
    if (recorded.digests.find(label) == recorded.digests.end()) {
      changed.insert(label);
    }
  }
  return {changed.begin(), changed.end()};
}

json to_json(const std::map<std::string, EvidenceInputs>& by_suite) {
  json out = json::object();
  for (const auto& [suite, inputs] : by_suite) {
    out[suite] = {{"hash", inputs.hash()}, {"inputs", inputs.digests}};
  }
  return out;
}

std::map<std::string, EvidenceInputs> evidence_from_json(const nlohmann::ordered_json& value) {
  std::map<std::string, EvidenceInputs> out;
  if (!value.is_object()) {
    return out;
  }
  for (const auto& [suite, entry] : value.items()) {
    const auto inputs = entry.is_object() ? entry.find("inputs") : entry.end();
    if (!entry.is_object() || inputs == entry.end() || !inputs->is_object()) {
      continue;
    }
    EvidenceInputs e;
    bool ok = true;
    for (const auto& [label, digest] : inputs->items()) {
      ok = ok && digest.is_string();
      if (ok) {
        e.digests[label] = digest.get<std::string>();
      }
    }
    // The hash is recomputed from the inputs: one that disagrees was edited by hand.
    const auto hash = entry.find("hash");
    if (ok && hash != entry.end() && hash->is_string() && *hash == e.hash()) {
      out[suite] = std::move(e);
    }
  }
  return out;
}

} // namespace promptops::golden
