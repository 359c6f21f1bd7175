"""A notebook's answers: ``grader.set_answer(part, value)`` (a claim, shown beside the measurement)."""
try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None


class Grader:
    def __init__(self, assignment, all_parts=()):
        self.assignment, self.parts = assignment, list(all_parts)

    def set_answer(self, part, answer):
        if _agent is not None and _agent.active():
            _agent.record_answer(part, answer, repr(answer)[:200])
        else:
            print(f"{part}: {answer!r}")
