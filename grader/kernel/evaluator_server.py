"""The evaluator: runs a learner's exported model on the harness's inputs, outside the kernel.

``python -m grader.kernel.evaluator_server`` (started by the harness through
:mod:`grader.kernel.launch`, sandboxed like a kernel but with nothing to
read: no data files, no submission).  After each graded cell the learner's
kernel exports the model as a frozen TensorFlow graph (variables turned into
constants, see :func:`grader.kernel.tfsetup.export_graph`; a Keras model as
a .keras file or a SavedModel, :func:`grader.kernel.tfsetup.export_keras`); the harness sends
it here with the inputs it chose, and this process runs it.  So nothing the
notebook does to its own process (monkeypatching NumPy, TensorFlow, the
grading agent) changes what is measured, the integrity check's shuffle and
noise never enter the kernel, and a graph that calls back into Python
(``tf.py_func``) or touches files cannot run here.

Protocol: frames (:mod:`grader.kernel.frames`) on stdin and on the original
stdout; anything printed (TensorFlow's chatter) goes to stderr.  Requests:

* ``{"op": "reset"}``: forget every input (a new grading begins; no reply);
* ``{"op": "inputs", "name": N, "array": META}`` + blob: keep an input array
  under name N (no reply);
* ``{"op": "evaluate", "input": T, "output": T, "on": [N, ...]}`` + the
  GraphDef's bytes: reply ``{"ok": true, "arrays": {N: META}, "seconds": S}``
  + blobs, or ``{"ok": false, "error": why}``;
* ``{"op": "evaluate", "format": "keras" | "savedmodel", "on": [N, ...]}`` +
  a saved Keras model's bytes (:mod:`grader.kernel.keras_models`): the same
  reply, with ``"architecture"``: the loaded model's layers and shapes.

The first frame out is ``{"ready": true}`` once TensorFlow is imported.
"""
from __future__ import annotations

import os
import sys
import time

from .errortext import error_cause
from .frames import FrameError, array_from, array_meta, encode_frame, read_frame

# Operations a graded model never needs and that would reach outside the computation: Python
# callbacks, files, checkpoints, datasets, summaries, printing to files, other processes; and
# state that could outlive one run (a frozen model has no variables, tables or queues), since
# the process runs one learner's model after another's.
_FORBIDDEN_PARTS = ("PyFunc", "File", "Reader", "Save", "Restore", "Dataset", "Iterator", "Summary",
                    "Checkpoint", "Print", "Rpc", "Send", "Recv", "Proto", "Load", "Remote",
                    "Collective", "ImmutableConst", "Socket", "Debug", "Variable", "VarHandle",
                    "Table", "Queue", "Barrier", "Accumulator", "Stack", "Mutex")
_BATCH = 2500


class Unmeasurable(Exception):
    """The exported model cannot be run; the message says why and what to fix."""


def forbidden_ops(graph_def) -> list[str]:
    """The operation types in ``graph_def`` (and its function library) that are not run here."""
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return sorted(t for t in types if any(part in t for part in _FORBIDDEN_PARTS))


def _node_name(reference: str) -> str:
    return reference.lstrip("^").split(":")[0]


def reachable(graph_def, output_node: str) -> set[str]:
    """Names of the nodes the output node depends on (itself included)."""
    inputs = {node.name: [_node_name(i) for i in node.input] for node in graph_def.node}
    seen, stack = set(), [output_node]
    while stack:
        name = stack.pop()
        if name in seen or name not in inputs:
            continue
        seen.add(name)
        stack.extend(inputs[name])
    return seen


def check_graph(graph_def, *, input_name: str, output_name: str) -> None:
    """Raise :class:`Unmeasurable` unless the graph is a model of its input that can run here."""
    forbidden = forbidden_ops(graph_def)
    if forbidden:
        python = [op for op in forbidden if "PyFunc" in op]
        raise Unmeasurable(
            (f"the model computes with Python code inside the graph ({', '.join(python)}, from "
             f"tf.py_func or tf.numpy_function); " if python else
             f"the model uses operations the grader does not run ({', '.join(forbidden[:5])}); ")
            + "a graded model must be made of TensorFlow operations on its input only")
    nodes = {node.name: node for node in graph_def.node}
    input_node, output_node = _node_name(input_name), _node_name(output_name)
    if output_node not in nodes:
        raise Unmeasurable(f"the exported model has no tensor {output_name!r}")
    needed = reachable(graph_def, output_node)
    if input_node not in needed:  # the export keeps only what the output depends on
        raise Unmeasurable("the output does not depend on the input placeholder: the model gives the "
                           "same answer whatever images it is fed (a constant is not a model)")
    if nodes[input_node].op not in ("Placeholder", "PlaceholderWithDefault"):
        raise Unmeasurable(f"the model's input {input_name!r} is not a placeholder")
    others = sorted(name for name in needed - {input_node} if nodes[name].op == "Placeholder")
    if others:
        raise Unmeasurable(
            f"running the model needs values for other placeholders besides the input "
            f"({', '.join(others[:3])}); give them defaults (tf.placeholder_with_default) so the "
            f"model runs on images alone")


def fit_inputs(inputs, placeholder):
    """Reshape the inputs to the placeholder's static shape (flattening images) and type."""
    import numpy as np

    shape = placeholder.shape
    if shape.rank is not None:
        dims = shape.as_list()
        if len(dims) != inputs.ndim:
            if len(dims) == 2:
                inputs = inputs.reshape(len(inputs), -1)
            else:
                inputs = inputs.reshape((len(inputs),) + tuple(-1 if d is None else d for d in dims[1:]))
        if any(d is not None and d != actual for d, actual in zip(dims[1:], inputs.shape[1:])):
            raise Unmeasurable(f"the input placeholder has shape {dims}, which does not fit inputs "
                               f"of shape {[None] + list(inputs.shape[1:])}")
    return np.asarray(inputs, dtype=placeholder.dtype.as_numpy_dtype)


