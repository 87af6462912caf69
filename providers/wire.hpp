#pragma once

#include "providers/provider.hpp"

#include <string>
#include <vector>

// The HTTP wire formats: OpenAI Chat Completions (and every server that copies it) and the
// Anthropic Messages API. Pure functions, so that both directions are tested without a socket.
namespace promptops::providers {

struct HttpCall {
  std::string url;
  std::vector<std::string> headers; // "Name: value"; may hold the API key: never log them
  std::string body;
};

// The request for `provider` (type openai or anthropic).
HttpCall build_call(const ProviderSettings& provider, const Request& request);

// What one HTTP exchange came to.
struct WireOutcome {
  bool ok = false;
  bool retryable = false;
  Reply reply;       // ok: output, model, system_fingerprint, usage
  std::string error; // !ok: what went wrong, for people; never the key
};

// Read a response. `status` is the HTTP status. A 2xx body that is not the expected JSON is
// a retryable error (servers and proxies cut bodies short); 408, 409, 429 and 5xx are
// retryable; other statuses are not. `x_should_retry` is the server's own verdict when it
// sent one ("true" / "false").
WireOutcome read_response(const ProviderSettings& provider, long status, const std::string& body,
                          const std::string& x_should_retry = {});

// `text` with every occurrence of `secret` replaced by "[redacted]" (unchanged when secret is
// shorter than 4 characters: nothing that short is a key).
std::string redact(std::string text, const std::string& secret);

} // namespace promptops::providers
