"""The grading service the tests of this folder share (stopped with Ctrl-C at the end, checked clean)."""
import signal

import pytest

from tests.serve.harness import Service, assignment_copy

LEARNERS = ["ann", "ben", "cid", "dee", "fay", "gus"]


@pytest.fixture
def services():
    """Services a test starts itself (``services(Service(...))``): killed after it, whatever happened."""
    started = []
    yield lambda served: started.append(served) or served
    for served in started:
        served.kill()
        served.run.kill_all()


@pytest.fixture(scope="package")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    served = Service(assignment_copy(root, "per_hour = 50"), root / "out")
    served.tokens = served.issue(LEARNERS)
    served.start()
    yield served
    code = served.stop(signal.SIGINT)
    output = served.output()
    processes, cgroups = served.run.wait_clean(timeout=30)
    assert code == 130, output[-2000:]
    assert output.strip().splitlines()[-1] == "grader: interrupted"
    assert not processes and not cgroups, (processes, cgroups)
