#pragma once

#include "registry/registry.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace promptops::serve {

// Where the server listens.
struct Address {
  std::string host = "127.0.0.1";
  int port = 8700; // 0 = any free port
};

// Parse "HOST:PORT" ("[::1]:8700" for an IPv6 host). Throws UsageError for anything else or a
// port outside 0..65535.
Address parse_address(std::string_view text);

// "HOST:PORT", with brackets around an IPv6 host.
std::string format_address(const Address& address);

struct ServerOptions {
  Address address;
  std::size_t threads = 0; // request threads; 0 = a default fitted to the machine
};

// The read-only HTTP API over a registry (cpp-httplib underneath):
//   GET /v1/prompts?env=ENV          the prompts pinned in ENV, with their versions
//   GET /v1/prompts/{name}?env=ENV   one prompt as the export bundle holds it (its tools too),
//                                    plus "name"
//   GET /healthz                     {"status": "ok"}
// Every answer is JSON with Cache-Control: no-cache; prompts and lists carry an ETag and honour
// If-None-Match with 304. Errors are {"error": "..."}: 400 bad name, 404 unknown prompt,
// environment or path, 405 any method but GET and HEAD, 500 a pinned prompt that does not load.
class Server {
public:
  Server(registry::Registry registry, ServerOptions options);
  ~Server(); // stops and joins, as stop() does
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bind the address and answer requests on background threads; returns once connections
  // are accepted, with the address actually bound (the port chosen when it was 0). Throws
  // RunError when the address cannot be bound. Call once.
  Address start();

  // True between start() and stop() (or the listener failing).
  bool running() const;

  // Stop accepting, let the requests in flight finish, and join the threads. Idempotent; not
  // for a signal handler.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace promptops::serve
