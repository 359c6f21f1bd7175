"""Bad input: one line that says what to fix, exit status 2, nothing written, nothing run.

Each case runs the real command line (in-process through ``grader.cli.main`` and,
for the exit status and the absence of a traceback, once as ``python -m grader``).
None of them starts a kernel: the input is refused before.
"""
import subprocess
import sys
import zipfile

import pytest

from grader.cli import main
from grader.exceptions import UsageError
from grader.orchestrate import GradeOptions
from tests.conftest import ROOT

SUBMISSIONS = ROOT / "submissions"


def _one_line_error(capsys, argv, *fragments) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err
    assert error.endswith("\n") and error.count("\n") == 1, error  # exactly one line
    assert "Traceback" not in error
    for fragment in fragments:
        assert fragment in error, error
    return error


def test_a_notebook_that_does_not_exist(capsys, tmp_path):
    missing = tmp_path / "my_notebook.ipynb"
    # Several assignments exist here: the missing file is what to fix first, not the choice.
    error = _one_line_error(capsys, ["check", str(missing)], f"{missing} does not exist")
    assert "several assignments" not in error
    _one_line_error(capsys, ["check", str(missing), "--json", "--junit", str(tmp_path / "j.xml"),
                             "--html", str(tmp_path / "p.html")], "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_given_to_check(capsys, tmp_path):
    _one_line_error(capsys, ["check", str(tmp_path)], "is a folder", "grader grade")


def test_a_folder_with_no_notebooks(capsys, tmp_path):
    empty = tmp_path / "class"
    empty.mkdir()
    (empty / "alice.pdf").write_text("%PDF")
    (empty / ".ipynb_checkpoints").mkdir()
    (empty / ".ipynb_checkpoints" / "old.ipynb").write_text("{}")  # hidden: not a submission
    out = tmp_path / "out"
    _one_line_error(capsys, ["grade", str(empty), "--out", str(out)], "holds no notebook (.ipynb)")
    assert not out.exists()


def test_a_zip_with_no_notebooks_is_not_unpacked(capsys, tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/report.pdf", "%PDF")
        zf.writestr("__MACOSX/alice/._work.ipynb", "junk")
    out = tmp_path / "out"
    _one_line_error(capsys, ["grade", str(archive), "--out", str(out)], "archive", "holds no notebook")
    assert not out.exists()  # not even OUT/.inputs


def test_a_notebook_given_to_grade(capsys, tmp_path):
    notebook = tmp_path / "alice.ipynb"
    notebook.write_text("{}")
    _one_line_error(capsys, ["grade", str(notebook), "--out", str(tmp_path / "out")], "grader check")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["grade", str(SUBMISSIONS), "--workers", "0"], "--workers/-j: must be a whole number of 1 or more, got 0"),
    (["grade", str(SUBMISSIONS), "-j", "-2"], "got -2"),
    (["grade", str(SUBMISSIONS), "--threads", "0"], "--threads"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--cell-timeout", "-5"],
     "--cell-timeout: must be a number of seconds above 0, got -5"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--budget", "-1"], "--budget: must be"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--budget", "0"], "--budget: must be"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--cell-timeout", "nan"], "--cell-timeout"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--cell-timeout", "ten"], "got 'ten'"),
    (["grade", str(SUBMISSIONS), "--budget", "-60"], "--budget: must be"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--memory-limit", "0"], "--memory-limit"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--seed", "-1"], "--seed"),
    (["check", str(SUBMISSIONS / "weak_model.ipynb"), "--progress", "loud"], "--progress"),
])
def test_numbers_that_make_no_sense(capsys, tmp_path, argv, fragment):
    error = _one_line_error(capsys, argv + (["--out", str(tmp_path / "out")] if argv[0] == "grade" else []),
                            fragment)
    assert "--help" in error  # where to read more
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_or_a_folder(capsys, tmp_path):
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    _one_line_error(capsys, ["grade", str(SUBMISSIONS), "--out", str(taken)],
                    f"the output folder {taken} is a file")
    assert taken.read_text() == "not a folder"
    notebook = SUBMISSIONS / "weak_model.ipynb"
    _one_line_error(capsys, ["check", str(notebook), "--html", str(tmp_path)], "--html", "is a folder")
    _one_line_error(capsys, ["check", str(notebook), "--junit", str(tmp_path)], "--junit", "is a folder")


