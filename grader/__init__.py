"""grader: an autograder for notebook assignments that measures instead of trusting.

Library first: :func:`check` grades one notebook, :func:`grade` a folder; the
command line (``grader``) is a thin layer over them.  Importing this package
is cheap: heavy modules (nbclient, numpy) load only when a grading starts,
and TensorFlow never loads in the harness process at all.  In Jupyter,
``%load_ext grader`` and ``%grader_check`` (or :func:`check_here`) check the
notebook open there, as saved, in a separate fresh kernel (:mod:`grader.jupyter`).
"""
from .version import __version__

__all__ = ["__version__", "check", "grade", "load_assignment", "find_assignment", "check_here"]


def __getattr__(name):
    # Lazy re-exports keep `import grader` (and `grader --help`) fast.
    if name in ("check", "grade"):
        from . import api

        return getattr(api, name)
    if name in ("load_assignment", "find_assignment"):
        from . import assignments

        return getattr(assignments, name)
    if name in ("check_here", "load_ipython_extension"):
        # Jupyter: `%load_ext grader` then `%grader_check`, or `grader.check_here()`.
        from . import jupyter

        return getattr(jupyter, name)
    raise AttributeError(name)
