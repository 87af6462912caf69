#include "providers/engine.hpp"

#include "providers/curl_api.hpp"
#include "providers/wire.hpp"
#include "util/command.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/json_fields.hpp"
#include "util/lines.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <signal.h>
#include <thread>
#include <vector>

namespace promptops::providers {
namespace {

// The cache writer stores replies in batches of this many, or whatever has come after this
// long: a reply from a slow provider is stored soon, and a fast run does not wake it per reply.
constexpr std::size_t k_cache_batch = 256;
constexpr auto k_cache_flush = std::chrono::milliseconds(50);

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Requests (or tokens) per minute as a bucket that holds at most one second's worth, so a
// run starts at once but never sends faster than the limit for long.
class TokenBucket {
public:
  explicit TokenBucket(double per_minute)
      : m_rate(per_minute / 60.0), m_capacity(std::max(1.0, m_rate)), m_level(m_capacity),
        m_last(Clock::now()) {}

  bool unlimited() const { return m_rate <= 0; }

  // Takes `amount` when the bucket holds it (or is full: a request larger than the bucket
  // still goes, alone).
  bool take(double amount, Clock::time_point now) {
    if (unlimited()) {
      return true;
    }
    refill(now);
    amount = std::min(amount, m_capacity);
    if (m_level + 1e-9 < amount) {
      return false;
    }
    m_level -= amount;
    return true;
  }

  // How long until `amount` is there.
  double wait_ms(double amount, Clock::time_point now) {
    if (unlimited()) {
      return 0;
    }
    refill(now);
    amount = std::min(amount, m_capacity);
    return m_level >= amount ? 0 : (amount - m_level) / m_rate * 1000.0;
  }

private:
  void refill(Clock::time_point now) {
    m_level = std::min(m_capacity, m_level + ms_between(m_last, now) / 1000.0 * m_rate);
    m_last = now;
  }
  double m_rate;
  double m_capacity;
  double m_level;
  Clock::time_point m_last;
};

struct Lane {
  const ProviderRuntime* provider = nullptr;
  int concurrency = 1;
  int in_flight = 0;
  std::deque<std::size_t> pending;
  TokenBucket requests;
  TokenBucket tokens;
  int connect_failures_in_a_row = 0;
  bool ever_succeeded = false;
  std::string down; // why it is taken as unreachable; "" while it is not

  Lane(const ProviderRuntime* p, int c)
      : provider(p), concurrency(c), requests(p->settings.requests_per_minute),
        tokens(p->settings.tokens_per_minute) {}
};

struct JobState {
  int attempts = 0;
  Clock::time_point started;
  bool ended = false;
};

// Reply bytes held by the transfers in flight, run-wide, and how many they may hold: twice the
// largest max_reply_bytes of the run's providers (128 MiB by default), so that concurrency x
// the cap cannot exhaust memory while any one reply can still reach its cap.
struct ReplyBudget {
  std::size_t limit = 0;
  std::size_t used = 0;
};

// A reply's body as it comes in. It grows by doubling, but never past the reply's cap, and
// through realloc: glibc moves a large block with mremap instead of holding two copies.
class ReplyBody {
public:
  ReplyBody() = default;
  ~ReplyBody() { std::free(m_data); }
  ReplyBody(const ReplyBody&) = delete;
  ReplyBody& operator=(const ReplyBody&) = delete;

