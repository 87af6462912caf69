// Whole-process timing of promptops on a large generated registry, beside `git show` on the
// same repository (the issue "registry": 5,000 prompts with 10 versions each).
//
//   registry_scale PROMPTOPS_BINARY [--prompts 5000] [--versions 10] [--runs 30] [--keep DIR]
//
// Generates a registry with the git CLI in a temporary folder (or DIR with --keep, which is
// then left in place; a DIR that already holds a registry made by this program is reused):
// prompts p0 .. p(N-1), each including two of a few shared partials, every other one with
// one of three shared output schemas; one commit per version round, each editing every
// prompt. After round V-1 every prompt is promoted to staging and then to prod (one
// `promptops promote` call each); round V is committed after that, so HEAD is one version
// ahead of both environments. The repository is packed with `git gc` at the end.
//
// Then it runs each command RUNS times, interleaved so that machine noise hits all of them
// alike, and prints the median and 90th percentile wall time of each and the ratio to
// `git show promptops/env/prod:prompts/NAME.yaml`. The promote/rollback pair really moves
// staging each time: promote takes NAME from v(V-1) to vV, rollback takes it back.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Runs `args` in `cwd`; stdout goes to `out` when given, else to /dev/null. Exits on failure.
double run_once(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                std::string* out = nullptr) {
  std::vector<char*> argv;
  std::vector<std::string> storage = args;
  for (auto& a : storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out != nullptr) {
    if (::pipe(pipe_fds) != 0) {
      std::perror("pipe");
      std::exit(2);
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 01 /*O_WRONLY*/, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", 01, 0);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawnp(&pid, storage[0].c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot run %s\n", storage[0].c_str());
    std::exit(2);
  }
  if (out != nullptr) {
    ::close(pipe_fds[1]);
    char buffer[65536];
    ssize_t n = 0;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
      out->append(buffer, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double elapsed = ms_since(start);
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (std::size_t i = 0; i < storage.size() && i < 6; ++i) {
      line += storage[i] + " ";
    }
    std::fprintf(stderr, "command failed (status %d): %s...\n", status, line.c_str());
    std::exit(2);
  }
  return elapsed;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(2);
  }
}

constexpr int k_partials = 5;
constexpr int k_schemas = 3;

std::string prompt_text(int i, int round) {
  std::string t;
  t += "description: Generated prompt " + std::to_string(i) + "\n";
  t += "provider: default\n";
  t += "params: {temperature: 0}\n";
  t += "messages:\n";
  t += "  - role: system\n";
  t += "    content: |\n";
  t += "      You answer tickets for team " + std::to_string(i % 50) + ".\n";
  t += "      Revision " + std::to_string(round) + " of prompt " + std::to_string(i) + ".\n";
  t += "      {{> tone}}\n";
  t += "      {{> format" + std::to_string(i % k_partials) + "}}\n";
  t += "  - role: user\n";
  t += "    content: \"Ticket: {{ticket}}\"\n";
  t += "input:\n";
  t += "  required: [ticket]\n";
  if (i % 2 == 0) {
    t += "output_schema: schemas/out" + std::to_string(i % k_schemas) + ".json\n";
  }
  return t;
}

void git(const std::filesystem::path& repo, std::vector<std::string> args) {
  std::vector<std::string> full = {"git", "-C", repo.string()};
  full.insert(full.end(), args.begin(), args.end());
  run_once(full, repo);
}

struct Options {
  std::string promptops;
  int prompts = 5000;
  int versions = 10;
  int runs = 30;
  std::string keep;
};

