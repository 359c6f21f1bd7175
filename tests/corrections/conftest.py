"""Fixtures for corrections: a copy of an assignment whose thresholds a test edits, classes of
results made by the grader's own judge (``factory.py``), live receivers from tests/post.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from tests.conftest import ROOT
from tests.post.conftest import (CLIENT_ID, WEBHOOK_SECRET, clean_env, keypair,  # noqa: F401
                                 platform, receiver, course, tokens)


class AssignmentCopy:
    """``assignments/NAME`` and ``reference/NAME`` copied under ``root``, thresholds editable."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.folder = root / "assignments" / name
        self.reference = root / "reference" / name
        shutil.copytree(ROOT / "assignments" / name, self.folder)
        shutil.copytree(ROOT / "reference" / name, self.reference)

    @property
    def thresholds(self) -> Path:
        return self.reference / "thresholds.toml"

    def set_threshold(self, part: str, key: str, value: str) -> None:
        """Set ``key = value`` (TOML text) in ``[parts.PART]`` of thresholds.toml."""
        text = self.thresholds.read_text()
        head = f"[parts.{part}]\n"
        start = text.index(head) + len(head)
        end = text.find("\n[parts.", start)
        end = len(text) if end < 0 else end
        table = text[start:end]
        line = re.compile(rf"^{re.escape(key)} = .*$", re.M)
        table = line.sub(f"{key} = {value}", table) if line.search(table) else \
            f"{key} = {value}\n{table}"
        self.thresholds.write_text(text[:start] + table + text[end:])

    def load(self):
        return load_assignment(self.folder)


@pytest.fixture
def mnist_copy(tmp_path, monkeypatch) -> AssignmentCopy:
    copy = AssignmentCopy(tmp_path / "course", "mnist_digits")
    # `grader rescore OUT` finds the assignment by the name in the results: this copy first.
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(copy.folder.parent))
    return copy


@pytest.fixture
def digits_copy(tmp_path) -> AssignmentCopy:
    return AssignmentCopy(tmp_path / "course", "sklearn_digits")
