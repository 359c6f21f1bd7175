"""The harness's agent inside a learner's kernel.

The harness installs it with a silent execute request before the first cell
(:func:`install`) and, after each graded cell, asks it with a silent execute
request whose ``user_expressions`` call :func:`after_cell`.  The answer is
typed JSON (never pickle), returned in the execute *reply* of the harness's
own request, so nothing the notebook prints can pose as a measurement.

Everything here runs in the learner's process and could be monkeypatched by
the learner.  So for TensorFlow models it measures nothing: it exports the
model (a frozen graph; a Keras model as a .keras file or a SavedModel), which
the harness runs in a separate process (the evaluator) on inputs the kernel
never sees.  What is still read here - static
shapes, arrays, and the outputs of plain Python functions (which cannot leave
their process) - the harness treats as the learner's word about their
objects, and every metric is computed against labels that never enter the
kernel.
"""
from __future__ import annotations

import base64
import json
import random
import sys
import traceback

_STATE: dict = {"active": False, "answers": {}, "submits": [], "data": {}, "config": {}}


class _Payload:
    """A value whose text/plain representation is its JSON (IPython formats it with repr)."""

    __slots__ = ("text",)

    def __init__(self, data):
        self.text = json.dumps(data, allow_nan=True)

    def __repr__(self) -> str:
        return self.text


# --- the contract with the course helpers (grading.py, preprocessed_mnist.py) ----------------

def active() -> bool:
    """True while the harness is grading this kernel."""
    return _STATE["active"]


def record_answer(part: str, value, text: str) -> None:
    """Record what the notebook passed to ``Grader.set_answer`` (a claim, not a grade)."""
    _STATE["answers"][str(part)] = {"value": _json_safe(value), "text": str(text)}


def record_submit(email: str) -> None:
    """Record that the notebook called ``Grader.submit``; nothing is posted during grading."""
    _STATE["submits"].append(str(email))


def data_path(name: str):
    """Path of the data file ``name`` that the harness provides, or None."""
    return _STATE["data"].get(name)


# --- called by the harness ----------------------------------------------------------------------

def install(config_json: str) -> None:
    """Activate grading mode: seeds, TensorFlow preparation, data paths, part specs."""
    config = json.loads(config_json)
    _STATE.update(active=True, config=config, data=dict(config.get("data", {})),
                  answers={}, submits=[])
    seed = int(config.get("seed", 0))
    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    shell = _shell()
    if shell is not None:
        from . import colab

        colab.install(shell, tf1_compat=bool(config.get("tf1_compat")))
    if config.get("framework") == "tensorflow":
        from . import tfsetup

        tfsetup.prepare(seed=seed, tf1_compat=bool(config.get("tf1_compat")),
                        threads=config.get("threads"), keras=config.get("keras"))


def after_cell(part_ids) -> _Payload:
    """Measure the given parts now, and return them with the claims recorded so far."""
    measurements = {}
    _STATE["exported"] = {}  # a model two parts of this cell measure is saved once
    for part_id in part_ids:
        spec = _STATE["config"].get("parts", {}).get(part_id)
        if spec is None:
            measurements[part_id] = {"ok": False, "error": f"unknown part {part_id!r}"}
            continue
        try:
            measurements[part_id] = {"ok": True, "value": _measure(spec)}
        except _Unmeasurable as exc:
            measurements[part_id] = {"ok": False, "error": str(exc)}
        except Exception as exc:  # the learner's objects can fail in any way
            measurements[part_id] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {_cause(exc)}".strip(),
                "traceback": "".join(traceback.format_exception(exc)[-3:]),
            }
    return _Payload({**_claims(), "measurements": measurements})


def _cause(exc: BaseException) -> str:
    """The exception's message; for TensorFlow's, the line that names the cause."""
    from .errortext import error_cause, is_tensorflow_message

    text = str(exc)
    return error_cause(text) if is_tensorflow_message(text) else text


def report() -> _Payload:
    """The claims, submits and skipped artefacts recorded so far."""
    return _Payload({**_claims(), "measurements": {}})


