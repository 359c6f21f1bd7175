"""Find, fetch and verify the data files an assignment declares.

One loader for everything (harness, tests, CI, calibration).  A data file
``NAME`` is looked for, in this order:

1. an explicit path: ``--data NAME=PATH`` on the command line, or the
   environment variable ``GRADER_DATA_<NAME>`` (for example
   ``GRADER_DATA_MNIST=../shared/data/mnist.npz``);
2. the cache where the usual tools keep it (for MNIST the keras cache,
   ``~/.keras/datasets/mnist.npz``);
3. the assignment's own ``build`` command, when it declares one: a script the
   assignment folder ships (for example one that writes the file from a
   dataset a Python package bundles), run in the assignment folder; its output
   is kept at the cache path;
4. the official download, checked against its sha256 and saved to that cache.

Whatever the source, the arrays are checked against their declared sha256s
when the assignment declares them, so a truncated or different file is an
error, never a silently different grade.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Mapping

from ..exceptions import DataError
from .model import Assignment, DataFile, Split


def env_var(name: str) -> str:
    """The environment variable that points at data file ``name``."""
    return "GRADER_DATA_" + "".join(c if c.isalnum() else "_" for c in name.upper())


def resolve(data: DataFile, *, explicit: str | Path | None = None, download: bool = True,
            folder: str | Path | None = None) -> Path:
    """Return a local path of ``data``, building or downloading it to its cache if needed.

    ``folder`` is the assignment folder, where a ``build`` command runs.
    """
    candidates = []
    if explicit:
        candidates.append(("--data", Path(explicit).expanduser()))
    elif os.environ.get(env_var(data.name)):
        candidates.append((env_var(data.name), Path(os.environ[env_var(data.name)]).expanduser()))
    if candidates:
        source, path = candidates[0]
        if not path.is_file():
            raise DataError(f"data file {data.name!r}: {path} (from {source}) does not exist. "
                            f"Point {source} at a copy of {data.file}.")
        return path.resolve()
    if data.cache:
        cache = Path(data.cache).expanduser()
        if cache.is_file():
            return cache
    if data.build:
        return _build(data, Path(folder) if folder else Path.cwd())
    if download and data.url:
        return _download(data)
    raise DataError(
        f"data file {data.name!r} ({data.file}) not found. Provide it with "
        f"--data {data.name}=PATH or the environment variable {env_var(data.name)}=PATH"
        + (f", or put it at {data.cache}" if data.cache else "")
        + (f" (official copy: {data.url})" if data.url else "") + ".")


def _download(data: DataFile) -> Path:
    target = Path(data.cache).expanduser() if data.cache else Path(tempfile.gettempdir()) / data.file
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(data.url, timeout=60) as response, open(partial, "wb") as out:
            digest = hashlib.sha256()
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"data file {data.name!r}: download from {data.url} failed ({exc}). Without network, "
            f"provide a copy with --data {data.name}=PATH or {env_var(data.name)}=PATH.") from None
    if data.sha256 and digest.hexdigest() != data.sha256:
        partial.unlink(missing_ok=True)
        raise DataError(f"data file {data.name!r}: the download from {data.url} has sha256 "
                        f"{digest.hexdigest()}, expected {data.sha256}; not used.")
    os.replace(partial, target)
    return target


BUILD_TIMEOUT_S = 600.0


def _build(data: DataFile, folder: Path) -> Path:
    """Run the assignment's build command, writing the file to its cache path."""
    target = Path(data.cache).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same suffix as the target: np.savez appends ".npz" to a name that lacks it.
    partial = target.with_name(f".{target.stem}.{os.getpid()}.part{target.suffix}")
    argv = [arg.replace("{python}", sys.executable).replace("{out}", str(partial)) for arg in data.build]
    command = " ".join(data.build)
    try:
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"data file {data.name!r}: the build command `{command}` (in {folder}) could "
                        f"not run: {exc}") from None
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise DataError(
            f"data file {data.name!r}: the build command `{command}` (in {folder}) "
            + (f"exited with status {done.returncode}" if done.returncode else f"wrote no {partial.name}")
            + (f":\n{tail}" if tail else "")
            + f"\nProvide a copy with --data {data.name}=PATH or {env_var(data.name)}=PATH instead.")
    os.replace(partial, target)
    return target


_ARRAY_CACHE: dict[tuple[str, float], dict] = {}


def load_arrays(data: DataFile, path: Path) -> Mapping[str, "object"]:
    """Load every array of an .npz file and verify the declared array checksums."""
    import numpy as np  # numpy is light enough, but only the harness paths that measure need it

    key = (str(path), path.stat().st_mtime)
    if key in _ARRAY_CACHE:
        return _ARRAY_CACHE[key]
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"data file {data.name!r}: {path} is not a readable .npz archive ({exc})") from None
    for name, expected in data.arrays_sha256.items():
        if name not in arrays:
            raise DataError(f"data file {data.name!r}: {path} has no array {name!r}")
        actual = hashlib.sha256(np.ascontiguousarray(arrays[name]).tobytes()).hexdigest()
        if actual != expected:
            raise DataError(f"data file {data.name!r}: array {name!r} in {path} has sha256 "
                            f"{actual}, expected {expected}: this is not the assignment's data.")
    _ARRAY_CACHE.clear()  # keep one archive in memory at a time
    _ARRAY_CACHE[key] = arrays
    return arrays


def resolve_all(assignment: Assignment, *, explicit: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Paths of every data file the assignment declares."""
    explicit = dict(explicit or {})
    unknown = set(explicit) - {d.name for d in assignment.data}
    if unknown:
        raise DataError(f"--data names {', '.join(sorted(unknown))}, which assignment "
                        f"{assignment.id!r} does not declare (it has: "
                        f"{', '.join(d.name for d in assignment.data) or 'none'})")
    return {d.name: resolve(d, explicit=explicit.get(d.name), folder=assignment.folder)
            for d in assignment.data}


def split_labels(assignment: Assignment, split: Split, paths: Mapping[str, Path]):
    """The labels of a split, read by the harness (never sent to the kernel)."""
    data = assignment.data_file(split.data)
    arrays = load_arrays(data, paths[data.name])
    return arrays[split.y][split.start:split.stop]


def split_inputs(assignment: Assignment, split: Split, paths: Mapping[str, Path]):
    """The inputs of a split as the models are fed them (float32, divided by the split's scale)."""
    import numpy as np

    data = assignment.data_file(split.data)
    x = load_arrays(data, paths[data.name])[split.x][split.start:split.stop]
    return x.astype(np.float32) / np.float32(split.scale)