  std::string_view view() const { return {m_data, m_size}; }
  std::size_t size() const { return m_size; }
  std::size_t capacity() const { return m_capacity; }
  // False when the memory cannot be had.
  bool grow_to(std::size_t capacity) {
    void* grown = std::realloc(m_data, capacity);
    if (grown == nullptr) {
      return false;
    }
    m_data = static_cast<char*>(grown);
    m_capacity = capacity;
    return true;
  }
  // Within capacity().
  void append(const char* data, std::size_t size) {
    std::memcpy(m_data + m_size, data, size);
    m_size += size;
  }

private:
  char* m_data = nullptr;
  std::size_t m_size = 0;
  std::size_t m_capacity = 0;
};

// Why a body stopped being read.
enum class Overflow { none, cap, budget };

// One HTTP exchange in flight.
struct Transfer {
  std::size_t job = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body; // the request body; libcurl reads it in place
  ReplyBody response;
  std::size_t cap = 0; // the provider's max_reply_bytes
  ReplyBudget* budget = nullptr;
  Overflow overflow = Overflow::none;
  char error[CURL_ERROR_SIZE] = {0};
  ~Transfer() {
    if (budget != nullptr) {
      budget->used -= response.capacity();
    }
    if (headers != nullptr) {
      curl().slist_free_all(headers);
    }
    if (easy != nullptr) {
      curl().easy_cleanup(easy);
    }
  }
};

// Takes the body as libcurl decodes it (gzip included), within the reply's cap and the run's
// budget, both counted on what is allocated; a short count aborts the transfer.
std::size_t write_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t add = size * n;
  const std::size_t need = t->response.size() + add;
  if (need > t->cap) {
    t->overflow = Overflow::cap;
    return 0;
  }
  if (need > t->response.capacity()) {
    constexpr std::size_t k_first = 64 * 1024;
    const std::size_t want =
        std::min(std::max({need, 2 * t->response.capacity(), k_first}), t->cap);
    const std::size_t more = want - t->response.capacity();
    if (t->budget->used + more > t->budget->limit || !t->response.grow_to(want)) {
      t->overflow = Overflow::budget;
      return 0;
    }
    t->budget->used += more;
  }
  t->response.append(data, add);
  return add;
}

struct ExecDone {
  std::size_t job;
  Reply reply;
  bool retryable;
};

} // namespace

class CallEngine::Impl {
public:
  explicit Impl(const EngineOptions& options) : m_options(options), m_rng(std::random_device{}()) {}

  ~Impl() {
    if (m_cache_writer.joinable()) {
      {
        std::lock_guard<std::mutex> lock(m_cache_mutex);
        m_cache_closing = true;
      }
      m_cache_wake.notify_one();
      m_cache_writer.join(); // every reply stored before run_jobs returns
    }
    for (auto& [easy, transfer] : m_transfers) {
      curl().multi_remove_handle(m_multi, easy);
    }
    m_transfers.clear();
    for (CURL* e : m_idle_easy) {
      curl().easy_cleanup(e);
    }
    for (auto& [_, t] : m_threads) {
      t.join();
    }
    if (m_multi != nullptr) {
      curl().multi_cleanup(m_multi);
    }
  }

  std::size_t add(Job job) {
    m_jobs.push_back(std::move(job)); // a deque: references to earlier jobs stay valid
    m_state.emplace_back();
    ++m_remaining;
    m_admit.push_back(m_jobs.size() - 1);
    return m_jobs.size() - 1;
  }

  void run() {
    // A server that goes away mid-write must be an error, not a dead process (commands are
    // looked after by util::run_command).
    ::signal(SIGPIPE, SIG_IGN);
    while (m_remaining > 0) {
      if (stopping()) {
        return;
      }
      admit();
      if (m_remaining == 0) {
        break;
      }
      ensure_multi();
      const auto now = Clock::now();
      release_due_retries(now);
      double wait_ms = 1000;
      for (auto& [_, lane] : m_lanes) {
        wait_ms = std::min(wait_ms, start_jobs(*lane, now));
      }
      drain_exec();
      int running = 0;
      curl().multi_perform(m_multi, &running);
      read_finished_transfers();
      if (!m_deferred.empty()) {
        // Send the requests waiting for the slots these replies freed, then score the replies
        // while those are on the network: scoring a wave of 64 replies first held the next
        // wave back by several ms, a tenth of a 1,000-case run at 50 ms and concurrency 64.
        const auto freed = Clock::now();
        for (auto& [_, lane] : m_lanes) {
          start_jobs(*lane, freed);
        }
        curl().multi_perform(m_multi, &running);
        deliver_deferred();
      }
      drain_exec();
      if (m_remaining == 0) {
        break;
      }
      if (!m_admit.empty()) {
        continue; // jobs added as others ended: start them before waiting
      }
      if (!m_retries.empty()) {
        wait_ms = std::min(wait_ms, ms_between(Clock::now(), m_retries.top().first));
      }
      if (m_progress) {
        m_progress = false;
        continue; // something ended: a slot may be free now
      }
      curl().multi_poll(m_multi, nullptr, 0,
                        static_cast<int>(std::ceil(std::clamp(wait_ms, 0.0, 1000.0))), nullptr);
    }
  }

private:
  bool stopping() const { return m_options.stop != nullptr && m_options.stop->load(); }

