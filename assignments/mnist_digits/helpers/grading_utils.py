"""The course's ``grading_utils`` module: text forms of answers built from tensors.

It never imports TensorFlow: it only reads the ``shape`` attribute of what it
is given, which works for TF1-style graph tensors and variables
(``tf.compat.v1``), eager tensors, Keras tensors and NumPy arrays alike.
"""


def _dimension_value(dim):
    """An int, or None for an unknown dimension.

    With v2 behaviour disabled, iterating a ``TensorShape`` yields TF1
    ``Dimension`` objects (their ``.value`` is the int or None); TF2 shapes
    and NumPy shapes yield ints or None directly.
    """
    dim = getattr(dim, "value", dim)
    return None if dim is None else int(dim)


def get_tensor_shape(tensor, *, index=0):
    """Static shape of ``tensor`` as a list of ints, with None for unknown sizes.

    ``index`` only serves the error message. Raises ``ValueError`` when the
    rank itself is unknown (e.g. ``tf.placeholder(tf.float32)`` without
    ``shape=``), because such a shape has no dimensions to write.
    """
    shape = getattr(tensor, "shape", None)
    if shape is None:
        # Plain Python numbers or nested lists: let NumPy work out the shape.
        import numpy as np

        shape = np.shape(tensor)
    if getattr(shape, "dims", ()) is None:  # a TensorShape of unknown rank
        raise ValueError(
            f"tensor #{index} ({getattr(tensor, 'name', type(tensor).__name__)}) has an unknown "
            "rank; give it a static shape, e.g. tf.placeholder(tf.float32, shape=(None, 784))"
        )
    return [_dimension_value(dim) for dim in shape]


def get_tensors_shapes_string(tensors):
    """The static shapes of ``tensors`` written one after another, space separated.

    Unknown dimensions are written ``None``: for ``W`` (784, 10), ``b`` (10,),
    ``input_X`` (None, 784), ``input_y`` (None, 10) the text is
    ``"784 10 10 None 784 None 10"``.
    """
    words = []
    for index, tensor in enumerate(tensors):
        words.extend(str(dim) for dim in get_tensor_shape(tensor, index=index))
    return " ".join(words)
