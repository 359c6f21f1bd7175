"""TensorFlow preparation and graph evaluation inside the learner's kernel.

Only imported in a kernel whose assignment declares ``framework =
"tensorflow"``; the harness process never imports this module.
"""
from __future__ import annotations

from .errortext import error_cause


_PREPARED: dict = {}


def prepare(*, seed: int, tf1_compat: bool, threads: int | None = None, keras: int | None = None) -> None:
    """Import TensorFlow, make every graph seeded, and optionally give TF1 to the notebook.

    ``keras``: 2 makes the notebook's ``import keras`` give tf-keras, as ``tf.keras`` does then
    (the harness sets ``TF_USE_LEGACY_KERAS=1`` in the kernel's environment); 3 leaves both Keras 3.
    """
    if _PREPARED:
        return
    import tensorflow as tf_root

    tf = tf_root.compat.v1
    if threads:
        tf_root.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf_root.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
    if tf1_compat:
        # The notebook's graph-mode code (placeholders, sessions) needs v2 behaviour off,
        # before any graph or eager context is used.
        tf.disable_v2_behavior()
    _seed_every_graph(seed)
    tf_root.random.set_seed(seed)
    if tf1_compat:
        from . import tf1

        tf1.install_import_alias()
        tf1.install_contrib()
    if keras == 2:
        install_keras_alias()  # after the TF1 alias: it wraps whatever import is in place
    _PREPARED.update(seed=seed, tf1_compat=tf1_compat, keras=keras)


def _seed_every_graph(seed: int) -> None:
    """Give every graph the same graph-level seed.

    ``reset_tf_session`` and ``tf.reset_default_graph`` create new graphs whose
    seed would otherwise be unset, and then initial weights differ between two
    gradings of the same notebook.  Patching the Graph constructor covers every
    way a graph is made (reset_default_graph, tf.Graph(), keras clear_session).
    """
    from tensorflow.python.framework import ops

    original_init = ops.Graph.__init__
    if getattr(original_init, "_grader_seeded", False):
        return

    def seeded_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.seed = seed

    seeded_init._grader_seeded = True
    ops.Graph.__init__ = seeded_init
    ops.get_default_graph().seed = seed


def export_graph(*, output_name, output, input_name, placeholder, session, session_name, unmeasurable):
    """The model from ``placeholder`` to ``output`` in the learner's session, as a frozen graph.

    Returns ``{"graph": bytes, "input": tensor name, "output": tensor name}``:
    the part of the graph ``output`` depends on, with every variable replaced
    by a constant holding its current value.  The harness runs it in the
    evaluator (:mod:`grader.kernel.evaluator_server`), never in this process.
    """
    import warnings

    import tensorflow.compat.v1 as tf

    for name, obj in ((output_name, output), (input_name, placeholder)):
        if not isinstance(obj, (tf.Tensor, tf.Variable)) or not hasattr(obj, "graph"):
            raise unmeasurable(
                f"{name} is a {type(obj).__name__}, not a TensorFlow graph tensor; keep {name} "
                f"the tensor your model computes so the grader can run it on its own inputs")
    if isinstance(session, tf.Session) or type(session).__name__ == "InteractiveSession":
        chosen, origin = session, f"the session {session_name!r}"
    else:
        chosen, origin = tf.get_default_session(), "the default session"
    if chosen is None:
        raise unmeasurable(f"no TensorFlow session to run {output_name}: create one "
                           f"(s = reset_tf_session()) and train the model in it")
    if getattr(chosen, "_closed", False):
        raise unmeasurable(f"{origin} is closed")
    stale = [name for name, obj in ((output_name, output), (input_name, placeholder))
             if obj.graph is not chosen.graph]
    if stale:
        # Name the object that is left over from a discarded graph, not just "a mismatch".
        which = " and ".join(stale)
        raise unmeasurable(
            f"{which} {'belong' if len(stale) > 1 else 'belongs'} to an older graph than {origin}: "
            f"the graph was reset (reset_tf_session()) after {which} "
            f"{'were' if len(stale) > 1 else 'was'} defined, or the cell defining "
            f"{'them' if len(stale) > 1 else 'it'} failed. Define {which} again after the reset "
            f"and train the model in the new session")
    if placeholder.op.type not in ("Placeholder", "PlaceholderWithDefault"):
        raise unmeasurable(f"{input_name} is a {placeholder.op.type} tensor, not a placeholder: "
                           f"define it with tf.placeholder so the grader can feed its own images")
    output_tensor = output.value() if isinstance(output, tf.Variable) else output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verbosity = tf.logging.get_verbosity()
            tf.logging.set_verbosity(tf.logging.ERROR)
            try:
                frozen = tf.graph_util.convert_variables_to_constants(
                    chosen, chosen.graph.as_graph_def(), [output_tensor.op.name])
            finally:
                tf.logging.set_verbosity(verbosity)
    except tf.errors.FailedPreconditionError as exc:
        cause = error_cause(exc.message)
        if "uninitiali" in cause:
            raise unmeasurable(f"reading the model's variables failed: {cause.rstrip('.')}. Run "
                               f"tf.global_variables_initializer() in {origin} after the model is "
                               f"defined, then train the model") from None
        raise unmeasurable(f"reading the model's variables failed: {cause} "
                           f"(were the variables initialised and trained in {origin}?)") from None
    except (tf.errors.OpError, ValueError, TypeError, KeyError, AssertionError) as exc:
        message = exc.message if isinstance(exc, tf.errors.OpError) else str(exc)
        raise unmeasurable(f"{output_name} cannot be exported for grading: "
                           f"{error_cause(message)}") from None
    return {"graph": frozen.SerializeToString(), "input": placeholder.name,
            "output": output_tensor.name}



