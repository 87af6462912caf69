#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "registry/registry.hpp"
#include "registry/remote.hpp"
#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace promptops::cli {

namespace {

nlohmann::ordered_json id_or_null(const std::string& id) {
  return id.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(id);
}

std::string short_id(const std::string& id) {
  return id.substr(0, 7);
}

std::string commits(int n) {
  return std::to_string(n) + (n == 1 ? " commit" : " commits");
}

nlohmann::ordered_json divergence_json(const registry::Divergence& d) {
  return {{"local_only", d.local_only}, {"remote_only", d.remote_only}};
}

std::string padded(const std::string& branch, std::size_t width) {
  return branch + std::string(width - branch.size() + 2, ' ');
}

template <typename T> std::size_t branch_width(const std::vector<T>& environments) {
  std::size_t width = 0;
  for (const auto& e : environments) {
    width = std::max(width, e.branch.size());
  }
  return width;
}

// Rejections are reported per environment on stdout; the reasons also become the error, so
// the exit code is 3 (2 when a remote's branch is bad input: `input` is true) and stderr says
// what to do.
void throw_if_refused(const std::vector<std::string>& reasons, bool input) {
  if (reasons.empty()) {
    return;
  }
  std::string message;
  for (const auto& r : reasons) {
    message += (message.empty() ? "" : "\npromptops: error: ") + r;
  }
  if (input) {
    throw InputError(message);
  }
  throw RunError(message);
}

// What push and pull print alike: the JSON envelope, or a header and one line per environment
// (`entry_text` gives what follows the branch name, newline included); then exit 3 with the
// `reasons` when an environment was refused.
template <typename Result, typename EntryJson, typename EntryText>
int report_transfer(const Result& result, bool json, const std::string& preposition,
                    const std::vector<std::string>& reasons, bool input, EntryJson entry_json,
                    EntryText entry_text) {
  if (json) {
    nlohmann::ordered_json envs = nlohmann::ordered_json::array();
    for (const auto& e : result.environments) {
      envs.push_back(entry_json(e));
    }
    nlohmann::ordered_json out{
        {"remote", result.remote}, {"url", result.url}, {"environments", envs}};
    print(out.dump(2) + "\n");
  } else {
    std::string text = preposition + " " + result.url + " (" + result.remote + ")\n";
    const std::size_t width = branch_width(result.environments);
    for (const auto& e : result.environments) {
      text += "  " + padded(e.branch, width) + entry_text(e, width);
    }
    print(text);
  }
  throw_if_refused(reasons, input);
  return 0;
}

// The keys every environment has in push's and pull's JSON.
template <typename Entry> nlohmann::ordered_json entry_json_common(const Entry& e) {
  return {{"environment", e.env},
          {"branch", e.branch},
          {"status", registry::to_string(e.status)},
          {"old", id_or_null(e.old_commit)},
          {"new", id_or_null(e.new_commit)}};
}

int report_push(const registry::PushResult& result, bool json) {
  std::vector<std::string> reasons;
  for (const auto& e : result.environments) {
    if (e.status == registry::PushStatus::rejected) {
      reasons.push_back(e.message);
    }
  }
  const auto entry_json = [](const registry::EnvironmentPush& e) {
    nlohmann::ordered_json j = entry_json_common(e);
    if (e.status == registry::PushStatus::rejected) {
      j["divergence"] = divergence_json(e.divergence);
      j["message"] = e.message;
    }
    return j;
  };
  const auto entry_text = [&result](const registry::EnvironmentPush& e, std::size_t) {
    switch (e.status) {
    case registry::PushStatus::pushed:
      return (e.old_commit.empty()
                  ? "pushed " + short_id(e.new_commit) + " (new on " + result.remote + ")"
                  : "pushed " + short_id(e.old_commit) + ".." + short_id(e.new_commit)) +
             "\n";
    case registry::PushStatus::up_to_date:
      return "up to date (" + short_id(e.new_commit) + ")\n";
    case registry::PushStatus::rejected:
      return "rejected: " + result.remote + " has promotions you do not have\n";
    case registry::PushStatus::not_promoted:
      break;
    }
    return std::string("nothing promoted here yet\n");
  };
  return report_transfer(result, json, "To", reasons, false, entry_json, entry_text);
}

int report_pull(const registry::PullResult& result, bool json) {
  std::vector<std::string> reasons;
  bool invalid = false;
  for (const auto& e : result.environments) {
    if (!e.message.empty()) {
      reasons.push_back(e.message);
    }
    invalid = invalid || e.status == registry::PullStatus::invalid;
  }
  const auto entry_json = [](const registry::EnvironmentPull& e) {
    nlohmann::ordered_json j = entry_json_common(e);
    j["remote"] = id_or_null(e.remote_commit);
    if (e.status == registry::PullStatus::ahead || e.status == registry::PullStatus::diverged) {
      j["divergence"] = divergence_json(e.divergence);
    }
    if (!e.message.empty()) {
      j["message"] = e.message;
    }
    return j;
  };
  const auto entry_text = [&result](const registry::EnvironmentPull& e, std::size_t width) {
    std::string text;
    switch (e.status) {
    case registry::PullStatus::created:
      text = "created at " + short_id(e.new_commit);
      break;
    case registry::PullStatus::fast_forwarded:
      text = "fast-forwarded " + short_id(e.old_commit) + ".." + short_id(e.new_commit);
      break;
    case registry::PullStatus::up_to_date:
      text = "up to date (" + short_id(e.new_commit) + ")";
      break;
    case registry::PullStatus::ahead:
      text = "ahead of " + result.remote + " by " + commits(e.divergence.local_only) +
             " (run promptops push)";
      break;
    case registry::PullStatus::diverged:
      text = "diverged: " + commits(e.divergence.local_only) + " only here, " +
             commits(e.divergence.remote_only) + " only on " + result.remote + "; left at " +
             short_id(e.old_commit);
      break;
    case registry::PullStatus::conflict:
      text = "refused; left at " + short_id(e.old_commit);
      break;
    case registry::PullStatus::not_on_remote:
      text = "not on " + result.remote;
      break;
    case registry::PullStatus::invalid:
      text = "refused: not an environment promptops can read (see below); left at " +
             (e.old_commit.empty() ? std::string("nothing") : short_id(e.old_commit));
      break;
    }
    text += "\n";
    if (e.status == registry::PullStatus::diverged) {
      for (const auto& subject : e.divergence.local_subjects) {
        text += "  " + std::string(width + 2, ' ') + "only here: " + subject + "\n";
      }
    }
    return text;
  };
  return report_transfer(result, json, "From", reasons, invalid, entry_json, entry_text);
}

} // namespace

Action add_push(CLI::App& app) {
  struct Options {
    std::string remote = "origin";
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "push", "Push the environment branches to a git remote (fast-forward only)");
  cmd->add_option("REMOTE", o->remote, "The git remote (default: origin)");
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  return [o] {
    const auto registry = registry::Registry::open(".");
    return report_push(registry::push(registry, o->remote), o->json);
  };
}

Action add_pull(CLI::App& app) {
  struct Options {
    std::string remote = "origin";
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "pull", "Fetch the environment branches from a git remote and fast-forward them");
  cmd->add_option("REMOTE", o->remote, "The git remote (default: origin)");
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  return [o] {
    const auto registry = registry::Registry::open(".");
    return report_pull(registry::pull(registry, o->remote), o->json);
  };
}

} // namespace promptops::cli