  // Jobs added and not yet queued: a cached reply ends a job at once (and its on_done may add
  // more, which this loop takes too); the others wait in their provider's lane.
  void admit() {
    while (!m_admit.empty()) {
      const std::size_t i = m_admit.front();
      m_admit.pop_front();
      const Job& job = m_jobs[i];
      if (m_options.cache != nullptr && m_options.read_cache && !job.cache_key.empty()) {
        if (auto hit = m_options.cache->get_reply(job.cache_key)) {
          finish(i, std::move(*hit));
          continue;
        }
      }
      check_before_sending(job);
      lane_for(job.provider).pending.push_back(i);
    }
  }

  // What must hold before a job's first request, found when it misses the cache: a run
  // answered from the cache needs no key. Throws InputError. (stream: true, which could never
  // be read, is refused by the schemas of promptops.yaml and prompt files.)
  void check_before_sending(const Job& job) {
    if (m_key_checked.insert(job.provider).second) {
      require_api_key(job.provider->settings);
    }
  }

  void ensure_multi() {
    if (m_multi == nullptr) {
      m_multi = curl().multi_init();
    }
    if (m_lanes.size() == m_lanes_connected) {
      return;
    }
    // Keep a connection per call in flight: by default libcurl's cache closes some as
    // transfers end, and a new TCP (or TLS) handshake per request costs more than the call.
    long connections = 0;
    for (const auto& [_, lane] : m_lanes) {
      connections += lane->concurrency;
    }
    curl().multi_setopt(m_multi, CURLMOPT_MAXCONNECTS, std::max(connections, 8L));
    m_lanes_connected = m_lanes.size();
  }

  Lane& lane_for(const ProviderRuntime* p) {
    auto it = m_lanes.find(p);
    if (it == m_lanes.end()) {
      const int c = m_options.concurrency_override > 0 ? m_options.concurrency_override
                                                       : p->settings.concurrency;
      it = m_lanes.emplace(p, std::make_unique<Lane>(p, std::max(1, c))).first;
      m_budget.limit =
          std::max(m_budget.limit, 2 * static_cast<std::size_t>(p->settings.max_reply_bytes));
    }
    return *it->second;
  }

  void store(std::size_t i, const Reply& r) {
    const Job& job = m_jobs[i];
    if (m_options.cache == nullptr || job.cache_key.empty()) {
      return;
    }
    // Written by a thread of its own: a commit can wait on a busy disk or on another process's
    // batch, and on this thread a stall would hold every transfer in flight.
    // It is woken when a batch is full, and otherwise looks every k_cache_flush on its own: a
    // wake-up per reply cost a futex call on each side, 7% of a 0 ms run's CPU.
    bool full = false;
    {
      std::lock_guard<std::mutex> lock(m_cache_mutex);
      m_cache_queue.emplace_back(job.cache_key, r);
      full = m_cache_queue.size() == k_cache_batch;
    }
    if (full) {
      m_cache_wake.notify_one();
    }
    if (!m_cache_writer.joinable()) {
      m_cache_writer = std::thread([this] { write_cache(); });
    }
  }

  // Stores what has queued up since the last batch in one transaction: the cache costs a
  // commit per batch, not a write per reply.
  void write_cache() {
    std::vector<std::pair<std::string, Reply>> batch;
    std::unique_lock<std::mutex> lock(m_cache_mutex);
    for (;;) {
      m_cache_wake.wait_for(lock, k_cache_flush, [this] {
        return m_cache_closing || m_cache_queue.size() >= k_cache_batch;
      });
      if (m_cache_queue.empty()) {
        if (m_cache_closing) {
          return; // all written
        }
        continue;
      }
      batch.clear();
      while (!m_cache_queue.empty()) {
        batch.push_back(std::move(m_cache_queue.front()));
        m_cache_queue.pop_front();
      }
      lock.unlock();
      try {
        m_options.cache->put_replies(batch);
      } catch (const std::exception&) {
        // A cache that cannot be written costs a request next time, not this result.
      }
      lock.lock();
    }
  }

