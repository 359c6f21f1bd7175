"""Write the two generated pages of the documentation site from the code itself.

* ``docs/reference/cli.md``: every ``grader`` command, from the argparse parser
  (``grader.cli.build_parser``): usage, description, each argument with its help
  and default, the epilog's examples.
* ``docs/author/spec-reference.md``: every key of ``assignment.toml`` and
  ``thresholds.toml``, from the spec dataclasses' field docs
  (``grader/specs/model.py``, ``metadata["doc"]``, what ``grader spec-fields``
  prints), and the part kinds (``grader/judge/kinds.py``).

The output depends on nothing but the code: no date, no terminal width (usage
lines are formatted at a fixed width), so a regenerated page that differs means
the page is stale.

    python tools/make_reference_docs.py           # rewrite both pages
    python tools/make_reference_docs.py --check   # exit 1 naming each stale page; write nothing

``tests/unit/test_docs.py`` calls :func:`pages` and compares, so a change of a
command's options or of a spec field that is not regenerated fails the suite.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI_PAGE = Path("docs/reference/cli.md")
SPEC_PAGE = Path("docs/author/spec-reference.md")
USAGE_WIDTH = 100           # usage lines are wrapped here, whatever the terminal
REGENERATE = "python tools/make_reference_docs.py"

if str(ROOT) not in sys.path:  # run as a script from anywhere: the grader beside this file
    sys.path.insert(0, str(ROOT))


# --- the command line -------------------------------------------------------------------------

def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code safe inside a Markdown table cell (backticks kept out of the span)."""
    text = _cell(text)
    return f"``{text}``" if "`" in text else f"`{text}`"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand of ``parser``, in the parser's order."""
    found = []
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _default(action: argparse.Action) -> str:
    default = action.default
    if default is None or default is argparse.SUPPRESS or isinstance(action, (
            argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._HelpAction)):
        return ""
    if isinstance(default, list) and not default:
        return ""  # a repeatable option that starts empty
    return _code(default if isinstance(default, str) else repr(default))


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else None)
            if action.choices and not action.metavar:
                metavar = "{" + ",".join(map(str, action.choices)) + "}"
            names = ", ".join(action.option_strings)
            name = f"{names} {metavar}" if metavar and action.nargs != 0 else names
        else:
            name = action.metavar or action.dest.upper()
            if action.nargs in ("?", "*"):
                name = f"[{name}]"
            elif action.nargs == "+":
                name = f"{name} ..."
        text = action.help or ""
        rows.append(f"| {_code(name)} | {_cell(text)} | {_default(action)} |")
    return rows


def _command_section(name: str, summary: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} `{parser.prog}`", ""]
    if summary:
        lines += [summary[0].upper() + summary[1:] + ("" if summary.endswith(".") else "."), ""]
    lines += ["```text", _usage(parser), "```", ""]
    if parser.description:
        lines += [" ".join(parser.description.split()), ""]
    rows = _argument_rows(parser)
    if rows:
        lines += ["| argument | meaning | default |", "| --- | --- | --- |", *rows, ""]
    if parser.epilog:
        epilog = " ".join(parser.epilog.split())
        if epilog.startswith("examples:"):
            lines += ["Examples:", "", "```sh"]
            lines += [example.strip() for example in epilog[len("examples:"):].split(" | ")]
            lines += ["```", ""]
        else:
            lines += [epilog, ""]
    for sub_name, sub_help, sub in _subcommands(parser):
        lines += _command_section(sub_name, sub_help, sub, level + 1)
    return lines


