"""What the evaluator is given and what the kernel is not: frames, plans, the agent's config."""
import io
import json

import numpy as np
import pytest

from grader.run.evaluator_client import INTEGRITY_ROWS, build_plan
from grader.kernel.integrity import integrity_inputs
from grader.kernel.frames import FrameError, array_from, array_meta, encode_frame, read_frame
from grader.orchestrate import function_integrity, kernel_agent_config


def _reader(data: bytes):
    stream = io.BytesIO(data)

    def read_exactly(n):
        chunk = stream.read(n)
        if len(chunk) < n:
            raise EOFError
        return chunk

    return read_exactly


def test_frames_carry_arrays_exactly():
    array = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    meta, blob = array_meta(array)
    header, blobs = read_frame(_reader(encode_frame({"op": "inputs", "array": meta}, [blob])))
    assert header["op"] == "inputs"
    np.testing.assert_array_equal(array_from(header["array"], blobs[0]), array)


@pytest.mark.parametrize("meta, blob, message", [
    ({"dtype": "|O", "shape": [1]}, b"\0" * 8, "not a numeric array"),
    ({"dtype": "<f8", "shape": [3]}, b"\0" * 8, "cannot hold"),
])
def test_arrays_that_are_not_plain_numbers_are_refused(meta, blob, message):
    with pytest.raises(FrameError, match=message):
        array_from(meta, blob)


def test_a_header_that_is_too_long_or_not_json_is_refused():
    with pytest.raises(FrameError, match="out of bounds"):
        read_frame(_reader((2**31).to_bytes(4, "big") + b"{}"))
    with pytest.raises(FrameError, match="not JSON"):
        read_frame(_reader((3).to_bytes(4, "big") + b"{x}"))
    with pytest.raises(EOFError):
        read_frame(_reader(encode_frame({"op": "x"}, [b"abc"])[:-1]))


def test_the_plan_holds_inputs_and_fresh_integrity_draws(assignment, mnist_path):
    plan = build_plan(assignment, {"mnist": mnist_path})
    graph_parts = [p.id for p in assignment.parts if p.kind in ("loss", "accuracy")]
    assert sorted(plan.runs) == sorted(graph_parts)
    assert plan.inputs["validation"].shape == (10000, 28, 28)
    assert plan.inputs["validation"].dtype == np.float32 and plan.inputs["validation"].max() == 1.0
    draw = plan.integrity["RMv95"]
    assert draw["rows"] == INTEGRITY_ROWS and draw["noise"] == pytest.approx(1 / 255)
    shuffled, noisy = integrity_inputs(plan.inputs["validation"], draw)
    np.testing.assert_array_equal(plan.inputs["validation~shuffled"], shuffled)
    assert np.abs(noisy - shuffled).max() == pytest.approx(1 / 255, rel=1e-5)
    assert plan.reports["RMv95"] == {"test": "test"}
    # A new grading draws again: no notebook can prepare for the draw.
    assert build_plan(assignment, {"mnist": mnist_path}).integrity["RMv95"]["seed"] != draw["seed"]


def test_the_kernel_gets_no_labels_and_no_integrity_draw_of_a_graph_part(assignment):
    config = kernel_agent_config(assignment, seed=0, tf1=True, data={"mnist": "mnist.npz"},
                                 integrity=function_integrity(assignment), threads=None)
    text = json.dumps(config)
    assert '"y"' not in text and "y_train" not in text and "y_test" not in text
    assert all(part["integrity"] is None for part in config["parts"].values())
