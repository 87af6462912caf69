#!/usr/bin/env python3
"""promptops beside promptfoo on one workload: the measuring half of bench/compare-promptfoo.

bench/compare-promptfoo installs promptfoo and builds promptops, then runs this program (Python
3.11, standard library only). It
  1. generates one workload of N cases per size, as a promptfoo config (promptfooconfig-*.yaml,
     prompt.txt, tests.jsonl) and as a promptops registry (promptops.yaml, a prompt, suites with
     the same five checks), under WORK/workloads/;
  2. starts the project's fake provider twice on 127.0.0.1 (0 ms and L ms of latency);
  3. runs both tools alternately, round after round, each run a child process timed by wait4
     (wall time, user + system CPU, peak RSS);
  4. checks every run: the exit code, the pass/fail/error counts and the very ids of the failed
     cases against the ones the generator planted, and the requests the fake received; any
     mismatch voids the comparison (exit 1);
  5. prints a Markdown table of medians (and writes it to WORK/results.md, every run to
     WORK/runs.csv).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROMPT = (
    "You are a records service. Reply with the record of item {{n}}, named {{name}}, "
    "as one JSON object and nothing else.\n"
    "[[reply: {{reply}}]]\n"
)

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["id", "name", "status", "score", "tags"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 0},
        "name": {"type": "string", "pattern": "^item-[0-9]+$"},
        "status": {"enum": ["ok", "done"]},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
}

CONTAINS = '"name": "item-'
REGEX = '"status": "(ok|done)"'

# The fixed checks, in both tools' spelling; the per-case `equals` / `exact_match` compares the
# whole reply with the case's expected text.
PROMPTFOO_DEFAULT_ASSERTS = [
    {"type": "contains", "value": CONTAINS},
    {"type": "regex", "value": REGEX},
    {"type": "is-json"},
    {"type": "is-json", "value": SCHEMA},
]
PROMPTOPS_EVALUATORS = [
    {"type": "exact_match"},
    {"type": "contains", "value": CONTAINS},
    {"type": "regex", "pattern": REGEX},
    {"type": "is_json"},
    {"type": "json_schema", "schema": "schemas/record.json"},
]

PROMPTFOO_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
    "OPENAI_API_KEY": "sk-bench-local-only",  # no key would make promptfoo probe GCP metadata
    "HTTPS_PROXY": "http://127.0.0.1:9",  # its one beacon despite the above goes nowhere
    "NO_PROXY": "127.0.0.1,localhost",
    "FORCE_COLOR": "0",
    "NO_COLOR": "1",
}


SHUTDOWN_CRASHES: list[str] = []  # promptfoo runs that crashed at exit after writing results


class Void(Exception):
    """A run that did not do what both tools must do: the comparison is void."""


# The five checks, by one name in both tools.
CHECKS = ("equals", "contains", "regex", "is-json", "schema")
PROMPTOPS_CHECK = {"exact_match": "equals", "contains": "contains", "regex": "regex",
                   "is_json": "is-json", "json_schema": "schema"}


def case_reply(i: int) -> tuple[str, str, frozenset[str]]:
    """Case i's reply, the text its equals check expects, and the checks planted to fail.

    Kinds by i % 20: 3 and 13 wrong tags (equals fails); 6 and 16 status "failed" (equals,
    regex and schema fail); 9 prose, not JSON (every check fails); 19 no "score" (the schema
    fails); 1 status "done" (passes); the rest the record itself (passes). 70% pass.
    """
    record = {"id": i, "name": f"item-{i}", "status": "ok", "score": i % 101,
              "tags": ["bench", f"t{i % 7}"]}
    kind = i % 20
    good = json.dumps(record)
    if kind in (3, 13):
        return json.dumps({**record, "tags": ["bench", "other"]}), good, frozenset({"equals"})
    if kind in (6, 16):
        return (json.dumps({**record, "status": "failed"}), good,
                frozenset({"equals", "regex", "schema"}))
    if kind == 9:
        return f"Sorry, I cannot find item {i}.", good, frozenset(CHECKS)
    if kind == 19:
        reply = json.dumps({k: v for k, v in record.items() if k != "score"})
        return reply, reply, frozenset({"schema"})
    if kind == 1:
        reply = json.dumps({**record, "status": "done"})
        return reply, reply, frozenset()
    return good, good, frozenset()


@dataclass
class Workload:
    n: int
    root: Path
    failing: frozenset[str]  # the ids of the cases planted to fail
    planted: dict[str, frozenset[str]]  # case id -> the checks planted to fail

    @property
    def promptops(self) -> Path:
        return self.root / "promptops"

    @property
    def promptfoo(self) -> Path:
        return self.root / "promptfoo"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def generate(root: Path, n: int, urls: dict[str, str]) -> Workload:
    """One workload of n cases in both tools' formats; urls maps "zero"/"slow" to base URLs."""
    planted = {}
    tests, cases = [], []
    for i in range(n):
        reply, expected, failed_checks = case_reply(i)
        case_id = f"c{i}"
        planted[case_id] = failed_checks
        variables = {"n": i, "name": f"item-{i}", "reply": reply}
        tests.append(json.dumps({"description": case_id, "vars": variables,
                                 "assert": [{"type": "equals", "value": expected}]}))
        cases.append(json.dumps({"id": case_id, "vars": variables, "expected": expected}))

    pf = root / "promptfoo"
    write(pf / "prompt.txt", PROMPT)
    write(pf / "tests.jsonl", "\n".join(tests) + "\n")
    for name, url in urls.items():
        config = {
            "description": f"promptops bench, {n} cases",
            "prompts": ["file://prompt.txt"],
            "providers": [{
                "id": "openai:chat:bench-model",
                "config": {"apiBaseUrl": url, "apiKey": "sk-bench-local-only",
                           "temperature": 0, "max_tokens": 128},
            }],
            "defaultTest": {"assert": PROMPTFOO_DEFAULT_ASSERTS},
            "tests": "file://tests.jsonl",
        }
        # JSON is YAML: no quoting surprises.
        write(pf / f"promptfooconfig-{name}.yaml", json.dumps(config, indent=2) + "\n")

    po = root / "promptops"
    providers = "".join(
        f"  {name}:\n"
        f"    type: openai\n"
        f"    base_url: {url}\n"
        f"    api_key_env: PROMPTOPS_BENCH_KEY\n"
        f"    model: bench-model\n"
        f"    params: {{temperature: 0, max_tokens: 128}}\n"
        for name, url in urls.items())
    write(po / "promptops.yaml", "version: 1\nproviders:\n" + providers)
    write(po / "prompts/record.yaml",
          "description: The record of an item, as JSON\n"
          "template: " + json.dumps(PROMPT) + "\n"
          "input:\n  required: [n, name, reply]\n")
    write(po / "schemas/record.json", json.dumps(SCHEMA, indent=2) + "\n")
    write(po / "golden/cases.jsonl", "\n".join(cases) + "\n")
    evaluators = "".join(f"  - {json.dumps(e)}\n" for e in PROMPTOPS_EVALUATORS)
    for name in urls:
        write(po / f"golden/{name}.yaml",
              f"prompt: record\nproviders: [{name}]\ncases: cases.jsonl\nevaluators:\n"
              + evaluators)
    return Workload(n, root, frozenset(k for k, v in planted.items() if v), planted)


