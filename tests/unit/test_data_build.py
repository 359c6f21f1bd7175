"""Data files an assignment makes itself: the `build` command of [data.NAME]."""
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.specs.data import env_var, load_arrays, resolve
from grader.exceptions import DataError
from grader.specs import DataFile

SCRIPT = """
import sys
import numpy as np
np.savez(sys.argv[1], a=np.arange(4, dtype=np.uint8))
"""


def _spec(tmp_path, build, **kw) -> DataFile:
    return DataFile(name="toy", file="toy.npz", cache=str(tmp_path / "cache" / "toy.npz"), build=build, **kw)


def test_build_runs_in_the_assignment_folder_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.delenv(env_var("toy"), raising=False)
    folder = tmp_path / "assignment"
    folder.mkdir()
    (folder / "make.py").write_text(SCRIPT)
    digest = hashlib.sha256(np.arange(4, dtype=np.uint8).tobytes()).hexdigest()
    spec = _spec(tmp_path, ("{python}", "make.py", "{out}"), arrays_sha256={"a": digest})
    path = resolve(spec, folder=folder, download=False)
    assert path == Path(spec.cache) and load_arrays(spec, path)["a"].tolist() == [0, 1, 2, 3]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no partial file left
    (folder / "make.py").write_text("raise SystemExit('must not run again')")
    assert resolve(spec, folder=folder) == path  # the cache is used


def test_failing_build_says_what_failed_and_how_to_bypass_it(tmp_path, monkeypatch):
    monkeypatch.delenv(env_var("toy"), raising=False)
    (tmp_path / "make.py").write_text("import sys\nprint('no sklearn here', file=sys.stderr)\nsys.exit(3)")
    spec = _spec(tmp_path, ("{python}", "make.py", "{out}"))
    with pytest.raises(DataError) as info:
        resolve(spec, folder=tmp_path)
    message = str(info.value)
    assert "exited with status 3" in message and "no sklearn here" in message
    assert "--data toy=PATH" in message and not Path(spec.cache).exists()


def test_build_that_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(env_var("toy"), raising=False)
    spec = _spec(tmp_path, (sys.executable, "-c", "pass", "{out}"))
    with pytest.raises(DataError, match="wrote no"):
        resolve(spec, folder=tmp_path)
