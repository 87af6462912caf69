// The runner driven in-process through its engine seam (golden/run_engine.hpp): a fake engine
// answers the jobs in an order the test chooses, with replies made from the job, and the tests
// read back the run folder the runner wrote in a temp registry.
#include "golden/result.hpp"
#include "golden/results_file.hpp"
#include "golden/run_engine.hpp"
#include "golden/runner.hpp"
#include "providers/engine.hpp"
#include "registry/registry.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace golden = promptops::golden;
using nlohmann::json;
using nlohmann::ordered_json;
using promptops::providers::EngineOptions;
using promptops::providers::Job;
using promptops::providers::Reply;
using promptops::test::TempDir;

enum class Order { first_added_first, last_added_first };

// What a test tells the fake engine and what the engine saw, shared by the test and every
// engine its factory makes.
struct FakeCalls {
  std::function<Reply(const Job&)> answer;
  Order order = Order::last_added_first;
  // After this many replies the fake sets `stop_flag` (the run's TestOptions::stop), as a
  // signal handler would; the engine stops when it sees the stop pointer the runner gave it.
  std::size_t stop_after = std::numeric_limits<std::size_t>::max();
  std::atomic<bool>* stop_flag = nullptr;

  std::size_t engines = 0; // engines the factory made
  std::vector<Job> jobs;   // every job added, by index
  // Copies of the providers the jobs name: the runner's are freed when run_tests returns, and
  // the tests read the jobs after that.
  std::map<std::string, promptops::providers::ProviderRuntime> providers;
  std::vector<std::size_t> replies_before; // per job: replies given when it was added
  std::vector<std::size_t> answered;       // job indices in the order they were answered
};

class FakeEngine final : public promptops::providers::Engine {
public:
  FakeEngine(EngineOptions options, FakeCalls& calls)
      : m_options(std::move(options)), m_calls(calls) {}

  std::size_t add(Job job) override {
    const std::size_t index = m_calls.jobs.size();
    job.provider =
        &m_calls.providers.try_emplace(job.provider->settings.name, *job.provider).first->second;
    m_calls.jobs.push_back(std::move(job));
    m_calls.replies_before.push_back(m_calls.answered.size());
    m_pending.push_back(index);
    return index;
  }

  // Answers until no job is left (on_done adds the judges' jobs) or the stop flag is set;
  // jobs not answered then get no on_done, as with the real engine.
  void run() override {
    while (!m_pending.empty()) {
      if (m_options.stop != nullptr && m_options.stop->load()) {
        return;
      }
      std::size_t index = 0;
      if (m_calls.order == Order::last_added_first) {
        index = m_pending.back();
        m_pending.pop_back();
      } else {
        index = m_pending.front();
        m_pending.pop_front();
      }
      const Reply reply = m_calls.answer(m_calls.jobs[index]);
      m_calls.answered.push_back(index);
      m_options.on_done(index, reply);
      if (m_calls.answered.size() == m_calls.stop_after && m_calls.stop_flag != nullptr) {
        m_calls.stop_flag->store(true);
      }
    }
  }

private:
  EngineOptions m_options;
  FakeCalls& m_calls;
  std::deque<std::size_t> m_pending;
};

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

std::string verdict(double score, bool pass, const std::string& reason) {
  return json({{"score", score}, {"pass", pass}, {"reason", reason}}).dump();
}

const std::string& last_message(const Job& job) {
  return job.request.messages.back().content;
}

bool is_judge(const Job& job) {
  return job.provider->settings.name == "judge";
}

