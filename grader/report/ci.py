"""Machine-readable output for CI: JUnit XML, and GitHub Actions' job summary and annotations.

``check``, ``grade`` and ``validate`` describe what they found as :class:`Suite` s
of :class:`Case` s (one case per part per notebook; for ``validate``, one per
check too), then :func:`emit` writes them:

- ``--junit FILE``: JUnit XML in the Jenkins/Ant "junit-10" layout that GitHub
  test reporters, GitLab (``artifacts:reports:junit``), Jenkins and Azure read:
  a ``<testsuite>`` per notebook, a ``<testcase>`` per part (``classname`` the
  learner id, ``name`` "part id: description"), ``<failure>`` for a failed or
  missing part with the learner's message, ``<error>`` for a part that could
  not be measured;
- when ``GITHUB_ACTIONS=true``: a markdown table appended to
  ``$GITHUB_STEP_SUMMARY``, and one ``::error file=...,title=...::message``
  workflow command per failing part (``::warning`` for a passing part whose
  claim disagrees with the measurement), printed on stdout -- on stderr when
  stdout carries JSON (``--json``).

Values measured on hidden data stay hidden, as in the learner's table.
"""
from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from ..results import SubmissionResult

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
_VERDICT = {PASSED: "✅ pass", FAILED: "❌ fail", ERROR: "💥 error", SKIPPED: "⏭ skipped"}
_MAX_SUMMARY_ROWS = 300  # GitHub caps a step's summary at 1 MiB


@dataclass
class Case:
    """One test case: a part of one notebook, or one check of ``validate``."""

    classname: str                 # the learner id (the notebook's name), or the validation step
    name: str                      # "part id: description", or the check
    status: str = PASSED           # passed | failed | error | skipped
    message: str = ""              # one paragraph: what went wrong and what to do
    kind: str = ""                 # <failure type=...>: failed, missing, error, ...
    details: str = ""              # the element's text: measured, claimed, threshold, cell
    file: str = ""                 # where an annotation points (a notebook, a spec file)
    time: float = 0.0
    measured: str = ""             # for the summary table
    threshold: str = ""
    warning: str = ""              # a passing case with something to flag (a claim mismatch)


@dataclass
class Suite:
    """A group of cases: the parts of one notebook, or one step of ``validate``."""

    name: str
    cases: list[Case] = field(default_factory=list)
    time: float = 0.0
    timestamp: str = ""                                  # ISO 8601, no time zone (the XSD's type)
    properties: dict = field(default_factory=dict)
    system_out: str = ""
    system_err: str = ""
    headline: str = ""                                   # one line above the summary table

    def count(self, status: str) -> int:
        return sum(case.status == status for case in self.cases)


# --- from results -------------------------------------------------------------------------------

def _shown(value) -> str:
    from ..textutil import fmt_value

    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"
    return fmt_value(value)


def suites_from_results(results: Iterable["SubmissionResult"], *, files: Mapping[str, str] | None = None,
                        learner_view: bool = True, suite_name: str | None = None) -> list[Suite]:
    """One suite per submission, one case per part.

    ``files`` maps a result's learner id to the path annotations point at;
    ``learner_view`` hides what was measured on hidden data (as ``grader check`` does).
    """
    suites = []
    for result in results:
        file = (files or {}).get(result.learner, result.submission)
        suite = Suite(name=suite_name or result.learner, time=result.duration_s,
                      timestamp=(result.started_at or "")[:19],
                      headline=(f"**{result.submission or result.learner}** ({result.assignment}): "
                                f"{result.total:g}/{result.max_total:g} points"
                                + (f" - not graded: {result.reason}" if result.status != "graded" else "")),
                      properties={"assignment": result.assignment,
                                  "assignment_version": result.assignment_version,
                                  "assignment_digest": result.assignment_digest,
                                  "harness_version": result.harness_version,
                                  "submission": result.submission, "status": result.status,
                                  "seed": result.seed, "total": f"{result.total:g}",
                                  "max_total": f"{result.max_total:g}"})
        notes = ([f"reason: {result.reason}"] if result.reason else []) + list(result.notes)
        suite.system_out = "\n".join(notes)
        suite.system_err = "\n\n".join(
            f"{error.summary()}\n{error.traceback}".strip() for error in result.errors)
        for part in result.parts:
            hide = part.hidden and learner_view
            message = "(measured on hidden data)" if hide and part.message else part.message
            status = {"passed": PASSED, "failed": FAILED, "missing": FAILED}.get(part.status, ERROR)
            if result.status != "graded":
                message, status = f"Not graded: {result.reason}", ERROR
            measured = "(hidden)" if hide else _shown(part.measured)
            facts = [f"status: {part.status}", f"points: {part.points:g}/{part.max_points:g}",
                     f"measured: {measured}"]
            if not hide:
                facts.append(f"claimed: {_shown(part.claimed)}")
                if part.threshold:
                    facts.append(f"threshold: {part.threshold}")
            if part.cell:
                facts.append(f"cell: {part.cell}")
            details = "\n".join(facts) + (f"\n\n{message}" if message else "")
            suite.cases.append(Case(
                classname=result.learner, name=f"{part.id}: {part.description}".rstrip(": "),
                status=status, message=message if status != PASSED else "", kind=part.status,
                details=details.strip(), file=file, measured=measured,
                threshold="" if hide else part.threshold,
                warning=message if status == PASSED and part.claim_mismatch else ""))
        suites.append(suite)
    return suites


