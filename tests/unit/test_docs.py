"""The documentation stays true: generated pages fresh, the site builds strict, links resolve.

* docs/reference/cli.md and docs/author/spec-reference.md equal what
  tools/make_reference_docs.py writes from the code now (regenerate with
  ``python tools/make_reference_docs.py``);
* ``mkdocs build --strict`` succeeds (a broken link or anchor, a page left out
  of the navigation fails it);
* the README keeps at most 150 lines, and every relative link in it and in
  docs/ points at a file that exists;
* every ``grader`` command of the parser has an example on some page.

The tutorial's own test, which runs its files and commands, is
tests/validate/test_tutorial.py.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
README_MAX_LINES = 150
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*```.*?^\s*```", re.M | re.S)


def _generator():
    spec = importlib.util.spec_from_file_location("make_reference_docs",
                                                  ROOT / "tools" / "make_reference_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_generated_pages_are_not_stale():
    generator = _generator()
    stale = [str(path) for path, text in generator.pages().items()
             if (ROOT / path).read_text(encoding="utf-8") != text]
    assert not stale, (f"stale generated page(s): {', '.join(stale)}; "
                       "run python tools/make_reference_docs.py")


def test_generated_pages_do_not_depend_on_the_terminal(monkeypatch):
    generator = _generator()
    wide = generator.pages()
    monkeypatch.setenv("COLUMNS", "30")
    assert generator.pages() == wide


def test_check_names_a_stale_page(tmp_path, capsys, monkeypatch):
    generator = _generator()
    for path, text in generator.pages().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert generator.stale(tmp_path) == []
    cli = tmp_path / generator.CLI_PAGE
    cli.write_text(cli.read_text(encoding="utf-8").replace("--workers", "--wrokers"), encoding="utf-8")
    assert generator.stale(tmp_path) == [generator.CLI_PAGE]
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    assert generator.main(["--check"]) == 1
    assert "docs/reference/cli.md is stale" in capsys.readouterr().err
    assert "--wrokers" in cli.read_text(encoding="utf-8")   # --check writes nothing
    assert generator.main([]) == 0 and generator.stale(tmp_path) == []


def test_mkdocs_build_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml",
                           "-d", str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "author" / "tutorial" / "index.html").is_file()


def test_readme_is_short_and_keeps_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    # CI runs the README's test command (.ci/run: make test); the demo is the other command.
    assert "make demo   # creates .venv" in text
    assert "make test   # creates .venv, runs the whole test suite (CI runs exactly this: .ci/run)" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))   # code is not a link
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


@pytest.mark.parametrize("page", [ROOT / "README.md", *_pages()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or an anchor of the page itself (mkdocs --strict checks those)
        file = (page.parent / target.split("#")[0]).resolve()
        if not file.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


def _commands(parser, prefix="grader") -> list[str]:
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                found += nested or [f"{prefix} {name}"]
    return found


def test_every_command_has_an_example_in_the_docs():
    from grader.cli import build_parser

    generated = {ROOT / path for path in _generator().pages()}
    examples = "\n".join(block for page in _pages() if page not in generated
                         for block in FENCE.findall(page.read_text(encoding="utf-8")))
    commands = _commands(build_parser())
    assert "grader tokens issue" in commands and "grader check" in commands
    missing = [command for command in commands
               if not re.search(rf"(^|[\s$]){re.escape(command)}(\s|$)", examples, re.M)]
    assert not missing, f"commands without an example on any docs page: {missing}"
