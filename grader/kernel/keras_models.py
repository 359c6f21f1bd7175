"""Keras models in the evaluator: checked, loaded without running a notebook's code, run, described.

The agent in the learner's kernel exports a Keras model
(:func:`grader.kernel.tfsetup.export_keras`): a Keras 3 model as a ``.keras``
file (a zip of ``config.json``, the architecture as JSON, and
``model.weights.h5``), a tf-keras (Keras 2) model as a SavedModel (a
TensorFlow graph with its variables, zipped).  The evaluator
(:mod:`grader.kernel.evaluator_server`) never runs Python code of the
notebook, so:

* a ``.keras`` file is read member by member (only ``config.json``,
  ``metadata.json`` and the weights, sizes bounded); every object its config
  names must be a Keras built-in on an allow-list: a ``Lambda`` layer (which
  carries Python bytecode), a layer, model, activation or function class of
  the notebook's own, and layers that read files (``TFSMLayer``) are refused
  before Keras sees the file.  The checked config is written to a fresh file
  with the weights and loaded with ``safe_mode=True`` and ``compile=False``
  (the training configuration, which may name the notebook's own loss, is
  never read);
* a SavedModel is unpacked (regular files only, no path outside its folder,
  sizes bounded); every operation of its graph and function library is
  checked against the frozen graphs' blocklist
  (:func:`grader.kernel.evaluator_server.forbidden_ops`) before it is loaded,
  with only TensorFlow's own variable and checkpoint machinery allowed; its
  serving signature is then frozen into a graph (variables made constants),
  which gets the frozen graphs' whole check (blocklist, output depends on the
  input, no other placeholder) and runs the way a frozen graph does.

:func:`describe` gives the architecture the harness's rules read
(:mod:`grader.judge.architecture`), taken from the model loaded here, never
from the kernel.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

_MAX_MEMBER_BYTES = 1024 * 1024 * 1024  # one file of a saved model, uncompressed
_MAX_TOTAL_BYTES = 1024 * 1024 * 1024
_MAX_MEMBERS = 64
_MAX_RATIO = 200                        # uncompressed / compressed: beyond it, a zip bomb
_BATCH = 2500

KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz")

# Layers a graded model may be made of: Keras's own, none of which runs code of its config or
# reads a file when loaded.  (Lambda runs its bytecode; TFSMLayer loads a SavedModel from a path;
# TorchModuleWrapper and JaxLayer hold other frameworks' code.)
LAYERS = frozenset({
    "InputLayer", "Dense", "EinsumDense", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout",
    "GaussianNoise", "ActivityRegularization", "Identity", "Activation", "ReLU", "Softmax", "LeakyReLU",
    "ELU", "PReLU", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "Rescaling", "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D",
    "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D", "Conv1DTranspose", "Conv2DTranspose",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Add",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Embedding",
    "SimpleRNN", "LSTM", "GRU", "Bidirectional", "SimpleRNNCell", "LSTMCell", "GRUCell",
    "UpSampling1D", "UpSampling2D"})
MODELS = frozenset({"Sequential", "Functional", "Model"})
# Keras modules whose built-in classes only hold numbers (initializers, regularizers, ...).
_DATA_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints", "keras.optimizers",
                 "keras.losses", "keras.metrics", "keras.dtype_policies", "keras.src.dtype_policies")
_DATA_CLASSES = frozenset({"DTypePolicy", "FloatDTypePolicy"})
# Serialisation markers of Keras's format that hold data (numbers, text, tensor links).
_MARKERS = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__",
                      "__slice__"})

# TensorFlow's own variable and checkpoint operations, present in every SavedModel (its saver and
# its restore functions); allowed in the SavedModel before it is loaded, never in the frozen graph.
SAVER_OPS = frozenset({"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "SaveV2", "RestoreV2",
                       "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "StaticRegexFullMatch",
                       "DisableCopyOnRead", "DestroyResourceOp"})


class Refused(Exception):
    """The saved model is not one the evaluator loads; the message says why and what to do."""


# --- a .keras file ---------------------------------------------------------------------------

def _members(blob: bytes, *, allowed=None) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name, each checked: a plain name, a bounded size (no zip bomb)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused(f"the saved model is not a readable archive ({exc})") from None
    if len(infos) > _MAX_MEMBERS:
        raise Refused(f"the saved model holds {len(infos)} files, more than the grader reads")
    total, found = 0, {}
    for info in infos:
        name = info.filename
        if info.is_dir():
            continue
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
            raise Refused(f"the saved model holds a file with the path {name!r}, outside its folder")
        if allowed is not None and name not in allowed:
            raise Refused(f"the saved model holds {name!r}; a graded .keras file holds only "
                          f"{', '.join(allowed[:3])} (models with assets, such as lookup layers, "
                          f"are not graded)")
        if (info.file_size > _MAX_MEMBER_BYTES
                or info.file_size > _MAX_RATIO * max(info.compress_size, 1024)):
            raise Refused(f"the saved model's {name} unpacks to {info.file_size / 2**20:.0f} MB, more "
                          f"than the grader reads")
        total += info.file_size
        found[name] = info
    if total > _MAX_TOTAL_BYTES:
        raise Refused("the saved model unpacks to more than the grader reads")
    return found


def _read(blob: bytes, info: zipfile.ZipInfo) -> bytes:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive, archive.open(info) as handle:
        data = handle.read(info.file_size + 1)
    if len(data) > info.file_size:  # the header lied about the size
        raise Refused(f"the saved model's {info.filename} is larger than its archive says")
    return data


def check_config(config) -> None:
    """Raise :class:`Refused` unless every object the model's config names is an allowed built-in."""
    _check_node(config, path="")


