"""Architecture rules of ``model`` parts: the model the evaluator loaded against thresholds.toml.

The evaluator describes the model it loaded (never the kernel: a description
from the learner's process would be a claim) as JSON
(:func:`grader.kernel.keras_models.describe`)::

    {"layers": [{"type": "Flatten", "units": null, "activation": null, "params": 0}, ...],
     "params": 269322, "input_shape": [28, 28], "output_shape": [10]}

The rules count the layers that compute: InputLayer, reshaping, dropout and
noise layers are left out, and an activation layer right after a layer is
that layer's activation (``Dense(256)`` then ``Activation("relu")`` reads as
``Dense(256, activation="relu")``).  Each rule that does not hold gives one
sentence saying what differs and how; :func:`problems` returns them.
"""
from __future__ import annotations

from ..specs.model import Threshold

# Layers that only move, drop or perturb values: not counted by the rules.
PASSIVE = frozenset({
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout", "GaussianNoise",
    "ActivityRegularization", "Identity", "Rescaling", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
    "Cropping2D"})
# Layers that apply an activation: the activation of the layer before them.
ACTIVATION_LAYERS = {"Activation": None, "ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leaky_relu",
                     "ELU": "elu", "PReLU": "prelu"}


def has_rules(threshold: Threshold) -> bool:
    """Whether ``threshold`` holds any architecture rule."""
    return bool(threshold.layers or threshold.units or threshold.activations or threshold.input_shape
                or threshold.output_shape or threshold.min_params is not None
                or threshold.max_params is not None)


def counted_layers(architecture: dict) -> list[dict]:
    """The layers the rules count, each ``{"type", "units", "activation"}``, activations folded in."""
    counted: list[dict] = []
    for layer in architecture.get("layers") or []:
        kind = str(layer.get("type"))
        if kind in ACTIVATION_LAYERS:
            activation = ACTIVATION_LAYERS[kind] or str(layer.get("activation") or "linear")
            if counted and counted[-1]["activation"] in (None, "linear"):
                counted[-1]["activation"] = activation
                continue
            counted.append({"type": kind, "units": None, "activation": activation})
            continue
        if kind in PASSIVE:
            continue
        counted.append({"type": kind, "units": layer.get("units"),
                        "activation": layer.get("activation")})
    return counted


def layer_text(layer: dict) -> str:
    """``Dense(256, relu)``."""
    inside = [str(layer["units"])] if layer.get("units") is not None else []
    if layer.get("activation") not in (None, ""):
        inside.append(str(layer["activation"]))
    return f"{layer['type']}({', '.join(inside)})" if inside else str(layer["type"])


def summary(architecture: dict | None) -> str:
    """The model in one line: ``Dense(256, relu), Dense(10, softmax); 203,530 parameters``."""
    if not architecture:
        return ""
    layers = ", ".join(layer_text(layer) for layer in counted_layers(architecture)) or "no layers"
    params = architecture.get("params")
    return layers + (f"; {params:,} parameters" if isinstance(params, int) else "")


def _alternatives(text: str) -> list[str]:
    return [alternative.strip() for alternative in str(text).split("|") if alternative.strip()]


