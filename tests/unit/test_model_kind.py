"""The model kind without a kernel: saved models the evaluator refuses before Keras sees them,
architecture rules and their messages, metrics by name, claims, and the spec's checks.

The archives here are written by hand (zip + JSON), as a patched agent could send them: the
checks run before anything is loaded, so no Keras or TensorFlow is needed (this process, like
the harness, never imports them). Loading real models is tests/keras/test_model_kind.py.
"""
import io
import json
import types
import zipfile

import numpy as np
import pytest

from grader.exceptions import SpecError
from grader.judge import architecture
from grader.judge.extract import extract
from grader.judge.rules import claimed_number
from grader.judge.score import rejudge_part, score_part
from grader.kernel import keras_models
from grader.kernel.agent import _encode
from grader.kernel.evaluator_server import forbidden_ops
from grader.kernel.keras_models import Refused, unpack_keras, unpack_savedmodel
from grader.specs import Part, Threshold

DENSE = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
         "config": {"name": "dense", "units": 10, "activation": "softmax",
                    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                           "config": {"seed": None}, "registered_name": None},
                    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                              "registered_name": None}}}
INPUT = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "config": {"batch_shape": [None, 28, 28], "name": "input_layer"}}


def _model(*layers, compile_config=None) -> dict:
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "layers": [INPUT, *layers]}}
    if compile_config is not None:
        config["compile_config"] = compile_config
    return config


def _archive(config=None, members=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if config is not None:
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
            archive.writestr("model.weights.h5", b"\x89HDF weights")
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_keras_file_of_builtin_layers_is_rewritten_with_only_what_is_loaded(tmp_path):
    flatten = {"module": "keras.layers", "class_name": "Flatten", "registered_name": None,
               "config": {"name": "flatten"}}
    # The training set-up may name the notebook's own loss: it is never read (compile=False).
    config = _model(flatten, DENSE, compile_config={"loss": {"module": "__main__", "class_name": "my_loss"}})
    path, loaded = unpack_keras(_archive(config), str(tmp_path))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert "compile_config" not in json.loads(archive.read("config.json"))
    assert loaded["config"]["layers"][2]["class_name"] == "Dense"


LAMBDA = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
          "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                    "config": {"code": "4wEAAAAAAAAA", "defaults": None}}}}


@pytest.mark.parametrize("layer, message", [
    (LAMBDA, "the model has a Lambda layer (sequential > lambda): loading it would run its Python code"),
    ({"module": None, "class_name": "Answers", "registered_name": "Answers", "config": {"name": "answers"}},
     "the model uses Answers (sequential > answers), a class or function of its own"),
    ({"module": "os", "class_name": "system", "registered_name": None, "config": {}},
     "the model uses os.system (sequential), a class or function of its own"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": "keras_hub>Dense", "config": {}},
     "a class or function of its own"),
    ({"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
      "config": {"name": "sm", "filepath": "/etc"}},
     "the model uses the TFSMLayer layer (sequential > sm), which the grader does not load"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": None,
      "config": {"name": "d", "activation": {"module": "builtins", "class_name": "function",
                                              "config": "my_activation", "registered_name": "my_activation"}}},
     "the model uses builtins.function (sequential > d)"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": None,
      "config": {"name": "d", "units": {"class_name": "__python_object__", "config": {}}}},
     "holds a __python_object__ object"),
])
def test_code_and_classes_of_the_notebook_are_refused_before_loading(tmp_path, layer, message):
    with pytest.raises(Refused) as refused:
        unpack_keras(_archive(_model(layer)), str(tmp_path))
    assert message in str(refused.value)
    assert not (tmp_path / "model.keras").exists()


@pytest.mark.parametrize("members, message", [
    ({"assets/vocabulary.txt": b"a\nb"}, "holds 'assets/vocabulary.txt'; a graded .keras file holds only"),
    ({"../escape.h5": b"x"}, "a file with the path '../escape.h5', outside its folder"),
    ({"/etc/passwd": b"x"}, "a file with the path '/etc/passwd', outside its folder"),
    ({"model.weights.h5": b"\0" * (8 * 1024 * 1024)}, "model.weights.h5 unpacks to 8 MB, more than the grader reads"),
])
def test_archives_with_other_files_escaping_paths_or_bombs_are_refused(tmp_path, members, message):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writing:
        writing.writestr("config.json", json.dumps(_model(DENSE)))
        for name, data in members.items():
            writing.writestr(name, data)
    with pytest.raises(Refused) as refused:
        unpack_keras(archive.getvalue(), str(tmp_path))
    assert message in str(refused.value)
    assert not (tmp_path / "model.keras").exists()


