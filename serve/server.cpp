#include "serve/server.hpp"

#include "serve/prompt_service.hpp"
#include "util/error.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

namespace promptops::serve {

Address parse_address(std::string_view text) {
  const auto bad = [&] {
    return UsageError("invalid address \"" + std::string(text) +
                      "\": use HOST:PORT, e.g. 127.0.0.1:8700 (port 0 picks a free one)");
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    throw bad();
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      throw bad();
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw bad(); // an IPv6 host needs brackets, or the port is ambiguous
  }
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    throw bad();
  }
  return Address{std::string(host), port};
}

std::string format_address(const Address& address) {
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

namespace {

constexpr const char* k_json = "application/json";

void send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  // Clients must revalidate (cheaply, with If-None-Match): a promotion shows at once.
  res.set_header("Cache-Control", "no-cache");
  if (!reply.etag.empty()) {
    res.set_header("ETag", reply.etag);
  }
  if (reply.status != 200) {
    if (reply.status != 304) {
      res.set_content(reply.body, k_json); // the error handler fills in an empty body
    }
  } else {
    // Through a provider of known length, which cpp-httplib never compresses: with
    // set_content it brotli-compresses for any client that accepts br, at quality 11, about
    // 9 M instructions for a small answer (measured on the fake provider). Answers are
    // small, and a server under many clients needs its CPU more than the bytes.
    auto body = std::make_shared<const std::string>(reply.body);
    res.set_content_provider(
        body->size(), k_json,
        [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          return sink.write(body->data() + offset, length);
        });
  }
}

std::optional<std::string> env_param(const httplib::Request& req) {
  if (!req.has_param("env")) {
    return std::nullopt;
  }
  return req.get_param_value("env");
}

std::string status_problem(int status, const std::string& path) {
  switch (status) {
  case 404:
    return "no such path \"" + path +
           "\" (the API: GET /v1/prompts, GET /v1/prompts/{name}, GET /healthz)";
  case 405:
    return "method not allowed: the API is read-only (GET and HEAD)";
  case 413:
    return "request body too large";
  case 414:
    return "request line too long";
  default:
    return "bad request (HTTP status " + std::to_string(status) + ")";
  }
}

} // namespace

// httplib::Server with the listen backlog raised: 0.11 listens with a backlog of 5, fixed when
// the library was built, so under a burst of new connections the kernel drops SYNs and clients
// wait a whole second to retry (p99 ~1 s with 32 clients).
class HttpServer : public httplib::Server {
public:
  void raise_backlog(int backlog) { ::listen(svr_sock_, backlog); }
};

struct Server::Impl {
  Impl(registry::Registry registry, ServerOptions opts)
      : service(std::move(registry)), options(std::move(opts)) {}

  PromptService service;
  ServerOptions options;
  HttpServer http;
  std::thread listener;
  std::atomic<bool> listener_done{false};
};

Server::Server(registry::Registry registry, ServerOptions options)
    : m_impl(std::make_unique<Impl>(std::move(registry), std::move(options))) {}

Server::~Server() {
  stop();
}

Address Server::start() {
  auto& http = m_impl->http;
  const PromptService& service = m_impl->service;

  std::size_t threads = m_impl->options.threads;
  if (threads == 0) {
    threads = std::max<std::size_t>(16, 2 * std::thread::hardware_concurrency());
  }
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(64 * 1024);
  // An idle keep-alive connection holds a request thread; do not let it hold one for long.
  http.set_keep_alive_timeout(2);
  // httplib writes headers and body in separate sends: with Nagle's algorithm the body waits for
  // the client's delayed ACK, 40 ms a request on a kept-alive connection.
  http.set_tcp_nodelay(true);
  // httplib's default adds SO_REUSEPORT, with which a second server on the same port starts
  // "successfully" and the kernel shares connections between the two. SO_REUSEADDR alone still
  // allows a restart while old connections linger in TIME_WAIT.
  http.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    send(res, Reply{200, R"({"status":"ok"})", ""});
  });
  http.Get("/v1/prompts", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.list(env_param(req), req.get_header_value("If-None-Match")));
  });
  // httplib matches the percent-decoded path, so "%2e%2e%2fx" arrives as "../x" and the
  // service's name check refuses it like any other name that would leave prompts/.
  http.Get(R"(/v1/prompts/(.+))", [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, service.prompt(req.matches[1].str(), env_param(req),
                             req.get_header_value("If-None-Match")));
  });

  const auto refuse = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "GET, HEAD");
    send(res, Reply{405, error_body(status_problem(405, "")), ""});
  };
  // A request without a body is refused before routing. One with a body goes to the handlers
  // below, so that httplib reads the body off the connection first: left there, it would be
  // taken for the next request on a keep-alive connection.
  http.set_pre_routing_handler([refuse](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD" || req.has_header("Content-Length") ||
        req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    refuse(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Post(".*", refuse);
  http.Put(".*", refuse);
  http.Patch(".*", refuse);
  http.Delete(".*", refuse);
  http.Options(".*", refuse);

  // httplib calls this for every status >= 400, including ours: fill in only what it made.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) {
      send(res, Reply{res.status, error_body(status_problem(res.status, req.path)), ""});
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send(res, Reply{500, error_body("internal error: " + what), ""});
      });

  Address bound = m_impl->options.address;
  errno = 0;
  if (bound.port == 0) {
    bound.port = http.bind_to_any_port(bound.host);
  } else if (!http.bind_to_port(bound.host, bound.port)) {
    bound.port = -1;
  }
  if (bound.port < 0) {
    const int error = errno;
    throw RunError("cannot listen on " + format_address(m_impl->options.address) +
                   (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }
  http.raise_backlog(SOMAXCONN);

  m_impl->listener = std::thread([impl = m_impl.get()] {
    impl->http.listen_after_bind();
    impl->listener_done = true;
  });
  // httplib 0.11 has no wait_until_ready: the port is bound (connections queue), and the
  // accept loop is up once is_running() says so.
  while (!http.is_running() && !m_impl->listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!http.is_running()) {
    m_impl->listener.join();
    throw RunError("cannot listen on " + format_address(bound));
  }
  return bound;
}

bool Server::running() const {
  return m_impl->http.is_running();
}

void Server::stop() {
  if (m_impl->listener.joinable()) {
    m_impl->http.stop();
    m_impl->listener.join();
  }
}

} // namespace promptops::serve
