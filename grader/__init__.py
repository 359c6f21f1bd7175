"""grader: an autograder for notebook assignments that measures instead of trusting.

Library first: :func:`check` grades one notebook, :func:`grade` a folder; the
command line (``grader``) is a thin layer over them.  Importing this package
is cheap: heavy modules (nbclient, numpy) load only when a grading starts,
and TensorFlow never loads in the harness process at all.  In Jupyter,
``%load_ext grader`` and ``%grader_check`` (or :func:`check_here`) check the
notebook open there, as saved, in a separate fresh kernel (:mod:`grader.jupyter`).

The package, by stage (imports run one way, from the command line down):

* ``cli`` - the command line; ``api`` - every command as a library call;
* ``serve`` - the grading service; ``similarity`` - evidence of shared code and models;
* ``batch`` - a class graded on an executor; ``authoring`` - validate and calibrate;
  ``report`` - tables and pages; ``post`` - scores sent to platforms;
* ``corrections`` - the corrections log and the grade that counts;
* ``orchestrate`` - one submission through the stages; ``assignments`` - finding and
  loading an assignment;
* ``run`` - kernels, the evaluator, sandbox and limits; ``judge`` - measurements into
  verdicts; ``kernel`` - code that runs inside the kernel and the evaluator;
* ``specs`` - the TOML specs and data; ``results`` - result dataclasses and files;
  ``events`` - what a grading reports while it runs; ``jupyter`` - ``%grader_check``;
* ``exceptions`` - the harness's errors; ``paths`` - paths checked before anything runs;
  ``durable`` - owner-only SQLite files that survive a kill; ``textutil`` - small text
  helpers; ``version``.
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