def _shape_alternatives(text: str) -> list[list[str]]:
    return [alternative.split() for alternative in _alternatives(text)]


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def problems(threshold: Threshold, architecture: dict | None) -> list[str]:
    """What differs between the model and the rules of ``threshold``: one sentence each."""
    if not has_rules(threshold):
        return []
    if not architecture:
        return ["the grader has no description of the model's layers to check its architecture against"]
    found: list[str] = []
    layers = counted_layers(architecture)
    listed = ", ".join(layer_text(layer) for layer in layers) or "none"
    if threshold.layers:
        expected = [_alternatives(text) for text in threshold.layers]
        wanted = ", ".join(" or ".join(alternatives) for alternatives in expected)
        if len(layers) != len(expected):
            found.append(f"the model has {len(layers)} layer{'s' if len(layers) != 1 else ''} "
                         f"({listed}), the part asks for {len(expected)} ({wanted})")
        else:
            for number, (layer, accepted) in enumerate(zip(layers, expected), start=1):
                if layer["type"] not in accepted:
                    found.append(f"layer {number} is a {layer['type']}, the part asks for "
                                 f"{' or '.join(accepted)}")
    same_count = len(layers) == len(threshold.layers) if threshold.layers else True
    if threshold.units and same_count and len(threshold.units) == len(layers):
        for number, (layer, units) in enumerate(zip(layers, threshold.units), start=1):
            if int(units) and layer.get("units") != int(units):
                has = f"{layer['units']} units" if layer.get("units") is not None else "no units"
                found.append(f"layer {number} ({layer_text(layer)}) has {has}, the part asks for "
                             f"{int(units)}")
    if threshold.activations and same_count and len(threshold.activations) == len(layers):
        for number, (layer, accepted) in enumerate(zip(layers, threshold.activations), start=1):
            alternatives = _alternatives(accepted)
            activation = layer.get("activation") or "linear"
            if "*" not in alternatives and activation not in alternatives:
                found.append(f"layer {number} ({layer_text(layer)}) uses the {activation} activation, the "
                             f"part asks for {' or '.join(alternatives)}")
    params = architecture.get("params")
    if isinstance(params, int):
        if threshold.min_params is not None and params < threshold.min_params:
            found.append(f"the model has {params:,} parameters, fewer than the {threshold.min_params:,} "
                         f"the part asks for at least")
        if threshold.max_params is not None and params > threshold.max_params:
            found.append(f"the model has {params:,} parameters, more than the {threshold.max_params:,} "
                         f"the part allows")
    for name, rule, where in (("input_shape", threshold.input_shape, "takes one input"),
                              ("output_shape", threshold.output_shape, "gives one output")):
        if not rule:
            continue
        actual = [str(d) for d in architecture.get(name) or []]
        accepted = _shape_alternatives(rule)
        if actual not in accepted:
            found.append(f"the model {where} of shape {_shape_text(actual)}, the part asks for "
                         + " or ".join(_shape_text(shape) for shape in accepted))
    return found


def rules_text(threshold: Threshold) -> str:
    """The architecture rules in a few words, for the threshold column: ``3 layers Dense, Dense, Dense``."""
    words = []
    if threshold.layers:
        words.append(f"{len(threshold.layers)} layer{'s' if len(threshold.layers) != 1 else ''} "
                     + ", ".join(" | ".join(_alternatives(text)) for text in threshold.layers))
    if threshold.min_params is not None or threshold.max_params is not None:
        low = f"{threshold.min_params:,}" if threshold.min_params is not None else "0"
        high = f"{threshold.max_params:,}" if threshold.max_params is not None else "any"
        words.append(f"{low}-{high} parameters")
    if threshold.output_shape:
        words.append(f"output {threshold.output_shape}")
    return ", ".join(words)


def rule_problems(threshold: Threshold) -> list[tuple[str, str]]:
    """What makes the architecture rules of a threshold unusable: (field, message) pairs."""
    found = []
    count = len(threshold.layers)
    for name in ("units", "activations"):
        values = getattr(threshold, name)
        if values and count and len(values) != count:
            found.append((name, f"{len(values)} {name} for {count} layers: give one per layer "
                                f"({'0' if name == 'units' else '*'} for any)"))
        if values and not count:
            found.append((name, f"{name} needs layers: the layer types they belong to"))
    if any(not isinstance(u, int) or isinstance(u, bool) or u < 0 for u in threshold.units):
        found.append(("units", "units are whole numbers, 0 for any"))
    if not all(isinstance(text, str) and _alternatives(text) for text in threshold.layers):
        found.append(("layers", "each layer is a type name such as \"Dense\" (alternatives with |)"))
    for name in ("min_params", "max_params"):
        value = getattr(threshold, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            found.append((name, "a whole number of parameters"))
    if (isinstance(threshold.min_params, int) and isinstance(threshold.max_params, int)
            and threshold.min_params > threshold.max_params):
        found.append(("min_params", "min_params is above max_params"))
    for name in ("input_shape", "output_shape"):
        text = getattr(threshold, name)
        if text and not all(all(d.isdigit() for d in shape) and shape for shape in _shape_alternatives(text)):
            found.append((name, "dimensions are whole numbers separated by spaces, alternatives by | "
                                "(e.g. \"784 | 28 28\")"))
    return found
