"""`grader author`: one source notebook makes the template, the solution and the weak samples.

Pure Python (no kernel): what each marker does, the errors that name a cell and a line and
write nothing, staleness, a Jupytext percent-format source, and the command line.
"""
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.assignments import load_assignment
from grader.authoring.author import author, generate, stale, weak_parts
from grader.cli import main
from grader.exceptions import SpecError
from tests.conftest import ROOT

SOURCE_CELLS = [
    ("markdown", "# Means\n\nCompute the mean."),
    ("code", "import numpy as np\nimport grading\ngrader = grading.Grader('toy', all_parts=['mean', 'double'])\n"
             "X = np.arange(10.0)"),
    ("code", "### BEGIN SOLUTION\nmean = X.mean()\n### END SOLUTION\n### BEGIN WEAK off\n# mean = X[1:].mean()\n"
             "### END WEAK\n### BEGIN TEMPLATE\n# mean = None  # the mean of X\n### END TEMPLATE\n"
             "grader.set_answer('mean', mean)"),
    ("code", "def double(X):\n    \"\"\"Twice X.\"\"\"\n    ### BEGIN SOLUTION\n    return X * 2\n    ### END SOLUTION\n"
             "total = double(X).sum()  ### SOLUTION\n### BEGIN HIDDEN\nassert total == 90\n### END HIDDEN\n"
             "grader.set_answer('double', total)"),
    ("code", "### HIDDEN CELL\nprint('the author checks', mean, total)"),
]


def _notebook(cells=SOURCE_CELLS):
    notebook = new_notebook()
    for index, (kind, text) in enumerate(cells):
        cell = new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
        cell.id = f"c{index}"
        if kind == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
            cell.execution_count = index
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def _toy(tmp_path) -> Path:
    """A toy assignment laid out as in a repository, its source in reference/toy/source.ipynb."""
    folder, reference = tmp_path / "assignments" / "toy", tmp_path / "reference" / "toy"
    (folder / "helpers").mkdir(parents=True)
    reference.mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        'id = "toy"\nsource = "source.ipynb"\n[[parts]]\nid = "mean"\nkind = "array"\nobject = "mean"\n'
        '[[parts]]\nid = "double"\nkind = "array"\nobject = "total"\n')
    nbformat.write(_notebook(), reference / "source.ipynb")
    return reference / "source.ipynb"


def _sources(notebook):
    return [cell.source for cell in notebook.cells]


def test_each_marker_makes_its_notebooks(tmp_path):
    generated = generate(_toy(tmp_path))
    template, solution, weak = generated.template, generated.solution, generated.weak["off"]
    assert _sources(template) == [
        "# Means\n\nCompute the mean.", SOURCE_CELLS[1][1],
        "mean = None  # the mean of X\ngrader.set_answer('mean', mean)",
        "def double(X):\n    \"\"\"Twice X.\"\"\"\n    ### YOUR CODE HERE ###\n"
        "    raise NotImplementedError(\"write this part\")\ntotal = None  ### YOUR CODE HERE ###\n"
        "grader.set_answer('double', total)"]
    assert _sources(solution)[2:] == [
        "mean = X.mean()\ngrader.set_answer('mean', mean)",
        "def double(X):\n    \"\"\"Twice X.\"\"\"\n    return X * 2\ntotal = double(X).sum()\nassert total == 90\n"
        "grader.set_answer('double', total)",
        "print('the author checks', mean, total)"]
    # A weak sample is a learner's notebook: its WEAK blocks in place, nothing hidden.
    assert _sources(weak)[2:] == [
        "mean = X[1:].mean()\ngrader.set_answer('mean', mean)",
        "def double(X):\n    \"\"\"Twice X.\"\"\"\n    return X * 2\ntotal = double(X).sum()\n"
        "grader.set_answer('double', total)"]
    for notebook in (template, solution, weak):
        assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
                   for c in notebook.cells if c.cell_type == "code")
        assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert [c.id for c in solution.cells] == ["c0", "c1", "c2", "c3", "c4"]
    assert weak.metadata["grader"] == {"generated_from": "source.ipynb", "generated_as": "weak:off",
                                       "weak_from_cell": 2,
                                       "note": "written by grader author: edit the source, not this file"}
    # The source itself runs: every marker is a comment, the TEMPLATE and WEAK lines too.
    namespace = {}
    for cell in generated.solution.cells[1:]:
        exec(cell.source.replace("import grading\n", "").replace(
            "grader = grading.Grader('toy', all_parts=['mean', 'double'])", "grader = type('G', (), "
            "{'set_answer': lambda self, p, v: None})()"), namespace)
    assert namespace["total"] == 90