class Fake:
    """The project's fake provider as a process."""

    def __init__(self, binary: str, latency_ms: int, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        port_file = folder / f"fake-{latency_ms}ms.port"
        port_file.unlink(missing_ok=True)
        self.log = open(folder / f"fake-{latency_ms}ms.log", "w")
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--latency-ms", str(latency_ms),
             "--threads", "160", "--port-file", str(port_file)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"compare-promptfoo: the fake provider did not start "
                                 f"(see {self.log.name})")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{int(port_file.read_text().strip())}"
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def reset(self) -> None:
        self.opener.open(urllib.request.Request(self.base + "/_reset", data=b"", method="POST"),
                         timeout=30).read()

    def requests(self) -> int:
        with self.opener.open(self.base + "/_requests", timeout=60) as answer:
            return len(json.load(answer))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float
    code: int
    out: Path
    err: Path


TIME = "/usr/bin/time"  # GNU time (Debian package "time")


def run_process(argv: list[str], cwd: Path, env: dict[str, str], scratch: Path) -> Run:
    """Runs argv to its end under GNU time: wall time measured here, user + system CPU from
    wait4 (time's own is negligible), peak RSS from time's %M.

    Not wait4's ru_maxrss of a child started from here: subprocess forks this Python process,
    and at exec Linux keeps the peak RSS of the address space the child leaves (the fork's copy
    of this process, 15 to 500 MB as it parses results) as the child's, so a 12 MB program
    would show this process's size. GNU time forks from its own small address space (about
    2 MB), below anything measured here. It adds about 1 ms of its own start to the wall time
    of each run, for both tools alike.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    out, err, peak = scratch / "stdout.txt", scratch / "stderr.txt", scratch / "time.txt"
    with open(out, "wb") as o, open(err, "wb") as e:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", str(peak), "--", *argv], cwd=cwd,
                                env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        # time writes "Command exited with non-zero status N" first when N is not 0.
        rss_kib = int(peak.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        raise Void(f"no peak RSS from {TIME} for {' '.join(argv)}:\n{tail(err)}")
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_kib / 1024.0, proc.returncode, out, err)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(none)"


# --- reading each tool's verdicts --------------------------------------------------------------

def promptfoo_verdicts(results: Path) -> dict[str, tuple[str, frozenset[str]]]:
    data = json.loads(results.read_text())
    rows = data["results"]["results"]
    verdicts = {}
    for row in rows:
        case_id = (row.get("testCase") or {}).get("description") or row.get("description")
        failed = set()
        for component in (row.get("gradingResult") or {}).get("componentResults") or []:
            assertion = component.get("assertion") or {}
            kind = assertion.get("type")
            if kind == "is-json" and assertion.get("value") is not None:
                kind = "schema"
            if not component.get("pass"):
                failed.add(kind)
        if row.get("success"):
            status = "pass"
        elif row.get("failureReason") == 2 or (row.get("error") and not row.get("gradingResult")):
            status = "error"
        else:
            status = "fail"
        verdicts[case_id] = (status, frozenset(failed))
    stats = data["results"].get("stats", {})
    counted = (stats.get("successes"), stats.get("failures"), stats.get("errors"))
    mine = tuple(sum(1 for v in verdicts.values() if v[0] == k) for k in ("pass", "fail", "error"))
    if len(rows) != len(verdicts) or counted != mine:
        raise Void(f"promptfoo's results.json is inconsistent: stats {counted}, rows {mine}, "
                   f"{len(rows)} rows for {len(verdicts)} ids")
    return verdicts


def promptops_verdicts(registry: Path) -> dict[str, tuple[str, frozenset[str]]]:
    runs = sorted((registry / ".promptops" / "runs").glob("*/summary.json"))
    if len(runs) != 1:
        raise Void(f"expected one promptops run under {registry}/.promptops/runs, found {len(runs)}")
    summary = json.loads(runs[0].read_text())
    verdicts = {}
    with open(runs[0].parent / "results.jsonl") as lines:
        for line in lines:
            if line.strip():
                result = json.loads(line)
                failed = frozenset(PROMPTOPS_CHECK.get(e["type"], e["type"])
                                   for e in result.get("evaluations") or [] if not e["pass"])
                verdicts[result["id"]] = (result["status"], failed)
    totals = summary["totals"]
    counted = (totals["pass"], totals["fail"], totals["error"])
    mine = tuple(sum(1 for v in verdicts.values() if v[0] == k) for k in ("pass", "fail", "error"))
    if counted != mine or totals["cases"] != len(verdicts):
        raise Void(f"promptops's summary.json {totals} does not match results.jsonl {mine}")
    return verdicts


def check_verdicts(tool: str, label: str, verdicts: dict[str, tuple[str, frozenset[str]]],
                   w: Workload) -> tuple[int, int]:
    """Every case's verdict and failed checks must be the planted ones."""
    counts = tuple(sum(1 for v in verdicts.values() if v[0] == k) for k in ("pass", "fail", "error"))
    expected = (w.n - len(w.failing), len(w.failing), 0)
    wrong = [case_id for case_id, failed in w.planted.items()
             if verdicts.get(case_id) != ("fail" if failed else "pass", failed)]
    if counts != expected or wrong or len(verdicts) != w.n:
        detail = "; ".join(f"{c}: {verdicts.get(c, ('missing', frozenset()))[0]} "
                           f"(failed {', '.join(sorted(verdicts.get(c, ('', frozenset()))[1])) or 'nothing'}; "
                           f"planted {', '.join(sorted(w.planted[c])) or 'nothing'})"
                           for c in wrong[:5])
        raise Void(f"{tool}, {label}: {counts[0]} pass, {counts[1]} fail, {counts[2]} error; "
                   f"planted {expected[0]} pass, {expected[1]} fail; {len(wrong)} cases differ. "
                   f"{detail}")
    return counts[0], counts[1]


