"""The package's structure: no import cycles, and the kernel side imports nothing of the harness.

Every import counts, including those inside functions (a lazy import is still a dependency:
it only hides a cycle from the interpreter).  Two graphs are checked: modules, and stages
(``grader.specs``, ``grader.judge``, ``grader.run``, ``grader.batch``, ``grader.report``,
``grader.post``, ``grader.authoring``, ``grader.kernel`` and each top-level module), so that
a stage never imports one that imports it back.  Run ``python tests/unit/test_layout.py`` to
print both graphs.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "grader"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the grader modules it imports (anywhere in its code)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module) if node.level else node.module
                # `from . import x` imports the module x when there is one, else a name of the package.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("grader"):
                    graph[name].add(target)
    return graph


def stage_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def stage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    stages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module == "grader":
            continue  # the package's lazy re-exports of the public API
        own = stages.setdefault(stage_of(module), set())
        own.update(stage_of(t) for t in targets if stage_of(t) not in (stage_of(module), "grader"))
    return stages


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_between_stages():
    assert cycles(stage_graph(import_graph())) == []


def test_the_kernel_side_imports_nothing_of_the_harness():
    # grader.kernel runs inside the sandboxed kernel and evaluator: it must not pull the harness in.
    graph = import_graph()
    leaks = {m: sorted(t for t in targets if not t.startswith("grader.kernel"))
             for m, targets in graph.items() if m.startswith("grader.kernel")}
    assert {m: t for m, t in leaks.items() if t} == {}


def test_every_package_docstring_names_its_modules():
    """A newcomer reads a package's docstring to find its modules: it lists every one."""
    import re

    missing = {}
    for init in sorted(PACKAGE.rglob("__init__.py")):
        folder = init.parent
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        names = [p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")]
        names += [p.parent.name for p in folder.glob("*/__init__.py")]
        absent = [n for n in names if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", doc)]
        if absent:
            missing[module_name(init)] = sorted(absent)
    assert missing == {}


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


if __name__ == "__main__":
    modules = import_graph()
    for title, graph in (("stages", stage_graph(modules)), ("modules", modules)):
        print(f"# {title}")
        for node in sorted(graph):
            print(f"{node} -> {', '.join(sorted(graph[node])) or '-'}")
        print(f"cycles: {cycles(graph) or 'none'}\n")
