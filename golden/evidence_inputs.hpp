#pragma once

#include "golden/suite.hpp"
#include "registry/config.hpp"
#include "registry/source.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

// What a suite's verdict depends on besides the prompt version: the inputs a run records in
// run.json and a promotion compares with the committed tree, so that a run of a weakened or
// stale suite is not evidence (docs/security.md). Later features that add inputs to a suite
// (new files it reads, new settings) add them here, and only here.
namespace promptops::golden {

struct EvidenceInputs {
  // "what path-or-name" -> SHA-256 of its content ("absent" for a file that is not there).
  // Kinds: suite, cases, file (a schema or a script an evaluator or provider names), judge
  // (a judge prompt's version), provider (its promptops.yaml entry), gate (promptops.yaml's),
  // baseline, latency (a baseline's latency summary).
  std::map<std::string, std::string> digests;

  // One SHA-256 over every digest, with its label.
  std::string hash() const;
  bool operator==(const EvidenceInputs& other) const { return digests == other.digests; }
};

// The inputs of `suite` (with its `cases`, as parsed from `source`) read from `source`, with
// the providers and gate of `config`. The work tree when a run starts; the committed tree
// when a promotion checks the run.
EvidenceInputs evidence_inputs(const registry::Source& source, const registry::Config& config,
                               const Suite& suite, const std::vector<Case>& cases);

// The labels whose digests differ between `recorded` and `now` (in one and not the other
// included), sorted.
std::vector<std::string> changed_inputs(const EvidenceInputs& recorded, const EvidenceInputs& now);

// run.json's "evidence" member: {suite: {"hash": H, "inputs": {label: digest}}}.
nlohmann::json to_json(const std::map<std::string, EvidenceInputs>& by_suite);
// Read leniently: a suite whose entry is not of that shape is left out.
std::map<std::string, EvidenceInputs> evidence_from_json(const nlohmann::ordered_json& value);

} // namespace promptops::golden
