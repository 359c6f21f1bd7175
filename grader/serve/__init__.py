"""Stage ``serve``: the grading service learners submit to (``grader serve``).

A learner's ``grader.submit(email, token)`` (the course's ``grading.Grader``, with
``GRADER_SUBMIT_URL`` pointing here), or their page reached from the LMS, uploads the saved
notebook itself; the service
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
  command line is :mod:`grader.cli.serve`): one assignment, or a course of several.

The service as an LTI 1.3 tool (the LMS as the front door; ``grader lti``, :mod:`grader.cli.lti`):

* :mod:`grader.serve.lti`: the tool's key and JWKS, the platforms it trusts, the OIDC login and
  the launch's checks, who an LMS user is here;
* :mod:`grader.serve.lti_app`: the LTI routes (login, launch, deep linking, the learner's page
  of an assignment and its upload, dynamic registration);
* :mod:`grader.serve.lti_services`: the roster (NRPS), line items and grades (AGS, through the
  outbox);
* :mod:`grader.serve.lti_config`: what an LMS administrator pastes (Canvas's JSON, Moodle's form);
* :mod:`grader.serve.lti_register`: LTI Dynamic Registration.
"""
