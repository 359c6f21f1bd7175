"""Secrets never leak (outbox file, printed output), and the configuration's rules."""
from __future__ import annotations

import os

import pytest

from grader.exceptions import DestinationConfigError
from grader.post import post_results
from tests.post.conftest import post_main as main
from grader.post.config import load_learners
from grader.post.secrets import Redactor, Secret

from .conftest import CLIENT_ID, WEBHOOK_SECRET, run_post_cli
from .servers import CourseServer


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(HOME=str(tmp_path / "home"), **extra)
    return env


def _files_text(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_no_secret_in_outbox_or_output(results_dir, learners_csv, tokens, platform, keypair,
                                       receiver, tmp_path):
    # A careless server quotes the learner's token back in its error page.
    course = CourseServer(echo_secret=True)
    course.plan = ["500"] * 6
    env = _env(tmp_path, **{f"GRADER_COURSERA_TOKEN_{n.upper()}": t for n, t in tokens.items()},
               GRADER_WEBHOOK_SECRET=WEBHOOK_SECRET, GRADER_LTI_PRIVATE_KEY=keypair[0])
    try:
        runs = [
            run_post_cli([str(results_dir), "--to", "coursera", "--url", course.url,
                          "--learners", str(learners_csv), "--attempts", "2",
                          "--base-delay", "0.01"], env=env),
            run_post_cli([str(results_dir), "--to", "webhook", "--url", receiver.url], env=env),
            run_post_cli([str(results_dir), "--to", "lti", "--lineitem", platform.lineitem,
                          "--set", f"token_url={platform.token_url}", "--set",
                          f"client_id={CLIENT_ID}", "--learners", str(learners_csv)], env=env),
            run_post_cli([str(results_dir), "--status"], env=env),
        ]
    finally:
        course.close()
    assert [r.returncode for r in runs] == [1, 0, 0, 1], [r.stderr for r in runs]
    printed = "".join(r.stdout + r.stderr for r in runs)
    assert "secret=***" in printed                     # the echoed token, masked
    stored = _files_text(results_dir)
    assert b"secret=***" in stored                      # the message kept in the outbox
    pem_lines = [line for line in keypair[0].splitlines() if not line.startswith("-----")]
    secrets = [*tokens.values(), WEBHOOK_SECRET, *pem_lines[:3], *platform.tokens]
    assert platform.tokens                              # an access token was issued ...
    for secret in secrets:                              # ... and like every secret, kept out
        assert secret not in printed, secret
        assert secret.encode() not in stored, secret


def test_group_readable_config_is_refused(results_dir, tmp_path, capsys, clean_env):
    config = tmp_path / "post.toml"
    config.write_text(f'[webhook]\nsecret = "{WEBHOOK_SECRET}"\n')
    config.chmod(0o640)
    assert main([str(results_dir), "--to", "webhook", "--url", "http://127.0.0.1:9/",
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "readable or writable by group or others (mode 0640)" in err
    assert f"chmod 600 {config}" in err and WEBHOOK_SECRET not in err


def test_config_file_settings_and_unknown_keys(results_dir, tmp_path, receiver, clean_env):
    config = tmp_path / "post.toml"
    config.write_text(f'[webhook]\nurl = "{receiver.url}/hook"\nsecret = "{WEBHOOK_SECRET}"\n'
                      '[retry]\nattempts = 2\nbase_delay = 0.01\n')
    config.chmod(0o600)
    clean_env.setenv("GRADER_POST_CONFIG", str(config))
    assert post_results(results_dir, to="webhook").complete
    assert receiver.requests[0]["path"] == "/hook"
    config.write_text('[webhook]\nurl = "x"\nsecrt = "typo"\n')
    with pytest.raises(DestinationConfigError, match=r"webhook.secrt: unknown key 'secrt'"):
        post_results(results_dir, to="webhook")
    config.write_text('[webhok]\nurl = "x"\n')
    with pytest.raises(DestinationConfigError, match=r"unknown table \[webhok\]"):
        post_results(results_dir, to="webhook")


def test_secrets_are_refused_on_the_command_line(results_dir, capsys, clean_env):
    assert main([str(results_dir), "--to", "webhook", "--set", "secret=abc"]) == 2
    assert "secret is a secret: set it in the environment" in capsys.readouterr().err
    assert main([str(results_dir), "--to", "webhook", "--lineitem", "https://x"]) == 2
    assert "--lineitem is not a setting of webhook" in capsys.readouterr().err
    assert main([str(results_dir)]) == 2
    assert "--to NAME is required" in capsys.readouterr().err
    assert main([str(results_dir), "--to", "moodle"]) == 2
    assert "unknown destination 'moodle'; known: coursera, gradescope, lti, webhook" in \
        capsys.readouterr().err


def test_secret_hides_itself_and_redactor_masks():
    secret = Secret("hunter2-hunter2", source="$X")
    assert "hunter2" not in repr(secret) and "hunter2" not in f"{secret}"
    redactor = Redactor()
    redactor.add(secret)
    redactor.add("ab")  # too short to mask by substring
    assert redactor.redact("got hunter2-hunter2 back; ab") == "got *** back; ab"


def test_learners_file_rules(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("\ufefflearner,email,lms_user_id,extra\nalice,a@x.org,1,z\n\nbob,,2,\n")
    assert load_learners(path)["alice"].email == "a@x.org"
    assert load_learners(path)["bob"].lms_user_id == "2"
    path.write_text("name,email\nalice,a@x.org\n")
    with pytest.raises(DestinationConfigError, match="must name the columns learner"):
        load_learners(path)
    path.write_text("learner\nalice\nalice\n")
    with pytest.raises(DestinationConfigError, match="listed twice \\(line 3\\)"):
        load_learners(path)
