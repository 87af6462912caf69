// Round two of the attacks, what comes from git: forged trailers, escapes in authors and
// subjects, hostile names in an environment's tree, a huge blob, refs that are not commits, a
// repository owned by another user (docs/security.md).
#include "tests/support/env_branch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/remote_repo.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_repo.hpp"

#include <catch2/catch.hpp>
#include <git2.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <pwd.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using promptops::test::check_git;
using promptops::test::run_promptops;
using promptops::test::TempDir;
using promptops::test::TestRepo;

namespace {

const std::string k_prod = "refs/heads/promptops/env/prod";

struct RepoHandle {
  git_repository* repo = nullptr;
  explicit RepoHandle(const std::filesystem::path& dir) {
    check_git(git_repository_open(&repo, dir.c_str()), "open " + dir.string());
  }
  ~RepoHandle() { git_repository_free(repo); }
  RepoHandle(const RepoHandle&) = delete;
  RepoHandle& operator=(const RepoHandle&) = delete;
};

// A tree of `entries` (path -> blob id) written with treebuilders, which take any name git's
// own format allows (an index would refuse some).
git_oid write_tree(git_repository* repo, const std::map<std::string, git_oid>& entries) {
  std::map<std::string, git_oid> here;
  std::map<std::string, std::map<std::string, git_oid>> below;
  for (const auto& [path, id] : entries) {
    const auto slash = path.find('/');
    if (slash == std::string::npos) {
      here[path] = id;
    } else {
      below[path.substr(0, slash)][path.substr(slash + 1)] = id;
    }
  }
  git_treebuilder* builder = nullptr;
  check_git(git_treebuilder_new(&builder, repo, nullptr), "treebuilder");
  std::unique_ptr<git_treebuilder, void (*)(git_treebuilder*)> owned(builder, git_treebuilder_free);
  for (const auto& [name, id] : here) {
    check_git(git_treebuilder_insert(nullptr, builder, name.c_str(), &id, GIT_FILEMODE_BLOB),
              "insert " + name);
  }
  for (const auto& [name, sub] : below) {
    const git_oid sub_id = write_tree(repo, sub);
    check_git(git_treebuilder_insert(nullptr, builder, name.c_str(), &sub_id, GIT_FILEMODE_TREE),
              "insert " + name);
  }
  git_oid id;
  check_git(git_treebuilder_write(&id, builder), "write tree");
  return id;
}

git_oid blob(git_repository* repo, const std::string& content) {
  git_oid id;
  check_git(git_blob_create_from_buffer(&id, repo, content.data(), content.size()), "blob");
  return id;
}

// A blob of `size` zero bytes, streamed in 1 MiB pieces: git stores it in about 1 MB.
git_oid zero_blob(git_repository* repo, std::size_t size) {
  git_odb* odb = nullptr;
  check_git(git_repository_odb(&odb, repo), "odb");
  std::unique_ptr<git_odb, void (*)(git_odb*)> owned_odb(odb, git_odb_free);
  git_odb_stream* stream = nullptr;
  check_git(git_odb_open_wstream(&stream, odb, size, GIT_OBJECT_BLOB), "odb stream");
  std::unique_ptr<git_odb_stream, void (*)(git_odb_stream*)> owned(stream, git_odb_stream_free);
  const std::string chunk(std::size_t{1} << 20, '\0');
  for (std::size_t done = 0; done < size; done += chunk.size()) {
    check_git(git_odb_stream_write(stream, chunk.data(), std::min(chunk.size(), size - done)),
              "odb write");
  }
  git_oid id;
  check_git(git_odb_stream_finalize_write(&id, stream), "odb finalize");
  return id;
}

// Commit `tree` with `author` and `message` on top of `ref`'s tip (when it has one), and move
// `ref` there. Returns the commit's id in hex.
std::string commit_tree(git_repository* repo, const std::string& ref, const git_oid& tree_id,
                        const std::string& author, const std::string& message) {
  git_tree* tree = nullptr;
  check_git(git_tree_lookup(&tree, repo, &tree_id), "tree");
  std::unique_ptr<git_tree, void (*)(git_tree*)> owned_tree(tree, git_tree_free);
  git_signature* sig = nullptr;
  check_git(git_signature_new(&sig, author.c_str(), "a@example.invalid", 1700000000, 0), "sig");
  std::unique_ptr<git_signature, void (*)(git_signature*)> owned_sig(sig, git_signature_free);
  git_commit* parent = nullptr;
  git_oid parent_id;
  if (git_reference_name_to_id(&parent_id, repo, ref.c_str()) == 0) {
    check_git(git_commit_lookup(&parent, repo, &parent_id), "parent");
  }
  std::unique_ptr<git_commit, void (*)(git_commit*)> owned_parent(parent, git_commit_free);
  const git_commit* parents[] = {parent};
  git_oid id;
  check_git(git_commit_create(&id, repo, ref.c_str(), sig, sig, nullptr, message.c_str(), tree,
                              parent != nullptr ? 1 : 0, parents),
            "commit");
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &id);
  return hex;
}