void generate(const Options& o, const std::filesystem::path& registry) {
  const auto start = Clock::now();
  std::filesystem::create_directories(registry);
  git(registry, {"init", "-q", "-b", "main"});
  git(registry, {"config", "core.logAllRefUpdates", "always"}); // as promptops init does
  git(registry, {"config", "gc.auto", "0"});                    // packed once, at the end
  write_file(registry / "promptops.yaml", "version: 1\n"
                                          "environments: [staging, prod]\n"
                                          "protected: [prod]\n"
                                          "providers:\n"
                                          "  default:\n"
                                          "    type: echo\n");
  write_file(registry / "prompts/partials/tone.mustache",
             "Be brief and friendly. Never promise refunds.\n");
  for (int k = 0; k < k_partials; ++k) {
    write_file(registry / ("prompts/partials/format" + std::to_string(k) + ".mustache"),
               "Reply in format " + std::to_string(k) + ". {{> tone}}\n");
  }
  for (int k = 0; k < k_schemas; ++k) {
    write_file(registry / ("schemas/out" + std::to_string(k) + ".json"),
               "{\"type\": \"object\", \"required\": [\"answer\"], \"properties\": "
               "{\"answer\": {\"type\": \"string\"}, \"kind\": {\"const\": " +
                   std::to_string(k) + "}}}\n");
  }
  for (int round = 1; round <= o.versions; ++round) {
    for (int i = 0; i < o.prompts; ++i) {
      write_file(registry / ("prompts/p" + std::to_string(i) + ".yaml"), prompt_text(i, round));
    }
    git(registry, {"add", "-A"});
    git(registry, {"commit", "-q", "-m", "round " + std::to_string(round)});
    if (round == o.versions - 1) {
      std::fprintf(stderr, "generated %d commits in %.1f s\n", round, ms_since(start) / 1000);
      std::vector<std::string> all = {o.promptops, "promote"};
      for (int i = 0; i < o.prompts; ++i) {
        all.push_back("p" + std::to_string(i));
      }
      auto staging = all;
      staging.insert(staging.end(), {"--to", "staging"});
      std::fprintf(stderr, "promote all %d prompts to staging: %.1f s\n", o.prompts,
                   run_once(staging, registry) / 1000);
      auto prod = all;
      prod.insert(prod.end(), {"--to", "prod", "--force", "--reason", "bench"});
      std::fprintf(stderr, "promote all %d prompts to prod: %.1f s\n", o.prompts,
                   run_once(prod, registry) / 1000);
    }
  }
  // As a repository looks after git's own housekeeping: objects in one pack.
  git(registry, {"gc", "-q"});
  std::fprintf(stderr, "registry ready in %.1f s\n", ms_since(start) / 1000);
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--prompts" && has_value) {
      o.prompts = std::atoi(argv[++i]);
    } else if (a == "--versions" && has_value) {
      o.versions = std::atoi(argv[++i]);
    } else if (a == "--runs" && has_value) {
      o.runs = std::atoi(argv[++i]);
    } else if (a == "--keep" && has_value) {
      o.keep = argv[++i];
    } else if (o.promptops.empty() && a.rfind("--", 0) != 0) {
      o.promptops = std::filesystem::absolute(a).string();
    } else {
      o.promptops.clear();
      break;
    }
  }
  if (o.promptops.empty() || o.prompts < 200 || o.versions < 2 || o.runs < 1) {
    std::fprintf(stderr, "usage: registry_scale PROMPTOPS_BINARY [--prompts N>=200] "
                         "[--versions V>=2] [--runs R] [--keep DIR]\n");
    return 2;
  }
  // Who promotes and commits: fixed, so that nothing depends on the machine's git config.
  ::setenv("GIT_AUTHOR_NAME", "bench", 1);
  ::setenv("GIT_AUTHOR_EMAIL", "bench@example.invalid", 1);
  ::setenv("GIT_COMMITTER_NAME", "bench", 1);
  ::setenv("GIT_COMMITTER_EMAIL", "bench@example.invalid", 1);

  std::filesystem::path dir;
  std::filesystem::path registry;
  if (o.keep.empty()) {
    char pattern[] = "/tmp/promptops-scale-XXXXXX";
    dir = ::mkdtemp(pattern);
    registry = dir / "registry";
  } else {
    registry = std::filesystem::absolute(o.keep);
  }
  if (std::filesystem::exists(registry / "promptops.yaml")) {
    std::fprintf(stderr, "reusing the registry in %s\n", registry.c_str());
  } else {
    generate(o, registry);
  }

  const std::string name = "p123";
  const std::vector<std::string> var = {"--var", "ticket=my parcel is late"};
  struct Command {
    std::string label;
    std::vector<std::string> args;
    std::vector<double> times;
  };
  auto with = [&](std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  std::vector<Command> commands = {
      {"promptops render " + name + "@prod",
       with({o.promptops, "render", name + "@prod"}, var),
       {}},
      {"promptops render " + name + "@HEAD",
       with({o.promptops, "render", name + "@HEAD"}, var),
       {}},
      {"promptops log " + name, {o.promptops, "log", name}, {}},
      {"promptops promote " + name + " --to staging",
       {o.promptops, "promote", name, "--to", "staging"},
       {}},
      {"promptops rollback " + name + " --env staging",
       {o.promptops, "rollback", name, "--env", "staging"},
       {}},
      {"promptops env list", {o.promptops, "env", "list"}, {}},
      {"git show promptops/env/prod:prompts/" + name + ".yaml",
       {"git", "show", "promptops/env/prod:prompts/" + name + ".yaml"},
       {}},
  };

  // Once, with output: the pair really moves staging.
  std::string out;
  run_once(commands[3].args, registry, &out);
  if (out.find("promoted " + name) == std::string::npos) {
    std::fprintf(stderr, "promote did not move %s: %s\n", name.c_str(), out.c_str());
    return 2;
  }
  out.clear();
  run_once(commands[4].args, registry, &out);
  if (out.find("rolled back " + name) == std::string::npos) {
    std::fprintf(stderr, "rollback did not move %s: %s\n", name.c_str(), out.c_str());
    return 2;
  }

  for (int i = 0; i < o.runs; ++i) {
    for (auto& c : commands) {
      c.times.push_back(run_once(c.args, registry));
    }
  }
  std::printf("%d prompts x %d versions, %d runs each, interleaved\n", o.prompts, o.versions,
              o.runs);
  std::printf("%-48s %10s %10s %12s\n", "command (whole process)", "median ms", "p90 ms",
              "vs git show");
  const double floor = percentile(commands.back().times, 0.5);
  for (const auto& c : commands) {
    const double median = percentile(c.times, 0.5);
    std::printf("%-48s %10.2f %10.2f %11.2fx\n", c.label.c_str(), median, percentile(c.times, 0.9),
                median / floor);
  }
  if (o.keep.empty()) {
    std::filesystem::remove_all(dir);
  } else {
    std::fprintf(stderr, "kept the registry in %s\n", registry.c_str());
  }
  return 0;
}
