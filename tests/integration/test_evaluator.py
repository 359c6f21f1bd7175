"""The evaluator process: exported models run outside the kernel, on the harness's inputs.

The graphs are built by a separate Python process with TensorFlow (this test
process, like the harness, never imports it), then run by a real evaluator
process, sandboxed when bubblewrap is there, as in a grading.
"""
import asyncio
import base64
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grader.run.evaluator_client import Evaluator, EvaluatorOptions, Plan
from grader.kernel.integrity import integrity_inputs
from grader.run.limits import Limits
from grader.run.sandbox import unavailable_reason
from tests.conftest import ROOT

pytestmark = pytest.mark.kernel

BUILD = textwrap.dedent('''
    import sys, numpy as np
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    out = sys.argv[1]
    rng = np.random.RandomState(0)
    w, bias = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    np.save(out + "/w.npy", w); np.save(out + "/b.npy", bias)

    def export(name, build):
        graph = tf.Graph()
        with graph.as_default(), tf.Session(graph=graph) as s:
            x, output = build()
            s.run(tf.global_variables_initializer())
            frozen = tf.graph_util.convert_variables_to_constants(s, graph.as_graph_def(), [output.op.name])
        open(f"{out}/{name}.pb", "wb").write(frozen.SerializeToString())
        open(f"{out}/{name}.names", "w").write(x.name + " " + output.name)

    def linear():
        x = tf.placeholder(tf.float32, (None, 4), name="input_X")
        W = tf.get_variable("W", initializer=w); b = tf.get_variable("b", initializer=bias)
        return x, tf.nn.softmax(tf.matmul(x, W) + b)

    def constant():
        x = tf.placeholder(tf.float32, (None, 4), name="input_X")
        return x, tf.identity(tf.constant([0, 1, 2, 1, 0], tf.int64), name="classes")

    def reads_file():
        x = tf.placeholder(tf.float32, (None, 4), name="input_X")
        secret = tf.strings.length(tf.io.read_file("/etc/hostname"))
        return x, tf.argmax(x, axis=1) + tf.cast(secret, tf.int64) * 0

    def needs_keep_prob():
        x = tf.placeholder(tf.float32, (None, 4), name="input_X")
        keep = tf.placeholder(tf.float32, (), name="keep_prob")
        return x, tf.nn.dropout(x, rate=1 - keep)

    for name, build in [("linear", linear), ("constant", constant), ("reads_file", reads_file),
                        ("needs_keep_prob", needs_keep_prob)]:
        export(name, build)
''')


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    done = subprocess.run([sys.executable, "-c", BUILD, str(folder)], capture_output=True, text=True,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    def exported(name):
        x, output = (folder / f"{name}.names").read_text().split()
        return {"graph": base64.b64encode((folder / f"{name}.pb").read_bytes()).decode(),
                "input": x, "output": output}

    return folder, exported


def _plan():
    inputs = np.random.RandomState(1).uniform(0, 1, size=(50, 4)).astype(np.float32)
    integrity = {"seed": 7, "rows": 20, "noise": 0.01}
    shuffled, noisy = integrity_inputs(inputs, integrity)
    return Plan(inputs={"val": inputs, "val~shuffled": shuffled, "val~noisy": noisy, "test": inputs[:10]},
                runs={"P": {"values": "val", "shuffled": "val~shuffled", "noisy": "val~noisy"}},
                integrity={"P": integrity}, reports={"P": {"test": "test"}})


def _run(tmp_path, jobs, sandbox=None, evaluator=None):
    """Evaluate [(name, exported)] in one grading's session; returns the measurements and the evaluator."""
    if sandbox is None:
        sandbox = not unavailable_reason()
    own = evaluator is None
    evaluator = evaluator or Evaluator(EvaluatorOptions(
        sandbox=sandbox, readonly=(ROOT / "grader",), limits=Limits(memory_mb=2048), threads=1, timeout=60))
    session = evaluator.session(_plan(), ["P"])

    async def main():
        results = []
        for job in jobs:
            if job == "kill":
                evaluator._proc.kill()
                evaluator._proc.wait()
                continue
            results.append(await session.evaluate("P", job))
        return results

    try:
        return asyncio.run(main()), evaluator
    finally:
        if own:
            evaluator.close()


def test_a_frozen_model_runs_on_the_harness_inputs(graphs, tmp_path):
    folder, exported = graphs
    (result,), _ = _run(tmp_path, [exported("linear")])
    assert result["ok"], result
    value, plan = result["value"], _plan()
    logits = plan.inputs["val"] @ np.load(folder / "w.npy") + np.load(folder / "b.npy")
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(value["values"], expected, rtol=1e-5)
    np.testing.assert_allclose(value["shuffled"], expected[np.random.default_rng(7).permutation(50)[:20]],
                               rtol=1e-5)
    assert value["noisy"].shape == (20, 3) and not np.allclose(value["noisy"], value["shuffled"])
    assert value["reports"]["test"].shape == (10, 3) and value["integrity"]["seed"] == 7


@pytest.mark.parametrize("name, message", [
    ("constant", "does not depend on the input placeholder"),
    ("reads_file", "operations the grader does not run (ReadFile)"),
    ("needs_keep_prob", "other placeholders besides the input (keep_prob)"),
])
def test_a_model_that_is_not_a_model_of_its_input_is_refused(graphs, tmp_path, name, message):
    _, exported = graphs
    (result,), _ = _run(tmp_path, [exported(name)])
    assert not result["ok"] and message in result["error"], result


def test_garbage_and_missing_models_are_errors_and_the_evaluator_goes_on(graphs, tmp_path):
    _, exported = graphs
    garbage = {"graph": base64.b64encode(b"\x08\x96\x01 not a graph").decode(), "input": "x:0", "output": "y:0"}
    results, _ = _run(tmp_path, [garbage, {"values": [1, 2]}, exported("linear")])
    assert "not a TensorFlow graph" in results[0]["error"] or "no tensor" in results[0]["error"]
    assert "no readable model" in results[1]["error"]
    assert results[2]["ok"]


def test_a_dead_evaluator_is_restarted_for_the_next_model(graphs, tmp_path):
    _, exported = graphs
    results, evaluator = _run(tmp_path, [exported("linear"), "kill", exported("linear")])
    assert results[0]["ok"] and results[1]["ok"]
    np.testing.assert_array_equal(results[0]["value"]["values"], results[1]["value"]["values"])


def test_one_evaluator_serves_one_grading_after_another(graphs, tmp_path):
    _, exported = graphs
    evaluator = Evaluator(EvaluatorOptions(sandbox=not unavailable_reason(), readonly=(ROOT / "grader",),
                                           limits=Limits(memory_mb=2048), threads=1, timeout=60))
    try:
        first, _ = _run(tmp_path, [exported("linear")], evaluator=evaluator)
        pid = evaluator._proc.pid
        second, _ = _run(tmp_path, [exported("constant"), exported("linear")], evaluator=evaluator)
        assert evaluator._proc.pid == pid  # TensorFlow was imported once
        assert first[0]["ok"] and not second[0]["ok"] and second[1]["ok"]
        np.testing.assert_array_equal(first[0]["value"]["values"], second[1]["value"]["values"])
        assert evaluator.peak_memory_mb() is None or evaluator.peak_memory_mb() > 50
    finally:
        evaluator.close()
    assert evaluator._proc is None


def test_a_model_that_runs_too_long_is_stopped(graphs, tmp_path, monkeypatch):
    _, exported = graphs
    evaluator = Evaluator(EvaluatorOptions(sandbox=False, limits=Limits(memory_mb=2048), threads=1,
                                           timeout=60))
    try:
        _run(tmp_path, [exported("linear")], evaluator=evaluator)  # started and ready
        # The timer is what stops a hanging run; make it fire at once.
        monkeypatch.setattr(evaluator, "options", EvaluatorOptions(sandbox=False, timeout=0.001,
                                                                   limits=Limits(memory_mb=2048)))
        (result,), _ = _run(tmp_path, [exported("linear")], evaluator=evaluator)
        assert not result["ok"] and "took longer than" in result["error"], result
        (again,), _ = _run(tmp_path, [exported("linear")], evaluator=evaluator)
        assert not again["ok"] and "took longer than" in again["error"]  # the restarted process too
    finally:
        evaluator.close()


@pytest.mark.skipif(bool(unavailable_reason()), reason="bubblewrap is not available")
def test_the_sandboxed_evaluator_sees_no_data_and_no_harness_files(graphs, tmp_path):
    # The sandbox is checked from the inside: the evaluator runs with the same command line, with
    # a probe instead of its main loop (only the grader's code and Python are there to read).
    import json
    import os

    from grader.run.sandbox import bwrap_argv

    work = tmp_path / "work"
    work.mkdir()
    os.chmod(work, 0o755)
    argv = bwrap_argv(workdir=work, ipc_dir=None, readonly=[ROOT / "grader"],
                      env={"PYTHONPATH": str(ROOT)})
    probe = ("import os, json; print(json.dumps({p: os.path.exists(p) for p in "
             f"{[str(ROOT / 'reference'), str(ROOT / 'submissions'), str(ROOT / 'grader'), str(ROOT / 'tests'), '/etc/shadow']!r}}}))")
    done = subprocess.run(argv + [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    seen = json.loads(done.stdout)
    assert seen[str(ROOT / "grader")] and not seen[str(ROOT / "reference")]
    assert not seen[str(ROOT / "submissions")] and not seen[str(ROOT / "tests")] and not seen["/etc/shadow"]