# --- JUnit XML ----------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold (a traceback may carry terminal control codes).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text) -> str:
    return _NOT_XML.sub("", str(text))


def junit_xml(suites: list[Suite], *, name: str = "grader", time: float | None = None) -> str:
    """The suites as a JUnit XML document (see the module docstring for the layout).

    ``time`` is the whole run's duration (default: the suites' times added up).
    """
    import xml.etree.ElementTree as ET

    def attrs(**values) -> dict:
        return {key.rstrip("_"): _xml_text(value) for key, value in values.items()}

    root = ET.Element("testsuites", attrs(
        name=name, tests=sum(len(s.cases) for s in suites),
        failures=sum(s.count(FAILED) for s in suites), errors=sum(s.count(ERROR) for s in suites),
        skipped=sum(s.count(SKIPPED) for s in suites),
        time=f"{time if time is not None else sum(s.time for s in suites):.3f}"))
    hostname = socket.gethostname() or "localhost"
    for index, suite in enumerate(suites):
        element = ET.SubElement(root, "testsuite", attrs(
            name=suite.name, tests=len(suite.cases), failures=suite.count(FAILED),
            errors=suite.count(ERROR), skipped=suite.count(SKIPPED), time=f"{suite.time:.3f}",
            id=index, hostname=hostname, **({"timestamp": suite.timestamp} if suite.timestamp else {})))
        if suite.properties:
            properties = ET.SubElement(element, "properties")
            for key, value in suite.properties.items():
                ET.SubElement(properties, "property", attrs(name=key, value=value))
        for case in suite.cases:
            testcase = ET.SubElement(element, "testcase", attrs(
                classname=case.classname, name=case.name, time=f"{case.time:.3f}",
                **({"file": case.file} if case.file else {})))
            if case.status in (FAILED, ERROR):
                tag = "failure" if case.status == FAILED else "error"
                child = ET.SubElement(testcase, tag, attrs(message=case.message, type_=case.kind or tag))
                child.text = _xml_text(case.details or case.message)
            elif case.status == SKIPPED:
                ET.SubElement(testcase, "skipped", attrs(message=case.message))
            elif case.details:
                ET.SubElement(testcase, "system-out").text = _xml_text(case.details)
        if suite.system_out:
            ET.SubElement(element, "system-out").text = _xml_text(suite.system_out)
        if suite.system_err:
            ET.SubElement(element, "system-err").text = _xml_text(suite.system_err)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(suites: list[Suite], path: str | Path, *, name: str = "grader",
                time: float | None = None) -> Path:
    """Write the JUnit XML file (atomically)."""
    from ..results import write_atomic

    write_atomic(path, junit_xml(suites, name=name, time=time))
    return Path(path)


# --- GitHub Actions -----------------------------------------------------------------------------

