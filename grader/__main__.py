"""`python -m grader` is the `grader` command (the console script calls :func:`run` too)."""
import sys


def run() -> int:
    """The command line, with a Ctrl-C during its first imports ending as any other Ctrl-C."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