# --- Keras: which one the notebook gets, and a model's export ---------------------------------

_BUILTIN_IMPORT = None


def _keras_import(name, globals=None, locals=None, fromlist=(), level=0):
    """``import keras`` (and ``keras.x``) in the notebook's own code gives tf-keras."""
    if (level == 0 and (name == "keras" or name.startswith("keras.")) and globals is not None
            and globals.get("__name__") == "__main__"):
        name = "tf_keras" + name[len("keras"):]
    return _BUILTIN_IMPORT(name, globals, locals, fromlist, level)


def install_keras_alias() -> None:
    """Route the notebook's ``import keras`` to tf-keras (``[kernel] keras = 2``).

    ``tf.keras`` is tf-keras then (``TF_USE_LEGACY_KERAS=1``), and a notebook that writes
    ``import keras`` must get the same Keras, not Keras 3 beside it.  Like the TF1 alias
    (:mod:`grader.kernel.tf1`), only the notebook's own imports are routed: libraries keep theirs.
    """
    global _BUILTIN_IMPORT
    import builtins

    if builtins.__import__ is _keras_import:
        return
    _BUILTIN_IMPORT = builtins.__import__
    builtins.__import__ = _keras_import


def keras_flavour(obj) -> int | None:
    """3 for a Keras 3 object, 2 for a tf-keras one, None for anything else (by its classes' modules)."""
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module == "keras" or module.startswith("keras."):
            return 3
        if module == "tf_keras" or module.startswith("tf_keras."):
            return 2
    return None


_MAX_MODEL_BYTES = 256 * 1024 * 1024


def export_keras(*, name: str, model, unmeasurable) -> dict:
    """The Keras model ``model`` as bytes the evaluator loads: ``{"format", "model", "export_s"}``.

    A Keras 3 model is saved as a ``.keras`` file (its config, as JSON, and its weights); a
    tf-keras (Keras 2) model as a SavedModel (a TensorFlow graph and its variables), zipped.
    Nothing is run: the evaluator (:mod:`grader.kernel.keras_models`) loads the model outside
    the kernel, refusing Lambda layers and custom classes, and runs it on the harness's inputs.
    """
    import shutil
    import tempfile
    import time

    flavour = keras_flavour(model)
    kind = type(model).__name__
    if flavour is None:
        raise unmeasurable(f"{name} is a {kind}, not a Keras model: keep {name} the model you "
                           f"build (keras.Sequential([...]) or keras.Model(inputs, outputs)) and train")
    if kind == "KerasTensor" or not hasattr(model, "layers") or not callable(getattr(model, "save", None)):
        what = "a KerasTensor (the output of a layer)" if kind == "KerasTensor" else f"a {kind} layer"
        raise unmeasurable(f"{name} is {what}, not a model: the grader measures the model itself, so "
                           f"{name} must be the keras.Sequential([...]) or keras.Model(inputs, outputs) "
                           f"you train")
    if not getattr(model, "built", False) or not getattr(model, "weights", None):
        raise unmeasurable(f"{name} has no weights yet: give it an input shape (keras.Input(shape=...) "
                           f"as its first layer) and train it ({name}.fit)")
    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="grader-export-")
    try:
        if flavour == 3:
            path = f"{folder}/model.keras"
            _save(model, path, name, unmeasurable)
            with open(path, "rb") as handle:
                blob = handle.read(_MAX_MODEL_BYTES + 1)
            fmt = "keras"
        else:
            _save(model, f"{folder}/savedmodel", name, unmeasurable, save_format="tf",
                  include_optimizer=False)
            blob = _zip_folder(f"{folder}/savedmodel")
            fmt = "savedmodel"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(blob) > _MAX_MODEL_BYTES:
        raise unmeasurable(f"{name} takes more than {_MAX_MODEL_BYTES / 2**20:.0f} MB saved, more than "
                           f"the grader reads")
    return {"format": fmt, "model": blob, "export_s": round(time.monotonic() - started, 3)}


def _save(model, path: str, name: str, unmeasurable, **options) -> None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(path, **options)
    except Exception as exc:  # the learner's model can fail to save in any way
        raise unmeasurable(f"saving {name} for grading failed ({type(exc).__name__}: "
                           f"{error_cause(str(exc))[:300]}); a graded model is made of Keras layers "
                           f"(keras.Sequential or keras.Model(inputs, outputs))") from None


def _zip_folder(folder: str) -> bytes:
    """A folder as the bytes of a zip archive (files in sorted order, no timestamps that vary)."""
    import io
    import os
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for file in sorted(files):
                path = os.path.join(root, file)
                info = zipfile.ZipInfo(os.path.relpath(path, folder), date_time=(1980, 1, 1, 0, 0, 0))
                with open(path, "rb") as handle:
                    archive.writestr(info, handle.read(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