// The fake models. The candidate answers "A: <its question>" in one attempt; its call fails
// (3 attempts) when the question holds FAIL-CALL. The judge (2 attempts, a cost) passes an
// output that holds GOOD and fails any other; its calls fail when the case holds JUDGE-DOWN.
Reply fake_model(const Job& job) {
  const std::string& last = last_message(job);
  Reply r;
  r.ok = true;
  r.attempts = 1;
  r.latency_ms = 12.5;
  r.model = job.request.model + "-0613";
  r.usage.input_tokens = static_cast<std::int64_t>(last.size());
  r.usage.output_tokens = 7;
  if (is_judge(job)) {
    r.attempts = 2;
    r.cost = 0.001;
    if (has(last, "JUDGE-DOWN")) {
      r.ok = false;
      r.error = "judge unreachable";
    } else {
      r.output = has(last, "GOOD") ? verdict(0.9, true, "it is good")
                                   : verdict(0.2, false, "it is not good");
    }
    return r;
  }
  if (has(last, "FAIL-CALL")) {
    r.ok = false;
    r.attempts = 3;
    r.error = "HTTP 500: overloaded";
    return r;
  }
  r.output = "A: " + last;
  return r;
}

json test_case(const std::string& id, const std::string& question) {
  return {{"id", id}, {"vars", {{"question", question}}}};
}

// A registry on disk with the prompt "ask" ({{question}} as the user message), the providers
// "cand" and "judge" (openai: their jobs are cached and count as requests; the fake engine
// answers them, nothing is sent), and the suite "s" of `cases` whose suite file ends with
// `suite_extra` (evaluators, gate).
fs::path write_registry(const TempDir& dir, const std::vector<json>& cases,
                        const std::string& suite_extra) {
  dir.write("reg/promptops.yaml",
            "version: 1\nproviders:\n"
            "  cand:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
            "    model: cand-model\n"
            "  judge:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
            "    model: judge-model\n");
  dir.write("reg/prompts/ask.yaml", "messages:\n  - role: user\n    content: \"{{question}}\"\n"
                                    "input:\n  required: [question]\n");
  dir.write("reg/golden/s.yaml", "prompt: ask\nproviders: [cand]\ncases: s.jsonl\n" + suite_extra);
  std::string lines;
  for (const auto& c : cases) {
    lines += c.dump() + "\n";
  }
  dir.write("reg/golden/s.jsonl", lines);
  return dir.path() / "reg";
}

struct RunnerFixture {
  TempDir dir;
  fs::path root;
  promptops::registry::Registry registry;

  explicit RunnerFixture(const std::vector<json>& cases, const std::string& suite_extra = "")
      : root(write_registry(dir, cases, suite_extra)),
        registry(promptops::registry::Registry::open(root)) {}

  // run_tests with a fake engine on `calls`, the response cache in the temp folder; checks the
  // run folder's invariants before returning.
  golden::RunOutcome run(FakeCalls& calls, golden::TestOptions options = {}) {
    if (!calls.answer) {
      calls.answer = fake_model;
    }
    options.cache_dir = dir.path() / "cache";
    const promptops::providers::EngineFactory factory = [&calls](const EngineOptions& o) {
      ++calls.engines;
      return std::make_unique<FakeEngine>(o, calls);
    };
    golden::RunOutcome outcome = golden::run_tests(registry, options, factory);
    check_run_folder(outcome);
    return outcome;
  }

