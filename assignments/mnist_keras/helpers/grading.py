"""The course's ``grading`` module: collect a notebook's answers and submit them.

Learner notebooks do ``import grading`` and use :class:`Grader` exactly as the
course "Introduction to Deep Learning" did (see ``COURSE_PROTOCOL.md``):

    grader = grading.Grader(assignment_key="...", all_parts=["9XaAS", ...])
    grader.set_answer("9XaAS", some_value)
    grader.submit(email, token)

Outside a grading run, ``submit`` posts the answers to Coursera's endpoint, as
the course did.  With ``GRADER_SUBMIT_URL`` pointing at a ``grader serve``
service, the same body also carries the saved notebook itself (the service
grades the notebook, not the answers), and the service's answer - where to
follow the grading - is printed.  During a grading run (the harness's agent is
loaded in the kernel and active) nothing is posted: every answer is handed to
the agent as a *claim*, and the harness measures the real values itself.

This module deliberately imports neither NumPy nor TensorFlow: a value can only
be a NumPy object if NumPy is already imported, so it is looked up in
``sys.modules`` when needed.
"""
import base64
import datetime
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None

DEFAULT_SUBMIT_URL = "https://www.coursera.org/api/onDemandProgrammingScriptSubmissions.v1"
SUBMIT_URL_ENV = "GRADER_SUBMIT_URL"
DEFAULT_TIMEOUT = 30.0

NOTEBOOK_ENV = "GRADER_NOTEBOOK"   # the notebook file to submit, when the front end does not tell

ACCEPTED_MESSAGE = "Submitted to Coursera platform. See results on assignment page!"
NO_NOTEBOOK_MESSAGE = ("Submission failed: this server grades the notebook itself, and which notebook file "
                       "this is cannot be told here. Save it and call grader.submit(email, token, "
                       "notebook='name.ipynb') (or set GRADER_NOTEBOOK).")
HARNESS_MESSAGE = "Grading run: answers recorded by the grader, nothing was sent to Coursera."

# How much of an unexpected response body is shown to the learner.
_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class SubmitResult:
    """What :meth:`Grader.submit` did; truthy when Coursera accepted the answers.

    ``status_code`` is None when no HTTP answer arrived (network error, or a
    grading run where nothing is sent). ``message`` is the line printed for
    the learner.
    """

    accepted: bool
    status_code: Optional[int]
    message: str
    recorded_by_harness: bool = False

    def __bool__(self) -> bool:
        return self.accepted

    def _ipython_display_(self) -> None:
        # The course's submit() returned None, so a notebook cell ending with
        # ``grader.submit(...)`` showed only the printed line. Displaying
        # nothing keeps learners' outputs identical.
        pass


def _harness_active() -> bool:
    return _agent is not None and _agent.active()


def _numpy():
    """NumPy if the notebook already imported it, else None (never imports it)."""
    return sys.modules.get("numpy")


def _plain_scalar(value):
    """Turn a NumPy scalar into the matching Python scalar; other values pass through.

    Floats go through ``str``: NumPy prints the shortest text that round-trips
    in the value's own precision, so ``np.float32(0.29)`` becomes ``0.29``
    (as NumPy 1's ``repr`` showed it) and not ``0.28999999165534973``, which
    is what ``.item()`` gives.
    """
    np = _numpy()
    if np is None or not isinstance(value, np.generic):
        return value
    if isinstance(value, np.floating):
        return float(str(value))
    return value.item()


def _plain(value):
    """Replace NumPy scalars and arrays by Python values, keeping containers' types.

    Lists and tuples are rebuilt element by element (so their ``repr`` shows
    plain numbers, as with NumPy 1); arrays become lists.
    """
    value = _plain_scalar(value)
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _plain_scalar(value[()])
        return [_plain(item) for item in value]
    if type(value) is list:
        return [_plain(item) for item in value]
    if type(value) is tuple:
        return tuple(_plain(item) for item in value)
    return value


