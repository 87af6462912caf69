#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A fake model server on loopback for tests and benchmarks: it speaks the OpenAI Chat
// Completions and Anthropic Messages wire formats, answers deterministically from the request
// and injects faults on demand. docs/fake-provider.md describes the directives.
namespace promptops::fake {

// A canned answer: the first rule whose `contains` occurs in the last user message answers.
// With `then`, repeats of one request (same path and body) get the next answers in turn, as a
// model sampling at a temperature would (the last one repeats): `{"x", "a", {"b", "c"}}`
// answers a, b, c, c, ...
struct Rule {
  std::string contains;
  std::string reply;
  std::vector<std::string> then{};
  bool operator==(const Rule&) const = default;
};

// Every member has a default, so designated initialisers may name only some of them.
struct FakeProviderOptions {
  std::string host = "127.0.0.1";
  int port = 0;       // 0: a free port
  int latency_ms = 0; // added to every answer
  // Hidden output tokens added to every answer's usage with the same text, as a reasoning
  // model bills them (OpenAI: also as completion_tokens_details.reasoning_tokens).
  int extra_output_tokens = 0;
  // "": answer with the requested model + "-fake".
  std::string reported_model{};
  std::string system_fingerprint = "fp_fake";
  std::vector<Rule> rules{};
  // Connections served at once; each one in flight (or idle but kept alive) holds a thread.
  int threads = 128;
};

// One request as the server received it.
struct RequestRecord {
  std::string path;
  double at_ms = 0; // arrival, in milliseconds since the server started
  std::string body;
  std::map<std::string, std::string> headers; // names lower-cased; repeated ones joined by ", "
  int status = 0; // the status sent; 0 while none is sent, and for drop and hang (never sent)
};

// The server, listening on its own threads from construction to destruction.
class FakeProvider {
public:
  // Bind and start listening before returning. Throws std::runtime_error if the address cannot
  // be bound or `options` make no sense (threads < 1, a port outside 0..65535).
  explicit FakeProvider(FakeProviderOptions options = {});
  // Stop and join every thread, promptly even with hung requests or idle kept-alive
  // connections: those are cut without an answer.
  ~FakeProvider();
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  // The port actually bound (the free one chosen when the options said 0).
  int port() const;
  // "http://HOST:PORT"; OpenAI clients append /v1/chat/completions, Anthropic ones /v1/messages.
  std::string base_url() const;

  // Every request received on a provider endpoint (or an unknown path), in arrival order; the
  // control endpoints /_requests and /_reset are not recorded.
  std::vector<RequestRecord> requests() const;
  std::size_t request_count() const;
  // Forget the recorded requests and the fault counters.
  void reset();
  // Change the latency added to every answer from now on.
  void set_latency_ms(int latency_ms);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Parse the content of a rules file: a JSON array of {"contains": "...", "reply": "...",
// "then"?: ["...", ...]}, in order of precedence. Throws std::runtime_error naming the entry
// that is wrong.
std::vector<Rule> parse_rules(std::string_view json_text);

} // namespace promptops::fake
