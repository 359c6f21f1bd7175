"""Collect a notebook's answers for the grader.

    grader = grading.Grader("sklearn_digits", all_parts=["class_means", ...])
    grader.set_answer("class_means", class_means)

During a grading run (the harness's agent is active in this kernel) every
answer is handed to the agent as a *claim*: the harness measures the real
values itself and flags claims that disagree.  Outside a grading run the
answers are kept in ``grader.answers``; there is no platform to submit to:
``grader check NOTEBOOK`` grades a notebook the way the course does.
"""
try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None


def _harness_active() -> bool:
    return _agent is not None and _agent.active()


class Grader:
    """The answers of one notebook, by part id."""

    def __init__(self, assignment, all_parts=()):
        self.assignment = assignment
        self.parts = list(all_parts)
        self.answers = {}

    def set_answer(self, part, answer):
        """Record the answer to ``part`` (and hand it to the grader in a grading run)."""
        if self.parts and part not in self.parts:
            raise ValueError(f"unknown part {part!r}; the parts are {', '.join(self.parts)}")
        self.answers[part] = answer
        text = repr(answer)
        if _harness_active():
            _agent.record_answer(part, answer, text if len(text) <= 200 else text[:199] + "…")
        else:
            print(f"{part}: {text if len(text) <= 80 else text[:79] + '…'}")
