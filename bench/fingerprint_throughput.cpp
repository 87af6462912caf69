// Fingerprints and drift tests per second on real outputs, one core: the per-output cost under
// `promptops test` against a baseline (docs/benchmarks.md).
//
//   fingerprint_throughput FILE.jsonl [ROUNDS]
//
// FILE is a JSON-lines file whose lines have a string "output" (a baseline, a replay file or a
// run's results.jsonl, e.g. one kept by baseline_scale --keep). Prints the median over ROUNDS
// (default 5) of: fingerprinting every output, and detect_drift of all the fingerprints against
// themselves.
#include "golden/drift.hpp"
#include "golden/fingerprint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fingerprint_throughput FILE.jsonl [ROUNDS]\n";
    return 2;
  }
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::ifstream in(argv[1]);
  std::vector<std::string> outputs;
  std::size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("output") && j["output"].is_string()) {
      outputs.push_back(j["output"].get<std::string>());
      bytes += outputs.back().size();
    }
  }
  if (outputs.empty()) {
    std::cerr << "no outputs in " << argv[1] << "\n";
    return 2;
  }
  std::vector<double> print_s;
  std::vector<double> drift_s;
  std::size_t findings = 0;
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::vector<promptops::golden::Fingerprint> prints;
    prints.reserve(outputs.size());
    for (const std::string& output : outputs) {
      prints.push_back(promptops::golden::fingerprint(output));
    }
    print_s.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    findings = promptops::golden::detect_drift(prints, prints).size();
    drift_s.push_back(seconds_since(start));
  }
  const double n = static_cast<double>(outputs.size());
  std::printf("%zu outputs (%.0f bytes on average), median of %d rounds:\n", outputs.size(),
              static_cast<double>(bytes) / n, rounds);
  std::printf("  fingerprint: %.3f s, %.2f us an output, %.0f outputs/s\n", median(print_s),
              median(print_s) / n * 1e6, n / median(print_s));
  std::printf("  detect_drift (%zu x %zu): %.3f s, %.2f us an output pair (%zu findings)\n",
              outputs.size(), outputs.size(), median(drift_s), median(drift_s) / n * 1e6, findings);
  return findings == 0 ? 0 : 1; // the same outputs on both sides: any finding is a bug
}