def _check_node(node, *, path: str) -> None:
    if isinstance(node, list):
        for item in node:
            _check_node(item, path=path)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        path = _check_object(node, path=path)
    for key, value in node.items():
        if key == "compile_config":  # the training set-up: never deserialised (compile=False)
            continue
        _check_node(value, path=path)


def _check_object(node: dict, *, path: str) -> str:
    name = node.get("class_name")
    module = node.get("module")
    registered = node.get("registered_name")
    layer_name = (node.get("config") or {}).get("name") if isinstance(node.get("config"), dict) else None
    where = (f"{path} > {layer_name}" if path else str(layer_name)) if layer_name else (path or "the model")
    if not isinstance(name, str):
        raise Refused(f"the model's config names an object without a class ({where})")
    if name == "__lambda__" or name == "Lambda":
        raise Refused(
            f"the model has a Lambda layer ({where}): loading it would run its Python code, and the "
            f"grader runs no code of a notebook outside the kernel. Write the model with Keras's own "
            f"layers (for example Rescaling, Flatten, Dense, Activation)")
    if name.startswith("__") and name.endswith("__"):
        if name in _MARKERS:
            return where
        raise Refused(f"the model's config holds a {name} object ({where}), which the grader does not load")
    keras_module = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    if not keras_module or registered not in (None, name):
        shown = f"{module}.{name}" if module else name
        raise Refused(
            f"the model uses {shown} ({where}), a class or function of its own: loading it would run "
            f"the notebook's Python code, which the grader does not do outside the kernel. A graded "
            f"model is made of Keras's built-in layers (keras.Sequential([...]) or "
            f"keras.Model(inputs, outputs)), not of subclasses of keras.Model or keras.layers.Layer")
    if module.startswith(_DATA_MODULES) or name in _DATA_CLASSES or name in MODELS:
        return where
    if module in ("keras.layers",) or module.startswith("keras.src.layers"):
        if name in LAYERS:
            return where
    raise Refused(f"the model uses the {name} layer ({where}), which the grader does not load: a "
                  f"graded model is made of common Keras layers (Dense, Conv2D, Flatten, Dropout, ...)")