# --- the plan ----------------------------------------------------------------------------------

@dataclass
class Scenario:
    key: str
    label: str
    n: int = 0  # 0: start-up
    fake: str = "zero"  # "zero" or "slow"
    concurrency: int = 16
    cached: bool = False  # a rerun with every reply cached (after a run that fills the cache)
    ideal_s: float | None = None
    runs: dict[str, list[Run]] = field(default_factory=lambda: {"promptops": [], "promptfoo": []})
    counts: tuple[int, int] | None = None


@dataclass
class Tools:
    promptops: str
    promptfoo: str
    work: Path
    base_env: dict[str, str]


def promptops_env(t: Tools, cache: Path) -> dict[str, str]:
    env = dict(t.base_env)
    env.update({"NO_COLOR": "1", "XDG_CACHE_HOME": str(cache), "PROMPTOPS_BENCH_KEY": "sk-bench"})
    return env


def promptfoo_env(t: Tools, config_dir: Path) -> dict[str, str]:
    env = dict(t.base_env)
    env.update(PROMPTFOO_ENV)
    env["PROMPTFOO_CONFIG_DIR"] = str(config_dir)
    return env


def one_run(tool: str, s: Scenario, w: Workload | None, t: Tools, fakes: dict[str, Fake],
            scratch: Path, state: Path, expect_requests: int) -> tuple[Run, tuple[int, int] | None]:
    """Runs one tool once on scenario s. `state` is the cache folder (promptops) or the config
    folder (promptfoo), which a cached rerun shares with the run that filled it."""
    if w is None:  # start-up
        argv = [t.promptops, "--version"] if tool == "promptops" else [t.promptfoo, "--version"]
        env = promptops_env(t, state) if tool == "promptops" else promptfoo_env(t, state)
        run = run_process(argv, t.work, env, scratch)
        if run.code != 0:
            raise Void(f"{tool} --version exited {run.code}:\n{tail(run.err)}")
        return run, None

    fake = fakes[s.fake]
    fake.reset()
    if tool == "promptops":
        registry = w.promptops
        shutil.rmtree(registry / ".promptops" / "runs", ignore_errors=True)
        argv = [t.promptops, "test", s.fake, "--concurrency", str(s.concurrency)]
        if not s.cached:
            argv.append("--no-cache")
        run = run_process(argv, registry, promptops_env(t, state), scratch)
        ok_code = 1  # 30% of the cases fail: the suite's gate (min_pass_rate 1.0) fails
    else:
        results = scratch / "results.json"
        results.unlink(missing_ok=True)
        argv = [t.promptfoo, "eval", "-c", f"promptfooconfig-{s.fake}.yaml", "-j",
                str(s.concurrency), "--no-table", "--no-progress-bar", "-o", str(results)]
        if not s.cached:
            argv.append("--no-cache")
        run = run_process(argv, w.promptfoo, promptfoo_env(t, state), scratch)
        ok_code = 100  # promptfoo's exit code when a test fails
    if (tool == "promptfoo" and run.code == 1 and (scratch / "results.json").exists()
            and "write after end" in run.err.read_text(errors="replace")):
        # promptfoo 0.121.20 sometimes dies at exit, after writing its results, when its logger
        # is written to after it was closed (winston "write after end"). The run is complete and
        # its results are checked below; the crash is counted and reported.
        SHUTDOWN_CRASHES.append(s.label)
        print(f"  note: promptfoo crashed at exit after writing its results "
              f"(\"write after end\", exit 1), {s.label}", file=sys.stderr)
    elif run.code != ok_code:
        raise Void(f"{tool}, {s.label}: exit code {run.code}, expected {ok_code}\n"
                   f"stdout:\n{tail(run.out)}\nstderr:\n{tail(run.err)}")
    try:
        verdicts = (promptops_verdicts(w.promptops) if tool == "promptops"
                    else promptfoo_verdicts(scratch / "results.json"))
    except (Void, OSError, ValueError, KeyError, TypeError) as problem:
        raise Void(f"{tool}, {s.label}: {problem}") from problem
    counts = check_verdicts(tool, s.label, verdicts, w)
    received = fake.requests()
    if received != expect_requests:
        raise Void(f"{tool}, {s.label}: the fake provider received {received} requests, "
                   f"expected {expect_requests}")
    if tool == "promptops":
        shutil.rmtree(w.promptops / ".promptops" / "runs", ignore_errors=True)
    return run, counts