  void finish(std::size_t i, Reply reply) {
    JobState& s = m_state[i];
    if (s.ended) {
      return;
    }
    s.ended = true;
    reply.attempts = reply.cached ? 0 : s.attempts;
    if (reply.ok) {
      reply.cost = m_jobs[i].provider->settings.cost(reply.usage);
    } else {
      reply.error = mask_url_credentials(std::move(reply.error)); // a base_url's user:token
    }
    --m_remaining;
    m_progress = true;
    if (m_options.on_done) {
      if (m_defer_done) {
        m_deferred.emplace_back(i, std::move(reply));
      } else {
        m_options.on_done(i, reply);
      }
    }
    // An ended job's request is not needed again: a run of many cases keeps only its slot.
    m_jobs[i].request = Request{};
    m_jobs[i].cache_key = std::string();
  }

  // Starts what the lane allows; returns how long until it could start more (ms).
  double start_jobs(Lane& lane, Clock::time_point now) {
    if (!lane.down.empty()) {
      while (!lane.pending.empty()) {
        const std::size_t i = lane.pending.front();
        lane.pending.pop_front();
        Reply r;
        r.error = lane.down;
        finish(i, r);
      }
      return 1000;
    }
    while (!lane.pending.empty() && lane.in_flight < lane.concurrency) {
      const std::size_t i = lane.pending.front();
      // Counting characters is only worth it under a tokens-per-minute limit.
      const double estimate =
          lane.tokens.unlimited() ? 0.0 : static_cast<double>(estimate_tokens(m_jobs[i].request));
      const double wait =
          std::max(lane.requests.wait_ms(1, now), lane.tokens.wait_ms(estimate, now));
      if (wait > 0) {
        return std::max(1.0, wait);
      }
      lane.requests.take(1, now);
      lane.tokens.take(estimate, now);
      lane.pending.pop_front();
      start(lane, i);
    }
    return 1000;
  }

  void start(Lane& lane, std::size_t i) {
    JobState& s = m_state[i];
    ++s.attempts;
    s.started = Clock::now();
    const ProviderRuntime& p = *lane.provider;
    const std::string& type = p.settings.type;
    if (type == "echo") {
      Reply r;
      r.ok = true;
      r.output = m_jobs[i].request.messages.empty() ? std::string()
                                                    : m_jobs[i].request.messages.back().content;
      r.model = "echo";
      r.latency_ms = ms_between(s.started, Clock::now());
      finish(i, r);
      return;
    }
    if (type == "replay") {
      Reply r;
      auto it = p.replay.find(m_jobs[i].request.case_id);
      if (it == p.replay.end()) {
        r.error = "replay: no recorded output for case \"" + m_jobs[i].request.case_id + "\" in " +
                  p.settings.from;
      } else {
        r.ok = true;
        r.output = it->second.output;
        // The model that gave the recorded answer, so that a replayed run compares with a
        // baseline as the live one would.
        r.model = it->second.model.empty() ? "replay" : it->second.model;
        r.system_fingerprint = it->second.system_fingerprint;
      }
      finish(i, r);
      return;
    }
    ++lane.in_flight;
    if (type == "exec") {
      start_exec(lane, i);
      return;
    }
    start_http(lane, i);
  }