def _json_safe(value):
    """The answer as JSON-safe Python data for the harness's agent.

    Strings stay strings, numbers and None stay as they are (NumPy scalars
    become Python numbers), mappings become dicts with string keys, other
    iterables (arrays, lists, tuples, generators) become lists, recursively;
    anything else becomes its ``repr``.
    """
    value = _plain_scalar(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray) and value.ndim == 0:
        return _json_safe(value[()])
    if isinstance(value, Iterable):
        return [_json_safe(item) for item in value]
    return repr(value)


def answer_text(answer) -> str:
    """The text the course sent for ``answer`` (what ``set_answer`` stores).

    A ``str`` is kept as is; an iterable gives the ``repr`` of each element
    joined by single spaces; anything else gives its ``repr``. NumPy scalars
    (also inside lists, tuples and arrays) are first turned into Python
    numbers, because NumPy 2 prints ``np.float32(0.29)`` where the course's
    NumPy printed ``0.29``.
    """
    return _answer_text_and_value(answer)[0]


def _answer_text_and_value(answer):
    """Text and JSON-safe value of an answer, reading a one-shot iterable once."""
    if isinstance(answer, str):
        return answer, answer
    answer = _plain_scalar(answer)
    np = _numpy()
    zero_d_array = np is not None and isinstance(answer, np.ndarray) and answer.ndim == 0
    if isinstance(answer, Iterable) and not zero_d_array:
        # A generator can be consumed only once: list it before both uses.
        items = list(answer)
        text = " ".join(repr(_plain(item)) for item in items)
        return text, [_json_safe(item) for item in items]
    return repr(_plain(answer)), _json_safe(answer)


