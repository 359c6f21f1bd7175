"""Stage 2, running: the learner's notebook in a kernel, and models in the evaluator.

* :mod:`grader.run.execute`: one notebook in a fresh kernel (nbclient), the
  graded cells found and measured as they run.
* :mod:`grader.run.schedule`: the order policy: which cells run in which order (top to
  bottom, or the learner's history as the saved execution counts record it).
* :mod:`grader.run.evaluator_client`: the harness's side of the evaluator, the separate
  process that runs the exported models on inputs the kernel never sees.
* :mod:`grader.run.sandbox`: bubblewrap around kernels and evaluators.
* :mod:`grader.run.limits`: cgroups and rlimits (memory, processes, files).
* :mod:`grader.run.environment`: the allow-listed environment every process a notebook
  can see starts from.
* :mod:`grader.run.process_register`: what each grading started (processes, cgroups,
  folders), recorded before it exists, so that a killed harness leaves nothing running.
* :mod:`grader.run.reaper`: the watchdog that kills what a dead harness's gradings left.
* :mod:`grader.run.stop`: Ctrl-C and SIGTERM at any moment; orphaned sandbox inits reaped.

The code that runs *inside* the kernel and the evaluator is :mod:`grader.kernel`.
"""
