"""The command line: fast start, no TensorFlow in the harness, exit codes."""
import subprocess
import sys
import time

from grader.cli import main
from tests.conftest import ROOT


def test_help_is_fast_and_imports_no_tensorflow():
    code = ("import sys, time; t = time.perf_counter(); from grader.cli import main; "
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
            "print(time.perf_counter() - t); "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'numpy', 'nbclient')]")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 0.5


def test_grading_modules_never_import_tensorflow():
    code = ("import sys; import grader.api, grader.batch.engine, grader.batch.executor, grader.orchestrate, grader.run.execute, grader.report.table, grader.report.html, "
            "grader.kernel.agent; assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_console_entry_points_print_help():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "check" in out.stdout and "grade" in out.stdout
    assert time.perf_counter() - start < 5  # generous: a loaded CI machine; the real figure is in bench/RESULTS.md


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["check"]) == 2
    notebook = tmp_path / "x.ipynb"
    notebook.write_text("{}")
    assert main(["check", str(notebook), "--assignment", "no_such_assignment"]) == 2
    assert "no assignment 'no_such_assignment'" in capsys.readouterr().err
    assert main([]) == 2


def test_bad_data_option_exit_2(capsys, tmp_path):
    nb = tmp_path / "a.ipynb"
    nb.write_text("{}")
    assert main(["check", str(nb), "--data", "mnist"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err
    assert main(["check", str(nb), "--data", "cifar=/x.npz", "--assignment", "mnist_digits"]) == 2
    assert "does not declare" in capsys.readouterr().err


def test_spec_fields_lists_keys(capsys):
    assert main(["spec-fields"]) == 0
    out = capsys.readouterr().out
    assert "[[parts]]" in out and "claim_tolerance" in out
