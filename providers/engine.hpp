#pragma once

#include "providers/provider.hpp"
#include "providers/response_cache.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

// Runs provider calls: many HTTP requests in flight on one thread (libcurl's multi
// interface), each provider bounded by its concurrency and rate limit, failures retried with
// backoff and jitter, replies cached.
namespace promptops::providers {

// One recorded answer of a replay file.
struct Recorded {
  std::string output;
  std::string model;              // as recorded; "" when the line has none
  std::string system_fingerprint; // as recorded; "" when the line has none
};

// A provider ready to answer.
struct ProviderRuntime {
  ProviderSettings settings;
  std::unordered_map<std::string, Recorded> replay; // replay: case id -> recorded answer
  std::filesystem::path workdir;                    // exec: where the command runs
};

// Read a replay file (a baseline or a run's results.jsonl): case id -> answer. Lines for
// another provider are skipped when lines name one and `provider` is not empty. Throws
// InputError naming the file and line of a bad line.
std::unordered_map<std::string, Recorded> load_replay(const std::filesystem::path& file,
                                                      const std::string& display_path,
                                                      const std::string& provider);

struct Job {
  const ProviderRuntime* provider = nullptr;
  Request request;
  std::string cache_key; // "" : not cached (echo, replay)
};

struct EngineOptions {
  const ResponseCache* cache = nullptr; // null: no cache at all
  bool read_cache = true;               // false (--no-cache): ask again, store the new reply
  int concurrency_override = 0;         // > 0: every provider's concurrency
  double backoff_base_s = 0.5;          // first retry waits about this long
  // After this many connection failures in a row with no success, a provider is taken as
  // down: its remaining calls fail at once instead of retrying for minutes.
  int unreachable_after = 6;
  // Called on the caller's thread as each job ends, in the order they end. It may add jobs
  // (a judge's call for the output that just came back).
  std::function<void(std::size_t job, const Reply& reply)> on_done;
  // Set (e.g. by a signal handler) to stop: no new call starts, calls in flight are
  // abandoned, and run returns; jobs not ended get no on_done.
  const std::atomic<bool>* stop = nullptr;
};

// What runs jobs: those added before run() and those added (from on_done) while it runs.
// The runner drives this seam: CallEngine below, or a fake in its tests.
class Engine {
public:
  Engine() = default;
  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues `job`; returns its index, the one on_done reports.
  virtual std::size_t add(Job job) = 0;
  // Returns when every job added has ended, or `stop` was set.
  virtual void run() = 0;
};

// Makes the engine of a run, given its options (on_done included).
using EngineFactory = std::function<std::unique_ptr<Engine>(const EngineOptions& options)>;

// The engine on libcurl.
class CallEngine final : public Engine {
public:
  explicit CallEngine(const EngineOptions& options);
  ~CallEngine() override; // waits for the cache writer: every reply is stored when it returns

  std::size_t add(Job job) override;
  void run() override;

private:
  class Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace promptops::providers
