"""Stage 2, running: the learner's notebook in a kernel, and models in the evaluator.

* :mod:`grader.run.execute`: one notebook in a fresh kernel (nbclient), the
  graded cells found and measured as they run.
* :mod:`grader.run.evaluation`: the harness's side of the evaluator, the separate
  process that runs the exported models on inputs the kernel never sees.
* :mod:`grader.run.sandbox`: bubblewrap around kernels and evaluators.
* :mod:`grader.run.limits`: cgroups and rlimits (memory, processes, files).

The code that runs *inside* the kernel and the evaluator is :mod:`grader.kernel`.
"""
