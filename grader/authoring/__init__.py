"""Tools for assignment authors: is the assignment sound, and where do thresholds lie?

* :mod:`grader.authoring.validate`: ``grader validate``, the checks an assignment
  repository's CI runs (specs, helpers, data; the solution passes, the template fails).
* :mod:`grader.authoring.calibrate`: ``grader calibrate``, the reference solution
  graded over several seeds, each part's spread and margin to its threshold, and the
  thresholds it suggests (written into thresholds.toml with ``--write``).
* :mod:`grader.authoring.author`: ``grader author``, the template, the solution and the
  weak samples generated from one source notebook with solution markers.
"""
