"""grader serve under a burst before the deadline, and killed in the middle of one.

    .venv/bin/python bench/bench_serve.py [--submissions 200] [--workers 2] [--assignments 2]
                                          [--kill-at 0.3] [--rounds 1]

Three runs of the same class of light notebooks (no TensorFlow in the kernel: the soak
benchmark's, bench/soak.py; most pass, some raise), measured side by side on this machine.
The class is split between ``--assignments`` assignments (copies of the light assignment under
their own ids and keys; learner i submits to assignment i mod N), served as one course:

1. ``grader grade`` of each assignment's folder, one after the other: the reference wall time
   and gradebooks;
2. ``grader serve --course``: every submission POSTed at once (one thread each), then, while
   the workers are busy, a prober asks for a submission's status every 0.1 s; it prints how
   many were accepted, lost and recorded twice, the latency of the submissions as the client
   saw it and as the service spent it (its ``Server-Timing``), of the status answers (p50, p99,
   max), the throughput against ``grader grade`` of the same folders, and whether the
   gradebooks are grade's;
3. the same burst, the service SIGKILLed (with its process group) once ``--kill-at`` of the
   class is graded, then started again: every accepted submission graded and recorded once,
   the same gradebooks, nothing of the killed run left running.
"""
from __future__ import annotations

import argparse
import base64
import re
import shutil
import concurrent.futures
import csv
import multiprocessing
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402

from soak import LIGHT_GRADED, LIGHT_HEAD, make_assignment, make_class  # noqa: E402
from tests.processes import Run  # noqa: E402

KINDS = {"fine": (9, [LIGHT_GRADED]), "raises": (1, ["raise ValueError('learner bug')", LIGHT_GRADED])}
COURSE_KEY = "XtD7ho3TEeiHQBWLWejjYAA"
PHASES: dict[str, list[float]] = {}   # Server-Timing's phases of every accepted submission (seconds)


def _grader(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True,
                          **kwargs)


def _gradebook(out: Path) -> dict:
    with open(out / "gradebook.csv", newline="") as handle:
        return {row["learner"]: (row["status"], row["total"]) for row in csv.DictReader(handle)}


def _pct(values, q) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


class Served:
    """One ``grader serve`` process on a free port."""

    def __init__(self, args, assignment: Path, out: Path, mark: str):
        self.args, self.assignment, self.out, self.mark = args, assignment, out, mark
        self.process = None

    def start(self) -> str:
        address = self.out / "serve" / "address"
        address.unlink(missing_ok=True)
        self.log = open(self.out.parent / f"{self.out.name}-{time.time():.0f}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", "--course", str(self.assignment), "--out", str(self.out),
             "--port", "0", "--workers", str(self.args.workers), "--quiet"],
            cwd=ROOT, env={**os.environ, "GRADER_TEST_MARK": self.mark}, stdout=self.log, stderr=self.log,
            start_new_session=True)
        while not address.is_file():
            if self.process.poll() is not None:
                raise SystemExit(f"grader serve did not start: see {self.log.name}")
            time.sleep(0.05)
        self.url = address.read_text().strip()
        return self.url

    def done(self) -> int:
        db = sqlite3.connect(f"file:{self.out / 'serve' / 'serve.sqlite'}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute("SELECT COUNT(*) FROM submissions WHERE state='done'").fetchone()[0]
        finally:
            db.close()

    def rows(self) -> list[dict]:
        db = sqlite3.connect(f"file:{self.out / 'serve' / 'serve.sqlite'}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM submissions")]
        finally:
            db.close()

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(120)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _tokens(out: Path, learners) -> dict:
    roster = out.parent / f"roster-{out.name}.csv"
    roster.write_text("email,learner\n" + "".join(f"{l}@example.org,{l}\n" for l in learners))
    done = _grader("tokens", "issue", str(roster), "--out", str(out))
    if done.returncode:
        raise SystemExit(done.stderr)
    newest = max((out / "serve").glob("tokens-*.csv"), key=os.path.getmtime)
    with open(newest, newline="") as handle:
        return {row["learner"]: row["token"] for row in csv.DictReader(handle)}


def _body(learner: str, token: str, path: Path, key: str = COURSE_KEY) -> bytes:
    return json.dumps({"assignmentKey": key, "submitterEmail": f"{learner}@example.org", "secret": token,
                       "parts": {}, "notebook": {"name": path.name,
                                                 "content": base64.b64encode(path.read_bytes()).decode()}}).encode()