def measure(tool: str, s: Scenario, w: Workload | None, t: Tools, fakes: dict[str, Fake],
            round_no: int, log: csv.writer, repeats: int) -> None:
    """Runs `tool` on s `repeats` times, each with a fresh cache folder (promptops) or
    PROMPTFOO_CONFIG_DIR (promptfoo); a cached rerun shares it with the run that filled it."""
    base = t.work / "runs" / f"r{round_no}-{s.key}-{tool}"
    for repeat in range(repeats):
        shutil.rmtree(base, ignore_errors=True)
        state = base / ("cache" if tool == "promptops" else "promptfoo-config")
        state.mkdir(parents=True)
        scratch = base / "out"
        if s.cached:
            # Fill the cache: a cold run, in runs.csv but not in the table.
            fill, _ = one_run(tool, s, w, t, fakes, scratch, state, s.n)
            log.writerow([round_no, s.key + "-fill", tool, f"{fill.wall_s:.4f}",
                          f"{fill.cpu_s:.4f}", f"{fill.rss_mb:.1f}", fill.code, "", "", s.n])
        run, counts = one_run(tool, s, w, t, fakes, scratch, state, 0 if s.cached else s.n)
        s.runs[tool].append(run)
        s.counts = counts
        log.writerow([round_no, s.key, tool, f"{run.wall_s:.4f}", f"{run.cpu_s:.4f}",
                      f"{run.rss_mb:.1f}", run.code, counts[0] if counts else "",
                      counts[1] if counts else "", "" if w is None else (0 if s.cached else s.n)])
        print(f"  round {round_no}  {s.label:<40} {tool:<9} {run.wall_s:9.3f} s "
              f"{run.cpu_s:8.2f} s CPU {run.rss_mb:8.1f} MB", file=sys.stderr, flush=True)
    shutil.rmtree(base, ignore_errors=True)


