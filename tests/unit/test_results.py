"""Result objects: JSON round trip, the published schema, atomic writes."""
import json

import jsonschema
import pytest

from grader.results import CellError, PartResult, SubmissionResult, load_schema, write_atomic


def _result():
    return SubmissionResult(
        learner="ada", assignment="mnist_digits", harness_version="0.1.0", total=1, max_total=2,
        parts=[PartResult(id="a", status="passed", points=1, claimed=0.93, measured=0.9312,
                          threshold=">= 0.92", message="ok", cell=4),
               PartResult(id="b", status="error", claimed=None, measured=None, message="boom")],
        errors=[CellError.from_reply(cell=3, content={
            "ename": "NameError", "evalue": "name 'x' is not defined",
            "traceback": ["\x1b[0;31mNameError\x1b[0m: name 'x'"]})])


def test_round_trip_and_schema():
    result = _result()
    data = json.loads(result.to_json())
    jsonschema.validate(data, load_schema())
    again = SubmissionResult.from_json(result.to_json())
    assert again == result
    assert again.part("a").measured == 0.9312


def test_ansi_colours_are_stripped():
    assert _result().errors[0].traceback == "NameError: name 'x'"


def test_schema_rejects_unknown_status():
    data = json.loads(_result().to_json())
    data["parts"][0]["status"] = "great"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, load_schema())


def test_passed_needs_every_part():
    result = _result()
    assert not result.passed
    result.parts[1].status = "passed"
    assert result.passed


def test_write_atomic_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out" / "r.json"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]
