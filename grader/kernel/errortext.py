"""The line of an error message that names the cause, for TensorFlow's long messages.

TensorFlow's graph errors start with a header that says nothing
("Graph execution error:", "2 root error(s) found.", "Detected at node ...
defined at (most recent call last):" and a stack of files) and put what is
wrong further down, followed by the operation that failed::

    Graph execution error:

    Detected at node 'dense_2/MatMul/ReadVariableOp' defined at (most recent call last):
        File "<ipython-input-19>", line 3, in <module>
        ...
    Node: 'dense_2/MatMul/ReadVariableOp'
    Attempting to use uninitialized value dense_2/kernel
         [[{{node dense_2/MatMul/ReadVariableOp}}]]

    Original stack trace for 'dense_2/MatMul/ReadVariableOp':
        ...

:func:`error_cause` gives ``Attempting to use uninitialized value dense_2/kernel
(operation dense_2/MatMul/ReadVariableOp)``.  Other messages keep their first
line.  :func:`own_frames` keeps, of a traceback and of TensorFlow's "defined at"
stack, only the lines of the learner's own cells: the rest (ipykernel, asyncio,
site-packages, the grading machine's paths) says nothing a learner can act on.
Pure text: used in the kernel (the agent, the evaluator) and in the harness (a
cell's error summary); imports nothing.
"""
from __future__ import annotations

import re

_HEADERS = (
    re.compile(r"^Graph execution error:?$"),
    re.compile(r"^\d+ root error\(s\) found\.?$"),
    re.compile(r"^\d+ successful operations?\.?$"),
    re.compile(r"^\d+ derived errors? ignored\.?$"),
    re.compile(r"^Detected at node .* defined at \(most recent call last\):?$"),
    re.compile(r"^Detected unsupported operations .*$"),
    re.compile(r"^File \".*\", line \d+.*$"),
    re.compile(r"^Node: '.*'$"),
    re.compile(r"^(Errors may have originated from an input operation|Input Source operations "
               r"connected to node).*$"),
)
_END = re.compile(r"^(Original stack trace for|Caused by op|Function call stack:)")
# "[[{{node dense_2/MatMul/ReadVariableOp}}]]" (TF 2) or "[[node x/read (defined at ...) ]]" (TF 1).
_NODE = re.compile(r"\[\[\{\{node ([^}]+)\}\}\]\]|\[\[node ([^\s\]]+)")
_NODE_LINE = re.compile(r"^Node: '([^']+)'$")
_DETECTED = re.compile(r"^Detected at node '([^']+)'")
# "(0) FAILED_PRECONDITION: ", "(0) Failed precondition: " before each root error.
_ROOT_PREFIX = re.compile(r"^\(\d+\)\s+[A-Za-z_ ]+:\s*")
# "{{function_node __wrapped__MatMul_device_/job:localhost/...}} " before eager op errors.
_FUNCTION_PREFIX = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
_MAX = 300


def is_tensorflow_message(text: str) -> bool:
    """Whether ``text`` has the layout of a TensorFlow graph error."""
    return bool(text) and ("Graph execution error" in text or "[[{{node " in text
                           or "root error(s) found" in text or "{{function_node " in text
                           or re.search(r"\[\[node \S", text) is not None)


def error_cause(text: str) -> str:
    """One line that says what is wrong: see the module docstring.

    A TensorFlow message gives its cause line and, when it names one, the
    operation that failed (internal operations, whose names start with ``_``,
    are left out); any other message gives its first non-empty line.
    """
    text = (text or "").strip()
    if not text:
        return ""
    lines = [line.strip() for line in text.splitlines()]
    if not is_tensorflow_message(text):
        return next(line for line in lines if line)[:_MAX]
    cause, node = "", ""
    for line in lines:
        if _END.match(line):
            break
        if not line:
            continue
        found = _node_of(line)
        if found is not None:
            node = node or found
            continue
        if any(header.match(line) for header in _HEADERS):
            continue
        if not cause:
            cause = _FUNCTION_PREFIX.sub("", _ROOT_PREFIX.sub("", line))
    if not cause:  # only headers: keep the first line rather than nothing
        cause = lines[0]
    if node and node not in cause:
        cause = f"{cause.rstrip('.')} (operation {node})"
    return cause if len(cause) <= _MAX else cause[: _MAX - 1] + "…"


def _node_of(line: str) -> str | None:
    """The operation a line of a TensorFlow message points at: None for other lines, "" for an
    internal operation (``_retval_x_0_4``: not the learner's)."""
    for pattern in (_NODE, _NODE_LINE, _DETECTED):
        match = pattern.search(line) if pattern is _NODE else pattern.match(line)
        if match:
            name = next(g for g in match.groups() if g)
            return "" if name.startswith("_") else name
    return None


# --- the learner's own lines of a traceback -------------------------------------------

# IPython 8 names a frame of a cell "Cell In[16], line 3" (", in f()" inside a function).
_CELL_FRAME = re.compile(r"^\s*Cell In\s*\[(\d+)\],\s*line (\d+)")
# ipykernel compiles each cell to a file named after a hash of its source,
# /tmp/ipykernel_<pid>/<hash>.py: TensorFlow's stacks ('File "...", line 9, in <module>') and
# IPython's frames it cannot name ("File /tmp/ipykernel_2/7651.py:9, in f()") show that name.
_KERNEL_FILE = re.compile(r"ipykernel_\d+[/\\](\d+)\.py\"?(?:, line |:)(\d+)")
_DEFINED = re.compile(r"(defined at \(most recent call last\)|^Original stack trace for)")
_MAX_FRAMES = 8


def own_frames(traceback: str, evalue: str = "", *, cell_of_run: dict, cell_of_file: dict,
               sources: dict) -> list[dict]:
    """The frames of ``traceback`` and ``evalue`` that are the learner's own cells' lines.

    ``cell_of_run``: the kernel's execution count -> code cell number (IPython's "Cell In[N]");
    ``cell_of_file``: ipykernel's file name hash -> code cell number; ``sources``: code cell
    number -> its source.  Each frame is ``{"cell", "line", "code", "role"}``: ``raised`` for the
    lines the exception went through, ``defined`` for the lines where TensorFlow says the failing
    operation was defined (often another cell: the model's).  Frames of anything else are left
    out, repeats too; at most eight, in the order they appear.
    """
    frames: list[dict] = []
    seen: set = set()

    def add(cell, line: int, role: str) -> None:
        if cell is None or (cell, line, role) in seen or len(frames) >= _MAX_FRAMES:
            return
        seen.add((cell, line, role))
        lines = str(sources.get(cell, "")).splitlines()
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        frames.append({"cell": cell, "line": line, "code": code[:200], "role": role})

    def scan(text: str, role: str) -> None:
        defined = False
        for raw in (text or "").splitlines():
            if _DEFINED.search(raw.strip()):
                defined = True  # TensorFlow's stack of where the operation was made
            match = _CELL_FRAME.match(raw)
            if match:
                add(cell_of_run.get(int(match.group(1))), int(match.group(2)), role)
                continue
            match = _KERNEL_FILE.search(raw)
            if match:
                add(cell_of_file.get(match.group(1)), int(match.group(2)), "defined" if defined else role)

    scan(traceback, "raised")
    scan(evalue, "defined")
    return frames