def test_not_an_archive_no_config_and_no_savedmodel_graph_are_refused(tmp_path):
    with pytest.raises(Refused, match="not a readable archive"):
        unpack_keras(b"PK\x03\x04 not really", str(tmp_path))
    with pytest.raises(Refused, match="no config.json"):
        unpack_keras(_archive(members={"model.weights.h5": b"x"}), str(tmp_path))
    with pytest.raises(Refused, match="no saved_model.pb"):
        unpack_savedmodel(_archive(members={"variables/variables.index": b"x"}), str(tmp_path))
    with pytest.raises(Refused, match="outside its folder"):
        unpack_savedmodel(_archive(members={"saved_model.pb": b"", "variables/../../x": b"x"}), str(tmp_path))


def _graph(*ops, functions=()):
    node = lambda op: types.SimpleNamespace(op=op)  # noqa: E731 - the shape forbidden_ops reads
    library = types.SimpleNamespace(function=[types.SimpleNamespace(node_def=[node(op) for op in f])
                                              for f in functions])
    return types.SimpleNamespace(graph_def=types.SimpleNamespace(node=[node(op) for op in ops], library=library))


def test_a_savedmodel_may_hold_tensorflows_saver_but_no_python_nor_files():
    saver = ["VarHandleOp", "ReadVariableOp", "AssignVariableOp", "RestoreV2", "SaveV2", "MergeV2Checkpoints",
             "ShardedFilename", "StringJoin", "StaticRegexFullMatch"]
    keras_models.check_savedmodel_graph(_graph("Placeholder", "MatMul", functions=[saver]), forbidden_ops)
    with pytest.raises(Refused, match=r"Python code inside its graph \(EagerPyFunc"):
        keras_models.check_savedmodel_graph(_graph("Placeholder", functions=[saver + ["EagerPyFunc"]]),
                                            forbidden_ops)
    with pytest.raises(Refused, match=r"operations the grader does not run \(ReadFile, WriteFile\)"):
        keras_models.check_savedmodel_graph(_graph("ReadFile", "WriteFile"), forbidden_ops)


# --- architecture rules -------------------------------------------------------------------------

MLP = {"layers": [{"type": "Flatten", "units": None, "activation": None, "params": 0},
                  {"type": "Dense", "units": 256, "activation": "linear", "params": 200960},
                  {"type": "Activation", "units": None, "activation": "relu", "params": 0},
                  {"type": "Dropout", "units": None, "activation": None, "params": 0},
                  {"type": "Dense", "units": 10, "activation": "softmax", "params": 2570}],
       "params": 203530, "input_shape": [28, 28], "output_shape": [10]}
TWO_HIDDEN = Threshold(part="p", min=0.9, layers=("Dense", "Dense", "Dense"), units=(0, 0, 10),
                       activations=("relu | sigmoid", "relu | sigmoid", "softmax"),
                       input_shape="784 | 28 28", output_shape="10", min_params=10000, max_params=500000)


