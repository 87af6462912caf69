#include "registry/environment_move.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace promptops::registry;
using Catch::Contains;

namespace {

// Registry files in memory, each id its bytes: the seam that lets a move be planned without a
// repository.
class MemorySnapshot final : public SnapshotSource {
public:
  MemorySnapshot(std::string label, const std::map<std::string, std::string>& files)
      : m_label(std::move(label)), m_files(files.begin(), files.end()) {}

  std::optional<std::string> read(std::string_view path) const override {
    const auto it = m_files.find(path);
    if (it == m_files.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  // The map is sorted, so the files below `dir` are one run of it.
  std::vector<std::string> list(std::string_view dir, std::string_view suffix) const override {
    const std::string below = std::string(dir) + "/";
    std::vector<std::string> found;
    for (auto it = m_files.lower_bound(below);
         it != m_files.end() && it->first.compare(0, below.size(), below) == 0; ++it) {
      const std::string& path = it->first;
      if (std::string_view(path).substr(path.size() - std::min(path.size(), suffix.size())) ==
          suffix) {
        found.push_back(path);
      }
    }
    return found;
  }
  std::string display(std::string_view path) const override {
    return m_label + ":" + std::string(path);
  }
  std::optional<std::string> file_id(std::string_view path) const override {
    const auto text = read(path);
    return text ? std::optional<std::string>("bytes " + *text) : std::nullopt;
  }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    for (const auto& [path, _] : m_files) {
      out.push_back(path);
    }
    return out;
  }

private:
  std::string m_label;
  std::map<std::string, std::string, std::less<>> m_files;
};

const std::string k_greet_partial = "prompts/partials/greet.mustache";
const std::string k_hello_partial = "prompts/partials/hello.mustache";

// A prompt file whose template includes `partial`.
std::string using_partial(const std::string& partial) {
  return "template: \"{{> " + partial + "}} {{name}}\"\n";
}

ResolvedPrompt resolve(const MemorySnapshot& source, const std::string& name) {
  const std::string path = prompt_path(name);
  return resolve_prompt(parse_prompt(name, *source.read(path), path, source.display(path)), source,
                        "HEAD");
}

// Prompts `names` as they are in `source`, moving from there.
std::vector<MovingPrompt> moving(const MemorySnapshot& source,
                                 const std::vector<std::string>& names) {
  std::vector<MovingPrompt> prompts;
  for (const auto& name : names) {
    prompts.push_back({resolve(source, name), &source});
  }
  return prompts;
}

// A tip where prompts a and b both include partial greet.
std::map<std::string, std::string> a_and_b_greet() {
  return {{"prompts/a.yaml", using_partial("greet")},
          {"prompts/b.yaml", using_partial("greet")},
          {k_greet_partial, "Hi"}};
}

std::vector<std::string> paths(const std::vector<FileUpdate>& upserts) {
  std::vector<std::string> out;
  for (const auto& u : upserts) {
    out.push_back(u.path);
  }
  return out;
}

} // namespace

TEST_CASE("registry::plan_move, a first move writes each file once", "[registry][environment]") {
  const MemorySnapshot head("HEAD", {{"prompts/a.yaml", using_partial("greet")},
                                     {"prompts/b.yaml", using_partial("greet")},
                                     {k_greet_partial, "Hi"}});
  const MemorySnapshot tip("prod", {});
  const MovePlan plan = plan_move(tip, "prod", moving(head, {"a", "b"}));
  CHECK(paths(plan.upserts) ==
        std::vector<std::string>{"prompts/a.yaml", k_greet_partial, "prompts/b.yaml"});
  CHECK(plan.upserts[1].file_id == "bytes Hi");
  CHECK(plan.upserts[1].source == &head);
  CHECK(plan.removals.empty());
  REQUIRE(plan.changes.size() == 2);
  CHECK(plan.changes[0].name == "a");
  CHECK(plan.changes[0].from_version.empty());
  CHECK(plan.changes[0].to_version == resolve(head, "a").version);
  CHECK(plan.changes[0].number == 0);
}

TEST_CASE("registry::plan_move, a pin already at its version is no change",
          "[registry][environment]") {
  const std::map<std::string, std::string> files{{"prompts/a.yaml", using_partial("greet")},
                                                 {k_greet_partial, "Hi"}};
  const MemorySnapshot head("HEAD", files);
  const MemorySnapshot tip("prod", files);
  const MovePlan plan = plan_move(tip, "prod", moving(head, {"a"}));
  CHECK(plan.changes.empty());
  CHECK(plan.removals.empty());
}

TEST_CASE("registry::plan_move, drops a partial that nothing pinned uses any more",
          "[registry][environment]") {
  const MemorySnapshot tip("prod",
                           {{"prompts/a.yaml", using_partial("greet")}, {k_greet_partial, "Hi"}});
  const MemorySnapshot head("HEAD", {{"prompts/a.yaml", using_partial("hello")},
                                     {k_hello_partial, "Hello"},
                                     {k_greet_partial, "Hi"}});
  const MovePlan plan = plan_move(tip, "prod", moving(head, {"a"}));
  CHECK(paths(plan.upserts) == std::vector<std::string>{"prompts/a.yaml", k_hello_partial});
  CHECK(plan.removals == std::vector<std::string>{k_greet_partial});
  REQUIRE(plan.changes.size() == 1);
  CHECK(plan.changes[0].from_version == resolve(tip, "a").version);
  CHECK(plan.changes[0].to_version == resolve(head, "a").version);
}

TEST_CASE("registry::plan_move, keeps a partial another pinned prompt still uses",
          "[registry][environment]") {
  const MemorySnapshot tip("prod", a_and_b_greet());
  const MemorySnapshot head(
      "HEAD", {{"prompts/a.yaml", using_partial("hello")}, {k_hello_partial, "Hello"}});
  const MovePlan plan = plan_move(tip, "prod", moving(head, {"a"}));
  CHECK(plan.removals.empty());
  CHECK(plan.changes.size() == 1);
}

TEST_CASE("registry::plan_move, refuses to change what an unmoved pin uses",
          "[registry][environment]") {
  const MemorySnapshot tip("prod", a_and_b_greet());
  const MemorySnapshot head(
      "HEAD", {{"prompts/a.yaml", using_partial("greet")}, {k_greet_partial, "Hi there"}});
  REQUIRE_THROWS_WITH(plan_move(tip, "prod", moving(head, {"a"})),
                      Contains("this would change 1 other prompt pinned in prod (b): they use "
                               "prompts/partials/greet.mustache") &&
                          Contains("promptops promote a b --to prod"));
}

TEST_CASE("registry::plan_move, a file missing from its source is an input error",
          "[registry][environment]") {
  const MemorySnapshot head("HEAD",
                            {{"prompts/a.yaml", using_partial("greet")}, {k_greet_partial, "Hi"}});
  const MemorySnapshot elsewhere("v2", {{"prompts/a.yaml", using_partial("greet")}});
  const MemorySnapshot tip("prod", {});
  std::vector<MovingPrompt> prompts = moving(head, {"a"});
  prompts[0].source = &elsewhere;
  REQUIRE_THROWS_AS(plan_move(tip, "prod", prompts), promptops::InputError);
  REQUIRE_THROWS_WITH(plan_move(tip, "prod", prompts),
                      Contains("cannot find \"prompts/partials/greet.mustache\" in v2:"));
}

TEST_CASE("registry::move_message, a line and a trailer per pin", "[registry][environment]") {
  const std::string a_version(64, 'a');
  const std::string b_before(64, 'b');
  const std::string b_after(64, 'c');
  Move move;
  move.subject = "promote a, b from HEAD to prod";
  move.body.push_back("\nEvidence: run r1");
  move.trailers.emplace_back("Evidence-Run", "r1");
  const std::vector<PinChange> changes{{"a", "", a_version, 3}, {"b", b_before, b_after, 0}};
  const Mover mover{"Ann", "ann@example.com", 1714564800};
  CHECK(move_message(move, changes, mover) == "promote a, b from HEAD to prod\n"
                                              "\n"
                                              "a: (new) -> v3 aaaaaaaaaaaa\n"
                                              "b: bbbbbbbbbbbb -> cccccccccccc\n"
                                              "\n"
                                              "Evidence: run r1\n"
                                              "\n"
                                              "Promoted-By: Ann <ann@example.com>\n"
                                              "Promoted-At: 2024-05-01T12:00:00Z\n"
                                              "Prompt-Version: a " +
                                                  a_version +
                                                  "\n"
                                                  "Prompt-Version: b " +
                                                  b_after +
                                                  "\n"
                                                  "Evidence-Run: r1\n");
}

TEST_CASE("registry::move_message, a bulk move gives a count", "[registry][environment]") {
  Move move;
  move.subject = "promote 51 prompts (p0, p1, p2, ...) from HEAD to prod";
  std::vector<PinChange> changes;
  for (int i = 0; i <= static_cast<int>(k_listed_changes); ++i) {
    changes.push_back({"p" + std::to_string(i), "", std::string(64, 'd'), 0});
  }
  const std::string message = move_message(move, changes, {"Ann", "ann@example.com", 0});
  CHECK_THAT(message, Contains("\n\n51 prompts move; the tree holds their new versions"));
  CHECK_THAT(message, Contains("Promoted-At: 1970-01-01T00:00:00Z\nPrompts-Moved: 51\n"));
  CHECK(message.find("Prompt-Version:") == std::string::npos);
  CHECK(message.find("p0: ") == std::string::npos);
}

TEST_CASE("registry::move_message, a trailer value must be one printable line",
          "[registry][environment]") {
  Move move;
  move.subject = "promote a from HEAD to prod";
  move.trailers.emplace_back("Reason", "ok\n\nForced: no");
  CHECK_THROWS_WITH(move_message(move, {}, {"Ann", "ann@example.com", 0}),
                    Contains("Reason must be one line of printable text"));
  move.trailers.back().second = "fine";
  CHECK_THROWS_WITH(move_message(move, {}, {"Ann\nEvidence-Run: x", "ann@example.com", 0}),
                    Contains("the author's name"));
  CHECK_THROWS_WITH(check_trailer_value("a\x1b[2Kb", "--reason"),
                    Contains("--reason must be one line") && Contains("\\x1b[2Kb"));
  CHECK_THROWS_AS(check_trailer_value("right\u202eleft", "--reason"), promptops::UsageError);
  CHECK_NOTHROW(check_trailer_value("ship it: 5% better, \"quoted\" and ünïcode", "--reason"));
}

TEST_CASE("registry::trusted_trailers, the last paragraph, in the forms promptops writes",
          "[registry][environment]") {
  using Trailers = std::vector<std::pair<std::string, std::string>>;
  CHECK(trusted_trailers("promote a\n\nEvidence-Run: body\n\nPromoted-By: A <a@x>\n"
                         "Forced: no\nEvidence-Pass-Rate: lots\nEvidence-Regressions: -1\n"
                         "Reason: fine\n") ==
        Trailers{{"Promoted-By", "A <a@x>"}, {"Reason", "fine"}});
  CHECK(trusted_trailers("s\n\nForced: yes\nEvidence-Pass-Rate: 0.975\nEvidence-Regressions: 0\n"
                         "Promoted-At: 2024-05-01T12:00:00Z\n") ==
        Trailers{{"Forced", "yes"},
                 {"Evidence-Pass-Rate", "0.975"},
                 {"Evidence-Regressions", "0"},
                 {"Promoted-At", "2024-05-01T12:00:00Z"}});
  // A key written once that appears twice is forged: neither is trusted. Prompt-Version repeats.
  CHECK(trusted_trailers("s\n\nEvidence-Run: a\nEvidence-Run: b\nPrompt-Version: x 1\n"
                         "Prompt-Version: y 2\n") ==
        Trailers{{"Prompt-Version", "x 1"}, {"Prompt-Version", "y 2"}});
  CHECK(trusted_trailers("s\n\nReason: a\x1b[2Kb\n").empty());
  CHECK(trusted_trailers(nullptr).empty());
}
