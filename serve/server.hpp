#pragma once

#include "registry/registry.hpp"

#include <chrono>
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

// How much one client, and all of them together, may hold of the server. The defaults are the
// limits docs/security.md promises.
struct ServerLimits {
  std::size_t connections = 1000;          // open at once, all clients (capped below the fd limit)
  std::size_t connections_per_client = 16; // open at once from one IP address; more are closed
  std::size_t connection_memory = 32 * 1024; // request line + headers of one request, bytes (431)
  std::size_t header_fields = 100;           // header fields of one request (431)
  std::size_t body_bytes = 64 * 1024;        // declared request body, any method (413); none read
  std::size_t uri_bytes = 8 * 1024;          // request target (414)
  std::chrono::seconds idle_timeout{5};      // no byte received (or sent) for this long: closed
  std::chrono::milliseconds request_deadline{10000}; // one whole request, however it trickles
};

struct ServerOptions {
  Address address;
  std::size_t threads = 0; // event-loop threads; 0 = 2 to 4, fitted to the machine
  ServerLimits limits{};
};

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

  // True between start() and stop().
  bool running() const;

  // Stop accepting, close the connections (a request being answered finishes first) and join
  // the threads. Idempotent; not for a signal handler.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace promptops::serve