  // Every line of results.jsonl, each required to be a whole JSON object.
  static std::vector<ordered_json> lines(const golden::RunOutcome& outcome) {
    std::ifstream in(outcome.dir / "results.jsonl", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    REQUIRE((all.empty() || all.back() == '\n'));
    std::vector<ordered_json> out;
    std::string line;
    while (std::getline(text, line)) {
      out.push_back(ordered_json::parse(line, nullptr, false));
      REQUIRE(out.back().is_object());
    }
    return out;
  }

  static std::map<std::string, golden::CaseResult> results(const golden::RunOutcome& outcome) {
    std::map<std::string, golden::CaseResult> out;
    for (auto& r : golden::read_finished_results(outcome.dir / "results.jsonl")) {
      const std::string id = r.id;
      REQUIRE(out.emplace(id, std::move(r)).second); // each case once
    }
    return out;
  }

  static golden::RunSummary summary(const golden::RunOutcome& outcome) {
    std::ifstream in(outcome.dir / "summary.json");
    return golden::run_summary_from_json(ordered_json::parse(in));
  }

  // summary.json is the outcome's summary, its totals count the lines, the failures are the
  // lines that did not pass, and the exit code is the summary's.
  static void check_run_folder(const golden::RunOutcome& outcome) {
    const std::vector<ordered_json> all = lines(outcome);
    const golden::RunSummary s = summary(outcome);
    CHECK(golden::to_json(s) == golden::to_json(outcome.summary));
    CHECK(s.run_id == outcome.run_id);
    golden::CaseTotals counted;
    std::size_t not_passed = 0;
    for (const auto& line : all) {
      const golden::CaseResult r = golden::case_result_from_json(line, golden::Fingerprints::skip);
      counted.add(r.status);
      not_passed += r.status == golden::CaseStatus::pass ? 0 : 1;
    }
    CHECK(s.totals.cases == counted.cases);
    CHECK(s.totals.pass == counted.pass);
    CHECK(s.totals.fail == counted.fail);
    CHECK(s.totals.error == counted.error);
    CHECK(outcome.failures.size() == not_passed);
    CHECK(outcome.exit_code == golden::exit_code(s));
    CHECK(outcome.interrupted == s.interrupted);
  }
};

const std::string k_judged = "evaluators:\n"
                             "  - {type: llm_judge, provider: judge, rubric: \"answers right\", "
                             "n: 3}\ngate: {min_pass_rate: 0}\n";

std::vector<std::string> case_ids(const FakeCalls& calls, const std::vector<std::size_t>& jobs) {
  std::vector<std::string> ids;
  for (const std::size_t j : jobs) {
    ids.push_back(calls.jobs[j].request.case_id);
  }
  return ids;
}

std::vector<std::size_t> all_jobs(const FakeCalls& calls) {
  std::vector<std::size_t> out;
  for (std::size_t j = 0; j < calls.jobs.size(); ++j) {
    out.push_back(j);
  }
  return out;
}

} // namespace

TEST_CASE("golden::run_tests, a bad case or evaluator stops the plan before any call", "[runner]") {
  FakeCalls calls;
  std::string expected;
  std::unique_ptr<RunnerFixture> f;
  SECTION("a template variable the case does not give") {
    f = std::make_unique<RunnerFixture>(
        std::vector<json>{test_case("c1", "q1"), {{"id", "c2"}, {"vars", {{"other", "x"}}}}});
    expected =
        f->registry.display("prompts/ask.yaml") +
        ":5:14: missing required variable \"question\" for prompt \"ask\", in case \"c2\" in " +
        f->registry.display("golden/s.jsonl") + ":2";
  }
  SECTION("an unknown evaluator type") {
    f = std::make_unique<RunnerFixture>(std::vector<json>{test_case("c1", "q1")},
                                        "evaluators:\n  - {type: containz, value: x}\n");
    expected = f->registry.display("golden/s.yaml") +
               ":5:12: evaluators[0].type: \"containz\" is not allowed, did you mean \"contains\"?";
  }
  SECTION("an unknown evaluator type in a case") {
    f = std::make_unique<RunnerFixture>(std::vector<json>{
        test_case("c1", "q1"),
        {{"id", "c2"}, {"vars", {{"question", "q2"}}}, {"evaluators", {{{"type", "containz"}}}}}});
    expected = f->registry.display("golden/s.jsonl") +
               ":2:1: evaluators[0].type: \"containz\" is not allowed, did you mean \"contains\"?";
  }
  SECTION("a judge on an unknown provider") {
    f = std::make_unique<RunnerFixture>(
        std::vector<json>{test_case("c1", "q1")},
        "evaluators:\n  - {type: llm_judge, provider: jugde, rubric: r}\n");
    expected = f->registry.display("golden/s.yaml") +
               ":5:5: unknown judge provider \"jugde\", did you mean \"judge\"? (providers are "
               "defined in " +
               f->registry.display("promptops.yaml") + ")";
  }
  REQUIRE_THROWS_MATCHES(f->run(calls), promptops::InputError, Catch::Message(expected));
  CHECK(calls.engines == 0);
  CHECK(calls.jobs.empty());
  CHECK_FALSE(fs::exists(f->root / ".promptops" / "runs"));
}