def test_author_writes_then_finds_nothing_stale_then_finds_a_hand_edit(tmp_path):
    source = _toy(tmp_path)
    assignment = load_assignment(tmp_path / "assignments" / "toy")
    report = author(assignment)
    template = tmp_path / "assignments" / "toy" / "template.ipynb"
    weak = tmp_path / "reference" / "toy" / "weak" / "off.ipynb"
    assert set(report.written) == {template, tmp_path / "reference" / "toy" / "solution.ipynb", weak}
    assert stale(assignment) == []
    assert author(assignment).written == []  # byte for byte the same: nothing rewritten
    # The parts a generated weak sample must fail: those graded from its first changed cell on.
    assert weak_parts(weak, ["mean", "double"]) == {"mean", "double"}
    text = template.read_text()
    template.write_text(text.replace("the mean of X", "the mean of X (edited by hand)"))
    assert stale(assignment) == [(template, "differs from what the source makes now")]
    # A weak sample the source no longer has is stale, and the next author run removes it.
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[2].source = notebook.cells[2].source.replace(
        "### BEGIN WEAK off\n# mean = X[1:].mean()\n### END WEAK\n", "")
    nbformat.write(notebook, source)
    found = dict(stale(assignment))
    assert found[weak].startswith("generated by an older source")
    report = author(assignment)
    assert report.removed == [weak] and not weak.exists() and stale(assignment) == []


@pytest.mark.parametrize("cell, message", [
    ("x = 1\n### END SOLUTION", "cell 1, line 2: ### END SOLUTION without a ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\nx = 1", "cell 1, line 2: a solution block is not closed"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN\n### END HIDDEN\n### END SOLUTION",
     "cell 1, line 2: ### BEGIN HIDDEN inside a solution block"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN TEMPLATE\nx = None\n### END TEMPLATE",
     "cell 1, line 5: the lines of a TEMPLATE block are commented out in the source"),
    ("x = 1\n### BEGIN WEAK w\n# x = 2\n### END WEAK", "cell 1, line 2: a WEAK block comes right after"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN WEAK\n### END WEAK",
     "cell 1, line 4: ### BEGIN WEAK needs the weak sample's name"),
    ("print(1)  ### SOLUTION", "cell 1, line 1: ### SOLUTION ends a line NAME = EXPRESSION"),
    ("x = 1\n### HIDDEN CELL", "cell 1, line 2: ### HIDDEN CELL is the first line of a cell"),
])
def test_a_marker_out_of_place_names_cell_and_line_and_nothing_is_written(tmp_path, cell, message):
    source = _toy(tmp_path)
    nbformat.write(_notebook([("code", cell)]), source)
    with pytest.raises(SpecError) as raised:
        generate(source)
    assert message in str(raised.value) and str(source) in str(raised.value)
    assert main(["author", str(source)]) == 2
    assert not (tmp_path / "assignments" / "toy" / "template.ipynb").exists()


def test_a_percent_format_script_is_a_source_too(tmp_path):
    script = tmp_path / "source.py"
    script.write_text("# %% [markdown]\n# # Title\n\n# %%\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
                      "print(x)\n\n# %%\n### HIDDEN CELL\nassert x == 1\n")
    generated = generate(script)
    assert [c.cell_type for c in generated.template.cells] == ["markdown", "code"]
    assert generated.template.cells[1].source.startswith("### YOUR CODE HERE ###\nraise NotImplementedError")
    assert [c.source for c in generated.solution.cells][1:] == ["x = 1\nprint(x)", "assert x == 1"]
    # Ids are stable (jupytext would make random ones): the generated files compare byte for byte.
    assert [c.id for c in generate(script).solution.cells] == [c.id for c in generated.solution.cells]


def test_the_command_line(tmp_path, capsys, monkeypatch):
    source = _toy(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["author", "reference/toy/source.ipynb"]) == 0
    out = capsys.readouterr().out
    assert "wrote assignments/toy/template.ipynb" in out and "wrote reference/toy/weak/off.ipynb" in out
    assert main(["author", "--assignment", "assignments/toy", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[1].source += "\nY = X + 1"
    nbformat.write(notebook, source)
    assert main(["author", "--assignment", "assignments/toy", "--check"]) == 1
    out = capsys.readouterr().out
    assert "stale: assignments/toy/template.ipynb: differs" in out
    assert "run: grader author reference/toy/source.ipynb" in out
    # Usage mistakes: one line, exit 2, nothing written.
    assert main(["author", "reference/toy/nothing.ipynb"]) == 2
    assert "no such source notebook" in capsys.readouterr().err
    elsewhere = tmp_path / "elsewhere.ipynb"
    shutil.copy(source, elsewhere)
    assert main(["author", str(elsewhere)]) == 2
    assert "name the assignment with --assignment" in capsys.readouterr().err


def test_the_shipped_keras_edition_is_generated_from_its_source():
    assignment = load_assignment(ROOT / "assignments" / "mnist_keras")
    assert assignment.source_path.name == "source.ipynb"
    assert stale(assignment) == []
    template = json.loads(assignment.template_path.read_text())
    assert "BEGIN SOLUTION" not in json.dumps(template) and "Dense(256" not in json.dumps(template)
    assert weak_parts(assignment.weak_folder / "one_hidden_layer.ipynb",
                      [p.id for p in assignment.parts]) == {"mlp2_loss", "mlp2_accuracy"}
    assert weak_parts(assignment.weak_folder / "one_epoch.ipynb",
                      [p.id for p in assignment.parts]) == {p.id for p in assignment.parts}
