"""What a submission's body must be, and the learner's message when it is not.

The body is the course's (``COURSE_PROTOCOL.md``: ``assignmentKey``,
``submitterEmail``, ``secret``, ``parts``) with one more field, the saved
notebook itself::

    "notebook": {"name": "week2.ipynb", "content": BASE64 OF THE FILE'S BYTES}

:func:`parse` checks the body - JSON, the assignment, the notebook's presence
and size - and, once the service knows the learner, :func:`check_notebook` its
kind and contents; both raise :class:`~grader.serve.policy.Refused` with an
HTTP status and one line for the learner: malformed JSON, JSON nested too deeply,
text that is not text (a lone UTF-16 surrogate such as ``\\ud800``, which no UTF-8
file or database can hold), no notebook (400), another assignment (422), too
large (413), a zip or anything that is not a notebook (415), a notebook that
mentions none of the assignment's parts (422).  Nothing is written before every
check passed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePath

from ..specs.model import Assignment
from .policy import Refused

_ZIP = b"PK\x03\x04"
_MB = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A checked submission body."""

    email: str
    token: str
    file_name: str
    content: bytes
    sha256: str
    claims: dict
    assignment: str = ""   # the id of the assignment it is for (a course: chosen by its key)


def body_limit(assignment: Assignment) -> int:
    """The most bytes a body may have: the notebook in base64, and room for the rest."""
    return int(assignment.submissions.max_upload_mb * _MB * 4 / 3) + 256 * 1024


def too_large(assignment: Assignment) -> Refused:
    return Refused(413, f"The notebook is larger than this assignment accepts "
                        f"({assignment.submissions.max_upload_mb:g} MB): clear large outputs "
                        f"(Cell > All Output > Clear), save, and submit again.", code="too-large")


def parse(body: bytes, assignment: Assignment, others: dict[str, Assignment] | None = None) -> Upload:
    """The checked upload (see the module docstring).  ``others``: a course's assignments by id; the
    upload is for the one whose ``course_key`` its ``assignmentKey`` is (``Upload.assignment``)."""
    if len(body) > max(body_limit(a) for a in [assignment, *(others or {}).values()]):
        raise too_large(assignment)
    data = _decode(body)
    if others and len(others) > 1:
        key = data.get("assignmentKey")
        assignment = next((a for a in others.values() if a.course_key and a.course_key == key), None) or \
            _refuse_other(key, others)
        if len(body) > body_limit(assignment):
            raise too_large(assignment)
    return _check(data, assignment)


def _refuse_other(key, others: dict[str, Assignment]):
    titles = ", ".join(f"\u201c{a.title or a.id}\u201d" for a in others.values())
    raise Refused(422, f"This submission is for no assignment of this course (key {str(key)[:40]!r}); this "
                       f"server grades {titles}: use the grading.py of the assignment you submit.",
                  code="other-assignment")


def _decode(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, f"The submission is not valid JSON ({str(exc)[:80]}): submit with the "
                           f"course's grading.py, grader.submit(email, token).", code="bad-json") from None
    except RecursionError:   # json's decoder recurses once per level: [[[[... 100,000 deep
        raise Refused(400, "The submission's JSON is nested too deeply to be a submission: submit with the "
                           "course's grading.py, grader.submit(email, token).", code="bad-json") from None
    if not isinstance(data, dict):
        raise Refused(400, "The submission is not a JSON object: submit with the course's grading.py.",
                      code="bad-json")
    return data


def _check(data: dict, assignment: Assignment) -> Upload:
    key = data.get("assignmentKey")
    notebook = data.get("notebook")
    for what, value in (("assignment key", key), ("email", data.get("submitterEmail")),
                        ("token", data.get("secret")),
                        ("notebook name", notebook.get("name") if isinstance(notebook, dict) else None)):
        _check_text(what, value)
    if assignment.course_key and key != assignment.course_key:
        raise Refused(422, f"This submission is for another assignment (key {str(key)[:40]!r}); this "
                           f"server grades \u201c{assignment.title or assignment.id}\u201d: submit it "
                           f"where your course says.", code="other-assignment")
    notebook = data.get("notebook")
    if not isinstance(notebook, dict) or not isinstance(notebook.get("content"), str):
        raise Refused(400, "The submission carries no notebook: this server grades the notebook itself. "
                           "Use the grading.py of this course's assignment (it sends the saved .ipynb).",
                      code="no-notebook")
    try:
        content = base64.b64decode(notebook["content"], validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "The notebook in the submission is not base64: submit with the course's "
                           "grading.py.", code="bad-notebook") from None
    if len(content) > assignment.submissions.max_upload_mb * _MB:
        raise too_large(assignment)
    name = PurePath(str(notebook.get("name") or "notebook.ipynb")).name[:200] or "notebook.ipynb"
    parts = data.get("parts")
    return Upload(email=data.get("submitterEmail"), token=data.get("secret"), file_name=name,
                  content=content, sha256=hashlib.sha256(content).hexdigest(),
                  claims=parts if isinstance(parts, dict) else {}, assignment=assignment.id)


def _check_text(what: str, value) -> None:
    """Refuse a string no UTF-8 file, database or answer can hold (a lone surrogate from a
    ``\\ud800`` escape: JSON allows it, UTF-8 does not)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(400, f"The submission's {what} holds a character that is not text (a lone "
                               f"surrogate, \\ud800-\\udfff): submit with the course's grading.py, with the "
                               f"email and token exactly as you were sent them.", code="bad-text") from None


def check_notebook(upload: Upload, assignment: Assignment) -> None:
    """Refuse what is not a notebook of ``assignment`` (after the learner is known)."""
    content, name = upload.content, upload.file_name
    if content.startswith(_ZIP):
        raise Refused(415, f"{name} is a zip archive, not a notebook: submit the .ipynb file itself.",
                      code="zip")
    try:
        # Read, not validated: nbformat's schema validation (4 ms a notebook, the most of a
        # submission's time on the event loop) only warns, and the grading reads the notebook
        # again anyway.  A version 4 notebook is plain JSON; an older one is brought to 4.
        notebook = json.loads(content.decode("utf-8-sig"))
        if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
            import nbformat
            import nbformat.reader

            notebook = nbformat.convert(nbformat.reader.reads(content.decode("utf-8-sig")), 4)
        cells = notebook.get("cells")
    except Exception:  # json and nbformat raise several types for what is not a notebook
        cells = None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise Refused(415, f"{name} is not a Jupyter notebook: submit the .ipynb file saved from Jupyter.",
                      code="not-a-notebook")
    code = "\n".join(_source(c) for c in cells if c.get("cell_type") == "code")
    if assignment.parts and not any(re.search(r"[\"']" + re.escape(p.id) + r"[\"']", code)
                                    for p in assignment.parts):
        ids = ", ".join(p.id for p in assignment.parts)
        raise Refused(422, f"{name} mentions none of the parts of \u201c{assignment.title or assignment.id}"
                           f"\u201d ({ids}): is it the notebook of this assignment? Nothing was submitted.",
                      code="other-notebook")


def _source(cell: dict) -> str:
    """A cell's source as one string (a notebook's file may hold it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(str(line) for line in source) if isinstance(source, list) else str(source)
