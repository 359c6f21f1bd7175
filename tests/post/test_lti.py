"""LTI 1.3 AGS against a platform pair on 127.0.0.1 that checks the JWT and the token."""
from __future__ import annotations

import pytest

from grader.exceptions import DestinationConfigError, PostError
from grader.post import post_results
from grader.post.destinations.lti import scores_url

from .conftest import CLIENT_ID, FAST


def _post(results_dir, learners_csv, platform, **kwargs):
    retry = {**FAST, **kwargs.pop("retry", {})}
    return post_results(results_dir, to="lti", learners=learners_csv,
                        settings={"lineitem": platform.lineitem, "token_url": platform.token_url,
                                  "client_id": CLIENT_ID, **kwargs.pop("settings", {})},
                        retry=retry, **kwargs)


@pytest.fixture
def key_file(keypair, tmp_path, clean_env):
    path = tmp_path / "tool-key.pem"
    path.write_text(keypair[0])
    path.chmod(0o600)
    clean_env.setenv("GRADER_LTI_PRIVATE_KEY_FILE", str(path))
    return path


def test_scores_posted_with_one_cached_token(platform, results_dir, learners_csv, key_file):
    report = _post(results_dir, learners_csv, platform)
    assert report.complete, platform.rejections
    assert platform.token_requests == 1                    # cached for the three scores
    assert platform.score_count == {"lms-alice": 1, "lms-bob": 1, "lms-carol": 1}
    score = platform.scores[0]
    assert {k: score[k] for k in ("userId", "scoreGiven", "scoreMaximum", "activityProgress",
                                  "gradingProgress")} == \
        {"userId": "lms-alice", "scoreGiven": 3.0, "scoreMaximum": 5.0,
         "activityProgress": "Completed", "gradingProgress": "FullyGraded"}
    assert score["timestamp"].endswith("+00:00") and "T" in score["timestamp"]
    assert score["comment"].startswith("mnist_digits: 3/5. 9XaAS passed 1/1 (measured 784 10 10")
    assert "RMv95 passed 1/1 (measured 0.9312)" in score["comment"]
    # Re-running sends nothing and asks for no token.
    again = _post(results_dir, learners_csv, platform)
    assert all(o.already_sent for o in again.outcomes) and platform.token_requests == 1


def test_hidden_values_stay_out_of_the_learners_comment(platform, tmp_path, learners_csv,
                                                        key_file):
    from .conftest import make_result, write_results

    out = write_results(tmp_path / "h", [make_result("alice", hidden=True)])
    assert _post(out, learners_csv, platform).complete
    assert "RMv95 passed 1/1;" in platform.scores[0]["comment"]
    assert "0.9312" not in platform.scores[0]["comment"]


def test_key_from_environment_and_kid_header(platform, results_dir, learners_csv, keypair,
                                             clean_env):
    import jwt

    clean_env.setenv("GRADER_LTI_PRIVATE_KEY", keypair[0])
    clean_env.setenv("GRADER_LTI_KEY_ID", "key-2026")
    assert _post(results_dir, learners_csv, platform).complete
    token_request = next(r for r in platform.requests if r["path"].endswith("/token"))
    from urllib.parse import parse_qs

    assertion = parse_qs(token_request["body"].decode())["client_assertion"][0]
    assert jwt.get_unverified_header(assertion)["kid"] == "key-2026"


def test_revoked_token_is_renewed(platform, results_dir, learners_csv, key_file):
    _post(results_dir, learners_csv, platform, settings={})
    platform.tokens.clear()                                   # the LMS revokes every token
    from .conftest import make_result, write_results

    write_results(results_dir, [make_result("alice", accuracy=0.5)])
    report = _post(results_dir, learners_csv, platform)
    assert report.complete and platform.token_requests == 2
    assert platform.score_count["lms-alice"] == 2            # the old grade and the new one


def test_token_endpoint_busy_then_ok(platform, results_dir, learners_csv, key_file):
    platform.plan = [503, 503]
    report = _post(results_dir, learners_csv, platform)
    assert report.complete and report.outcomes[0].attempts == 3
    assert platform.score_count == {"lms-alice": 1, "lms-bob": 1, "lms-carol": 1}


def test_wrong_key_stops_the_run_and_keeps_scores_pending(platform, results_dir, learners_csv,
                                                          clean_env, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    clean_env.setenv("GRADER_LTI_PRIVATE_KEY", other)
    with pytest.raises(PostError) as info:
        _post(results_dir, learners_csv, platform)
    assert info.value.status == 401 and "refused the tool's credentials" in str(info.value)
    assert "Signature verification failed" in str(info.value)
    assert not platform.scores
    from grader.post import outbox_status

    assert {r.status for r in outbox_status(results_dir)} == {"pending"}


def test_missing_lms_user_id_fails_that_learner(platform, results_dir, tmp_path, key_file):
    learners = tmp_path / "l.csv"
    learners.write_text("learner,lms_user_id\nalice,u1\nbob,\ncarol,u3\n")
    report = _post(results_dir, learners, platform)
    assert [o.status for o in report.outcomes] == ["sent", "failed", "sent"]
    assert "no LMS user id for learner 'bob'" in report.outcomes[1].message


def test_world_readable_key_file_is_refused(platform, results_dir, learners_csv, key_file):
    key_file.chmod(0o644)
    with pytest.raises(DestinationConfigError, match="chmod 600"):
        _post(results_dir, learners_csv, platform)


def test_scores_url_keeps_the_query():
    assert scores_url("https://lms/api/line_items/7?type=x") == \
        "https://lms/api/line_items/7/scores?type=x"
    assert scores_url("https://lms/api/line_items/7/") == "https://lms/api/line_items/7/scores"


def test_token_is_renewed_once_it_expires(platform, results_dir, learners_csv, key_file):
    platform.expires_in = 30          # within the 30 s safety margin: never reused
    assert _post(results_dir, learners_csv, platform).complete
    assert platform.token_requests == 3 and len(platform.jtis) == 3   # a fresh jti each time
