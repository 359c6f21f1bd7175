"""Post a results folder to one destination, through the outbox, exactly once per score.

The steps, in order: read the settings (command line, environment, owner-only
config file), the learner map and the result files with their corrections
(:mod:`grader.corrections`); let the destination check its settings; *record* every
grade in the outbox (pending) - a grade already recorded as it is adds nothing,
a changed one is a new version - only then send each pending score, retrying
transient failures, and mark it sent, failed or still pending.  See
:mod:`grader.post.outbox` for why a score is never posted twice and
:mod:`grader.post.delivery` for what is retried.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..exceptions import DestinationConfigError, PostError
from ..corrections import Corrections
from .config import ConfigFile, Identity, load_config, load_learners, resolve
from .delivery import REFUSED, RETRY_SETTINGS, SENT, RetryPolicy, deliver
from .destinations.base import Delivery, PostContext
from .outbox import FAILED, OUTBOX_FILE, PENDING, SUPERSEDED, Outbox, Row
from .registry import RESERVED, Registry, default_registry
from .scores import find_results, locate, read_result
from .secrets import Redactor


@dataclass(frozen=True)
class Outcome:
    """Where one learner's score stands after a run."""

    learner: str
    status: str                 # pending / sent / failed / superseded
    message: str
    attempts: int               # tries in this run
    http_status: int | None = None
    already_sent: bool = False  # sent by an earlier run: nothing was sent now


@dataclass
class PostReport:
    """What one ``post_results`` call did."""

    destination: str
    target: str
    outbox: Path
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def complete(self) -> bool:
        """Every score of the folder is with the destination."""
        return all(o.status in (SENT, SUPERSEDED) for o in self.outcomes)


def retry_policy(config: ConfigFile, overrides: dict | None = None) -> RetryPolicy:
    """The retry policy from ``[retry]``, the environment and ``overrides``."""
    values = resolve(RETRY_SETTINGS, table="retry", config=config, overrides=overrides)
    if values["attempts"] < 1 or values["base_delay"] < 0 or values["timeout"] <= 0:
        raise DestinationConfigError("attempts must be >= 1, base_delay >= 0, timeout > 0",
                                     field="retry")
    return RetryPolicy(**values)


def _assignment_loader(override) -> Callable[[str], object]:
    cache: dict[str, object] = {}

    def load(assignment_id: str):
        if assignment_id not in cache:
            from ..assignments import find_assignment

            found = find_assignment(override if override is not None else assignment_id)
            if found.id != assignment_id:
                raise DestinationConfigError(
                    f"--assignment gives {found.id!r} but the results are for {assignment_id!r}")
            cache[assignment_id] = found
        return cache[assignment_id]
    return load


def post_results(results_dir: str | Path, *, to: str, config: str | Path | ConfigFile | None = None,
                 learners: str | Path | dict | None = None, assignment: str | Path | None = None,
                 settings: dict | None = None, retry: dict | None = None,
                 retry_failed: bool = False, registry: Registry | None = None,
                 progress: Callable[[str], None] | None = None, only: set[str] | None = None) -> PostReport:
    """Post every result of ``results_dir`` to destination ``to``; return what happened.

    ``settings`` are the destination's non-secret settings given on the command line
    (``{"url": ...}``); ``retry`` overrides the retry policy (``{"base_delay": 0.01}``);
    ``learners`` is the learner map (CSV path or ``{learner: Identity}``);
    ``retry_failed`` also re-sends scores a destination refused before; ``only``: post these
    learners' results and leave the others alone (an LMS course's members).  Scores
    already sent are never sent again.  A learner a destination refuses is an
    outcome; only a broken configuration or outbox raises (:class:`PostError`).
    """
    registry = registry or default_registry()
    cls = registry.get(to)
    config = config if isinstance(config, ConfigFile) else load_config(config)
    config.check_tables(registry.names() + list(RESERVED))
    identities = learners if isinstance(learners, dict) else load_learners(learners)
    redactor = Redactor()
    policy = retry_policy(config, retry)
    values = resolve(cls.SETTINGS, table=to, config=config, overrides=settings, redactor=redactor)
    base, found, notes = find_results(results_dir)
    if only is not None:
        found = [item for item in found if item.result.learner in only]
    if not found:
        notes.append(f"no result files found in {results_dir}")
    context = PostContext(base=base, redactor=redactor, policy=policy,
                          assignment=_assignment_loader(assignment))
    destination = cls(name=to, settings=values, context=context)
    try:
        destination.check(found)
        target, shown = destination.target(), destination.target_shown()
        report = PostReport(destination=to, target=shown, outbox=base / OUTBOX_FILE, notes=notes)
        with Outbox.open(base) as outbox:
            # Record first: a score is in the outbox before a byte of it is sent.
            corrections = Corrections.load(base)
            current = {}
            for item in found:
                current[item.result.learner] = outbox.record(
                    destination=to, target=target, target_shown=shown,
                    learner=item.result.learner, result_file=item.relative, digest=item.digest,
                    score=item.result.total, max_score=item.result.max_total,
                    change=item.grade.summary() if item.grade else "")
            if not cls.CARRIES_POINTS:
                notes += _points_not_carried(to, found, current)
            sent_now: dict[str, Outcome] = {}
            for row in outbox.due(destination=to, target=target, retry_failed=retry_failed):
                sent_now[row.learner] = _post_one(row, outbox=outbox, destination=destination,
                                                  base=base, identities=identities,
                                                  redactor=redactor, progress=progress,
                                                  corrections=corrections)
            for learner, row in sorted(current.items()):
                report.outcomes.append(sent_now.pop(learner, None) or _untouched(outbox.get(row.key)))
            report.outcomes += sent_now.values()  # rows of results no longer in the folder
    finally:
        destination.close()
        context.close()
    return report


