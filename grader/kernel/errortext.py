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
line.  Pure text: used in the kernel (the agent, the evaluator) and in the
harness (a cell's error summary); imports nothing.
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
