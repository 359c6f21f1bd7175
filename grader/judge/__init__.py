"""Stage 3, judging: turn what was measured into a verdict per part.

* :mod:`grader.judge.kinds`: the one table of part kinds (shapes, loss, accuracy,
  array, function, model): what each needs from the spec, and its handlers.
* :mod:`grader.judge.metrics`: the metrics function and model parts ask for by name
  (accuracy, cross_entropy, ...), and whether higher is better.
* :mod:`grader.judge.architecture`: the architecture rules of model parts (layers,
  units, activations, parameters, shapes) against the model the evaluator loaded.
* :mod:`grader.judge.measures`: per kind, the value the kernel or the evaluator
  sent made a measurement, against labels the harness holds (accuracy, loss, ...).
* :mod:`grader.judge.rules`: per kind, the pass rule in words, the verdict, and
  what to say when the notebook claimed another value.
* :mod:`grader.judge.extract` and :mod:`grader.judge.score`: the dispatchers the
  pipeline calls (claimed + measured value of a part; its verdict).
* :mod:`grader.judge.compare`: the notebook's saved outputs against the re-run's (and the
  out-of-order place that changes a graded part).
* :mod:`grader.judge.history`: what the order the learner ran the cells in means for each
  part: the cell that defines its model, the cell that trains it, and what to change.
* :mod:`grader.judge.causes`: why a part did not pass, in a few words (the class summary
  groups by it).
* :mod:`grader.judge.fingerprint`: a model's fingerprint (its outputs on fixed inputs), for
  similarity.
"""
