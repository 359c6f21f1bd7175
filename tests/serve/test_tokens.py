"""Learners' tokens: issued from a roster, stored hashed, expiring, revocable; grader tokens."""
import csv
import datetime
import os
import sqlite3
import stat

import pytest

from grader.cli import main
from grader.exceptions import UsageError
from grader.serve import tokens
from grader.serve.policy import Refused
from grader.serve.store import close_connections, database_path


@pytest.fixture
def out(tmp_path):
    yield tmp_path / "out"
    close_connections()


def _roster(tmp_path, text="email,learner,name\nann@example.org,ann,Ann\nben@example.org,ben,Ben\n"):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return path


def _issued(result):
    with open(result.tokens_file, newline="") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def test_tokens_are_given_once_and_stored_only_as_digests(tmp_path, out):
    result = tokens.issue(_roster(tmp_path), out=out, days=30)
    assert result.issued == ["ann", "ben"] and not result.kept
    issued = _issued(result)
    assert stat.S_IMODE(os.stat(result.tokens_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(database_path(out)).st_mode) == 0o600
    raw = database_path(out).read_bytes() + b"".join(p.read_bytes() for p in database_path(out).parent.glob("*-wal"))
    for row in issued.values():
        assert len(row["token"]) >= 32 and row["token"].encode() not in raw
    assert tokens.authenticate(out, "ANN@example.org", issued["ann"]["token"]).learner == "ann"
    # Issued again: those with an active token keep it.
    again = tokens.issue(_roster(tmp_path), out=out)
    assert again.issued == [] and again.kept == ["ann", "ben"]
    assert tokens.authenticate(out, "ben@example.org", issued["ben"]["token"]).learner == "ben"


@pytest.mark.parametrize("email, whose, status, code, text", [
    ("carl@example.org", "ann", 401, "unknown-email", "carl@example.org is not on this course's roster"),
    ("ann@example.org", None, 401, "wrong-token", "This is not the token issued for ann@example.org"),
    ("ann@example.org", "ben", 403, "other-learner", "This token was issued to another learner"),
    ("", "ann", 401, "no-credentials", "no email or no token"),
])
def test_a_wrong_token_or_another_learners_id_is_refused(tmp_path, out, email, whose, status, code, text):
    issued = _issued(tokens.issue(_roster(tmp_path), out=out))
    token = issued[whose]["token"] if whose else "not-a-token-at-all"
    with pytest.raises(Refused) as refused:
        tokens.authenticate(out, email, token)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert text in refused.value.message


def test_expired_revoked_and_reissued_tokens(tmp_path, out):
    issued = _issued(tokens.issue(_roster(tmp_path), out=out))
    db = sqlite3.connect(database_path(out))
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).isoformat()
    db.execute("UPDATE learners SET expires_at=? WHERE learner='ann'", (past,))
    db.commit()
    db.close()
    with pytest.raises(Refused, match="expired on .*ask your instructor for a new one"):
        tokens.authenticate(out, "ann@example.org", issued["ann"]["token"])
    assert {l.learner: l.state() for l in tokens.roster(out)} == {"ann": "expired", "ben": "active"}
    # The expired one gets a new token from a plain issue; the old one stays dead.
    fresh = _issued(tokens.issue(_roster(tmp_path), out=out))
    assert set(fresh) == {"ann"}
    assert tokens.authenticate(out, "ann@example.org", fresh["ann"]["token"]).learner == "ann"
    with pytest.raises(Refused, match="not the token"):
        tokens.authenticate(out, "ann@example.org", issued["ann"]["token"])
    assert tokens.revoke(out, ["ben@example.org"]) == ["ben"]
    with pytest.raises(Refused, match="revoked on"):
        tokens.authenticate(out, "ben@example.org", issued["ben"]["token"])
    # A lost token, replaced for one learner only.
    replaced = _issued(tokens.issue(_roster(tmp_path), out=out, learners=["ben"], reissue=True))
    assert set(replaced) == {"ben"}
    assert tokens.authenticate(out, "ben@example.org", replaced["ben"]["token"]).learner == "ben"


@pytest.mark.parametrize("text, message", [
    ("learner,name\nann,Ann\n", "needs a column email"),
    ("email\nnot-an-address\n", "is not an email address"),
    ("email,learner\nann@example.org,ann\nann@example.org,ann2\n", "is on line 2 too"),
    ("email\n", "lists nobody"),
])
def test_a_bad_roster_names_what_to_fix(tmp_path, out, text, message):
    with pytest.raises(UsageError, match=message):
        tokens.issue(_roster(tmp_path, text), out=out)


def test_the_tokens_command(tmp_path, out, capsys):
    roster = _roster(tmp_path, "email\nann@example.org\n")   # no learner column: the email is the id
    assert main(["tokens", "issue", str(roster), "--out", str(out), "--days", "10"]) == 0
    assert "issued 1 token(s), valid until" in capsys.readouterr().out
    assert main(["tokens", "list", str(out)]) == 0
    assert "ann@example.org  ann@example.org  active (expires" in capsys.readouterr().out
    assert main(["tokens", "revoke", str(out), "ann@example.org"]) == 0
    assert main(["tokens", "list", str(out)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tokens", "revoke", str(out), "nobody"]) == 2
    assert "nobody is not a learner of this service" in capsys.readouterr().err
    assert main(["tokens", "issue", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert "missing.csv does not exist" in capsys.readouterr().err


def test_two_issues_in_one_second_never_overwrite_each_others_file(tmp_path, out, monkeypatch):
    """The file is named to the second and made exclusively (O_EXCL): the second issue gets a name of
    its own even at the same second, and the first file keeps its tokens."""
    frozen = datetime.datetime(2026, 12, 6, 22, 15, 52, tzinfo=datetime.timezone.utc)
    monkeypatch.setattr(tokens, "utc_now", lambda: frozen)
    first = tokens.issue(_roster(tmp_path), out=out, learners=["ann"])
    first_text = first.tokens_file.read_text()
    second = tokens.issue(_roster(tmp_path), out=out, learners=["ben"])
    assert first.tokens_file != second.tokens_file
    assert first.tokens_file.name.startswith("tokens-20261206-221552-")
    assert second.tokens_file.name.startswith("tokens-20261206-221552-")
    assert first.tokens_file.read_text() == first_text
    assert set(_issued(first)) == {"ann"} and set(_issued(second)) == {"ben"}
    for issued in (first, second):
        assert stat.S_IMODE(os.stat(issued.tokens_file).st_mode) == 0o600
    # Nothing issued: no file at all.
    assert tokens.issue(_roster(tmp_path), out=out).tokens_file is None
