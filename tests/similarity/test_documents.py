"""What is compared of a notebook: code cells, without the template, magics and empty lines."""
from __future__ import annotations

import nbformat

from grader.similarity.documents import build_document, corpus_documents, learner_document, template_lines
from tests.conftest import ASSIGNMENT_DIR

TEMPLATE = ASSIGNMENT_DIR / "template.ipynb"


def _kept(document):
    return [line for line, kept in zip(document.text.split("\n"), document.kept) if kept]


def test_template_lines_magics_and_comments_are_left_out_wherever_they_are():
    keys = template_lines(TEMPLATE)
    cells = ["%matplotlib inline\n!pip install tensorflow==1.15\nfiles = !ls",
             # template lines pasted in another cell, requoted, recommented and renamed
             "s.run(tf.global_variables_initializer())  # my comment\n"
             "Xtr = X_train.reshape((X_train.shape[0], -1))\n"
             "print('y_train [shape %s] 10 samples:\\n' % (str(y_train.shape)), y_train[:10])",
             "# only a comment\n\nW = tf.Variable(tf.zeros([784, 10]))\ns = f()",
             "%%bash\necho hello"]
    document = build_document("x", cells, template=keys)
    assert _kept(document) == ["W = tf.Variable(tf.zeros([784, 10]))", "s = f()"]
    assert document.place(document.text.split("\n").index("W = tf.Variable(tf.zeros([784, 10]))")) == (3, 3)
    assert not document.empty
    assert build_document("t", [c.source for c in nbformat.read(TEMPLATE, as_version=4).cells
                                if c.cell_type == "code"], template=keys).empty


def test_barriers_stand_where_code_was_left_out_and_differ_between_documents():
    keys = template_lines(TEMPLATE)
    cells = ["a = 1\ns.run(tf.global_variables_initializer())\nb = 2"]
    first, second = build_document("one", cells, template=keys), build_document("two", cells, template=keys)
    assert first.text.split("\n")[0] == "a = 1" and first.text.split("\n")[2] == "b = 2"
    barrier = first.text.split("\n")[1]
    assert barrier.isdigit() and len(barrier) >= 16 and barrier != second.text.split("\n")[1]


def test_notebooks_that_cannot_be_read_and_corpus_files(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert learner_document("b", tmp_path / "broken.ipynb", template=set()).empty
    assert "no re-run notebook" in learner_document("n", tmp_path / "none.ipynb", template=set()).note
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "solution.py").write_text("# In[1]:\nimport numpy as np\nW = np.zeros((784, 10))\n")
    (corpus / "notes.txt").write_text("W = 1")
    (corpus / "broken.ipynb").write_text("{")
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "x.py").write_text("W = 2\n")
    documents = corpus_documents(corpus, template=set())
    assert [(d.name, d.kind, d.cells_numbered) for d in documents] == [("sub/solution.py", "corpus", False)]
    assert _kept(documents[0]) == ["import numpy as np", "W = np.zeros((784, 10))"]
