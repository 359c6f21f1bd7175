"""grader: an autograder for notebook assignments that measures instead of trusting.

Library first: :func:`check` grades one notebook, :func:`grade` a folder; the
command line (``grader``) is a thin layer over them.  Importing this package
is cheap: heavy modules (nbclient, numpy) load only when a grading starts,
and TensorFlow never loads in the harness process at all.
"""
from .version import __version__

__all__ = ["__version__", "check", "grade", "load_assignment", "find_assignment"]


def __getattr__(name):
    # Lazy re-exports keep `import grader` (and `grader --help`) fast.
    if name in ("check", "grade"):
        from . import api

        return getattr(api, name)
    if name in ("load_assignment", "find_assignment"):
        from . import assignments

        return getattr(assignments, name)
    raise AttributeError(name)