def make_course(work: Path, count: int) -> tuple[Path, list[tuple[str, str]]]:
    """``count`` light assignments in ``work/assignments``: (the course folder, [(id, key)])."""
    first = make_assignment(work, tensorflow=False)
    made = [("mnist_digits", COURSE_KEY)]
    for number in range(1, count):
        name, key = f"light_{number}", f"light-key-{number}"
        shutil.copytree(first, work / "assignments" / name)
        shutil.copytree(work / "reference" / "mnist_digits", work / "reference" / name)
        toml = work / "assignments" / name / "assignment.toml"
        text = re.sub(r'(?m)^id = "mnist_digits"', f'id = "{name}"', toml.read_text(), count=1)
        toml.write_text(text.replace(f'course_key = "{COURSE_KEY}"', f'course_key = "{key}"', 1))
        made.append((name, key))
    return work / "assignments", made


def burst(served: Served, notebooks: dict, tokens: dict, keys: dict) -> tuple[dict, list[float], list[float]]:
    """POST every notebook at once; {learner: answer JSON}, latencies as the client saw them and as
    the service spent them (its Server-Timing), in seconds.

    The client is one asyncio loop in its own process, each POST on its own connection, all sent
    at the same instant: on this 2-core machine a client of 200 threads (``requests``) spent as
    much CPU as the service it measured, and its own GIL's queue counted as the service's latency."""
    bodies = {learner: _body(learner, tokens[learner], path, keys[learner]) for learner, path in notebooks.items()}
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
        sent = client.submit(_post_all, served.url, bodies).result()
    answers, latencies, spent = {}, [], []
    for learner, (seconds, status, headers, body) in sent.items():
        latencies.append(seconds)
        phases = dict(re.findall(r"(\w+);dur=([0-9.]+)", headers.get("server-timing", "")))
        if phases:
            spent.append(float(phases["accept"]) / 1000)
            for name, ms in phases.items():
                PHASES.setdefault(name, []).append(float(ms) / 1000)
        answers[learner] = (status, json.loads(body))
    return answers, latencies, spent