def cli_page() -> str:
    """The Markdown of ``docs/reference/cli.md``."""
    from grader.cli import build_parser

    parser = build_parser()
    commands = _subcommands(parser)
    lines = [
        "# Command-line reference",
        "",
        f"<!-- Generated by {REGENERATE} from grader.cli.build_parser: do not edit by hand. -->",
        "",
        "Every `grader` command with every option, as `grader COMMAND --help` prints them. The "
        "guides explain when to use which: [check](../learner/check.md), "
        "[grade](../instructor/grade.md), [validate](../author/validate-ci.md), "
        "[serve](../instructor/service.md).",
        "",
        "Exit status everywhere: **0** every part of every notebook passed (or the command did what "
        "it was asked), **1** some part did not (or a notebook could not be graded), **2** a usage "
        "error or a fault of the grader itself; **130** after Ctrl-C, **143** after SIGTERM.",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    for name, summary, sub in commands:
        anchor = sub.prog.replace(" ", "-").lower()
        lines.append(f"| [`{sub.prog}`](#{anchor}) | {_cell(summary)} |")
    lines.append("")
    lines += ["## `grader`", "", "```text", _usage(parser), "```", ""]
    if parser.description:
        lines += [parser.description, ""]
    lines += ["| argument | meaning | default |", "| --- | --- | --- |", *[
        row for row in _argument_rows(parser)], ""]
    for name, summary, sub in commands:
        lines += _command_section(name, summary, sub, 2)
    return "\n".join(lines).rstrip() + "\n"


# --- the specs --------------------------------------------------------------------------------

# Which table of which file each dataclass is read from (the order of `grader spec-fields`).
SPEC_TABLES = (
    ("Assignment", "assignment.toml, top level", "assignment-top-level"),
    ("KernelSpec", "assignment.toml `[kernel]`", "kernel"),
    ("SubmissionPolicy", "assignment.toml `[submissions]` (grader serve)", "submissions"),
    ("DataFile", "assignment.toml `[data.NAME]`", "data"),
    ("Split", "assignment.toml `[splits.NAME]`", "splits"),
    ("Part", "assignment.toml `[[parts]]`", "parts"),
    ("Threshold", "thresholds.toml `[parts.ID]`", "thresholds"),
)
# Fields that are not keys of the table: the table's own name, a sub-table, or what the
# harness computes when it reads the files (grader/specs/model.py, read_assignment).
NOT_KEYS = {
    "Assignment": {"kernel": "the `[kernel]` table", "submissions": "the `[submissions]` table",
                   "data": "the `[data.NAME]` tables", "splits": "the `[splits.NAME]` tables",
                   "parts": "the `[[parts]]` tables", "thresholds": "read from thresholds.toml",
                   "folder": "computed", "reference_folder": "computed", "digest": "computed",
                   "measurement_digest": "computed", "thresholds_digest": "computed"},
    "DataFile": {"name": "the table's NAME"},
    "Split": {"name": "the table's NAME"},
    "Threshold": {"part": "the table's ID"},
}


def _toml_value(value) -> str:
    """A default as it would be written in TOML."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return '`""`' if value == "" else _code(f'"{value}"')
    if isinstance(value, (tuple, list)):
        return "`[]`" if not value else _code("[" + ", ".join(
            f'"{v}"' if isinstance(v, str) else repr(v) for v in value) + "]")
    if isinstance(value, dict):
        return "`{}`" if not value else _code(repr(value))
    if isinstance(value, Path):
        return _code(str(value))
    if dataclasses.is_dataclass(value):
        return "(a table)"
    return _code(repr(value))


def _field_rows(cls) -> list[str]:
    rows = []
    not_keys = NOT_KEYS.get(cls.__name__, {})
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        doc = f.metadata.get("doc", "")
        key = _code(f.name) if f.name not in not_keys else f"{_code(f.name)} ({not_keys[f.name]})"
        rows.append(f"| {key} | {_code(f.type)} | {_toml_value(default)} | {_cell(doc)} |")
    return rows


def spec_page() -> str:
    """The Markdown of ``docs/author/spec-reference.md``."""
    from grader import specs
    from grader.judge.kinds import get_kind, kind_names

    lines = [
        "# Spec reference: `assignment.toml` and `thresholds.toml`",
        "",
        f"<!-- Generated by {REGENERATE} from grader/specs/model.py and grader/judge/kinds.py: "
        "do not edit by hand. -->",
        "",
        "Every key an assignment's files may hold, with its type, its default and its meaning, "
        "from the field docs of the spec dataclasses (`grader spec-fields` prints the same). An "
        "unknown key is an error that names the key and the file. The "
        "[tutorial](tutorial.md) writes an assignment with these keys from scratch.",
        "",
        "An assignment lives in two folders: `assignments/NAME/` (`assignment.toml`, the template, "
        "the helper modules) and `reference/NAME/` (`thresholds.toml`, the solution, expected "
        "arrays, `calibration.json`).",
        "",
    ]
    for class_name, where, anchor in SPEC_TABLES:
        cls = getattr(specs, class_name)
        doc = " ".join((cls.__doc__ or "").split())
        lines += [f"## {where} {{#{anchor}}}", "", doc, "",
                  "| key | type | default | meaning |", "| --- | --- | --- | --- |",
                  *_field_rows(cls), ""]
    lines += [
        "## Part kinds (`kind = ...`) {#kinds}",
        "",
        "The one table of kinds is `grader/judge/kinds.py` (`register_kind`); what each kind "
        "measures inside the kernel is the table of `grader/kernel/agent.py` "
        "(`register_measurer`).",
        "",
        "| kind | what is graded | `[[parts]]` keys it needs | measured on a split |",
        "| --- | --- | --- | --- |",
    ]
    for name in kind_names():
        kind = get_kind(name)
        needs = ", ".join(_code(field) for field in kind.requires) or "-"
        lines.append(f"| `{name}` | {_cell(kind.doc)} | {needs} | {'yes' if kind.uses_split else 'no'} |")
    return "\n".join(lines).rstrip() + "\n"


# --- writing and checking ---------------------------------------------------------------------

def pages() -> dict[Path, str]:
    """Each generated page (path relative to the repository) and its text."""
    return {CLI_PAGE: cli_page(), SPEC_PAGE: spec_page()}


def stale(root: Path | None = None) -> list[Path]:
    """The generated pages under ``root`` (the repository) whose text differs from what the code
    gives now."""
    root = ROOT if root is None else root
    found = []
    for path, text in pages().items():
        file = root / path
        if not file.is_file() or file.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each page that is stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if old else 0
    for path, text in pages().items():
        file = ROOT / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.is_file() or file.read_text(encoding="utf-8") != text:
            file.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