def unpack_keras(blob: bytes, folder: str) -> tuple[str, dict]:
    """Check a .keras file and write the checked parts to ``folder/model.keras``: (path, config)."""
    found = _members(blob, allowed=KERAS_MEMBERS)
    if "config.json" not in found:
        raise Refused("the saved model has no config.json: it is not a .keras file")
    weights = [name for name in ("model.weights.h5", "model.weights.npz") if name in found]
    if not weights:
        raise Refused("the saved model has no weights")
    try:
        config = json.loads(_read(blob, found["config.json"]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"the saved model's config.json is not JSON ({exc})") from None
    if not isinstance(config, dict):
        raise Refused("the saved model's config.json is not a model's config")
    config.pop("compile_config", None)
    check_config(config)
    path = os.path.join(folder, "model.keras")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", json.dumps(config))
        metadata = (_read(blob, found["metadata.json"]) if "metadata.json" in found
                    else b'{"keras_version": "3"}')
        archive.writestr("metadata.json", metadata)
        archive.writestr(weights[0], _read(blob, found[weights[0]]))
    return path, config


def load_keras(blob: bytes, folder: str):
    """The Keras 3 model of a checked .keras file."""
    path, _ = unpack_keras(blob, folder)
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a config it cannot build
        raise Refused(f"the saved model cannot be loaded: {type(exc).__name__}: {str(exc)[:300]}") from None


def _shape_dims(shape) -> list:
    return [None if d is None else int(d) for d in list(shape)[1:]]


def describe(model) -> dict:
    """The loaded Keras model's architecture: layers (type, units, activation, params), shapes."""
    layers = []
    for layer in model.layers:
        activation = getattr(layer, "activation", None)
        units = getattr(layer, "units", None)
        if units is None:
            units = getattr(layer, "filters", None)
        layers.append({
            "type": type(layer).__name__,
            "units": int(units) if isinstance(units, int) else None,
            "activation": getattr(activation, "__name__", None) if activation is not None else None,
            "params": int(layer.count_params()) if getattr(layer, "built", False) else 0,
        })
    return {"layers": layers, "params": int(model.count_params()),
            "input_shape": _shape_dims(_single(model.input_shape, "inputs")),
            "output_shape": _shape_dims(_single(model.output_shape, "outputs"))}


def _single(shape, what: str):
    nested = isinstance(shape, tuple) and shape and isinstance(shape[0], (tuple, list))
    if isinstance(shape, list) or nested:
        raise Refused(f"the model has several {what}; a graded model takes the images and gives one "
                      f"output")
    return shape


def fit(inputs, dims: list):
    """The inputs reshaped to the model's input (images flattened, or given a channel), float32."""
    import numpy as np

    if dims and None not in dims:
        size = int(np.prod(dims))
        if size != int(np.prod(inputs.shape[1:])):
            raise Refused(f"the model takes inputs of shape {tuple(dims)}, which does not fit the "
                          f"grader's inputs of shape {tuple(inputs.shape[1:])}")
        inputs = inputs.reshape((len(inputs), *dims))
    elif dims and len(dims) != inputs.ndim - 1:
        raise Refused(f"the model takes inputs of shape {tuple(dims)}, which does not fit the "
                      f"grader's inputs of shape {tuple(inputs.shape[1:])}")
    return np.ascontiguousarray(inputs, dtype=np.float32)


def run_keras(model, runs: dict) -> dict:
    """The model's outputs on each named array of inputs, in batches, in inference mode."""
    import numpy as np

    dims = _shape_dims(_single(model.input_shape, "inputs"))
    results = {}
    for name, inputs in runs.items():
        x = fit(inputs, dims)
        chunks = []
        for start in range(0, len(x), _BATCH):
            try:
                chunk = model(x[start:start + _BATCH], training=False)
            except Exception as exc:  # a model built by Keras can still fail on odd shapes
                raise Refused(f"running the model failed: {type(exc).__name__}: {str(exc)[:300]}") from None
            if isinstance(chunk, (list, tuple, dict)):
                raise Refused("the model gives several outputs; a graded model gives one")
            chunk = np.asarray(chunk)
            if chunk.shape[:1] != (len(x[start:start + _BATCH]),):
                raise Refused(f"the model does not give one row per input (got shape {list(chunk.shape)})")
            chunks.append(chunk)
        if not chunks:
            raise Refused("the split has no rows")
        results[name] = np.concatenate(chunks)
    return results


# --- a SavedModel (tf-keras) -------------------------------------------------------------------

def unpack_savedmodel(blob: bytes, folder: str) -> str:
    """Write a zipped SavedModel's files under ``folder/savedmodel`` (each checked); its path."""
    found = _members(blob)
    if "saved_model.pb" not in found:
        raise Refused("the saved model has no saved_model.pb: it is not a SavedModel")
    root = os.path.join(folder, "savedmodel")
    for name, info in found.items():
        target = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(_read(blob, info))
    return root


def check_savedmodel_graph(meta_graph, forbidden_ops) -> None:
    """Refuse a SavedModel whose graph or functions hold an operation frozen graphs may not, apart
    from TensorFlow's own variable and checkpoint machinery (its saver)."""
    forbidden = [op for op in forbidden_ops(meta_graph.graph_def) if op not in SAVER_OPS]
    if forbidden:
        python = [op for op in forbidden if "PyFunc" in op]
        raise Refused(
            (f"the model computes with Python code inside its graph ({', '.join(python)}, from "
             f"tf.py_function or tf.numpy_function in a layer); " if python else
             f"the model uses operations the grader does not run ({', '.join(forbidden[:5])}); ")
            + "a graded model is made of TensorFlow operations on its input only")


def savedmodel_architecture(root: str, loaded, signature) -> dict:
    """The architecture of a tf-keras SavedModel: layers from the metadata Keras writes beside the
    graph (``keras_metadata.pb``, data only), parameters counted from its variables, shapes from
    its serving signature."""
    import numpy as np

    layers = []
    metadata_path = os.path.join(root, "keras_metadata.pb")
    if os.path.isfile(metadata_path):
        try:
            from tf_keras.protobuf import saved_metadata_pb2

            metadata = saved_metadata_pb2.SavedMetadata()
            with open(metadata_path, "rb") as handle:
                metadata.ParseFromString(handle.read())
            root_node = next((n for n in metadata.nodes if n.node_path == "root"), None)
            config = json.loads(root_node.metadata).get("config", {}) if root_node is not None else {}
        except Exception:  # unreadable metadata: no layers, and the rules say so
            config = {}
        for layer in config.get("layers") or []:
            inner = layer.get("config") or {}
            units = inner.get("units", inner.get("filters"))
            activation = inner.get("activation")
            layers.append({"type": str(layer.get("class_name")),
                           "units": int(units) if isinstance(units, int) else None,
                           "activation": activation if isinstance(activation, str) else None,
                           "params": None})
    variables = list(getattr(loaded, "variables", []) or [])
    params = int(sum(int(np.prod(v.shape)) for v in variables))
    spec = next(iter(signature.structured_input_signature[1].values()))
    output = next(iter(signature.structured_outputs.values()))
    return {"layers": layers, "params": params,
            "input_shape": [None if d is None else int(d) for d in spec.shape.as_list()[1:]],
            "output_shape": [None if d is None else int(d) for d in output.shape.as_list()[1:]]}


def freeze_savedmodel(root: str, forbidden_ops):
    """Check, load and freeze a SavedModel's serving signature: (graph_def, input, output, architecture)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    saved = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(root, "saved_model.pb"), "rb") as handle:
            saved.ParseFromString(handle.read())
    except Exception as exc:  # protobuf's DecodeError and friends
        raise Refused(f"the saved model's graph is not readable ({exc})") from None
    if len(saved.meta_graphs) != 1:
        raise Refused("the saved model does not hold exactly one graph")
    check_savedmodel_graph(saved.meta_graphs[0], forbidden_ops)
    try:
        loaded = tf.saved_model.load(root)
        signature = loaded.signatures["serving_default"]
    except KeyError:
        raise Refused("the saved model has no serving signature (save it with model.save)") from None
    except Exception as exc:
        raise Refused(f"the saved model cannot be loaded: {type(exc).__name__}: {str(exc)[:300]}") from None
    inputs = signature.structured_input_signature[1]
    if signature.structured_input_signature[0] or len(inputs) != 1 or len(signature.structured_outputs) != 1:
        raise Refused("the model must take one input (the images) and give one output")
    try:
        frozen = convert_variables_to_constants_v2(signature)
    except Exception as exc:
        raise Refused(f"the model cannot be frozen for grading: {type(exc).__name__}: "
                      f"{str(exc)[:300]}") from None
    graph_def = frozen.graph.as_graph_def()
    architecture = savedmodel_architecture(root, loaded, signature)
    return graph_def, frozen.inputs[0].name, frozen.outputs[0].name, architecture


def evaluate_model(blob: bytes, fmt: str, runs: dict, *, run_graph, forbidden_ops) -> tuple[dict, dict]:
    """Load a saved Keras model (``fmt`` keras or savedmodel), run it on ``runs``: (outputs, architecture).

    ``run_graph(graph_def, input, output, runs)`` runs a frozen graph with its checks, and
    ``forbidden_ops(graph_def)`` lists its operations on the blocklist (both from the evaluator).
    """
    with tempfile.TemporaryDirectory(prefix="grader-model-") as folder:
        if fmt == "keras":
            model = load_keras(blob, folder)
            try:
                architecture = describe(model)
                return run_keras(model, runs), architecture
            finally:
                del model
        if fmt == "savedmodel":
            root = unpack_savedmodel(blob, folder)
            graph_def, input_name, output_name, architecture = freeze_savedmodel(root, forbidden_ops)
            return run_graph(graph_def, input_name, output_name, runs), architecture
    raise Refused(f"unknown model format {fmt!r}")
