"""Stage 5, reporting: results shown to people and to CI.

* :mod:`grader.report.table`: the per-part table of ``grader check`` and the
  gradebook (CSV, JSON).
* :mod:`grader.report.html`: the learner's feedback page and the class summary
  (Jinja2 templates in ``templates/``).
* :mod:`grader.report.ci`: JUnit XML and GitHub Actions output.
* :mod:`grader.report.live`: ``grader check``'s progress (rich on a terminal, plain lines,
  JSON lines).
* :mod:`grader.report.notebook`: the inline progress and verdict table of ``%grader_check``.
* :mod:`grader.report.rebuild`: a results folder's reports rewritten from its results and
  corrections log (``grader report``, after an override or a rescore).
"""
