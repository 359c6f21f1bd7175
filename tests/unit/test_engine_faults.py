"""One learner's grader fault never stops a batch: every row is recorded, the others go on.

The engine is driven through its executor seam by a small executor that runs, for each
learner, what the table below says instead of a kernel (the faults here are the
harness's own: they cannot be provoked on demand from a notebook).  Everything else is
real: the engine, the journal, the result files, the gradebook.
"""
import asyncio
import concurrent.futures
import json
import math
import threading
from pathlib import Path

import pytest

from grader.batch.engine import BatchEngine
from grader.batch.executor import GradingExecutor
from grader.batch.inputs import Submission
from grader.batch.job import Outcome
from grader.batch.progress import Progress
from grader.exceptions import KernelLostError
from grader.orchestrate import GradeOptions, ungradable
from grader.results import GRADED, GRADER_ERROR


class TableExecutor(GradingExecutor):
    """Runs each job in a thread of its own; what a job does comes from ``behaviour``."""

    local = True

    def __init__(self, behaviour, assignment):
        self.slots, self.behaviour, self.assignment = 2, behaviour, assignment

    def submit(self, job):
        action = self.behaviour[job.learner]
        if action == "submit-fails":
            raise RuntimeError("the pool was broken when this job was handed to it")
        future = concurrent.futures.Future()

        def work():
            try:
                if isinstance(action, BaseException):
                    raise action
                result = ungradable(Path(f"{job.learner}.ipynb"), self.assignment, "", 0.0, "", job.learner,
                                    status=GRADED)
                result.total = math.nan if action == "nan" else 1.0
                result.grading_key = job.key  # as grade_job stamps it
                future.set_result(Outcome(result))
            except BaseException as exc:  # noqa: BLE001 - handed to the engine, as a pool would
                future.set_exception(exc)

        threading.Thread(target=work).start()
        return future

    def cancel(self):
        pass


def test_every_learner_gets_a_row_whatever_its_grading_raised(tmp_path, assignment):
    behaviour = {
        "ok1": "ok",
        "cancelled": asyncio.CancelledError(),            # a BaseException, not an Exception
        "lost": KernelLostError(["the kernel could not be started (killed)"] * 2),
        "submit": "submit-fails",
        "nan": "nan",                                     # a result JSON cannot hold
        "ok2": "ok",
        "ok3": "ok",
    }
    submissions = [Submission(learner=name, notebook=tmp_path / f"{name}.ipynb", source=f"{name}.ipynb")
                   for name in behaviour]
    for submission in submissions:
        submission.notebook.write_text("{}")
    engine = BatchEngine(assignment=assignment, options=GradeOptions(), data_paths={}, out=tmp_path / "out")
    todo = engine.resume(submissions)
    results = engine.run(submissions, todo, executor=TableExecutor(behaviour, assignment),
                         options=GradeOptions(), progress=Progress(total=len(todo), stream=None, quiet=True))

    rows = {r.learner: r for r in results}
    assert sorted(rows) == sorted(behaviour)
    for name in ("ok1", "ok2", "ok3"):
        assert rows[name].status == GRADED and rows[name].total == 1.0
    for name in ("cancelled", "lost", "submit", "nan"):
        assert rows[name].status == GRADER_ERROR and rows[name].total == 0, rows[name]
        assert "not a grade" in rows[name].reason and "run the same command again" in rows[name].reason
    assert "killed" in rows["lost"].reason
    for name in behaviour:  # written, and journaled once
        assert json.loads((tmp_path / "out" / "results" / f"{name}.json").read_text())["learner"] == name
    done = [json.loads(line)["learner"] for line in (tmp_path / "out" / "journal.jsonl").read_text().splitlines()
            if json.loads(line)["event"] == "done"]
    assert sorted(done) == sorted(behaviour)

    # The next run grades the grader-error rows again, and only those.
    again = engine.resume(submissions)
    assert sorted(j.learner for j in again) == ["cancelled", "lost", "nan", "submit"]


def test_kernel_lost_error_survives_the_trip_from_a_worker():
    import pickle

    error = pickle.loads(pickle.dumps(KernelLostError(["first reason", "second reason"])))
    assert error.reasons == ["first reason", "second reason"]
    assert "2 times" in str(error) and "second reason" in str(error)


@pytest.mark.parametrize("code, oom, outside", [(-9, False, True), (137, False, True), (-9, True, False),
                                                (137, True, False), (1, False, False), (139, False, False),
                                                (-11, False, False), (None, False, False)])
def test_which_deaths_count_as_killed_from_outside(code, oom, outside):
    from grader.run.limits import killed_from_outside

    assert killed_from_outside(code, out_of_memory=oom) == outside