TEST_CASE("golden::run_tests, replies in reverse order: each case once with its own reply",
          "[runner]") {
  const auto [min_pass_rate, exit_code] =
      GENERATE(table<std::string, int>({{"1.0", 1}, {"0.75", 0}}));
  INFO("min_pass_rate " << min_pass_rate);
  const std::vector<std::string> questions = {"q1 yes", "q2 yes", "q3 no", "q4 yes"};
  RunnerFixture f({test_case("c1", questions[0]), test_case("c2", questions[1]),
                   test_case("c3", questions[2]), test_case("c4", questions[3])},
                  "evaluators:\n  - {type: contains, value: \"yes\"}\ngate: {min_pass_rate: " +
                      min_pass_rate + "}\n");
  FakeCalls calls;
  calls.answer = [](const Job& job) {
    Reply r = fake_model(job);
    r.cached = job.request.case_id == "c2"; // from the response cache: not a request
    return r;
  };
  golden::TestOptions options;
  std::vector<std::pair<std::size_t, std::size_t>> progress;
  options.on_progress = [&progress](std::size_t ended, std::size_t total) {
    progress.emplace_back(ended, total);
  };
  const golden::RunOutcome outcome = f.run(calls, options);

  CHECK(calls.engines == 1);
  CHECK(case_ids(calls, all_jobs(calls)) == std::vector<std::string>{"c1", "c2", "c3", "c4"});
  CHECK(calls.answered == std::vector<std::size_t>{3, 2, 1, 0});
  // Lines are written as cases end: last added first.
  std::vector<std::string> written;
  for (const auto& line : RunnerFixture::lines(outcome)) {
    written.push_back(line["id"].get<std::string>());
  }
  CHECK(written == std::vector<std::string>{"c4", "c3", "c2", "c1"});

  const auto results = RunnerFixture::results(outcome);
  REQUIRE(results.size() == 4);
  std::int64_t input_tokens = 0;
  for (std::size_t i = 0; i < questions.size(); ++i) {
    const golden::CaseResult& r = results.at("c" + std::to_string(i + 1));
    INFO(r.id);
    CHECK(r.output == "A: " + questions[i]);
    CHECK(r.status == (i == 2 ? golden::CaseStatus::fail : golden::CaseStatus::pass));
    CHECK(r.suite == "s");
    CHECK(r.prompt == "ask");
    CHECK(r.provider == "cand");
    CHECK(r.model == "cand-model-0613");
    CHECK(r.usage.input_tokens == static_cast<std::int64_t>(questions[i].size()));
    CHECK(r.cached == (r.id == "c2"));
    CHECK(r.latency_ms == 12.5);
    REQUIRE(r.evaluations.size() == 1);
    CHECK(r.evaluations[0].type == "contains");
    input_tokens += static_cast<std::int64_t>(questions[i].size());
  }
  CHECK(outcome.requests_sent == 3);
  CHECK(outcome.cached == 1);
  CHECK_FALSE(outcome.interrupted);
  CHECK(outcome.exit_code == exit_code);
  REQUIRE(outcome.failures.size() == 1);
  CHECK(outcome.failures[0].id == "c3");
  CHECK(outcome.failures[0].status == "fail");
  CHECK(progress.back() == std::pair<std::size_t, std::size_t>{4, 4});

  const golden::RunSummary s = RunnerFixture::summary(outcome);
  CHECK(s.totals.cases == 4);
  CHECK(s.totals.pass == 3);
  CHECK(s.totals.fail == 1);
  CHECK(s.totals.error == 0);
  CHECK(s.requests == 3);
  CHECK(s.cached == 1);
  CHECK(s.input_tokens == input_tokens);
  CHECK(s.output_tokens == 4 * 7);
  CHECK(s.gate_passed == (exit_code == 0));
  CHECK_FALSE(s.interrupted);
}