  void start_http(Lane& lane, std::size_t i) {
    const ProviderSettings& settings = lane.provider->settings;
    HttpCall call = build_call(settings, m_jobs[i].request);
    auto t = std::make_unique<Transfer>();
    t->job = i;
    t->body = std::move(call.body);
    t->cap = static_cast<std::size_t>(settings.max_reply_bytes);
    t->budget = &m_budget;
    t->easy = take_easy();
    for (const auto& h : call.headers) {
      t->headers = curl().slist_append(t->headers, h.c_str());
    }
    t->headers = curl().slist_append(t->headers, "Expect:"); // no 100-continue round trip
    CURL* e = t->easy;
    curl().easy_setopt(e, CURLOPT_URL, call.url.c_str());
    curl().easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl().easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
    curl().easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl().easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body);
    curl().easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    // A declared Content-Length past the cap ends the transfer before its body.
    curl().easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->cap));
    curl().easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl().easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl().easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout_s * 1000));
    curl().easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(std::min(settings.timeout_s, 10.0) * 1000));
    curl().easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl().easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl().multi_add_handle(m_multi, e);
    m_transfers.emplace(e, std::move(t));
  }

  // Easy handles are reused, reset, from one request to the next: making and freeing one per
  // request was 3% of a 0 ms run's CPU (libcurl allocates its buffers with the handle).
  CURL* take_easy() {
    if (m_idle_easy.empty()) {
      return curl().easy_init();
    }
    CURL* e = m_idle_easy.back();
    m_idle_easy.pop_back();
    return e;
  }

  struct GiveBack {
    Impl& engine;
    Transfer& transfer;
    ~GiveBack() {
      curl().easy_reset(transfer.easy);
      engine.m_idle_easy.push_back(transfer.easy);
      transfer.easy = nullptr;
    }
  };

  void start_exec(Lane& lane, std::size_t i) {
    const ProviderRuntime* p = lane.provider;
    const Request& request = m_jobs[i].request;
    json messages = json::array();
    for (const auto& m : request.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    const json input = {
        {"case_id", request.case_id},
        {"model", request.model},
        {"messages", messages},
        {"params", request.params},
        {"output_schema", request.output_schema ? *request.output_schema : json(nullptr)}};
    std::string text = input.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    m_threads[i] = std::thread([this, p, i, text = std::move(text)] {
      const auto started = Clock::now();
      util::CommandOptions options;
      options.timeout_s = p->settings.timeout_s;
      options.workdir = p->workdir;
      options.max_output_bytes = static_cast<std::size_t>(p->settings.max_reply_bytes);
      options.stop = m_options.stop; // the command is in its own process group: no Ctrl-C
      util::CommandResult c = util::run_command(p->settings.command, text, options);
      ExecDone done{i, {}, false};
      done.reply.latency_ms = ms_between(started, Clock::now());
      if (c.output_over_limit) {
        done.reply.error = p->settings.reply_too_large();
      } else if (!c.failure.empty()) {
        done.reply.error = c.failure;
      } else if (c.timed_out) {
        done.reply.error =
            "the command timed out after " + json(p->settings.timeout_s).dump() + " s";
        done.retryable = true;
      } else if (c.exit_code != 0) {
        std::string err = c.err.substr(0, 300);
        done.reply.error = "the command exited with status " + std::to_string(c.exit_code) +
                           (err.empty() ? "" : ": " + err);
        done.retryable = true;
      } else {
        done.reply.ok = true;
        read_exec_output(c.out, done.reply);
        if (std::optional<std::string> note = reply::usage_note(done.reply.usage)) {
          done.reply.notes.push_back(std::move(*note));
        }
      }
      {
        std::lock_guard<std::mutex> lock(m_exec_mutex);
        m_exec_done.push_back(std::move(done));
      }
      curl().multi_wakeup(m_multi);
    });
  }

  // The reply is the command's standard output; a JSON object with "output" may also give
  // the model, usage, finish_reason, tool_calls and refusal (docs/providers.md).
  static void read_exec_output(const std::string& out, Reply& reply) {
    const json j = json::parse(out, nullptr, false);
    if (j.is_object() && j.contains("output") && j["output"].is_string()) {
      reply.output = j["output"].get<std::string>();
      reply.model = util::string_field(j, "model");
      if (auto u = j.find("usage"); u != j.end()) {
        reply.usage = reply::usage_from_json(*u);
      }
      reply.facts.vendor_finish_reason = util::string_field(j, "finish_reason");
      reply.facts.finish_reason =
          reply::finish_reason_from_string(reply.facts.vendor_finish_reason);
      reply.facts.refusal = util::string_field(j, "refusal");
      if (auto t = j.find("tool_calls"); t != j.end()) {
        reply.facts.tool_calls = reply::tool_calls_from_json(*t);
        // Arguments given as JSON text (not marked raw) are parsed as OpenAI's are.
        for (reply::ToolCall& call : reply.facts.tool_calls) {
          if (call.arguments_parsed && call.arguments.is_string()) {
            call = reply::tool_call(std::move(call.id), std::move(call.name),
                                    call.arguments.get<std::string>());
          }
        }
      }
      return;
    }
    reply.output = out;
    if (!reply.output.empty() && reply.output.back() == '\n') {
      reply.output.pop_back();
    }
  }

  void drain_exec() {
    std::vector<ExecDone> done;
    {
      std::lock_guard<std::mutex> lock(m_exec_mutex);
      done.swap(m_exec_done);
    }
    for (auto& d : done) {
      if (auto t = m_threads.find(d.job); t != m_threads.end()) {
        t->second.join(); // it has ended: it queued its result last
        m_threads.erase(t);
      }
      Lane& lane = lane_for(m_jobs[d.job].provider);
      --lane.in_flight;
      ended_attempt(lane, d.job, std::move(d.reply), d.retryable, 0, false);
    }
  }

  void deliver_deferred() {
    // on_done may add jobs, and with them, in time, more deferred replies: take them in turn.
    for (std::size_t k = 0; k < m_deferred.size(); ++k) {
      m_options.on_done(m_deferred[k].first, m_deferred[k].second);
    }
    m_deferred.clear();
  }

  // Ended transfers; their on_done waits in m_deferred (see run).
  void read_finished_transfers() {
    m_defer_done = true;
    const struct Undefer {
      bool& flag;
      ~Undefer() { flag = false; }
    } undefer{m_defer_done};
    int left = 0;
    while (CURLMsg* msg = curl().multi_info_read(m_multi, &left)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      CURL* e = msg->easy_handle;
      const CURLcode code = msg->data.result;
      auto it = m_transfers.find(e);
      if (it == m_transfers.end()) {
        continue;
      }
      std::unique_ptr<Transfer> t = std::move(it->second);
      m_transfers.erase(it);
      curl().multi_remove_handle(m_multi, e);
      const GiveBack give_back{*this, *t}; // when this transfer's answer has been read
      const std::size_t i = t->job;
      Lane& lane = lane_for(m_jobs[i].provider);
      --lane.in_flight;
      const ProviderSettings& settings = lane.provider->settings;
      const double latency = ms_between(m_state[i].started, Clock::now());

      if (code == CURLE_FILESIZE_EXCEEDED || t->overflow == Overflow::cap) {
        Reply r;
        r.error = settings.reply_too_large(); // a bomb stays a bomb: not retried
        ended_attempt(lane, i, std::move(r), false, 0, false);
        continue;
      }
      if (t->overflow == Overflow::budget) {
        // Not this reply's fault: sent again once others have ended, and not an attempt.
        Reply r;
        r.error = "stopped: the replies in flight reached the run's budget of " +
                  util::text::size_text(static_cast<std::int64_t>(m_budget.limit)) +
                  " (2 x the largest max_reply_bytes)";
        --m_state[i].attempts;
        ended_attempt(lane, i, std::move(r), true, 0, false);
        continue;
      }
      if (code != CURLE_OK) {
        Reply r;
        const std::string detail = t->error[0] != '\0' ? t->error : curl().easy_strerror(code);
        r.error = redact(code == CURLE_OPERATION_TIMEDOUT
                             ? "timed out after " + json(settings.timeout_s).dump() + " s (" +
                                   detail + ")"
                             : detail,
                         settings.api_key());
        const bool refused = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST;
        ended_attempt(lane, i, std::move(r), true, 0, refused);
        continue;
      }
      long status = 0;
      curl().easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
      std::string should_retry;
      double retry_after_s = 0;
      curl_header* h = nullptr;
      if (curl().easy_header(e, "x-should-retry", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        should_retry = h->value;
      }
      if (curl().easy_header(e, "retry-after-ms", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        retry_after_s = std::atof(h->value) / 1000.0;
      } else {
        curl_off_t seconds = 0;
        if (curl().easy_getinfo(e, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
          retry_after_s = static_cast<double>(seconds);
        }
      }
      char* content_type = nullptr;
      curl().easy_getinfo(e, CURLINFO_CONTENT_TYPE, &content_type);
      WireOutcome w = read_response(
          settings, HttpResponse{status, t->response.view(),
                                 content_type == nullptr ? std::string() : content_type,
                                 std::move(should_retry)});
      w.reply.ok = w.ok;
      w.reply.latency_ms = latency;
      if (!w.ok) {
        w.reply.error = w.error;
      }
      ended_attempt(lane, i, std::move(w.reply), w.retryable, retry_after_s, false);
    }
  }

  void ended_attempt(Lane& lane, std::size_t i, Reply reply, bool retryable, double retry_after_s,
                     bool refused) {
    if (reply.ok) {
      lane.ever_succeeded = true;
      lane.connect_failures_in_a_row = 0;
      store(i, reply);
      finish(i, std::move(reply));
      return;
    }
    if (refused) {
      ++lane.connect_failures_in_a_row;
      if (!lane.ever_succeeded && lane.connect_failures_in_a_row >= m_options.unreachable_after &&
          lane.down.empty()) {
        lane.down = "provider \"" + lane.provider->settings.name + "\" is unreachable (" +
                    reply.error + "); its remaining cases were not sent";
      }
    } else {
      lane.connect_failures_in_a_row = 0;
    }
    const ProviderSettings& settings = lane.provider->settings;
    const int attempts = m_state[i].attempts;
    // Above two minutes a Retry-After is a quota, not a hiccup: waiting would stall the run.
    const bool too_long = retry_after_s > 120;
    if (!retryable || too_long || attempts > settings.retries || !lane.down.empty() || stopping()) {
      if (attempts > 1) {
        reply.error += " (after " + std::to_string(attempts) + " attempts)";
      }
      finish(i, std::move(reply));
      return;
    }
    double delay_s = 0;
    if (retry_after_s > 0) {
      delay_s = retry_after_s;
    } else {
      const double backoff =
          std::min(settings.max_backoff_s, m_options.backoff_base_s * std::pow(2.0, attempts - 1));
      std::uniform_real_distribution<double> jitter(0.75, 1.0);
      delay_s = backoff * jitter(m_rng);
    }
    const auto due =
        Clock::now() + std::chrono::microseconds(static_cast<long long>(delay_s * 1e6));
    m_retries.emplace(due, i);
  }

  void release_due_retries(Clock::time_point now) {
    while (!m_retries.empty() && m_retries.top().first <= now) {
      const std::size_t i = m_retries.top().second;
      m_retries.pop();
      lane_for(m_jobs[i].provider).pending.push_front(i);
    }
  }

  const EngineOptions& m_options;
  std::deque<Job> m_jobs;
  std::deque<JobState> m_state;
  std::deque<std::size_t> m_admit; // added, not yet looked up in the cache nor queued
  std::size_t m_remaining = 0;
  std::size_t m_lanes_connected = 0; // lanes counted in CURLMOPT_MAXCONNECTS
  bool m_progress = false;
  std::map<const ProviderRuntime*, std::unique_ptr<Lane>> m_lanes;
  std::set<const ProviderRuntime*> m_key_checked; // providers whose key require_api_key saw
  CURLM* m_multi = nullptr;
  ReplyBudget m_budget; // before m_transfers, which give their bytes back to it
  std::map<CURL*, std::unique_ptr<Transfer>> m_transfers;
  std::vector<CURL*> m_idle_easy; // ended transfers' handles, reset, for the next ones
  bool m_defer_done = false;      // while reading ended transfers: on_done waits in m_deferred
  std::vector<std::pair<std::size_t, Reply>> m_deferred;
  using Due = std::pair<Clock::time_point, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> m_retries;
  std::mt19937_64 m_rng;
  std::mutex m_exec_mutex;
  std::vector<ExecDone> m_exec_done;
  std::map<std::size_t, std::thread> m_threads; // exec calls in flight, by job
  std::mutex m_cache_mutex;
  std::condition_variable m_cache_wake;
  std::deque<std::pair<std::string, Reply>> m_cache_queue;
  bool m_cache_closing = false;
  std::thread m_cache_writer;
};

std::unordered_map<std::string, Recorded> load_replay(const std::filesystem::path& file,
                                                      const std::string& display_path,
                                                      const std::string& provider) {
  const std::string text = util::read_file(file, display_path);
  std::unordered_map<std::string, Recorded> out;
  util::for_each_line(text, [&](std::size_t line_no, std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      return;
    }
    const json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      throw InputError(display_path, {line_no, 1},
                       "a replay line needs a JSON object with a string \"id\"");
    }
    if (!provider.empty() && j.contains("provider") && j["provider"].is_string() &&
        j["provider"].get<std::string>() != provider) {
      return;
    }
    if (j.contains("output") && j["output"].is_string()) {
      out[j["id"].get<std::string>()] = {j["output"].get<std::string>(),
                                         util::string_field(j, "model"),
                                         util::string_field(j, "system_fingerprint")};
    }
  });
  return out;
}

CallEngine::CallEngine(const EngineOptions& options) : m_impl(std::make_unique<Impl>(options)) {}

CallEngine::~CallEngine() = default;

std::size_t CallEngine::add(Job job) {
  return m_impl->add(std::move(job));
}

void CallEngine::run() {
  m_impl->run();
}

} // namespace promptops::providers
