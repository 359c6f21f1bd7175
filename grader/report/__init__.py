"""Stage 5, reporting: results shown to people and to CI.

* :mod:`grader.report.table`: the per-part table of ``grader check`` and the
  gradebook (CSV, JSON).
* :mod:`grader.report.html`: the learner's feedback page and the class summary
  (Jinja2 templates in ``templates/``).
* :mod:`grader.report.ci`: JUnit XML and GitHub Actions output.
"""