def _claims() -> dict:
    from . import colab

    return {"answers": _STATE["answers"], "submits": _STATE["submits"], "skipped": colab.skipped()}


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - kernels always have IPython
        return None
    return get_ipython()


# --- measuring ----------------------------------------------------------------------------------

class _Unmeasurable(Exception):
    """The learner's objects cannot be measured; the message says why and what to fix."""


def _namespace() -> dict:
    shell = _shell()
    if shell is not None:
        return shell.user_ns
    main = sys.modules.get("__main__")
    return vars(main) if main else {}


def _lookup(name: str):
    namespace = _namespace()
    if name not in namespace:
        raise _Unmeasurable(f"name {name!r} is not defined in the notebook when this cell has run")
    if namespace[name] is None:
        raise _Unmeasurable(f"{name} is still None: write the code that defines it "
                            f"(the ### YOUR CODE HERE ### gap)")
    return namespace[name]


# What the agent measures for each part kind: kind -> function(part spec) -> JSON-safe value.
# The harness's side of each kind (what it compares the value with) is grader/kinds.py.
_MEASURERS: dict = {}


def register_measurer(kind: str, measure) -> None:
    """Say how parts of ``kind`` are measured in the kernel."""
    _MEASURERS[kind] = measure


def _measure(spec: dict):
    measure = _MEASURERS.get(spec["kind"])
    if measure is None:
        raise _Unmeasurable(f"the agent cannot measure parts of kind {spec['kind']!r}")
    return measure(spec)


def _measure_shapes(spec: dict):
    """Static shapes of the named objects (and of the extra ones, when defined)."""
    return {"shapes": [_shape(name, _lookup(name)) for name in spec["objects"]],
            "extra": [_shape_or_none(name) for name in spec.get("extra_objects", [])]}


def _measure_graph(spec: dict):
    """The model behind the graph tensor ``output``, exported as a frozen graph.

    Nothing is run here: the harness runs the exported graph in the evaluator
    (:mod:`grader.kernel.evaluator_server`), a separate process that holds the inputs
    and the integrity check's shuffle and noise, none of which enter the kernel.
    """
    from . import tfsetup

    exported = tfsetup.export_graph(
        output_name=spec["output"], output=_lookup(spec["output"]),
        input_name=spec["input"], placeholder=_lookup(spec["input"]),
        session=_namespace().get(spec.get("session") or ""), session_name=spec.get("session") or "",
        unmeasurable=_Unmeasurable)
    graph = exported.pop("graph")
    if len(graph) > _MAX_GRAPH_BYTES:
        raise _Unmeasurable(f"the model behind {spec['output']} is {len(graph) / 2**20:.0f} MB, more "
                            f"than the {_MAX_GRAPH_BYTES / 2**20:.0f} MB the grader reads")
    return {**exported, "graph": base64.b64encode(graph).decode("ascii")}


_MAX_GRAPH_BYTES = 256 * 1024 * 1024


def _measure_model(spec: dict):
    """The Keras model ``object``, exported as a .keras file (Keras 3) or a SavedModel (tf-keras).

    Nothing is run here: the evaluator loads the model outside the kernel, refusing Lambda
    layers and custom classes, and runs it on the harness's inputs
    (:mod:`grader.kernel.keras_models`).
    """
    from . import tfsetup

    name = spec["object"]
    cached = _STATE.setdefault("exported", {})
    if name not in cached:
        exported = tfsetup.export_keras(name=name, model=_lookup(name), unmeasurable=_Unmeasurable)
        cached[name] = {**exported, "model": base64.b64encode(exported["model"]).decode("ascii")}
        return cached[name]
    return {**cached[name], "export_s": 0.0}


def _measure_array(spec: dict):
    """The learner's array itself; the harness compares it with the expected one."""
    name = spec["object"]
    return _encode(_numeric(_lookup(name), name))


