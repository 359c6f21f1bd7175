"""Stage ``serve``: the grading service learners submit to (``grader serve``).

A learner's ``grader.submit(email, token)`` (the course's ``grading.Grader``, with
``GRADER_SUBMIT_URL`` pointing here) uploads the saved notebook itself; the service
checks who sent it and when, puts it in a durable queue, grades it with the batch
engine (:mod:`grader.batch.engine`, on the local pool or a Dask cluster), and the
learner follows it on a page of their own.  Results, the corrections log and the
outbox are those of ``grader grade``: ``grader post``, ``override``, ``rescore`` and
``similarity`` work on what the service graded.

* :mod:`grader.serve.store`: the service's database ``OUT/serve/serve.sqlite``;
* :mod:`grader.serve.tokens`: the roster and the learners' tokens (stored hashed,
  expiring, revocable): ``grader tokens``;
* :mod:`grader.serve.policy`: deadlines, late penalties, attempts and rate limits;
* :mod:`grader.serve.upload`: what a submission's body must be, as learner messages;
* :mod:`grader.serve.protect`: what every request meets before a route: bodies capped and timed,
  security headers, failed sign-ins throttled;
* :mod:`grader.serve.sessions`: browser sessions, bounded and expiring;
* :mod:`grader.serve.queue`: accepted submissions, never lost, graded once;
* :mod:`grader.serve.service`: the engine fed from the queue, and what a grading's end
  publishes (the counting result, the gradebook, the learner's page);
* :mod:`grader.serve.views`: what the learner's and the instructor's pages show;
* :mod:`grader.serve.site`: what every route shares (sign-ins, sessions, who may see what);
* :mod:`grader.serve.app`: the HTTP API and the pages (Starlette endpoints at module level);
* :mod:`grader.serve.server`: uvicorn and the command's life (``grader serve``; the
  command line is :mod:`grader.cli.serve`).
"""