# --- the report --------------------------------------------------------------------------------

def med(values: list[float]) -> float:
    return statistics.median(values)


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.4f}" if x < 0.01 else f"{x:.3f}" if x < 1 else f"{x:.2f}"


def fmt_x(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    distro = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip().strip('"') + ", "
    except OSError:
        pass
    return f"{distro}{os.cpu_count()} cores ({model}){memory}, Linux {platform.release()}"


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def report(scenarios: list[Scenario], header: list[str]) -> str:
    out = list(header)
    out.append("")
    out.append("| workload | pass / fail | promptops s | promptfoo s | promptops/promptfoo | "
               "speed-up | promptops MB | promptfoo MB | memory ratio | ideal s | "
               "promptops vs ideal | promptfoo vs ideal |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    peaks: dict[str, tuple[float, str]] = {"promptops": (0.0, ""), "promptfoo": (0.0, "")}
    cpu_rows = []
    for s in scenarios:
        a, b = s.runs["promptops"], s.runs["promptfoo"]
        if not a or not b:
            continue
        ta, tb = med([r.wall_s for r in a]), med([r.wall_s for r in b])
        ma, mb = med([r.rss_mb for r in a]), med([r.rss_mb for r in b])
        ca, cb = med([r.cpu_s for r in a]), med([r.cpu_s for r in b])
        for tool, runs in (("promptops", a), ("promptfoo", b)):
            top = max(r.rss_mb for r in runs)
            if s.n and top > peaks[tool][0]:
                peaks[tool] = (top, s.label)
        counts = f"{s.counts[0]:,} / {s.counts[1]:,}" if s.counts else ""
        ideal = vs_a = vs_b = ""
        if s.ideal_s:
            ideal, vs_a, vs_b = fmt_s(s.ideal_s), f"{ta / s.ideal_s:.2f}x", f"{tb / s.ideal_s:.2f}x"
        out.append(f"| {s.label} | {counts} | {fmt_s(ta)} | {fmt_s(tb)} | {fmt_ratio(ta / tb)} | "
                   f"{fmt_x(tb / ta)} | {ma:.1f} | {mb:.1f} | {fmt_ratio(ma / mb)} | {ideal} | "
                   f"{vs_a} | {vs_b} |")
        cpu_rows.append(f"| {s.label} | {ca:.3f} | {cb:.2f} | {fmt_ratio(ca / cb)} |")
    if peaks["promptops"][0] and peaks["promptfoo"][0]:
        pa, pb = peaks["promptops"][0], peaks["promptfoo"][0]
        out.append(f"| peak memory, highest of all runs | | | | | | {pa:.1f} | {pb:.1f} | "
                   f"{fmt_ratio(pa / pb)} | | | |")
        out.append("")
        out.append(f"Highest peak RSS: promptops {pa:.1f} MB ({peaks['promptops'][1]}), "
                   f"promptfoo {pb:.1f} MB ({peaks['promptfoo'][1]}).")
    out.append("")
    out.append("CPU seconds (user + system) of the tool's process, medians:")
    out.append("")
    out.append("| workload | promptops CPU s | promptfoo CPU s | promptops/promptfoo |")
    out.append("|---|---:|---:|---:|")
    out.extend(cpu_rows)
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------------------------------

ALIASES = {"100": "small", "1000": "mid", "10000": "large", "cache": "cached",
           "latency": "50ms-1,50ms-16,50ms-64", "50ms": "50ms-1,50ms-16,50ms-64"}
KEYS = ["startup", "small", "mid", "large", "50ms-1", "50ms-16", "50ms-64", "cached"]


def main() -> int:
    p = argparse.ArgumentParser(prog="compare-promptfoo",
                                description="promptops beside promptfoo (see docs/benchmarks.md)")
    p.add_argument("--promptops", required=True)
    p.add_argument("--fake-provider", required=True)
    p.add_argument("--promptfoo", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--runs", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smaller N (100, 300, 1000; 100 at latency; 300 cached), 1 round")
    p.add_argument("--only", default="",
                   help="comma-separated subset of: " + ", ".join(KEYS) +
                   " (aliases: 100, 1000, 10000, 50ms, cache)")
    p.add_argument("--sizes", default="", help="the three sizes at 0 ms, e.g. 100,1000,10000")
    p.add_argument("--latency-cases", type=int, default=0, help="cases of the latency rows")
    p.add_argument("--cached-cases", type=int, default=0, help="cases of the cached rerun")
    p.add_argument("--concurrency", type=int, default=16,
                   help="requests in flight for the 0 ms rows and the cached rerun (both tools)")
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--startup-repeats", type=int, default=5,
                   help="--version runs per tool per round")
    p.add_argument("--command", default="", help="the command line, for the report")
    a = p.parse_args()

    runs = a.runs if a.runs is not None else (1 if a.quick else 3)
    sizes = [100, 300, 1000] if a.quick else [100, 1000, 10000]
    if a.sizes:
        sizes = [int(x) for x in a.sizes.split(",")]
        if len(sizes) != 3:
            p.error("--sizes takes three numbers")
    latency_n = a.latency_cases or (100 if a.quick else 1000)
    cached_n = a.cached_cases or (300 if a.quick else 1000)
    wanted = set(KEYS)
    if a.only:
        wanted = set()
        for part in a.only.split(","):
            part = part.strip()
            for key in ALIASES.get(part, part).split(","):
                if key not in KEYS:
                    p.error(f"--only: unknown part {part!r}; parts: {', '.join(KEYS)}")
                wanted.add(key)
    if runs < 1 or a.concurrency < 1 or a.latency_ms < 0:
        p.error("--runs and --concurrency must be at least 1, --latency-ms at least 0")

    L = a.latency_ms
    plan = [
        Scenario("startup", "start-up (`--version`)"),
        Scenario("small", f"{sizes[0]:,} cases, 0 ms, concurrency {a.concurrency}", sizes[0]),
        Scenario("mid", f"{sizes[1]:,} cases, 0 ms, concurrency {a.concurrency}", sizes[1]),
        Scenario("large", f"{sizes[2]:,} cases, 0 ms, concurrency {a.concurrency}", sizes[2]),
        Scenario("50ms-1", f"{latency_n:,} cases, {L} ms, concurrency 1", latency_n, "slow", 1,
                 ideal_s=latency_n * L / 1000),
        Scenario("50ms-16", f"{latency_n:,} cases, {L} ms, concurrency 16", latency_n, "slow", 16,
                 ideal_s=latency_n * L / 16 / 1000),
        Scenario("50ms-64", f"{latency_n:,} cases, {L} ms, concurrency 64", latency_n, "slow", 64,
                 ideal_s=latency_n * L / 64 / 1000),
        Scenario("cached", f"{cached_n:,} cases, fully cached rerun", cached_n,
                 concurrency=a.concurrency, cached=True),
    ]
    plan = [s for s in plan if s.key in wanted]

    if not os.access(TIME, os.X_OK):
        p.error(f"needs GNU time at {TIME} (Debian: apt-get install time) for peak memory")
    work = Path(a.work).resolve()
    for stale in ("runs", "workloads", "fake"):
        shutil.rmtree(work / stale, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("PROMPTFOO_", "PROMPTOPS_", "OPENAI_", "ANTHROPIC_", "XDG_CACHE"))
                and k not in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                              "no_proxy", "NO_COLOR", "FORCE_COLOR")}
    tools = Tools(a.promptops, a.promptfoo, work, base_env)

    versions = {
        "promptops": subprocess.run([a.promptops, "--version"], capture_output=True, text=True,
                                    env=promptops_env(tools, work / "fake")).stdout.strip(),
        "promptfoo": subprocess.run([a.promptfoo, "--version"], capture_output=True, text=True,
                                    env=promptfoo_env(tools, work / "fake" / "pf-version"),
                                    cwd=work).stdout.strip(),
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
    }

    fakes = {"zero": Fake(a.fake_provider, 0, work / "fake")}
    if any(s.fake == "slow" for s in plan):
        fakes["slow"] = Fake(a.fake_provider, L, work / "fake")
    urls = {name: f.base + "/v1" for name, f in fakes.items()}
    workloads: dict[int, Workload] = {}
    for s in plan:
        if s.n and s.n not in workloads:
            workloads[s.n] = generate(work / "workloads" / f"n{s.n}", s.n, urls)

    start = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    print(f"compare-promptfoo: {versions['promptops']} beside promptfoo {versions['promptfoo']} "
          f"(Node {versions['node']}); {runs} round(s); load average {load_start}; "
          f"work in {work}", file=sys.stderr, flush=True)
    code = 0
    try:
        with open(work / "runs.csv", "w", newline="") as f:
            log = csv.writer(f)
            log.writerow(["round", "workload", "tool", "wall_s", "cpu_s", "peak_rss_mb", "exit",
                          "pass", "fail", "requests"])
            for r in range(1, runs + 1):
                order = ["promptops", "promptfoo"] if r % 2 else ["promptfoo", "promptops"]
                for s in plan:
                    w = workloads.get(s.n)
                    for tool in order:
                        measure(tool, s, w, tools, fakes, r, log,
                                a.startup_repeats if s.key == "startup" else 1)
                    f.flush()
    except Void as void:
        print(f"\ncompare-promptfoo: VOID: {void}\nThe comparison is void (work kept in {work}).",
              file=sys.stderr)
        code = 1
    finally:
        for fake in fakes.values():
            fake.stop()
    if code:
        return code

    end = datetime.datetime.now(datetime.timezone.utc)
    header = [
        f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC, {machine()}.",
        f"{versions['promptops']} beside promptfoo {versions['promptfoo']} on Node "
        f"{versions['node']}; the project's fake provider on 127.0.0.1. {runs} round(s), the "
        f"tools alternating (start-up: {a.startup_repeats} runs each a round); medians. "
        f"Load average {load_start} at the start, {loadavg()} at the end.",
    ]
    if a.command:
        header.insert(0, f"`{a.command}`")
        header.insert(1, "")
    text = report(plan, header)
    if SHUTDOWN_CRASHES:
        text += (f"\npromptfoo crashed at exit (winston \"write after end\", exit code 1 instead of "
                 f"100) after writing complete results in {len(SHUTDOWN_CRASHES)} run(s): "
                 f"{'; '.join(SHUTDOWN_CRASHES)}. Their results were checked and counted.\n")
    (work / "results.md").write_text(text)
    print(text)
    print(f"compare-promptfoo: every run of both tools gave the planted pass/fail verdicts; "
          f"table in {work / 'results.md'}, every run in {work / 'runs.csv'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
