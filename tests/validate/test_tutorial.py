"""The authors' tutorial (docs/author/tutorial.md) works exactly as written.

The page is read top to bottom: every fenced block with a ``title="PATH"`` is a
file, written to PATH in an empty folder; every ``sh`` block is a list of
commands, each run there with bash in the order it appears (``grader`` and
``python`` are this environment's). A command must exit 0, or 1 where its line
says ``# exit status 1``. The CI workflow the tutorial writes must be the
repository's examples/github-actions.yml with only the matrix changed.

The page builds the assignment the way an author does: one source notebook that
``grader author`` turns into the template, the solution and a weak sample;
``grader calibrate --write`` writes the bound the page then explains;
``grader validate --weak`` and a check run real kernels: the assignment has
framework "none" and a handful of cells, so the whole page runs in seconds.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TUTORIAL = ROOT / "docs" / "author" / "tutorial.md"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
TITLE = re.compile(r'title="(?P<path>[^"]+)"')
COMMAND_TIMEOUT_S = 300


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(kind, title or language, body) of each fenced block: kind "file" or "sh" or "other"."""
    found = []
    for match in FENCE.finditer(text):
        title = TITLE.search(match["info"])
        if title:
            found.append(("file", title["path"], match["body"]))
        elif match["lang"] == "sh":
            found.append(("sh", "sh", match["body"]))
        else:
            found.append(("other", match["lang"], match["body"]))
    return found


def commands(body: str) -> list[tuple[str, int]]:
    """Each command line of an sh block and the exit status it must have."""
    lines = []
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        expected = 1 if re.search(r"#.*exit status 1\b", line) else 0
        lines.append((line, expected))
    return lines


def test_the_tutorial_is_read_as_files_and_commands():
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    files = [title for kind, title, _ in found if kind == "file"]
    assert "assignments/iris/assignment.toml" in files and "reference/iris/thresholds.toml" in files
    assert "reference/iris/source.py" in files and not any("make_notebooks" in f for f in files)
    runs = [line for kind, _, body in found if kind == "sh" for line, _ in commands(body)]
    assert any(line.startswith("grader author reference/iris/source.py") for line in runs)
    assert any(line.startswith("grader validate assignments/iris") for line in runs)
    assert any(line.startswith("grader calibrate") and "--write" in line for line in runs)


@pytest.mark.kernel
def test_tutorial_runs_as_written(tmp_path):
    yaml = pytest.importorskip("yaml")
    course = tmp_path / "course"
    course.mkdir()
    home = tmp_path / "home"       # the data cache (~/.cache/grader/iris) stays in the test's folder
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GITHUB_", "GRADER_ASSIGNMENTS"))}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    ran = []
    for kind, title, body in blocks(TUTORIAL.read_text(encoding="utf-8")):
        if kind == "file":
            path = course / title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        elif kind == "sh":
            for line, expected in commands(body):
                argv = shlex.split(line, comments=True)
                if argv[0] == "grader":
                    argv = [sys.executable, "-m", "grader", *argv[1:]]
                elif argv[0] == "python":
                    argv = [sys.executable, *argv[1:]]
                done = subprocess.run(argv, cwd=course, env=env, capture_output=True, text=True,
                                      timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
                assert done.returncode == expected, (
                    f"{line!r} exited {done.returncode}, the tutorial says {expected}\n"
                    f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}")
                ran.append((line, done))

    assert len(ran) >= 9
    # What the tutorial says the commands produced, they produced.
    authored = next(done for line, done in ran if line.startswith("grader author"))
    for path in ("assignments/iris/template.ipynb", "reference/iris/solution.ipynb",
                 "reference/iris/weak/means_on_all.ipynb"):
        assert f"wrote {path}" in authored.stdout and (course / path).is_file()
    consistency = next(done for line, done in ran if line.endswith("--no-run   # exit status 1: "
                                                                   "nearest_mean has no threshold yet"))
    assert "parts.nearest_mean: no threshold for part 'nearest_mean'" in consistency.stdout
    calibration = next(done for line, done in ran if line.startswith("grader calibrate"))
    assert "nearest_mean       >= 0.9        0.0556       0.1000  a quarter of the way" in calibration.stdout
    assert "wrote reference/iris/thresholds.toml: parts.nearest_mean.min = 0.9 (new)" in calibration.stdout
    after = calibration.stdout.split("under the thresholds written:")[1]
    assert "means_on_all.ipynb: fails (0.0737)" in after and "means_on_all.ipynb: fails (0.8000)" in after
    assert (course / "reference/iris/calibration.json").is_file()
    validate = next(done for line, done in ran if line.startswith("grader validate assignments/iris --weak"))
    assert "validate iris (assignments/iris): OK" in validate.stdout
    assert "template: class_means error, nearest_mean error" in validate.stdout
    assert "weak means_on_all.ipynb: class_means failed (0.07371), nearest_mean failed (0.8)" in validate.stdout
    check = next(done for line, done in ran if line.startswith("grader check"))
    assert "iris | means_on_all.ipynb | 0/2 points" in check.stdout
    assert (course / "reports/validate-iris.xml").is_file()

    # The workflow is the repository's example with the tutorial's matrix.
    example = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    workflow = yaml.safe_load((course / ".github/workflows/validate.yml").read_text())
    example["jobs"]["validate"]["strategy"]["matrix"]["assignment"] = ["iris"]
    assert workflow == example
