"""Stage 4, batches: a whole class graded, resumably, wherever the gradings run.

* :mod:`grader.batch.inputs`: the submissions of a folder, of per-learner folders or of
  an LMS zip.
* :mod:`grader.batch.engine`: the one engine (resumption, journal, retries, faults,
  progress, recording results).
* :mod:`grader.batch.job`: the unit of work (one submission) that every executor runs.
* :mod:`grader.batch.executor`: the executor seam, and the local process pool.
* :mod:`grader.batch.dask`, :mod:`grader.batch.dask_bundle`,
  :mod:`grader.batch.dask_plugin`: the Dask executor, and the files it ships.
* :mod:`grader.batch.progress`: the live status line.
* :mod:`grader.batch.guard`: one batch per results folder, and the sweep of what a killed
  run of it left.
"""