def _points_not_carried(to: str, found: list, current: dict[str, Row]) -> list[str]:
    """A note when corrected grades go to a destination that grades measured values itself."""
    corrected = sorted(item.result.learner for item in found
                       if item.grade is not None and item.grade.corrected
                       and current[item.result.learner].status == PENDING)
    if not corrected:
        return []
    return [f"{to} grades the measured values itself: the corrections of {', '.join(corrected)} "
            f"(overrides, rescores) are sent as a new submission of the same values and do not "
            f"change the grade there; change it in the platform's gradebook too"]


def _untouched(row: Row) -> Outcome:
    return Outcome(learner=row.learner, status=row.status, message=row.message, attempts=0,
                   http_status=row.http_status, already_sent=row.status == SENT)


def _post_one(row: Row, *, outbox: Outbox, destination, base: Path, identities: dict,
              redactor: Redactor, progress, corrections: Corrections | None = None) -> Outcome:
    """Send one due row and record the outcome."""
    found = read_result(base, row.result_file, corrections)
    if found is None:
        message = f"result file {row.result_file} is gone; nothing sent"
        outbox.mark_failed(row.key, http_status=None, message=message)
        return Outcome(row.learner, FAILED, message, 0)
    if found.digest != row.result_digest:
        # Regraded or corrected after it was recorded (by another process): the newer grade gets
        # its own row.
        message = "the grade changed since it was recorded (a regrade or a correction); not sent"
        outbox.mark_superseded(row.key, message=message)
        return Outcome(row.learner, SUPERSEDED, message, 0)
    identity = identities.get(row.learner) or Identity(learner=row.learner)
    missing = destination.missing(found.result, identity)
    if missing:
        outbox.mark_failed(row.key, http_status=None, message=redactor.redact(missing))
        return Outcome(row.learner, FAILED, redactor.redact(missing), 0)

    def notify(text: str) -> None:
        if progress:
            progress(f"{destination.name}: {row.learner}: {redactor.redact(text)}")

    delivery = Delivery(row=row, result=found.result, identity=identity, grade=found.grade)
    try:
        attempt, tries = deliver(lambda: destination.send(delivery), policy=destination.context.policy,
                                 before_try=lambda: outbox.mark_attempt(row.key), notify=notify)
    except PostError as exc:
        # The destination as a whole is unusable (e.g. credentials refused): the score
        # stays pending for a run with a fixed configuration.
        outbox.mark_pending(row.key, http_status=exc.status, message=redactor.redact(str(exc)))
        raise
    message = redactor.redact(attempt.message)
    if attempt.outcome == SENT:
        outbox.mark_sent(row.key, http_status=attempt.http_status, message=message)
        status = SENT
    elif attempt.outcome == REFUSED:
        outbox.mark_failed(row.key, http_status=attempt.http_status, message=message)
        status = FAILED
    else:
        message = f"{message} (still pending after {tries} tries; run `grader post` again)"
        outbox.mark_pending(row.key, http_status=attempt.http_status, message=message)
        status = PENDING
    notify(f"{status}: {message}")
    return Outcome(row.learner, status, message, tries, attempt.http_status)


def outbox_status(results_dir: str | Path, *, to: str | None = None,
                  learner: str | None = None) -> list[Row]:
    """Every score in the outbox of ``results_dir`` (of destination ``to``, of ``learner``);
    [] if none."""
    base, _ = locate(results_dir)
    if not (base / OUTBOX_FILE).exists():
        return []
    with Outbox.open(base, lock=False) as outbox:
        return outbox.rows(destination=to, learner=learner)


def check_settings(name: str, settings: dict, *, registry: Registry | None = None,
                   options: dict[str, str] | None = None) -> None:
    """Every setting given on the command line must be a non-secret setting of destination ``name``.

    ``options`` names the command-line option of a setting (``url`` -> ``--url``), for the message.
    Raises :class:`grader.exceptions.UsageError`.
    """
    from ..exceptions import UsageError

    registry = registry or default_registry()
    declared = {s.name: s for s in registry.get(name).SETTINGS}
    for key in settings:
        option = (options or {}).get(key, f"--set {key}")
        if key not in declared:
            raise UsageError(f"{option} is not a setting of {name} (its settings: {', '.join(declared)})",
                             argument=key, value=settings[key])
        if declared[key].secret:
            raise UsageError(f"{key} is a secret: set it in the environment or the config file, never on "
                             f"the command line (other users can read command lines)", argument=key)


def check_destinations(names: list[str], *, out: str | Path, config: str | Path | None = None,
                       learners: str | Path | None = None, settings: dict | None = None,
                       assignment=None, registry: Registry | None = None) -> None:
    """Before a batch that posts to ``names``: fail now on a destination's settings.

    Reads the config file, the learner map and each destination's settings, and lets
    the destination check them, so that a long batch does not end in a configuration
    error.  Raises :class:`grader.exceptions.DestinationConfigError`.
    """
    registry = registry or default_registry()
    loaded = load_config(config)
    loaded.check_tables(registry.names() + list(RESERVED))
    load_learners(learners)
    for name in names:
        cls = registry.get(name)
        given = {k: v for k, v in (settings or {}).items() if k in {s.name for s in cls.SETTINGS}}
        context = PostContext(base=Path(out), redactor=Redactor(), policy=retry_policy(loaded),
                              assignment=_assignment_loader(assignment))
        values = resolve(cls.SETTINGS, table=name, config=loaded, overrides=given,
                         redactor=context.redactor)
        cls(name=name, settings=values, context=context).check([])
