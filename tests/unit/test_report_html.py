"""HTML reports: what learners and instructors read (text checks; rendering is checked in Chromium)."""
from grader.report.html import feedback_page, summary_page
from grader.results import CellError, PartResult, SubmissionResult


def _result(learner="ada", hidden=False, total=1):
    return SubmissionResult(
        learner=learner, assignment="demo", total=total, max_total=2, status="graded",
        parts=[PartResult(id="p1", description="accuracy", status="passed", points=1, measured=0.95,
                          claimed=0.95, threshold=">= 0.9", message="ok"),
               PartResult(id="p2", description="test accuracy", status="failed", points=0,
                          measured=0.5123, threshold=">= 0.9", message="too low 0.5123", hidden=hidden)],
        errors=[CellError(cell=3, ename="NameError", evalue="name 'x' is not defined",
                          source="print(x)", traceback="NameError: name 'x' is not defined")])


def test_feedback_shows_parts_errors_and_escapes():
    page = feedback_page(_result(learner="<script>"), assignment_title="Demo")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "0.9500" in page and "print(x)" in page and "NameError" in page


def test_hidden_values_are_not_revealed():
    page = feedback_page(_result(hidden=True))
    assert "0.5123" not in page and "measured on hidden data" in page


def test_summary_counts_and_reasons():
    page = summary_page([_result("a"), _result("b", total=2)], assignment_title="Demo")
    assert "2 submissions" in page and "p2: too low N" in page
    assert page.count("data:image/png;base64,") == 2


def test_learner_text_is_escaped_on_both_pages():
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

    attack = "<script>alert(1)</script>"
    result = _result(learner=attack)
    result.parts[1].message = f"too low {attack}"
    result.errors[0].source = f"print('{attack}')"
    feedback, summary = feedback_page(result), summary_page([result], assignment_title="Demo")
    for page in (feedback, summary):
        tags = Tags()
        tags.feed(page)
        assert "script" not in tags.tags
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the learner id
    assert "too low &lt;script&gt;alert(1)&lt;/script&gt;" in feedback
    assert '<pre class="source">print(' in feedback and "&lt;script&gt;alert(1)&lt;/script&gt;" in feedback
    assert "p2: too low &lt;script&gt;alert(N)&lt;/script&gt;" in summary  # reasons: digits become N


def test_summary_links_survive_url_characters_in_learner_ids():
    # The feedback file is named after the learner; '#', '?' and '%' must not cut the link short.
    page = summary_page([_result("a#b?c%d é")], assignment_title="Demo")
    assert 'href="feedback/a%23b%3Fc%25d%20%C3%A9.html"' in page


def test_summary_groups_failures_by_cause_not_first_words():
    """Five learners whose MLP loss "could not be measured after cell N", for three causes."""
    messages = {
        "ana": ("Could not measure validation loss after cell 17: reading the model's variables failed: "
                "Attempting to use uninitialized value dense_2/bias.",
                "Your MLP is defined in cell 16 but no cell after it trains it (the training loop of cell 13 "
                "runs before it exists): add the training loop after cell 16 (a copy of cell 13)."),
        "ben": ("Could not measure validation loss after cell 16: reading the model's variables failed: "
                "Attempting to use uninitialized value dense_1/kernel.",
                "Your MLP is defined in cell 15 but only trained when cell 12 runs again; ..."),
        "cal": ("Could not measure validation loss after cell 16: exporting the model failed: Tensor "
                "Tensor(\"Placeholder:0\") must be from the same graph as Tensor(\"dense/kernel:0\").", ""),
        "dee": ("Could not measure validation loss after cell 16: exporting the model failed: Tensor "
                "Tensor(\"Placeholder_1:0\") must be from the same graph as Tensor(\"dense_3/bias:0\").", ""),
        "eve": ("Could not measure validation loss after cell 18: name 'logits' is not defined in the "
                "notebook when this cell has run.", ""),
    }
    results = [SubmissionResult(learner=name, assignment="demo", status="graded", max_total=1, parts=[
        PartResult(id="i8bgs", status="error", message=message + (" " + advice if advice else ""),
                   advice=advice, cell=16)]) for name, (message, advice) in messages.items()]
    page = summary_page(results, assignment_title="Demo")
    assert "Could not measure" not in page
    rows = page.split('<table id="reasons">')[1].split("</table>")[0].split("<tr>")[2:]
    cells = [(row.split("<td>")[1].split("</td>")[0], row.split("<td>")[2].split("</td>")[0]) for row in rows]
    assert cells == [
        ("i8bgs: never trained after the cell that defined it", "2"),
        ("i8bgs: placeholders or tensors of a discarded graph (a session reset left them behind)", "2"),
        ("i8bgs: a name that does not exist (a typo, a look-alike letter, a cell that did not run)", "1")]
    assert 'href="feedback/ana.html">ana</a>, <a href="feedback/ben.html">ben</a>' in page
