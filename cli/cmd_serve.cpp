#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/registry.hpp"
#include "serve/server.hpp"
#include "util/error.hpp"

#include <csignal>
#include <ctime>
#include <pthread.h>
#include <sys/resource.h>

namespace promptops::cli {

namespace {

// SIGINT and SIGTERM blocked in this thread and every thread started meanwhile (the server's),
// so that they stay pending until sigtimedwait takes them: no handler runs inside the HTTP
// library.
class BlockedStopSignals {
public:
  BlockedStopSignals() {
    sigemptyset(&m_set);
    sigaddset(&m_set, SIGINT);
    sigaddset(&m_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
  }
  ~BlockedStopSignals() { pthread_sigmask(SIG_SETMASK, &m_old, nullptr); }
  BlockedStopSignals(const BlockedStopSignals&) = delete;
  BlockedStopSignals& operator=(const BlockedStopSignals&) = delete;

  // Wait up to `timeout_ms` for one of them; true when one came.
  bool wait(long timeout_ms) const {
    const timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    return sigtimedwait(&m_set, nullptr, &timeout) > 0;
  }

private:
  sigset_t m_set{};
  sigset_t m_old{};
};

// Each connection is a descriptor: allow as many as the hard limit does (often 1024 soft), so
// that the server's connection cap, not the descriptor limit, is what many clients meet.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

} // namespace

Action add_serve(CLI::App& app) {
  auto address = std::make_shared<std::string>("127.0.0.1:8700");
  auto* cmd = app.add_subcommand(
      "serve", "Answer read-only HTTP requests for the prompts pinned in each environment");
  cmd->add_option("--addr", *address,
                  "Listen on HOST:PORT (default 127.0.0.1:8700; port 0 picks a free one)")
      ->type_name("HOST:PORT");
  cmd->footer("Endpoints: GET /v1/prompts?env=ENV, GET /v1/prompts/{name}?env=ENV, GET "
              "/healthz.\nENV defaults to the last environment of promptops.yaml. Stops on "
              "SIGINT or SIGTERM.");
  return [address] {
    serve::ServerOptions options;
    options.address = serve::parse_address(*address);
    // A client that hangs up mid-answer must not end the server.
    std::signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit();
    const BlockedStopSignals signals;
    serve::Server server(registry::Registry::open("."), options);
    const serve::Address bound = server.start();
    print_note("listening on http://" + serve::format_address(bound) + "\n");
    bool signalled = false;
    while (!signalled && server.running()) {
      signalled = signals.wait(200);
    }
    server.stop();
    if (!signalled) {
      throw RunError("the server on " + serve::format_address(bound) + " stopped unexpectedly");
    }
    return 0;
  };
}

} // namespace promptops::cli