// Point `ref` at object `id` whatever its type, as a hostile remote could.
void force_ref(git_repository* repo, const std::string& ref, const git_oid& id) {
  git_reference* raw = nullptr;
  check_git(git_reference_create(&raw, repo, ref.c_str(), &id, 1, "test: force"), "set " + ref);
  git_reference_free(raw);
}

bool has_raw_control(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) {
      return true;
    }
  }
  return false;
}

// A committed registry with staging and a protected prod, and a bare remote it pushed to.
struct Registry {
  TempDir dir;
  std::filesystem::path root;
  std::unique_ptr<TestRepo> repo;
  Registry() : root(dir.path() / "reg") {
    dir.write("reg/promptops.yaml", "version: 1\nenvironments: [staging, prod]\n"
                                    "protected: [prod]\nproviders:\n  default: {type: echo}\n");
    dir.write("reg/prompts/greet.yaml", "template: \"Hello {{name}}\"\n");
    repo = std::make_unique<TestRepo>(root);
    repo->commit_all("first");
  }
  promptops::test::ProcessResult run(const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env = {}) const {
    return run_promptops(args, root, env);
  }
  // The greet prompt's file, as a blob of this repository.
  git_oid greet(git_repository* r) const { return blob(r, "template: \"Hello {{name}}\"\n"); }
};

} // namespace

