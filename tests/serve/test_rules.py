"""grader serve's acceptance rules: deadline, late penalty, attempts, rate; the [submissions] spec."""
import datetime
import shutil

import pytest

from grader.exceptions import SpecError
from grader.serve.policy import Refused, check_limits, describe_late, duration, timing
from grader.specs.model import SubmissionPolicy, read_assignment
from tests.conftest import ROOT
from tests.serve.harness import without_submissions

UTC = datetime.timezone.utc
DEADLINE = datetime.datetime(2026, 12, 20, 23, 59, tzinfo=UTC)


def test_on_time_until_the_deadline_and_always_without_one():
    assert not timing(SubmissionPolicy(), DEADLINE + datetime.timedelta(days=400)).late
    policy = SubmissionPolicy(deadline=DEADLINE)
    assert timing(policy, DEADLINE).label == "on time"
    assert timing(policy, DEADLINE - datetime.timedelta(seconds=1)).penalty == 0


def test_late_with_its_penalty_until_late_until_then_refused():
    policy = SubmissionPolicy(deadline=DEADLINE, late_until=DEADLINE + datetime.timedelta(days=3),
                              late_penalty=0.1, late_penalty_per_day=0.05)
    one_hour = timing(policy, DEADLINE + datetime.timedelta(hours=1))
    assert one_hour.late and one_hour.label == "late" and one_hour.penalty == pytest.approx(0.15)
    assert one_hour.late_by_s == 3600
    two_days = timing(policy, DEADLINE + datetime.timedelta(days=1, hours=1))
    assert two_days.penalty == pytest.approx(0.2)   # 10 % + 2 started days x 5 %
    assert describe_late(policy, one_hour) == ("submitted 1 h 0 min after the deadline of 2026-12-20 23:59 UTC; "
                                               "late penalty 15%")
    with pytest.raises(Refused) as refused:
        timing(policy, DEADLINE + datetime.timedelta(days=3, seconds=1))
    assert refused.value.status == 403
    assert refused.value.message.startswith("Submissions closed at 2026-12-23 23:59 UTC (the deadline was "
                                            "2026-12-20 23:59 UTC")
    with pytest.raises(Refused, match="Submissions closed at 2026-12-20 23:59 UTC; it is"):
        timing(SubmissionPolicy(deadline=DEADLINE), DEADLINE + datetime.timedelta(minutes=1))


def test_the_penalty_is_at_most_everything():
    policy = SubmissionPolicy(deadline=DEADLINE, late_until=DEADLINE + datetime.timedelta(days=30),
                              late_penalty=0.5, late_penalty_per_day=0.2)
    assert timing(policy, DEADLINE + datetime.timedelta(days=10)).penalty == 1.0


def test_attempts_and_rate_limits():
    check_limits(SubmissionPolicy(attempts=2), accepted=[1.0], now=100.0)
    with pytest.raises(Refused, match="used all 2 submissions") as refused:
        check_limits(SubmissionPolicy(attempts=2), accepted=[1.0, 2.0], now=100.0)
    assert refused.value.status == 403
    with pytest.raises(Refused, match=r"wait 40 s and submit again \(at most one submission every 1 min\)") as refused:
        check_limits(SubmissionPolicy(min_interval_s=60), accepted=[1000.0], now=1020.0)
    assert refused.value.status == 429
    check_limits(SubmissionPolicy(min_interval_s=60), accepted=[1000.0], now=1061.0)
    hour = SubmissionPolicy(per_hour=3)
    check_limits(hour, accepted=[0.0, 10.0, 4000.0], now=4001.0)       # two of them over an hour ago
    with pytest.raises(Refused, match="3 times in the last hour") as refused:
        check_limits(hour, accepted=[100.0, 200.0, 300.0], now=400.0)
    assert "wait 55 min" in refused.value.message


def test_duration_words():
    assert [duration(s) for s in (5, 65, 3700, 90000)] == ["5 s", "1 min", "1 h 1 min", "1 d 1 h"]


def _assignment_copy(tmp_path, extra: str):
    folder = tmp_path / "assignments" / "sklearn_digits"
    shutil.copytree(ROOT / "assignments" / "sklearn_digits", folder)
    shutil.copytree(ROOT / "reference" / "sklearn_digits", tmp_path / "reference" / "sklearn_digits")
    spec = folder / "assignment.toml"
    spec.write_text(without_submissions(spec.read_text()) + extra)
    return folder


def test_the_submissions_table_is_read_and_never_part_of_a_measurement(tmp_path):
    plain = read_assignment(ROOT / "assignments" / "sklearn_digits")
    folder = _assignment_copy(tmp_path, "\n[submissions]\n# the course's calendar\ndeadline = 2026-12-20T23:59:00Z\n"
                                        "late_until = 2026-12-22T23:59:00+01:00\nlate_penalty = 0.2\nattempts = 5\n")
    served = read_assignment(folder)
    assert served.submissions.deadline == DEADLINE
    assert served.submissions.late_until == datetime.datetime(2026, 12, 22, 22, 59, tzinfo=UTC)
    assert served.submissions.late_penalty == 0.2 and served.submissions.attempts == 5
    # A deadline moved is not a new measurement: no learner is graded again for it.
    assert served.measurement_digest == plain.measurement_digest
    changed = _assignment_copy(tmp_path / "two", "\n[submissions]\ndeadline = 2027-01-10T12:00:00Z\n")
    assert read_assignment(changed).measurement_digest == plain.measurement_digest
    kernel = _assignment_copy(tmp_path / "three", "")
    spec = kernel / "assignment.toml"
    spec.write_text(spec.read_text().replace("cell_timeout = 300", "cell_timeout = 301"))
    assert read_assignment(kernel).measurement_digest != plain.measurement_digest


@pytest.mark.parametrize("table, field, message", [
    ("deadline = 2026-12-20T23:59:00", "submissions.deadline", "with its offset"),
    ("deadline = 2026-12-20T23:59:00Z\nlate_until = 2026-12-19T00:00:00Z", "submissions.late_until", "before"),
    ("late_until = 2026-12-19T00:00:00Z", "submissions.late_until", "needs a deadline"),
    ("late_penalty = 1.5", "submissions.late_penalty", "fraction"),
    ("counts = 'first'", "submissions.counts", "last or best"),
    ("deadlines = 2026-12-20T23:59:00Z", "submissions.deadlines", "unknown key"),
])
def test_a_wrong_submissions_table_names_the_field(tmp_path, table, field, message):
    folder = _assignment_copy(tmp_path, f"\n[submissions]\n{table}\n")
    with pytest.raises(SpecError) as error:
        read_assignment(folder)
    assert error.value.field == field and message in str(error.value)


@pytest.mark.parametrize("folder", sorted((ROOT / "assignments").glob("*/assignment.toml")),
                         ids=lambda p: p.parent.name)
def test_every_shipped_assignment_limits_what_one_learner_can_queue(folder):
    """Without limits one learner could queue gradings without end (issue #24)."""
    policy = read_assignment(folder.parent).submissions
    assert policy.attempts > 0 and policy.per_hour > 0 and policy.min_interval_s > 0
    assert 0 < policy.max_upload_mb <= 20
    text = folder.read_text()
    table = text[text.index("\n[submissions]\n"):].split("\n[")[1]
    assert all("#" in line for line in table.splitlines()[1:] if line.strip()), "a comment on each limit"
    assert "\n[submissions]\n" not in without_submissions(text)
