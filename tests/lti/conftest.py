"""One grader serve of a course of two assignments, registered with one independent LMS
(tests/lti/platform.py), shared by the package."""
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.lti.platform import Platform
from tests.serve.conftest import services  # noqa: F401 (the fixture, for tests/lti)
from tests.serve.harness import Service, course_copy


@pytest.fixture(scope="package")
def lms(tmp_path_factory):
    """(the service, the platform): the service started, then registered with the platform, as an
    administrator would (grader lti add-platform)."""
    root = tmp_path_factory.mktemp("lti")
    served = Service(course_copy(root, "per_hour = 50"), root / "out", workers=2, course=True)
    served.start()
    platform = Platform(served.url)
    try:
        done = subprocess.run([sys.executable, "-m", "grader", "lti", "add-platform", "--out", str(served.out),
                               *platform.add_platform_args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"its pages may be framed by {platform.url}" in done.stdout
        yield served, platform
    finally:
        platform.close()
        code = served.stop(signal.SIGINT)
        output = served.output()
        processes, cgroups = served.run.wait_clean(timeout=30)
        assert code == 130, output[-3000:]
        assert "Traceback" not in output, output[-5000:]
        assert not processes and not cgroups, (processes, cgroups)
