"""Posting scores: the last stage, from result files to the places courses keep grades.

:func:`post_results` posts a results folder to one destination (``coursera``,
``webhook``, ``gradescope``, ``lti``; the table is in :mod:`grader.post.registry`)
through a durable outbox (:mod:`grader.post.outbox`), so that every score is
delivered once; :func:`outbox_status` lists what is pending, sent or failed.

Modules: :mod:`grader.post.send` (one run: settings, record, send), :mod:`grader.post.outbox`
(the durable outbox), :mod:`grader.post.delivery` (retries), :mod:`grader.post.scores`
(the grade that counts, from results and corrections), :mod:`grader.post.config` (settings
from the command line, environment and config file), :mod:`grader.post.secrets` (secrets
kept out of messages), :mod:`grader.post.registry` (the destinations' table) and
``destinations/`` (one module per destination).  The command is :mod:`grader.cli.post`.

Importing this package is free: the modules load on first use, so that
``grader --help`` stays instant.
"""
__all__ = ["post_results", "outbox_status", "PostReport", "Outcome", "default_registry",
           "Registry"]


def __getattr__(name):
    if name in ("post_results", "outbox_status", "PostReport", "Outcome"):
        from . import send

        return getattr(send, name)
    if name in ("default_registry", "Registry"):
        from . import registry

        return getattr(registry, name)
    raise AttributeError(name)