def _one_line_excerpt(body: str) -> str:
    """A short, single-line excerpt of a response body (HTML tags dropped)."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 3].rstrip() + "..."
    return text or "(empty body)"


def _user_namespace() -> dict:
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def saved_notebook(given=None) -> Optional[str]:
    """The saved notebook file this kernel runs (what a grading service is sent), or None.

    In order: ``given``; ``$GRADER_NOTEBOOK``; VS Code's ``__vsc_ipynb_file__``; Jupyter
    Server's ``JPY_SESSION_NAME`` (JupyterLab, Notebook 7); ipykernel's ``__session__``.
    A relative name is looked for in the working folder.
    """
    namespace = _user_namespace()
    for candidate in (given, os.environ.get(NOTEBOOK_ENV), namespace.get("__vsc_ipynb_file__"),
                      os.environ.get("JPY_SESSION_NAME"), namespace.get("__session__")):
        if not isinstance(candidate, (str, os.PathLike)) or not str(candidate).endswith(".ipynb"):
            continue
        path = os.path.expanduser(str(candidate))
        for found in ([path] if os.path.isabs(path) else [os.path.abspath(path),
                                                           os.path.abspath(os.path.basename(path))]):
            if os.path.isfile(found):
                return found
        if given is not None and candidate is given:
            return None
    return None


def _saved_when(path: str) -> str:
    mtime = os.path.getmtime(path)
    ago = max(0, int(datetime.datetime.now().timestamp() - mtime))
    age = f"{ago} s ago" if ago < 120 else (f"{ago // 60} min ago" if ago < 7200 else f"{ago // 3600} h ago")
    return f"{datetime.datetime.fromtimestamp(mtime):%Y-%m-%d %H:%M:%S} ({age})"


def _learner_message(payload) -> Optional[str]:
    """``details.learnerMessage`` of a Coursera error body, if there is one."""
    if isinstance(payload, dict):
        details = payload.get("details")
        if isinstance(details, dict) and details.get("learnerMessage"):
            return str(details["learnerMessage"])
    return None


class Grader:
    """Answers of one assignment, one slot per part, and their submission.

    ``submit_url`` overrides the Coursera endpoint (else the environment
    variable ``GRADER_SUBMIT_URL``, else Coursera); ``timeout`` is the number
    of seconds to wait for Coursera before giving up.
    """

    def __init__(self, assignment_key, all_parts=(), *, submit_url=None, timeout=DEFAULT_TIMEOUT):
        self.assignment_key = assignment_key
        self.answers = {part: None for part in all_parts}
        self.submit_url = submit_url
        self.timeout = timeout

    def set_answer(self, part, answer):
        """Store the text of ``answer`` for ``part`` (rules: see :func:`answer_text`).

        During a grading run the answer is also handed to the harness as a
        claim, as JSON-safe data together with its text.
        """
        text, value = _answer_text_and_value(answer)
        self.answers[part] = text
        if _harness_active():
            _agent.record_answer(part, value, text)

    def _payload(self, email, token, notebook=None) -> dict:
        # Parts without an answer are sent too, as an empty object.
        parts = {
            part: ({"output": text} if text is not None else {})
            for part, text in self.answers.items()
        }
        payload = {
            "assignmentKey": self.assignment_key,
            "submitterEmail": email,
            "secret": token,
            "parts": parts,
        }
        if notebook is not None:
            with open(notebook, "rb") as handle:
                content = handle.read()
            payload["notebook"] = {"name": os.path.basename(notebook),
                                   "content": base64.b64encode(content).decode("ascii")}
        return payload

    def _url(self) -> str:
        return self.submit_url or os.environ.get(SUBMIT_URL_ENV) or DEFAULT_SUBMIT_URL

    def submit(self, email, token, notebook=None) -> SubmitResult:
        """Send all answers and print what the learner should know.

        To Coursera (the default) the answers go as the course sent them.  To another
        address (``GRADER_SUBMIT_URL``, or ``submit_url``: a ``grader serve`` service) the
        saved notebook goes too, when it can be found: ``notebook`` names it when the front
        end does not (:func:`saved_notebook`).  Never raises for network trouble or odd answers
        from the server: the problem is printed in one readable line instead.
        During a grading run nothing is sent; the call is recorded by the harness.
        """
        if _harness_active():
            _agent.record_submit(email)
            print(HARNESS_MESSAGE)
            return SubmitResult(False, None, HARNESS_MESSAGE, recorded_by_harness=True)
        # Another address than Coursera's may be a grader service, which grades the notebook itself:
        # the saved file goes too when it can be found (a server of the course's protocol ignores it).
        path = saved_notebook(notebook) if self._url() != DEFAULT_SUBMIT_URL else None
        if path is not None:
            print(f"Submitting {os.path.basename(path)} as saved at {_saved_when(path)}: changes not "
                  f"saved since are not submitted (save with Ctrl+S / Cmd+S first).")
        result = self._post(email, token, path)
        print(result.message)
        return result

    def _post(self, email, token, notebook=None) -> SubmitResult:
        import requests  # imported here so that ``import grading`` stays fast

        url = self._url()
        # ASCII-only JSON sent as bytes: like the course, no Content-Type header.
        try:
            body = json.dumps(self._payload(email, token, notebook)).encode("ascii")
        except OSError as error:
            return SubmitResult(False, None, f"Submission failed: the notebook {notebook} cannot be read "
                                             f"({error.strerror}). Save it and run this cell again.")
        try:
            response = requests.post(url, data=body, timeout=self.timeout)
        except requests.exceptions.Timeout:
            return SubmitResult(
                False,
                None,
                f"Submission failed: no answer from {url} within {self.timeout:g} s. "
                "Your answers are kept; check your internet connection and run this cell again.",
            )
        except requests.exceptions.RequestException as error:
            return SubmitResult(
                False,
                None,
                f"Submission failed: could not reach {url} ({type(error).__name__}). "
                "Your answers are kept; check your internet connection and run this cell again.",
            )
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:  # an HTML error page, an empty body, ...
            payload = None
        if status == 201:
            # A grader service says where to follow the grading; Coursera says nothing more.
            message = payload.get("learnerMessage") if isinstance(payload, dict) else None
            return SubmitResult(True, status, str(message) if message else ACCEPTED_MESSAGE)
        if notebook is None and isinstance(payload, dict) and payload.get("errorCode") == "no-notebook":
            return SubmitResult(False, status, NO_NOTEBOOK_MESSAGE)
        message = _learner_message(payload)
        if message is not None:
            return SubmitResult(False, status, message)
        reason = f" {response.reason}" if response.reason else ""
        if payload is not None:
            shown = _one_line_excerpt(json.dumps(payload))
        else:
            shown = _one_line_excerpt(response.text)
        return SubmitResult(
            False,
            status,
            f"Submission failed: unexpected answer from Coursera (HTTP {status}{reason}): {shown}",
        )