TEST_CASE("attacks git, a reason with a newline cannot forge trailers", "[attacks][git]") {
  Registry reg;
  const std::string forged = "ok\n\nForced: no\nEvidence-Run: 20990101-000000-fake\n"
                             "Evidence-Pass-Rate: 1";
  auto r = reg.run({"promote", "greet", "--to", "prod", "--force", "--reason", forged});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--reason") && Catch::Contains("line"));
  CHECK_FALSE(promptops::test::ref_tip(reg.root, k_prod));
  // Other control characters too, and in rollback's reason.
  r = reg.run({"promote", "greet", "--to", "prod", "--force", "--reason", "a\x1b[2Kb"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--reason"));
  REQUIRE(reg.run({"promote", "greet", "--to", "staging"}).exit_code == 0);
  r = reg.run({"rollback", "greet", "--env", "staging", "--reason", "x\nForced: yes"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--reason"));

  // An author whose name has a newline cannot add trailers either.
  r = reg.run({"promote", "greet", "--to", "prod", "--force", "--reason", "release"},
              {{"GIT_AUTHOR_NAME", "Eve\nEvidence-Run: fake"},
               {"GIT_AUTHOR_EMAIL", "eve@example.invalid"}});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(promptops::test::ref_tip(reg.root, k_prod));

  // A commit written by other means: only the last paragraph is the trailer block, and values
  // promptops could not have written are not trusted.
  {
    RepoHandle h(reg.root);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", reg.greet(h.repo)}});
    commit_tree(h.repo, k_prod, tree, "Mallory",
                "promote greet\n\nEvidence-Run: in-the-body\n\nPromoted-By: M <m@x>\n"
                "Forced: no\nEvidence-Pass-Rate: lots\nReason: fine\n");
  }
  r = reg.run({"env", "history", "prod", "--json"});
  REQUIRE(r.exit_code == 0);
  const auto history = nlohmann::json::parse(r.out);
  REQUIRE(history.size() == 1);
  const auto& trailers = history[0]["trailers"];
  CHECK_FALSE(trailers.contains("Evidence-Run"));
  CHECK_FALSE(trailers.contains("Forced"));
  CHECK_FALSE(trailers.contains("Evidence-Pass-Rate"));
  CHECK(trailers["Reason"] == "fine");
}

TEST_CASE("attacks git, escapes in authors and subjects never reach the terminal raw",
          "[attacks][git]") {
  Registry reg;
  {
    RepoHandle h(reg.root);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", reg.greet(h.repo)}});
    commit_tree(h.repo, k_prod, tree, "Eve\x1b[2K\rfake",
                "promote \x1b[31mgreet\x1b]0;title\x07\n\nReason: \x1b[2Kok\n");
    // The same on HEAD's history, for log.
    const git_oid head_tree =
        write_tree(h.repo, {{"prompts/greet.yaml", blob(h.repo, "template: \"Hi {{name}}\"\n")},
                            {"promptops.yaml", blob(h.repo, reg.dir.read("reg/promptops.yaml"))}});
    commit_tree(h.repo, "HEAD", head_tree, "Eve\x1b[2K\rfake", "edit \x1b[2Kgreet\r\n");
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"env", "history", "prod"}, {"env", "list"}, {"log", "greet"}}) {
    const auto r = reg.run(args);
    INFO(args[0] << " " << args[1] << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(has_raw_control(r.out));
    CHECK_FALSE(has_raw_control(r.err));
    CHECK_THAT(r.out, Catch::Contains("\\x1b[2K\\rfake"));
  }
  // A promotion that loses the race names the winner's author, escaped.
  const auto r = reg.run({"promote", "greet", "--to", "staging"});
  CHECK_FALSE(has_raw_control(r.out + r.err));
}

TEST_CASE("attacks git, hostile names in an environment's tree are not prompt names",
          "[attacks][git]") {
  Registry reg;
  {
    RepoHandle h(reg.root);
    const git_oid greet = reg.greet(h.repo);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", greet},
                                             {"prompts/a\x1b[2Kb.yaml", greet},
                                             {"prompts/x\ny.yaml", greet}});
    commit_tree(h.repo, k_prod, tree, "Releaser", "promote greet from staging to prod\n");
  }
  auto r = reg.run({"env", "list", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto states = nlohmann::json::parse(r.out);
  std::vector<std::string> names;
  for (const auto& p : states[1]["pins"]) {
    names.push_back(p["name"]);
  }
  CHECK(names == std::vector<std::string>{"greet"});
  CHECK_THAT(r.err, Catch::Contains("warning") && Catch::Contains("invalid prompt name"));
  CHECK_FALSE(has_raw_control(r.err));

  r = reg.run({"export", "--env", "prod"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto bundle = nlohmann::json::parse(r.out);
  CHECK(bundle["prompts"].size() == 1);
  CHECK(bundle["prompts"].contains("greet"));
  CHECK_THAT(r.err, Catch::Contains("warning") && Catch::Contains("invalid prompt name"));
  CHECK_FALSE(has_raw_control(r.err));
}

TEST_CASE("attacks git, a 1 GiB blob in an environment branch is refused unread",
          "[attacks][git]") {
  Registry reg;
  TempDir other;
  const std::filesystem::path clone = other.path() / "clone";
  promptops::test::clone_repo(reg.root.string(), clone, "Puller");
  {
    RepoHandle h(reg.root);
    const git_oid huge = zero_blob(h.repo, std::size_t{1} << 30);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", huge}});
    commit_tree(h.repo, k_prod, tree, "Releaser", "promote greet from staging to prod\n");
  }
  // What git stores stays small: the test itself is bounded.
  std::uintmax_t stored = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(reg.root / ".git/objects")) {
    stored += e.is_regular_file() ? e.file_size() : 0;
  }
  CHECK(stored < std::uintmax_t{8} << 20);

  const auto check_refused = [](const promptops::test::ProcessResult& r, const std::string& what) {
    INFO(what << "\n" << r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("too large") && Catch::Contains("prompts/greet.yaml") &&
                          Catch::Contains("prod"));
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(r.peak_rss_kb < 200 * 1024);
#endif
  };
  check_refused(reg.run({"env", "list"}), "env list");
  check_refused(reg.run({"export", "--env", "prod"}), "export");
  check_refused(reg.run({"render", "greet@prod", "--var", "name=x"}), "render");
  check_refused(reg.run({"diff", "greet@prod", "greet@HEAD"}), "diff");

  // A clone that pulls from this repository refuses the branch before fetching the blob.
  const auto r = run_promptops({"pull"}, clone);
  check_refused(r, "pull");
  CHECK_FALSE(promptops::test::ref_tip(clone, k_prod));
}

TEST_CASE("attacks git, an environment ref that points at a tree", "[attacks][git]") {
  Registry reg;
  TempDir other;
  const std::filesystem::path bare = other.path() / "remote.git";
  promptops::test::init_bare(bare);
  promptops::test::add_remote(reg.root, "origin", bare.string());
  promptops::test::push_current_branch(reg.root, "origin");
  {
    RepoHandle h(bare);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", reg.greet(h.repo)}});
    force_ref(h.repo, k_prod, tree);
  }
  auto r = reg.run({"pull"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("promptops/env/prod") && Catch::Contains("a tree") &&
                        Catch::Contains("not a commit"));
  CHECK_FALSE(promptops::test::ref_tip(reg.root, k_prod));

  // A local branch in that state (left by an older pull, or by hand): promote says so.
  {
    RepoHandle h(reg.root);
    const git_oid tree = write_tree(h.repo, {{"prompts/greet.yaml", reg.greet(h.repo)}});
    force_ref(h.repo, k_prod, tree);
  }
  r = reg.run({"promote", "greet", "--to", "prod", "--from", "HEAD", "--force", "--reason", "fix"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("promptops/env/prod") && Catch::Contains("a tree") &&
                        Catch::Contains("not a commit"));
  CHECK_THAT(r.err, !Catch::Contains("another process holds its lock"));
  r = reg.run({"env", "list"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("a tree"));
}

TEST_CASE("attacks git, a repository owned by another user gives git's reason", "[attacks][git]") {
  if (::geteuid() != 0) {
    SUCCEED("needs root to give the repository to another user");
    return;
  }
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody != nullptr);
  Registry reg;
  std::filesystem::path git_dir = reg.root / ".git";
  REQUIRE(::chown(reg.root.c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
  REQUIRE(::chown(git_dir.c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
  // Only when libgit2 itself refuses it (safe.directory) is there something to report.
  git_repository* probe = nullptr;
  const int rc = git_repository_open_ext(&probe, reg.root.c_str(), 0, nullptr);
  git_repository_free(probe);
  if (rc == 0) {
    WARN("libgit2 opened a repository owned by another user: nothing to test");
    return;
  }
  // libgit2 1.5.1 words it differently with no safe.directory at all and with one that lists
  // another folder.
  for (const std::string config : {"", "[safe]\n\tdirectory = /nonexistent\n"}) {
    const TempDir home;
    home.write(".gitconfig", config);
    const auto r = reg.run({"env", "list"}, {{"HOME", home.path().string()},
                                             {"XDG_CONFIG_HOME", home.path().string()}});
    INFO(config << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, !Catch::Contains("not inside a git repository"));
    CHECK_THAT(r.err, Catch::Contains("safe.directory " + reg.root.string()));
    CHECK_THAT(r.err, Catch::Contains("not owned by current user"));
  }
  ::chown(reg.root.c_str(), 0, 0);
  ::chown(git_dir.c_str(), 0, 0);
}

TEST_CASE("attacks git, names and descriptions on disk and error messages are escaped too",
          "[attacks][git]") {
  Registry r;
  // A pull request may add any file: its name and description reach `list`.
  r.dir.write("reg/prompts/x\x1b[2Ky.yaml", "template: hi\ndescription: \"a\\e[31mred\\r\"\n");
  const auto list = r.run({"list"});
  CHECK_FALSE(has_raw_control(list.out));
  CHECK_FALSE(has_raw_control(list.err));
  // Whatever a message quotes (an argument here), no escape sequence reaches the terminal.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"render", "greet", "--vars-file", "no\x1b]0;owned\x07.json"},
        std::vector<std::string>{"show", "no\x1b[2Ksuch"},
        std::vector<std::string>{"promote", "greet", "--to", "st\x1b[2Kaging"}}) {
    const auto out = r.run(args);
    INFO(out.err);
    CHECK(out.exit_code == 2);
    CHECK_FALSE(has_raw_control(out.err));
  }
}