def evaluate(graph_bytes: bytes, *, input_name: str, output_name: str, runs: dict, threads: int = 0) -> dict:
    """Run the output tensor of the serialized graph on each named array of inputs."""
    import tensorflow.compat.v1 as tf
    from google.protobuf.message import DecodeError

    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(graph_bytes)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise Unmeasurable(f"the exported model is not a TensorFlow graph ({exc})") from None
    return run_graph_def(graph_def, input_name=input_name, output_name=output_name, runs=runs,
                         threads=threads)


def run_graph_def(graph_def, *, input_name: str, output_name: str, runs: dict, threads: int = 0) -> dict:
    """Check a frozen graph (:func:`check_graph`) and run its output on each named array of inputs,
    in a fresh graph and session."""
    import numpy as np
    import tensorflow.compat.v1 as tf

    check_graph(graph_def, input_name=input_name, output_name=output_name)
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.import_graph_def(graph_def, name="")
        placeholder = graph.get_tensor_by_name(input_name)
        output = graph.get_tensor_by_name(output_name)
    except (ValueError, KeyError, TypeError) as exc:
        raise Unmeasurable(f"the exported model cannot be loaded: {error_cause(str(exc))}") from None
    config = tf.ConfigProto(intra_op_parallelism_threads=threads,
                            inter_op_parallelism_threads=min(2, threads) if threads else 0)
    results = {}
    with tf.Session(graph=graph, config=config) as session:
        for name, inputs in runs.items():
            x = fit_inputs(inputs, placeholder)
            chunks = []
            for start in range(0, len(x), _BATCH):
                rows = len(x[start:start + _BATCH])
                try:
                    chunk = np.asarray(session.run(output, {placeholder: x[start:start + _BATCH]}))
                except tf.errors.OpError as exc:
                    raise Unmeasurable(f"running the model failed: {error_cause(exc.message)}") from None
                if chunk.shape[:1] != (rows,):
                    raise Unmeasurable(f"the model does not give one row per input image (got shape "
                                       f"{list(chunk.shape)} for {rows} images)")
                chunks.append(chunk)
            if not chunks:
                raise Unmeasurable("the split has no rows")
            results[name] = np.concatenate(chunks)
    return results


def evaluate_keras(model_bytes: bytes, *, fmt: str, runs: dict, threads: int = 0) -> tuple[dict, dict]:
    """Load a saved Keras model without running code of the notebook, and run it on each named
    array of inputs: (outputs, architecture) (:mod:`grader.kernel.keras_models`)."""
    from . import keras_models

    def run_graph(graph_def, input_name, output_name, runs_):
        return run_graph_def(graph_def, input_name=input_name, output_name=output_name, runs=runs_,
                             threads=threads)

    try:
        return keras_models.evaluate_model(model_bytes, fmt, runs, run_graph=run_graph,
                                           forbidden_ops=forbidden_ops)
    except keras_models.Refused as exc:
        raise Unmeasurable(str(exc)) from None


def _serve(read_exactly, write) -> None:
    threads = int(os.environ.get("GRADER_EVALUATOR_THREADS") or 1)
    inputs: dict = {}
    while True:
        try:
            header, blobs = read_frame(read_exactly)
        except EOFError:
            return
        op = header.get("op")
        if op == "reset":
            inputs.clear()
        elif op == "inputs":
            inputs[str(header["name"])] = array_from(header["array"], blobs[0])
        elif op == "evaluate":
            try:
                missing = [n for n in header["on"] if n not in inputs]
                if missing:
                    raise FrameError(f"inputs {missing} were never sent")
                runs = {n: inputs[n] for n in header["on"]}
                fmt = str(header.get("format") or "graph")
                started = time.monotonic()
                if fmt == "graph":
                    results, architecture = evaluate(
                        blobs[0], input_name=str(header["input"]), output_name=str(header["output"]),
                        runs=runs, threads=threads), None
                else:
                    results, architecture = evaluate_keras(blobs[0], fmt=fmt, runs=runs, threads=threads)
            except Unmeasurable as exc:
                write(encode_frame({"ok": False, "error": str(exc)}))
                continue
            metas, payload = {}, []
            for name, values in results.items():
                meta, blob = array_meta(values.astype("<f8") if values.dtype.kind == "f" else values.astype("<i8"))
                metas[name] = meta
                payload.append(blob)
            reply = {"ok": True, "arrays": metas, "seconds": round(time.monotonic() - started, 3)}
            if architecture is not None:
                reply["architecture"] = architecture
            write(encode_frame(reply, payload))
        elif op == "quit":
            return
        else:
            write(encode_frame({"ok": False, "error": f"unknown request {op!r}"}))


def main() -> None:
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # print() and TensorFlow's chatter must not mix with the frames
    source = sys.stdin.buffer

    def read_exactly(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = source.read(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def write(frame: bytes) -> None:
        channel.write(frame)

    # The kernel's notebook is what the learner waits for: the evaluator yields the CPU to it.
    try:
        os.nice(5)
    except OSError:
        pass
    import tensorflow as tf  # the slow part, done before "ready"

    # Eager execution stays on (Keras 3 models need it); frozen graphs run in their own graph and
    # v1 session all the same.  Threads are set before any operation runs.
    threads = int(os.environ.get("GRADER_EVALUATOR_THREADS") or 1)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    write(encode_frame({"ready": True, "tensorflow": tf.__version__}))
    _serve(read_exactly, write)


if __name__ == "__main__":
    main()
