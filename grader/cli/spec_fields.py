"""``grader spec-fields``: every key of assignment.toml and thresholds.toml, with its meaning."""
from __future__ import annotations

from .options import EXIT_OK


def add_parser(commands) -> None:
    commands.add_parser("spec-fields", help="list every key of assignment.toml and "
                                            "thresholds.toml with its meaning")


def run(_args) -> int:
    from .. import specs as spec

    for cls, title in ((spec.Assignment, "assignment.toml (top level)"),
                       (spec.KernelSpec, "assignment.toml [kernel]"),
                       (spec.SubmissionPolicy, "assignment.toml [submissions] (grader serve)"),
                       (spec.DataFile, "assignment.toml [data.NAME]"),
                       (spec.Split, "assignment.toml [splits.NAME]"),
                       (spec.Part, "assignment.toml [[parts]]"),
                       (spec.Threshold, "thresholds.toml [parts.ID]")):
        print(f"# {title}\n{spec.describe(cls)}\n")
    from ..judge.kinds import get_kind, kind_names

    print("# part kinds (kind = ...)")
    for name in kind_names():
        print(f"{name}: {get_kind(name).doc}")
    return EXIT_OK