def on_github(environ: Mapping[str, str] | None = None) -> bool:
    """True inside a GitHub Actions job (GitHub sets GITHUB_ACTIONS=true)."""
    return (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts (escapeData)
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(path: str, environ: Mapping[str, str]) -> str:
    """A path relative to the workspace, so GitHub can attach the annotation to the file."""
    if not path:
        return ""
    base = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return path


def annotations(suites: list[Suite], environ: Mapping[str, str] | None = None) -> list[str]:
    """``::error`` / ``::warning`` workflow commands for failing and flagged cases."""
    environ = environ if environ is not None else os.environ
    lines = []
    for suite in suites:
        for case in suite.cases:
            if case.status in (FAILED, ERROR):
                level, text = "error", case.message or case.status
            elif case.warning:
                level, text = "warning", case.warning
            else:
                continue
            title = f"{case.classname} {case.name.split(':')[0]}: {case.kind or case.status}"
            props = [f"file={_escape_property(_relative(case.file, environ))}"] if case.file else []
            props.append(f"title={_escape_property(title)}")
            lines.append(f"::{level} {','.join(props)}::{_escape_data(text)}")
    return lines


def _cell(text: str, width: int = 400) -> str:
    text = " ".join(str(text).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


def summary_markdown(suites: list[Suite], *, title: str) -> str:
    """A job summary: one line per suite, then a table of cases (only the failing ones when
    there are many)."""
    cases = [(suite, case) for suite in suites for case in suite.cases]
    total = len(cases)
    failing = [(s, c) for s, c in cases if c.status in (FAILED, ERROR) or c.warning]
    shown = cases if total <= 60 else failing
    lines = [f"## {title}", ""]
    counts = {status: sum(c.status == status for _, c in cases) for status in (PASSED, FAILED, ERROR)}
    lines.append(f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[ERROR]} errors "
                 f"({len(suites)} suite(s), {total} case(s))")
    lines.append("")
    for suite in suites:
        if suite.headline:
            lines.append(f"- {suite.headline}")
    if any(suite.headline for suite in suites):
        lines.append("")
    if shown:
        lines += ["| suite | case | verdict | measured | threshold | message |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for suite, case in shown[:_MAX_SUMMARY_ROWS]:
            verdict = _VERDICT.get(case.status, case.status) + (" ⚠️" if case.warning else "")
            lines.append(f"| {_cell(suite.name, 80)} | {_cell(case.name, 120)} | {verdict} | "
                         f"{_cell(case.measured, 40)} | {_cell(case.threshold, 60)} | "
                         f"{_cell(case.message or case.warning)} |")
        if len(shown) > _MAX_SUMMARY_ROWS:
            lines.append(f"\n… and {len(shown) - _MAX_SUMMARY_ROWS} more (see the JUnit report).")
    elif total:
        lines.append("Every case passed.")
    return "\n".join(lines) + "\n\n"


def write_github(suites: list[Suite], *, title: str, stream: TextIO | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
    """Append the job summary to $GITHUB_STEP_SUMMARY and print the annotations."""
    environ = environ if environ is not None else os.environ
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(suites, title=title))
    stream = stream or sys.stdout
    for line in annotations(suites, environ):
        print(line, file=stream)
    stream.flush()


# --- the entry points the command line calls ----------------------------------------------------

def emit(suites: list[Suite], *, junit: str | Path | None = None, title: str = "grader",
         stream: TextIO | None = None, environ: Mapping[str, str] | None = None,
         time: float | None = None) -> None:
    """Write the JUnit file (when asked) and, inside GitHub Actions, the summary and annotations."""
    if junit:
        write_junit(suites, junit, name=title, time=time)
    if on_github(environ):
        write_github(suites, title=title, stream=stream, environ=environ)


def write_ci_outputs(results, *, junit: str | Path | None = None, command: str = "grader",
                     files: Mapping[str, str] | None = None, stream: TextIO | None = None,
                     environ: Mapping[str, str] | None = None) -> None:
    """After ``check`` or ``grade``: JUnit (when ``junit`` names a file), GitHub summary and annotations.

    ``results`` is a SubmissionResult or a list of them; ``files`` maps a learner to the
    file the annotations point at; ``command`` names the run in titles (``check``, ``grade``).
    """
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    suites = suites_from_results(results, files=dict(files or {}))
    assignment = results[0].assignment if results else ""
    emit(suites, junit=junit, title=f"grader {command}" + (f": {assignment}" if assignment else ""),
         stream=stream or sys.stdout, environ=environ)
