"""Gradescope's autograder ``results.json``: one file per submission, nothing sent.

Gradescope runs ``gradescope/run_autograder`` in a container per submission;
the script grades the notebook with ``grader check --json`` and calls
``grader post DIR --to gradescope``, which writes
``/autograder/results/results.json``: ``score``, ``execution_time``,
``output``, and one test per part (``name``, ``score``, ``max_score``,
``status``, ``output``, ``visibility``).  Parts measured on hidden data are
``hidden`` tests: only instructors see them.
"""
from __future__ import annotations

import json
from pathlib import Path

from ...exceptions import DestinationConfigError
from ...results import PASSED, write_atomic
from ...textutil import fmt_value
from ..config import Setting
from ..delivery import REFUSED, SENT, Attempt
from .base import Delivery, Destination

AUTOGRADER_RESULTS = Path("/autograder/results")


def results_json(result, grade=None) -> dict:
    """The Gradescope document for one result (``grade``: its corrections, shown per test)."""
    tests = []
    for part in result.parts:
        lines = [f"Measured: {fmt_value(part.measured)}"]
        override = grade.overrides.get(part.id) if grade is not None else None
        if override is not None:
            lines.append(f"Points set by your instructor ({grade.judged[part.id].points:g} from "
                         f"the grader): {override.reason}")
        if part.claimed is not None:
            lines.append(f"Reported by the notebook: {fmt_value(part.claimed)}")
        if part.threshold:
            lines.append(f"Passes when: {part.threshold}")
        if part.message:
            lines.append(part.message)
        tests.append({
            "name": f"{part.id}: {part.description}" if part.description else part.id,
            "number": part.id,
            "score": part.points,
            "max_score": part.max_points,
            "status": "passed" if (part.status == PASSED if override is None
                                   else part.points >= part.max_points) else "failed",
            "output": "\n".join(lines),
            # hidden: only instructors see the test, whatever the assignment's settings.
            "visibility": "hidden" if part.hidden else "visible",
        })
    output = [f"{result.assignment}: {result.total:g}/{result.max_total:g} points"]
    if result.reason:
        output.append(("Not graded: " if result.status != "graded" else "Note: ") + result.reason)
    output += [f"Cell {e.cell} raised {e.ename}: {e.evalue}" for e in result.errors]
    output += [f"note: {note}" for note in result.notes]
    return {"score": result.total, "execution_time": int(round(result.duration_s)),
            "output": "\n".join(output), "tests": tests}


class GradescopeDestination(Destination):
    """Write Gradescope's results.json for each result."""

    SUMMARY = "Gradescope autograder results.json (see gradescope/run_autograder)"
    SETTINGS = (
        Setting("output", "file to write; {learner} is replaced by the learner id (default: "
                          "/autograder/results/results.json inside Gradescope, else "
                          "RESULTS/gradescope/{learner}/results.json)", None,
                env="GRADER_GRADESCOPE_OUTPUT"),
    )

    def _template(self) -> str:
        output = self.settings.get("output")
        if output:
            return str(Path(output).expanduser().resolve())
        if AUTOGRADER_RESULTS.is_dir():
            return str(AUTOGRADER_RESULTS / "results.json")
        return str((self.context.base / "gradescope" / "{learner}" / "results.json").resolve())

    def check(self, results: list) -> None:
        if len(results) > 1 and "{learner}" not in self._template():
            raise DestinationConfigError(
                f"{len(results)} results but one output file ({self._template()}); a Gradescope "
                f"results.json holds one submission: put {{learner}} in --output",
                destination=self.name, field="output")

    def target(self) -> str:
        return self._template()

    def target_shown(self) -> str:
        return self._template()

    def send(self, delivery: Delivery) -> Attempt:
        path = Path(self._template().replace("{learner}", delivery.result.learner))
        try:
            write_atomic(path, json.dumps(results_json(delivery.result, delivery.grade), indent=2,
                                          ensure_ascii=False))
        except OSError as exc:
            return Attempt(REFUSED, f"cannot write {path}: {exc.strerror or exc}")
        return Attempt(SENT, f"wrote {path}")