def _post_all(url: str, bodies: dict) -> dict:
    """{learner: (seconds, status, headers, body)}: every body POSTed to ``url``/submit at once."""
    import asyncio
    from urllib.parse import urlsplit

    address = urlsplit(url)

    async def post(body: bytes):
        started = time.monotonic()
        sock = socket.socket(socket.AF_INET6 if ":" in address.hostname else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address.hostname, address.port))
        reader, writer = await asyncio.open_connection(sock=sock)   # no name to resolve: no thread
        writer.write(b"POST /submit HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (address.netloc.encode(), len(body), body))
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        headers = {name.lower(): value for name, value in headers.items()}
        answer = await reader.readexactly(int(headers["content-length"]))
        seconds = time.monotonic() - started
        writer.close()
        return seconds, int(head[0].split()[1]), headers, answer

    async def main():
        learners = list(bodies)
        done = await asyncio.gather(*(post(bodies[learner]) for learner in learners))
        return dict(zip(learners, done))

    return asyncio.run(main())


class Prober(threading.Thread):
    """Asks for a random accepted submission's status every 0.1 s; keeps the latencies."""

    def __init__(self, url: str, accepted: list[dict]):
        super().__init__(daemon=True)
        self.url, self.accepted, self.latencies, self.errors = url, accepted, [], 0
        self.stopping = threading.Event()

    def run(self):
        session = requests.Session()
        rng = random.Random(1)
        while not self.stopping.is_set():
            submission = rng.choice(self.accepted)
            key = submission["url"].split("?key=")[1]
            started = time.monotonic()
            try:
                session.get(f"{self.url}/submissions/{submission['id']}/status?key={key}", timeout=60).raise_for_status()
                self.latencies.append(time.monotonic() - started)
            except requests.RequestException:
                self.errors += 1
            self.stopping.wait(0.1)


def _recorded(out: Path) -> dict:
    """submission -> times recorded done, over the assignments' journals."""
    counts: dict[str, int] = {}
    for journal in out.glob("*/journal.jsonl"):
        for line in journal.read_text().splitlines():
            event = json.loads(line)
            if event["event"] == "done" and event.get("submission"):
                counts[event["submission"]] = counts.get(event["submission"], 0) + 1
    return counts


def run_served(args, assignment, notebooks, work: Path, *, kill_at: float | None, keys: dict,
               folders: list[str]) -> dict:
    out = work / ("serve-killed" if kill_at else "serve")
    out.mkdir(parents=True)
    tokens = _tokens(out, notebooks)
    mark = uuid.uuid4().hex
    run = Run(mark)
    served = Served(args, assignment, out, mark)
    served.start()
    started = time.monotonic()
    answers, latencies, spent = burst(served, notebooks, tokens, keys)
    accepted = [a for code, a in answers.values() if code == 201]
    report = {"accepted": len(accepted), "refused": len(answers) - len(accepted), "submit": latencies,
              "spent": spent}
    prober = Prober(served.url, accepted)
    prober.start()
    if kill_at:
        while served.done() < kill_at * len(accepted):
            time.sleep(0.05)
        rows = served.rows()
        report["at_kill"] = {s: sum(r["state"] == s for r in rows) for s in ("done", "running", "queued")}
        prober.stopping.set()
        prober.join()
        served.kill()
        processes, cgroups = run.wait_clean(timeout=30)
        report["left_after_kill"] = len(processes) + len(cgroups)
        served.start()
        prober = Prober(served.url, accepted)
        prober.start()
    while served.done() < len(accepted):
        time.sleep(0.1)
    report["wall"] = time.monotonic() - started
    prober.stopping.set()
    prober.join()
    report["status"] = prober.latencies
    report["status_errors"] = prober.errors
    rows = served.rows()
    recorded = _recorded(out)
    report["lost"] = sum(1 for a in accepted if a["id"] not in {r["id"] for r in rows if r["state"] == "done"})
    report["twice"] = sum(1 for count in recorded.values() if count > 1)
    report["results"] = sum(1 for r in rows if (out / "serve" / "submissions" / r["id"] / "result.json").is_file())
    report["rerun"] = sum(1 for r in rows if r["runs"] > 1)
    report["code"] = served.stop()
    processes, cgroups = run.wait_clean(timeout=30)
    report["left"] = len(processes) + len(cgroups)
    report["gradebook"] = {name: _gradebook(out / name) for name in folders}
    return report


def burst_only(args, course: Path, notebooks: dict, work: Path, keys: dict) -> int:
    """``args.burst_only`` bursts, each into a new service whose workers grade while it accepts:
    the submit latency alone (client and Server-Timing, p50 / p99 / max), in a minute a burst."""
    print("| burst | accepted | submit p50 / p99 / max (ms), client | submit p50 / p99 / max (ms), service "
          "| the service's phases p50/p99 (ms) |")
    print("| --- | --- | --- | --- | --- |")
    failed = 0
    for number in range(args.burst_only):
        out = work / f"burst-{number}"
        out.mkdir(parents=True)
        tokens = _tokens(out, notebooks)
        mark = uuid.uuid4().hex
        served = Served(args, course, out, mark)
        served.start()
        try:
            answers, latencies, spent = burst(served, notebooks, tokens, keys)
        finally:
            served.stop()
            Run(mark).wait_clean(timeout=30)
        accepted = sum(code == 201 for code, _ in answers.values())
        failed += accepted != len(notebooks)
        PHASES.pop("accept", None)
        phases = ", ".join(f"{name} {_pct(v, .5) * 1000:.0f}/{_pct(v, .99) * 1000:.0f}" for name, v in PHASES.items())
        PHASES.clear()
        print(f"| {number + 1} | {accepted}/{len(notebooks)} | " + " / ".join(
            f"{_pct(values, q) * 1000:.0f}" for values in (latencies,) for q in (.5, .99, 1)) + " | " + " / ".join(
            f"{_pct(values, q) * 1000:.0f}" for values in (spent,) for q in (.5, .99, 1)) + f" | {phases} |", flush=True)
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of the class graded when killed")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1,
                        help="grade and serve the burst this many times, alternately (the median counts)")
    parser.add_argument("--assignments", type=int, default=2,
                        help="assignments the class is split between, served as one course (default 2)")
    parser.add_argument("--burst-only", type=int, default=0, metavar="N",
                        help="only the submit latency: N bursts into grader serve (each stopped once the "
                             "burst is accepted), no grader grade, no kill")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="grader-bench-serve-"))
    course, made_assignments = make_course(work, args.assignments)
    folder = work / "class"
    made = make_class(folder, args.submissions, KINDS, LIGHT_HEAD, "serve", random.Random(args.seed))
    notebooks = {learner: folder / f"{learner}.ipynb" for learner in made}
    keys, split = {}, {name: [] for name, _ in made_assignments}
    for number, learner in enumerate(sorted(notebooks)):
        name, key = made_assignments[number % len(made_assignments)]
        keys[learner] = key
        split[name].append(learner)
    for name, learners in split.items():   # each assignment's share of the class, for grader grade
        (work / "split" / name).mkdir(parents=True)
        for learner in learners:
            shutil.copy(notebooks[learner], work / "split" / name / f"{learner}.ipynb")
    names = [name for name, _ in made_assignments]
    print(f"{len(notebooks)} light notebooks ({sum(k == 'raises' for k in made.values())} raise) for "
          f"{len(names)} assignment(s), {args.workers} workers, {os.cpu_count()} cores; work folder {work}", flush=True)

    if args.burst_only:
        return burst_only(args, course, notebooks, work, keys)
    grade_walls, serve_runs = [], []
    for round_ in range(args.rounds):   # alternately, so that the machine's noise hits both alike
        started = time.monotonic()
        codes = [_grader("grade", str(work / "split" / name), "--out", str(work / f"grade-{round_}" / name),
                         "--workers", str(args.workers), "--assignment", str(course / name), "--quiet").returncode
                 for name in names]
        grade_walls.append(time.monotonic() - started)
        reference = {name: _gradebook(work / f"grade-{round_}" / name) for name in names}
        print(f"grader grade: {grade_walls[-1]:.1f} s (exit {codes})", flush=True)
        serve_runs.append(run_served(args, course, notebooks, work / f"round-{round_}", kill_at=None, keys=keys,
                                     folders=names))
        print(f"grader serve, burst: {serve_runs[-1]['wall']:.1f} s", flush=True)
    grade_wall = statistics.median(grade_walls)
    served = sorted(serve_runs, key=lambda r: r["wall"])[len(serve_runs) // 2]
    killed = run_served(args, course, notebooks, work, kill_at=args.kill_at, keys=keys, folders=names)

    def ms(values, q):
        return f"{_pct(values, q) * 1000:.0f}"

    print()
    print("| run | accepted | lost | recorded twice | wall | throughput vs grade | submit p50 / p99 / max (ms), "
          "client | submit p50 / p99 (ms), service | status p50 / p99 (ms) while grading | gradebooks = grade's "
          "| left running |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rounds = f" (median of {args.rounds}: {', '.join(f'{w:.0f}' for w in grade_walls)} s)" if args.rounds > 1 else ""
    print(f"| grader grade, {len(names)} folders{rounds} | - | - | - | {grade_wall:.1f} s | 1.00x | - | - | - | - | - |")
    walls = ", ".join(f"{r['wall']:.0f}" for r in serve_runs)
    burst = "serve, burst" + (f" (median of {args.rounds}: {walls} s)" if args.rounds > 1 else "")
    for name, report in ((burst, served), ("serve, SIGKILL mid-burst + restart", killed)):
        print(f"| {name} | {report['accepted']}/{len(notebooks)} | {report['lost']} | {report['twice']} | "
              f"{report['wall']:.1f} s | {grade_wall / report['wall']:.2f}x | {ms(report['submit'], .5)} / "
              f"{ms(report['submit'], .99)} / {max(report['submit']) * 1000:.0f} | {ms(report['spent'], .5)} / "
              f"{ms(report['spent'], .99)} | {ms(report['status'], .5)} / "
              f"{ms(report['status'], .99)} ({len(report['status'])} asked, {report['status_errors']} failed) | "
              f"{'yes' if report['gradebook'] == reference else 'NO'} | {report['left']} |")
    print()
    print(f"killed with {killed['at_kill']}; {killed['left_after_kill']} process(es) or cgroup(s) of the killed run "
          f"left; {killed['rerun']} submission(s) graded again after the restart (in flight when killed), "
          f"{killed['results']} results for {killed['accepted']} submissions; exit status at the stop "
          f"{served['code']} / {killed['code']}")
    same = all(r["gradebook"] == reference for r in serve_runs + [killed])
    ok = same and not any(r["lost"] or r["twice"] for r in serve_runs + [killed])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
