"""The package's imports run one way: no cycles, and the core layers never import upwards.

Layers (STYLE.md): laws -> fitting -> result -> api (``scalelaw.fit``) -> io / plot -> cli / app.
A module may import its own layer or layers to its left, never one to its right.

The graph is read from the source with ``ast``, so it sees what a reader sees. The rule:

- every ``import`` statement counts, at module level *or inside a function*: a lazy import is
  still a dependency (laziness keeps heavy third-party modules off ``import scalelaw``; it must
  not hide a cycle); imports under ``if TYPE_CHECKING:`` do not run and do not count;
- ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``;
- importing ``a.b.c`` also runs ``a/__init__`` and ``a.b/__init__``, so those are edges too,
  except the importer's own enclosing packages (a package that re-exports its submodules is not
  a cycle) and the root ``scalelaw/__init__``, which resolves its public names lazily (PEP 562)
  and imports nothing of the package itself.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "scalelaw"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes anywhere in the tree, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


@functools.lru_cache(maxsize=1)  # the source does not change during a test session
def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (by the rule in this file's docstring)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        targets = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in mods else base)
        edges = set()
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        for t in targets:
            if not t.startswith("scalelaw"):
                continue
            parts = t.split(".")
            for i in range(2, len(parts) + 1):  # the target and its parent packages, not the root
                m = ".".join(parts[:i])
                if m in mods and (m == t or m not in own):
                    edges.add(m)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _path(graph, comp):
    """One cycle through a component, for the failure message (breadth-first back to its start)."""
    first, members = comp[0], set(comp)
    prev, queue = {}, [first]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == first:
                path = [node]
                while path[-1] != first:
                    path.append(prev[path[-1]])
                return " -> ".join([first] + path[::-1][1:] + [first]) if len(path) > 1 else f"{first} -> {first}"
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    return ", ".join(comp)


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_path(graph, c) for c in found)


def test_detector_finds_a_cycle_and_the_rule_on_packages():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    # the layers named in the docstring are real modules with the edges the rule gives
    assert "scalelaw.laws" in graph["scalelaw.api"]  # `from scalelaw.laws import get_law`
    assert "scalelaw.fitting.search" in graph["scalelaw.result"]  # a function-level import counts
    assert "scalelaw.fitting" in graph["scalelaw.result"]  # importing a submodule runs its package


# (layer, modules it must never import); a prefix covers the package and its submodules
_FORBIDDEN = {
    "scalelaw.laws": ("scalelaw.fitting", "scalelaw.result", "scalelaw.api", "scalelaw.io", "scalelaw.plot",
                      "scalelaw.cli", "scalelaw._cli_commands", "scalelaw.train"),
    "scalelaw.fitting": ("scalelaw.result", "scalelaw.api", "scalelaw.io", "scalelaw.plot", "scalelaw.cli",
                         "scalelaw._cli_commands", "scalelaw.train"),
    "scalelaw.result": ("scalelaw.api", "scalelaw.io", "scalelaw.plot", "scalelaw.cli", "scalelaw._cli_commands",
                        "scalelaw.train"),
    "scalelaw.schedules": ("scalelaw.fitting", "scalelaw.result", "scalelaw.api", "scalelaw.train"),
    "scalelaw.api": ("scalelaw.io", "scalelaw.plot", "scalelaw.cli", "scalelaw._cli_commands", "scalelaw.serve",
                     "scalelaw.train"),
    # reading logs needs no fitting; plots take results and never reach for the CLI or server
    "scalelaw.io": ("scalelaw.fitting", "scalelaw.result", "scalelaw.api", "scalelaw.plot", "scalelaw.cli",
                    "scalelaw._cli_commands", "scalelaw.serve", "scalelaw.train"),
    "scalelaw.plot": ("scalelaw.cli", "scalelaw._cli_commands", "scalelaw.serve", "scalelaw.train"),
    # the trainer runs uninstalled on the GPU machine, which has no scipy/lmfit/plotly
    "scalelaw.train": ("scalelaw.fitting", "scalelaw.result", "scalelaw.api", "scalelaw.plot", "scalelaw.cli",
                       "scalelaw._cli_commands"),
}


@pytest.mark.parametrize("layer", sorted(_FORBIDDEN))
def test_layers_import_only_leftwards(layer):
    graph = import_graph()
    bad = []
    for mod, targets in graph.items():
        if mod != layer and not mod.startswith(layer + "."):
            continue
        for t in targets:
            if any(t == f or t.startswith(f + ".") for f in _FORBIDDEN[layer]):
                bad.append(f"{mod} imports {t}")
    assert not bad, f"{layer} imports a layer to its right:\n" + "\n".join(sorted(bad))
