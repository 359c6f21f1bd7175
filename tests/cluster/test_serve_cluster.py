"""grader serve on a Dask cluster: the same queue and results, gradings on Dask workers, and each
grading's progress events carried back from the worker to the learner's page (Dask events)."""
import json
import signal

import pytest

from tests.serve.conftest import services  # noqa: F401 (the fixture)
from tests.serve.harness import SOLUTION, WEAK, Service, assignment_copy

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_the_service_grades_on_a_dask_cluster_with_live_progress(tmp_path, services):
    served = services(Service(assignment_copy(tmp_path), tmp_path / "out", extra=["--cluster", "local:2"]))
    tokens = served.issue(["ann", "ben"])
    served.start()
    try:
        accepted = [served.submit("ann", tokens["ann"], SOLUTION).json(),
                    served.submit("ben", tokens["ben"], WEAK).json()]
        states = served.wait_done(accepted)
        assert states[0]["result"]["total"] == 4.0 and states[1]["result"]["total"] < 4.0
        for submission in accepted:
            folder = served.out / "serve" / "submissions" / submission["id"]
            events = [json.loads(line)["event"] for line in (folder / "progress.jsonl").read_text().splitlines()]
            assert events[0] == "started" and "part_judged" in events and events[-1] == "finished"
        assert json.loads((served.out / "results" / "ann.json").read_text())["total"] == 4
        assert "grading sklearn_digits into" in served.output() and "the Dask cluster local:2" in served.output()
    finally:
        assert served.stop(signal.SIGINT) == 130
    processes, cgroups = served.run.wait_clean(timeout=30)
    assert not processes and not cgroups, (processes, cgroups)