TEST_CASE("golden::run_tests, --resume calls only the cases an interrupted run left", "[runner]") {
  RunnerFixture f({test_case("c1", "q1"), test_case("c2", "q2"), test_case("c3", "q3"),
                   test_case("c4", "q4"), test_case("c5", "q5")});
  std::atomic<bool> stop{false};
  FakeCalls first;
  first.order = Order::first_added_first;
  first.stop_after = 2;
  first.stop_flag = &stop;
  golden::TestOptions options;
  options.stop = &stop;
  const golden::RunOutcome interrupted = f.run(first, options);

  CHECK(first.jobs.size() == 5);
  CHECK(first.answered.size() == 2);
  CHECK(interrupted.interrupted);
  CHECK(interrupted.exit_code == 3);
  const golden::RunSummary cut = RunnerFixture::summary(interrupted);
  CHECK(cut.interrupted);
  CHECK_FALSE(cut.gate_passed);
  CHECK(cut.gate_reasons ==
        std::vector<std::string>{"the run was interrupted; finish it with --resume " +
                                 interrupted.run_id});
  CHECK(cut.totals.cases == 2);

  // A kill in the middle of a write leaves a partial last line: resume drops it.
  {
    std::ofstream partial(interrupted.dir / "results.jsonl", std::ios::app | std::ios::binary);
    partial << R"({"id": "c3", "suite": "s", "prompt": "ask", "provider": "cand", "out)";
  }
  FakeCalls second;
  golden::TestOptions resume;
  resume.resume = interrupted.run_id;
  const golden::RunOutcome finished = f.run(second, resume);

  CHECK(case_ids(second, all_jobs(second)) == std::vector<std::string>{"c3", "c4", "c5"});
  CHECK(finished.run_id == interrupted.run_id);
  CHECK(finished.dir == interrupted.dir);
  CHECK_FALSE(finished.interrupted);
  CHECK(finished.exit_code == 0);
  CHECK(finished.requests_sent == 3); // this run's calls, not the resumed run's
  const auto results = RunnerFixture::results(finished);
  CHECK(RunnerFixture::lines(finished).size() == 5);
  for (const char* id : {"c1", "c2", "c3", "c4", "c5"}) {
    INFO(id);
    REQUIRE(results.count(id) == 1);
    CHECK(results.at(id).output == "A: q" + std::string(id).substr(1));
  }
  const golden::RunSummary s = RunnerFixture::summary(finished);
  CHECK(s.totals.cases == 5);
  CHECK(s.totals.pass == 5);
  CHECK(s.gate_passed);
  CHECK(s.gate_reasons.empty());
}

