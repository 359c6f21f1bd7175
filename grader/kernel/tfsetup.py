"""TensorFlow preparation and graph evaluation inside the learner's kernel.

Only imported in a kernel whose assignment declares ``framework =
"tensorflow"``; the harness process never imports this module.
"""
from __future__ import annotations


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


def evaluate_graph(*, output_name, output, input_name, placeholder, session, session_name,
                   inputs, unmeasurable, batch_size: int = 2500):
    """Run ``output`` on ``inputs`` fed to ``placeholder`` in the learner's session."""
    import numpy as np
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
    x = _fit_inputs(inputs, placeholder, input_name, unmeasurable)
    chunks = []
    for start in range(0, len(x), batch_size):
        try:
            chunks.append(np.asarray(chosen.run(output, {placeholder: x[start:start + batch_size]})))
        except tf.errors.FailedPreconditionError as exc:
            raise unmeasurable(f"running {output_name} failed: {_first_line(exc.message)} "
                               f"(were the variables initialised and trained in {origin}?)") from None
        except tf.errors.InvalidArgumentError as exc:
            raise unmeasurable(f"running {output_name} with {input_name} fed failed: "
                               f"{_first_line(exc.message)}") from None
    if not chunks:
        raise unmeasurable("the split has no rows")
    if any(c.shape[:1] != (min(batch_size, len(x) - i * batch_size),) for i, c in enumerate(chunks)):
        raise unmeasurable(f"{output_name} does not give one row per input image "
                           f"(got shape {chunks[0].shape} for {min(batch_size, len(x))} images)")
    return np.concatenate(chunks)


def _fit_inputs(inputs, placeholder, input_name, unmeasurable):
    """Reshape the split's inputs to the placeholder's static shape (flattening images)."""
    import numpy as np

    shape = placeholder.shape
    if shape.rank is None:
        return inputs
    dims = shape.as_list()
    if len(dims) != inputs.ndim:
        if len(dims) == 2:
            inputs = inputs.reshape(len(inputs), -1)
        else:
            inputs = inputs.reshape((len(inputs),) + tuple(-1 if d is None else d for d in dims[1:]))
    if any(d is not None and d != actual for d, actual in zip(dims[1:], inputs.shape[1:])):
        raise unmeasurable(f"{input_name} has shape {dims}, which does not fit inputs of shape "
                           f"{[None] + list(inputs.shape[1:])}")
    dtype = placeholder.dtype.as_numpy_dtype
    return np.asarray(inputs, dtype=dtype)


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""
