// fake-provider: the fake model server as a process, for benchmarks and scripts.
#include "tests/fake_provider/fake_provider.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <pthread.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read \"" + path + "\"");
  }
  std::ostringstream text; // not istreambuf_iterator: GCC 12 -O3 warns of a null dereference
  text << in.rdbuf();
  return text.str();
}

// Write through a temporary file and a rename, so a reader never sees half a number.
void write_port_file(const std::string& path, int port) {
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    out.close();
    if (!out) {
      throw std::runtime_error("cannot write \"" + temporary + "\"");
    }
  }
  std::filesystem::rename(temporary, path);
}

} // namespace

int main(int argc, char* argv[]) {
  promptops::fake::FakeProviderOptions options;
  std::string rules_path;
  std::string port_file;

  CLI::App app{"A fake OpenAI and Anthropic model server for tests: answers deterministically "
               "and injects faults on demand (see docs/fake-provider.md).",
               "fake-provider"};
  app.add_option("--host", options.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "Port to listen on; 0 picks a free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--latency-ms", options.latency_ms, "Milliseconds added to every answer")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--extra-output-tokens", options.extra_output_tokens,
                 "Hidden output tokens added to every answer's usage (the text is the same)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rules", rules_path,
                 R"(JSON file: an array of {"contains": "...", "reply": "..."})")
      ->check(CLI::ExistingFile);
  app.add_option("--reported-model", options.reported_model,
                 "Model to answer with (default: the requested model + \"-fake\")");
  app.add_option("--system-fingerprint", options.system_fingerprint,
                 "system_fingerprint of OpenAI answers")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the port to this file once listening");
  app.add_option("--threads", options.threads, "Connections served at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11's own exit codes are 100+; bad usage is 2 here as in promptops.
    return app.exit(error) == 0 ? 0 : 2;
  }

  try {
    if (!rules_path.empty()) {
      options.rules = promptops::fake::parse_rules(read_file(rules_path));
    }
  } catch (const std::exception& error) {
    std::cerr << "fake-provider: error: " << rules_path << ": " << error.what() << '\n';
    return 2;
  }

  // Blocked before any thread starts, so every thread inherits the mask and sigwait below is
  // the only place the signals arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    promptops::fake::FakeProvider provider(options);
    std::cout << "listening on " << provider.base_url() << std::endl;
    if (!port_file.empty()) {
      write_port_file(port_file, provider.port());
    }
    int received = 0;
    sigwait(&stop_signals, &received);
  } catch (const std::exception& error) {
    std::cerr << "fake-provider: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