TEST_CASE("golden::run_tests, an llm_judge's calls follow the candidate's reply", "[runner]") {
  RunnerFixture f({test_case("good", "q GOOD"), test_case("bad", "q bad"),
                   test_case("down", "q JUDGE-DOWN"), test_case("nocall", "q FAIL-CALL")},
                  k_judged);
  FakeCalls calls;
  const golden::RunOutcome outcome = f.run(calls);

  // The candidates' jobs, then three samples per judged case, each added after its candidate
  // answered; a candidate that failed gets no judge.
  std::map<std::string, std::size_t> candidate_job;
  std::map<std::string, std::vector<std::size_t>> judge_jobs;
  for (std::size_t j = 0; j < calls.jobs.size(); ++j) {
    const Job& job = calls.jobs[j];
    if (is_judge(job)) {
      judge_jobs[job.request.case_id].push_back(j);
    } else {
      CHECK(job.request.model == "cand-model");
      candidate_job[job.request.case_id] = j;
    }
  }
  CHECK(candidate_job.size() == 4);
  CHECK(judge_jobs.count("nocall") == 0);
  for (const char* id : {"good", "bad", "down"}) {
    INFO(id);
    REQUIRE(judge_jobs[id].size() == 3);
    std::set<int> samples;
    std::set<std::string> cache_keys;
    std::size_t answered_at = 0;
    while (calls.answered[answered_at] != candidate_job[id]) {
      ++answered_at;
    }
    for (const std::size_t j : judge_jobs[id]) {
      const Job& job = calls.jobs[j];
      samples.insert(job.request.sample);
      cache_keys.insert(job.cache_key);
      CHECK(job.request.model == "judge-model");
      CHECK(calls.replies_before[j] > answered_at);
      // The judge sees the candidate's prompt (its last message) and its output.
      const std::string& question = last_message(calls.jobs[candidate_job[id]]);
      CHECK(has(last_message(job), "<input>\n" + question + "\n</input>"));
      CHECK(has(last_message(job), "<output>\nA: " + question + "\n</output>"));
    }
    CHECK(samples == std::set<int>{0, 1, 2});
    CHECK(cache_keys.size() == 3); // n samples are n answers, not one cached three times
  }

  const auto results = RunnerFixture::results(outcome);
  REQUIRE(results.size() == 4);
  const golden::CaseResult& good = results.at("good");
  CHECK(good.status == golden::CaseStatus::pass);
  REQUIRE(good.evaluations.size() == 1);
  CHECK(good.evaluations[0].type == "llm_judge");
  CHECK(good.evaluations[0].pass);
  CHECK(good.evaluations[0].score == Approx(0.9));
  CHECK(good.evaluations[0].reason == "3 of 3 judges passed it (scores 0.9, 0.9, 0.9): it is good");
  REQUIRE(good.judge);
  CHECK(good.judge->calls == 3);
  CHECK(good.judge->requests == 6);
  CHECK(good.judge->cached == 0);
  std::int64_t judge_input = 0;
  for (const std::size_t j : judge_jobs["good"]) {
    judge_input += static_cast<std::int64_t>(last_message(calls.jobs[j]).size());
  }
  CHECK(good.judge->input_tokens == judge_input);
  CHECK(good.judge->output_tokens == 3 * 7);
  REQUIRE(good.judge->cost);
  CHECK(*good.judge->cost == Approx(0.003));
  CHECK_FALSE(good.cost); // the candidate's reply had none: the judge's is apart

  const golden::CaseResult& bad = results.at("bad");
  CHECK(bad.status == golden::CaseStatus::fail);
  REQUIRE(bad.evaluations.size() == 1);
  CHECK_FALSE(bad.evaluations[0].pass);
  CHECK(bad.evaluations[0].score == Approx(0.2));

  // A judge whose calls fail decides nothing: the case is in error, never a pass.
  const golden::CaseResult& down = results.at("down");
  CHECK(down.status == golden::CaseStatus::error);
  REQUIRE(down.evaluations.size() == 1);
  CHECK(down.evaluations[0].error);
  CHECK_FALSE(down.evaluations[0].pass);
  CHECK_THAT(down.error, Catch::StartsWith("llm_judge: llm_judge could not decide: 0 of 3") &&
                             Catch::Contains("judge unreachable"));
  REQUIRE(down.judge);
  CHECK(down.judge->calls == 3);
  CHECK(down.judge->requests == 6);

  const golden::CaseResult& nocall = results.at("nocall");
  CHECK(nocall.status == golden::CaseStatus::error);
  CHECK(nocall.error == "HTTP 500: overloaded");
  CHECK_FALSE(nocall.output);
  CHECK(nocall.evaluations.empty());
  REQUIRE(nocall.judge);
  CHECK(nocall.judge->calls == 0);

  const golden::RunSummary s = RunnerFixture::summary(outcome);
  CHECK(s.judge.calls == 9);
  CHECK(s.judge.requests == 18);
  REQUIRE(s.judge.cost);
  CHECK(*s.judge.cost == Approx(0.009));
  CHECK(s.requests == 1 + 1 + 1 + 3); // the candidates' attempts only
  CHECK(s.totals.error == 2);
  CHECK(outcome.exit_code == 3);
}

TEST_CASE("golden::run_tests, a judge call that fails in one of n samples", "[runner]") {
  // n = 3, one sample's call fails: two readable verdicts out of three still decide when they
  // agree; the case is never a pass on fewer verdicts than a majority.
  const auto [failing_samples, status] = GENERATE(table<int, golden::CaseStatus>(
      {{1, golden::CaseStatus::pass}, {2, golden::CaseStatus::error}}));
  INFO(failing_samples << " failing samples");
  RunnerFixture f({test_case("good", "q GOOD")}, k_judged);
  FakeCalls calls;
  calls.answer = [failing = failing_samples](const Job& job) {
    Reply r = fake_model(job);
    if (is_judge(job) && job.request.sample < failing) {
      r.ok = false;
      r.output.clear();
      r.error = "judge unreachable";
    }
    return r;
  };
  const golden::RunOutcome outcome = f.run(calls);
  const auto results = RunnerFixture::results(outcome);
  REQUIRE(results.count("good") == 1);
  CHECK(results.at("good").status == status);
  CHECK(outcome.exit_code == (status == golden::CaseStatus::pass ? 0 : 3));
}