def test_the_library_refuses_the_same(tmp_path):
    import grader

    for field, value in (("cell_timeout", -1), ("notebook_budget", 0), ("memory_mb", 0),
                         ("threads", -3), ("seed", -1), ("sandbox", "maybe"), ("order", "sideways")):
        with pytest.raises(UsageError) as caught:
            GradeOptions(**{field: value})
        assert caught.value.argument == field and caught.value.value == value
    with pytest.raises(UsageError, match="workers must be"):
        grader.grade(SUBMISSIONS, out=tmp_path / "out", workers=0)
    with pytest.raises(UsageError, match="does not exist") as caught:
        grader.check(tmp_path / "nope.ipynb")
    assert caught.value.argument == "notebook"
    assert not (tmp_path / "out").exists()


def test_the_command_exits_2_without_a_traceback(tmp_path):
    (tmp_path / "f").write_text("")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(SUBMISSIONS), "--out",
                          str(tmp_path / "f")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == f"grader: error: the output folder {tmp_path / 'f'} is a file: give a folder " \
                         f"(it is created if missing)\n"


def test_the_progress_choices_are_the_displays():
    from grader.cli import build_parser
    from grader.report.live import MODES

    check = build_parser()._subparsers._group_actions[0].choices["check"]
    progress = next(action for action in check._actions if action.dest == "progress")
    assert tuple(progress.choices) == MODES


@pytest.mark.parametrize("argv, fragments", [
    (["check", "submissions/weak_model.ipynb", "--threads", "0"], ["--threads", "a whole number of 1 or more"]),
    (["validate", "assignments/sklearn_digits", "--threads", "two"], ["--threads", "got 'two'"]),
    (["calibrate", "--assignment", "sklearn_digits", "--weak", "nowhere.ipynb"],
     ["--weak nowhere.ipynb does not exist"]),
    (["calibrate", "--assignment", "sklearn_digits", "--write", "--no-write"], ["not allowed with"]),
    (["calibrate", "--assignment", "sklearn_digits", "--seeds", "0"], ["--seeds", "1 or more"]),
    (["author", "reference/nowhere/source.ipynb"], ["no such source notebook"]),
    (["author", "--assignment", "sklearn_digits"], ["names no source notebook"]),
])
def test_threads_weak_write_and_author_options(capsys, monkeypatch, argv, fragments):
    """--threads, --weak, --write, author: a usage mistake is one line and exit 2, nothing run or written."""
    monkeypatch.chdir(ROOT)
    before = (ROOT / "reference" / "sklearn_digits" / "thresholds.toml").read_text()
    _one_line_error(capsys, argv, *fragments)
    assert (ROOT / "reference" / "sklearn_digits" / "thresholds.toml").read_text() == before


def test_an_order_that_is_not_a_policy(capsys, tmp_path):
    """--order on every command that runs notebooks, refused before anything runs or is written."""
    notebook = SUBMISSIONS / "weak_model.ipynb"
    out = tmp_path / "out"
    for argv in (["check", str(notebook)], ["grade", str(SUBMISSIONS), "--out", str(out)],
                 ["serve", "--out", str(out)], ["validate", "assignments/sklearn_digits"]):
        _one_line_error(capsys, [*argv, "--order", "sideways"], "--order", "invalid choice: 'sideways'",
                        "'top-down', 'as-run'")
    assert not out.exists()


def test_the_order_choices_are_the_policies():
    from grader.cli import build_parser
    from grader.run.schedule import ORDERS

    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("check", "grade", "serve", "validate"):
        order = next(action for action in commands[name]._actions if action.dest == "order")
        assert tuple(order.choices) == ORDERS and order.default is None


def test_the_order_given_reaches_the_grading_options():
    from grader.cli import build_parser
    from grader.cli.options import grade_options

    parser = build_parser()
    for argv in (["check", "nb.ipynb"], ["grade", "submissions"], ["serve"]):
        assert grade_options(parser.parse_args([*argv, "--order", "top-down"])).order == "top-down"
        assert grade_options(parser.parse_args(argv)).order is None  # the assignment's
    validate = parser.parse_args(["validate", "assignments/mnist_digits", "--order", "as-run"])
    assert validate.order == "as-run"
