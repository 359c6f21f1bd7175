"""TensorFlow preparation and graph evaluation inside the learner's kernel.

Only imported in a kernel whose assignment declares ``framework =
"tensorflow"``; the harness process never imports this module.
"""
from __future__ import annotations

from .errortext import error_cause


_PREPARED: dict = {}


def prepare(*, seed: int, tf1_compat: bool, threads: int | None = None) -> None:
    """Import TensorFlow, make every graph seeded, and optionally give TF1 to the notebook."""
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
    _PREPARED.update(seed=seed, tf1_compat=tf1_compat)


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

