"""The sample CI configurations under examples/ parse and run `grader validate` with --junit."""
from pathlib import Path

import pytest

from tests.conftest import ROOT

yaml = pytest.importorskip("yaml")


def test_github_workflow():
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["validate"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "grader validate assignments/${{ matrix.assignment }}" in commands and "--junit" in commands
    assert workflow["jobs"]["validate"]["strategy"]["matrix"]["assignment"] == [
        p.parent.name for p in sorted((ROOT / "assignments").glob("*/assignment.toml"))]


def test_gitlab_job():
    job = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())["validate"]
    assert any("grader validate" in line and "--junit" in line for line in job["script"])
    assert job["artifacts"]["reports"]["junit"] == "reports/validate-$ASSIGNMENT.xml"
    assert Path(job["artifacts"]["reports"]["junit"]).suffix == ".xml"
    assert job["parallel"]["matrix"][0]["ASSIGNMENT"] == [
        p.parent.name for p in sorted((ROOT / "assignments").glob("*/assignment.toml"))]
