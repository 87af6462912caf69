#pragma once

#include "providers/provider.hpp"

#include <string>
#include <string_view>
#include <vector>

// The HTTP wire formats: OpenAI Chat Completions (and every server that copies it) and the
// Anthropic Messages API. Pure functions, so that both directions are tested without a socket.
// docs/providers.md maps each vendor's reply onto the reply model.
namespace promptops::providers {

struct HttpCall {
  std::string url;
  std::vector<std::string> headers; // "Name: value"; may hold the API key: never log them
  std::string body;
};

// The request for `provider` (type openai or anthropic), the request's tools included in the
// vendor's shape.
HttpCall build_call(const ProviderSettings& provider, const Request& request);

// What came back from one HTTP exchange, as much of it as read_response needs.
struct HttpResponse {
  long status = 0;
  std::string_view body;
  std::string content_type;   // the Content-Type header; "" when none was sent
  std::string x_should_retry; // the server's own verdict, "true" / "false", when it sent one
};

// What one HTTP exchange came to.
struct WireOutcome {
  bool ok = false;
  bool retryable = false;
  Reply reply;       // ok: output, facts, notes, model, system_fingerprint, usage
  std::string error; // !ok: what went wrong, for people; never the key
};

// Read a response (docs/providers.md, "Errors and retries"). Retried: 408, 409, 429 and 5xx
// (not a quota or billing error), a 2xx body cut short, and a 2xx error body whose code says
// so; the server's x-should-retry wins over the status. Never retried: a 2xx body that is not
// JSON at all (an HTML page, an event stream). Invalid UTF-8 in a reply is replaced, with a
// note. Every form of the provider's key is redacted from the error and from the reply.
WireOutcome read_response(const ProviderSettings& provider, const HttpResponse& response);

// The same, for a JSON body (tests and fuzzing).
WireOutcome read_response(const ProviderSettings& provider, long status, std::string_view body,
                          const std::string& x_should_retry = {});

// `text` with every known form of `secret` replaced by "[redacted]": the key as it is, upper-
// and lower-cased, inside base64 (alone or after "user:"), and masked as OpenAI's 401 quotes
// it ("sk-proj-****...WXYZ"). Unchanged when secret is shorter than 4 characters (nothing that
// short is a key); the derived forms are looked for from 8 characters on.
std::string redact(std::string text, const std::string& secret);

// `text` with the credentials of every URL in it masked: "https://user:token@host/v1" becomes
// "https://***@host/v1". Every message that names a URL (a base_url in an error, a transport
// error) goes through it: a token in a URL is never printed nor written.
std::string mask_url_credentials(std::string text);

// `reply` with `secret` redacted (as redact()) from its output, refusal and tool calls'
// arguments and names: what a model repeats of the key is not stored nor shown.
void redact_reply(Reply& reply, const std::string& secret);

} // namespace promptops::providers