def _measure_function(spec: dict):
    """The learner's function called on the split's inputs: its array as stored (rows of numbers, or
    images such as (n, 28, 28)), float64, divided by the split's scale; never the labels."""
    name = spec["object"]
    function = _lookup(name)
    if not callable(function):
        raise _Unmeasurable(f"{name} is a {type(function).__name__}, not a function: define "
                            f"def {name}(X): ... that returns one result per row of X")
    inputs = _split_inputs(spec["split"])

    def call(x):
        try:
            # A copy: the learner's function must not change the inputs cached for later parts.
            outputs = function(x.copy())
        except Exception as exc:  # the learner's code can fail in any way
            raise _Unmeasurable(f"calling {name}(X) on the {len(x)} rows of the {spec['split']} "
                                f"split raised {type(exc).__name__}: {exc}".strip()) from None
        if outputs is None:
            raise _Unmeasurable(f"{name}(X) returned None: return one result per row of X")
        return _encode(_numeric(outputs, f"{name}(X)"))

    values = call(inputs)
    integrity = spec.get("integrity")
    if not integrity:
        return values
    from .integrity import integrity_inputs

    shuffled, noisy = integrity_inputs(inputs, integrity)
    return {"values": values, "shuffled": call(shuffled), "noisy": call(noisy), "integrity": integrity}


_MAX_ELEMENTS = 10_000_000  # a measurement travels as JSON in one reply


def _numeric(value, name: str):
    """``value`` as a numeric NumPy array, or why it is not one."""
    import numpy as np

    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            array = array.astype(np.float64)
    except (TypeError, ValueError):
        raise _Unmeasurable(f"{name} is a {type(value).__name__} that is not an array of numbers"
                            ) from None
    if array.size > _MAX_ELEMENTS:
        raise _Unmeasurable(f"{name} has {array.size} elements, more than the grader reads")
    return array


def _shape_or_none(name: str):
    try:
        return _shape(name, _lookup(name))
    except _Unmeasurable:
        return None


def _shape(name: str, obj):
    shape = getattr(obj, "shape", None)
    if shape is None:
        raise _Unmeasurable(f"{name} is a {type(obj).__name__}, not a tensor, variable or array")
    if hasattr(shape, "as_list"):  # a TensorShape
        if getattr(shape, "rank", 0) is None:
            raise _Unmeasurable(f"{name} has a shape of unknown rank; give it a static shape")
        return [None if d is None else int(d) for d in shape.as_list()]
    try:
        return [None if d is None else int(d) for d in shape]
    except TypeError:
        raise _Unmeasurable(f"{name}.shape is {shape!r}, not a shape") from None


_INPUTS: dict = {}


def _split_inputs(split_name: str):
    """The split's inputs (never its labels) for a function part, loaded once per kernel.

    Functions get float64, NumPy's default.  (TensorFlow models are fed by the
    evaluator, outside the kernel, from the harness's copy.)
    """
    if split_name in _INPUTS:
        return _INPUTS[split_name]
    import numpy as np

    split = _STATE["config"]["splits"][split_name]
    path = _STATE["data"][split["data"]]
    with np.load(path, allow_pickle=False) as archive:
        x = archive[split["x"]][split.get("start", 0):split.get("stop")]
    x = x.astype("float64") / np.float64(split.get("scale", 1.0))
    if len(_INPUTS) >= 2:  # two splits at most: drop the oldest
        _INPUTS.pop(next(iter(_INPUTS)))
    _INPUTS[split_name] = x
    return x


def _encode(values) -> dict:
    import numpy as np

    values = np.ascontiguousarray(values)
    if values.dtype.kind in "iub":
        values = values.astype("<i8")
    else:
        values = values.astype("<f8")
    return {"dtype": values.dtype.str, "shape": list(values.shape),
            "b64": base64.b64encode(values.tobytes()).decode("ascii")}


def _json_safe(value, depth: int = 0):
    """Turn an answer into JSON-safe Python: numbers, strings, lists; anything else as repr."""
    if depth > 4:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return _json_safe(item(), depth + 1)
        except Exception:
            return repr(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return _json_safe(tolist(), depth + 1)
        except Exception:
            return repr(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value[:100_000]]
    return repr(value)


# The built-in measurers, one call per kind (the harness's table is grader/kinds.py).
register_measurer("shapes", _measure_shapes)
register_measurer("loss", _measure_graph)
register_measurer("accuracy", _measure_graph)
register_measurer("array", _measure_array)
register_measurer("function", _measure_function)
register_measurer("model", _measure_model)