def test_activation_layers_fold_into_the_layer_before_and_passive_layers_are_not_counted():
    assert architecture.counted_layers(MLP) == [
        {"type": "Dense", "units": 256, "activation": "relu"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    assert architecture.summary(MLP) == "Dense(256, relu), Dense(10, softmax); 203,530 parameters"


def test_each_rule_says_what_differs():
    assert architecture.problems(TWO_HIDDEN, MLP) == [
        "the model has 2 layers (Dense(256, relu), Dense(10, softmax)), the part asks for 3 "
        "(Dense, Dense, Dense)"]
    rule = Threshold(part="p", layers=("Dense", "Conv2D"), units=(128, 10), activations=("tanh", "*"),
                     input_shape="784", output_shape="5", max_params=1000, min_params=None)
    assert architecture.problems(rule, MLP) == [
        "layer 2 is a Dense, the part asks for Conv2D",
        "layer 1 (Dense(256, relu)) has 256 units, the part asks for 128",
        "layer 1 (Dense(256, relu)) uses the relu activation, the part asks for tanh",
        "the model has 203,530 parameters, more than the 1,000 the part allows",
        "the model takes one input of shape (28, 28), the part asks for (784,)",
        "the model gives one output of shape (10,), the part asks for (5,)"]
    assert architecture.problems(Threshold(part="p", min_params=300000), MLP) == [
        "the model has 203,530 parameters, fewer than the 300,000 the part asks for at least"]
    assert architecture.problems(Threshold(part="p", min=0.5), MLP) == []  # no rule, nothing to check


@pytest.mark.parametrize("fields, message", [
    ({"layers": ("Dense",), "units": (10, 10)}, "2 units for 1 layers"),
    ({"activations": ("relu",)}, "activations needs layers"),
    ({"layers": ("Dense",), "units": (-1,)}, "units are whole numbers"),
    ({"min_params": 10, "max_params": 5}, "min_params is above max_params"),
    ({"input_shape": "28 x 28"}, "dimensions are whole numbers"),
])
def test_unusable_rules_are_spec_problems(fields, message):
    problems = architecture.rule_problems(Threshold(part="p", **fields))
    assert any(message in text for _, text in problems), problems


PART = Part(id="mlp", kind="model", object="mlp_model", split="validation", model="MLP")


def _measurement(values, arch=MLP):
    return {"ok": True, "cell": 7, "value": {"values": np.asarray(values), "architecture": arch}}


def test_a_model_part_judges_metric_and_architecture_and_keeps_what_rescore_needs():
    probabilities = np.eye(10)[[1, 2, 3, 4]] * 0.9 + 0.01
    labels = np.array([1, 2, 3, 0])
    extracted = extract(PART, _measurement(probabilities), {"value": 0.75, "text": "0.75"}, labels)
    assert extracted.measured == pytest.approx(0.75)
    result = score_part(PART, TWO_HIDDEN, extracted, graded_cell=7, cell_errors=[], failure="", failed_at=None)
    assert result.status == "failed" and result.points == 0
    assert result.message.startswith("The architecture of mlp_model is not the one asked for: the model has 2 layers")
    assert "The MLP model's validation accuracy is 0.7500, below the required 0.9" in result.message
    assert result.threshold == ">= 0.9; 3 layers Dense, Dense, Dense, 10,000-500,000 parameters, output 10"
    assert result.evidence == {"architecture": MLP}
    # Judged again from what the result keeps, under rules the model meets: it passes.
    rule = Threshold(part="mlp", min=0.7, layers=("Dense", "Dense"), units=(256, 10))
    again = rejudge_part(PART, rule, result, [])
    assert again.status == "passed" and again.points == 1


def test_model_outputs_that_ignore_the_inputs_or_are_not_probabilities_are_invalid():
    labels = np.array([0, 1, 2])
    constant = extract(PART, _measurement(np.tile([0.2, 0.5, 0.3], (3, 1))), None, labels)
    assert constant.invalid == ("mlp_model gives the same output for every input: its predictions do not "
                                "depend on the images it is given")
    loss_part = Part(id="l", kind="model", object="mlp_model", metric="cross_entropy")
    logits = extract(loss_part, _measurement([[2.0, -1.0, 0.5], [0.1, 3.0, 0.0], [1.0, 1.0, 4.0]]), None, labels)
    assert "are not a distribution per row" in logits.invalid and "softmax activation" in logits.invalid


def test_metrics_by_name():
    from grader.judge.metrics import METRICS

    labels = np.array([0, 1, 2, 3, 4, 5])
    scores = np.tile(np.arange(6.0), (6, 1))  # every row ranks class 5 first, then 4, 3, ...
    top5 = Part(id="t", kind="model", object="m", metric="top5_accuracy")
    assert extract(top5, _measurement(scores + np.arange(6)[:, None] * 1e-3), None, labels).measured == pytest.approx(5 / 6)
    regression = Part(id="r", kind="function", object="f", metric="mean_absolute_error")
    assert extract(regression, {"ok": True, "cell": 1, "value": _encode(np.array([1.0, 2.0, 4.0]))}, None,
                   np.array([1.0, 2.0, 3.0])).measured == pytest.approx(1 / 3)
    assert [name for name, m in METRICS.items() if m.higher_is_better] == ["accuracy", "top5_accuracy"]


@pytest.mark.parametrize("claim, number", [
    (0.93, 0.93), ("0.93", 0.93), ("np.float32(0.93)", 0.93), ("np.float64(0.2399578094482422)", 0.2399578094482422),
    ("tensor(0.9300)", 0.93), ("array(0.93, dtype=float32)", 0.93),
    ("<tf.Tensor: shape=(), dtype=float32, numpy=0.93>", 0.93), ("about 0.93", None), (True, None),
])
def test_a_claim_is_the_number_it_shows(claim, number):
    assert claimed_number(claim) == number


# --- specs ---------------------------------------------------------------------------------------

def _spec(tmp_path, parts: str, kernel: str = "", thresholds: str | None = ""):
    from grader.assignments import load_assignment

    folder, reference = tmp_path / "assignments" / "m", tmp_path / "reference" / "m"
    folder.mkdir(parents=True)
    reference.mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        f'id = "m"\n[kernel]\nframework = "tensorflow"\n{kernel}\n[splits.validation]\ndata = "d"\nx = "x"\n'
        f'y = "y"\n[data.d]\nfile = "d.npz"\n{parts}')
    if thresholds is not None:
        (reference / "thresholds.toml").write_text(thresholds)
    return load_assignment(folder)


def test_spec_checks_of_the_model_kind(tmp_path):
    with pytest.raises(SpecError, match=r"parts\[0\].object: object is the bare name of a variable of the "
                                        r"notebook, not 'model.predict': name the variable"):
        _spec(tmp_path / "a", '[[parts]]\nid = "p"\nkind = "model"\nobject = "model.predict"\n')
    with pytest.raises(SpecError, match=r"parts\[0\].metric: unknown metric 'f1'"):
        _spec(tmp_path / "b", '[[parts]]\nid = "p"\nkind = "model"\nobject = "m"\nmetric = "f1"\n')
    with pytest.raises(SpecError, match=r"kernel.keras: keras is 3 \(Keras 3\) or 2 \(tf-keras\), not 4"):
        _spec(tmp_path / "c", '[[parts]]\nid = "p"\nkind = "model"\nobject = "m"\n', kernel="keras = 4")
    # A new assignment may have no thresholds.toml yet: it loads, with no thresholds.
    assignment = _spec(tmp_path / "d", '[[parts]]\nid = "p"\nkind = "model"\nobject = "m"\n', thresholds=None)
    assert assignment.thresholds == () and assignment.thresholds_digest == ""


def test_architecture_rules_on_another_kind_are_a_threshold_problem():
    from grader.judge.kinds import threshold_problems

    part = Part(id="f", kind="function", object="predict")
    assert threshold_problems(part, Threshold(part="f", min=0.5, layers=("Dense",)))[0][0] == "layers"
    assert threshold_problems(Part(id="m", kind="model", object="m"), Threshold(part="m")) == [
        ("min", "a model threshold needs min or max (of the metric) or architecture rules")]


def test_the_kernel_gets_the_keras_of_its_assignment(tmp_path):
    from grader.assignments import load_assignment
    from grader.orchestrate import kernel_agent_config, kernel_env
    from grader.specs.model import effective_keras
    from tests.conftest import ROOT

    digits = load_assignment(ROOT / "assignments" / "mnist_digits")       # tf1_compat: tf-keras
    keras3 = load_assignment(ROOT / "assignments" / "mnist_keras")        # keras = 3
    assert kernel_env(digits, seed=0, workdir=tmp_path)["TF_USE_LEGACY_KERAS"] == "1"
    assert "TF_USE_LEGACY_KERAS" not in kernel_env(keras3, seed=0, workdir=tmp_path)
    assert effective_keras(digits.kernel, False) == 3  # --no-tf1-compat: Keras 3 unless keras is set
    config = kernel_agent_config(keras3, seed=0, tf1=False, data={}, integrity={}, threads=None)
    assert config["keras"] == 3


def test_the_notebooks_import_keras_gives_tf_keras_when_asked(monkeypatch):
    """[kernel] keras = 2: the notebook's `import keras` (and keras.x) is routed to tf_keras;
    a library's import is not. (Fake modules: the test process imports no TensorFlow.)"""
    import builtins
    import sys

    from grader.kernel import tfsetup

    fake, fake_layers, real = (types.ModuleType(n) for n in ("tf_keras", "tf_keras.layers", "keras"))
    fake.layers = fake_layers
    monkeypatch.setitem(sys.modules, "tf_keras", fake)
    monkeypatch.setitem(sys.modules, "tf_keras.layers", fake_layers)
    monkeypatch.setitem(sys.modules, "keras", real)
    monkeypatch.setattr(builtins, "__import__", builtins.__import__)
    tfsetup.install_keras_alias()
    notebook = {"__name__": "__main__"}
    assert builtins.__import__("keras", notebook) is fake
    assert builtins.__import__("keras.layers", notebook, None, ("Dense",)) is fake_layers
    assert builtins.__import__("keras", {"__name__": "some_library"}) is real