TEST_CASE("golden::run_tests, stopped mid-run: what was written stays readable", "[runner]") {
  RunnerFixture f(
      {test_case("c1", "q1 GOOD"), test_case("c2", "q2 GOOD"), test_case("c3", "q3 GOOD")},
      "evaluators:\n  - {type: llm_judge, provider: judge, rubric: r}\n");
  std::atomic<bool> stop{false};
  FakeCalls calls;
  // Last added first: c3's candidate, c3's judge, then c2's candidate, whose judge is queued
  // when the stop comes.
  calls.stop_after = 3;
  calls.stop_flag = &stop;
  golden::TestOptions options;
  options.stop = &stop;
  const golden::RunOutcome outcome = f.run(calls, options);

  CHECK(case_ids(calls, calls.answered) == std::vector<std::string>{"c3", "c3", "c2"});
  CHECK(calls.jobs.size() == 5);
  CHECK(outcome.interrupted);
  CHECK(outcome.exit_code == 3);
  // A case whose judge had not answered is not written: --resume runs it whole.
  const auto results = RunnerFixture::results(outcome);
  REQUIRE(results.size() == 1);
  const golden::CaseResult& c3 = results.at("c3");
  CHECK(c3.status == golden::CaseStatus::pass);
  CHECK(c3.output == "A: q3 GOOD");
  REQUIRE(c3.evaluations.size() == 1);
  CHECK(c3.evaluations[0].type == "llm_judge");
  const golden::RunSummary s = RunnerFixture::summary(outcome);
  CHECK(s.interrupted);
  CHECK_FALSE(s.gate_passed);
  CHECK(s.totals.cases == 1);
  CHECK(s.totals.pass == 1);
  CHECK(golden::exit_code(s) == 3);
}

TEST_CASE("golden::run_tests, a failure's reason is failure_reason of its line", "[runner]") {
  // The optional evaluation fails first, but the required one is the reason.
  RunnerFixture f(
      {test_case("pass", "ok yes"), test_case("fail", "no"), test_case("error", "FAIL-CALL")},
      "evaluators:\n  - {type: contains, value: \"yes\", required: false}\n"
      "  - {type: starts_with, value: \"A: ok\"}\ngate: {min_pass_rate: 0}\n");
  FakeCalls calls;
  const golden::RunOutcome outcome = f.run(calls);

  std::map<std::string, ordered_json> lines;
  for (auto& line : RunnerFixture::lines(outcome)) {
    const std::string id = line["id"].get<std::string>();
    lines.emplace(id, std::move(line));
  }
  REQUIRE(lines.size() == 3);
  REQUIRE(outcome.failures.size() == 2);
  std::set<std::string> failed;
  for (const golden::Failure& failure : outcome.failures) {
    INFO(failure.id);
    REQUIRE(lines.count(failure.id) == 1);
    const ordered_json& line = lines.at(failure.id);
    const golden::CaseResult r = golden::case_result_from_json(line, golden::Fingerprints::skip);
    CHECK(failure.reason == golden::failure_reason(r));
    CHECK(failure.status == line["status"].get<std::string>());
    CHECK(failure.suite == "s");
    CHECK(failure.provider == "cand");
    const auto again = golden::failure_of(r);
    REQUIRE(again);
    CHECK(again->reason == failure.reason);
    failed.insert(failure.id);
  }
  CHECK(failed == std::set<std::string>{"fail", "error"});
  const golden::Failure& fail =
      outcome.failures[0].id == "fail" ? outcome.failures[0] : outcome.failures[1];
  CHECK_THAT(fail.reason, Catch::StartsWith("starts_with: "));
  const golden::Failure& error =
      outcome.failures[0].id == "error" ? outcome.failures[0] : outcome.failures[1];
  CHECK(error.reason == "HTTP 500: overloaded");
  CHECK(error.status == "error");
}
