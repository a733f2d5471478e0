"""No import cycle among the firmware's modules, counting the imports made inside functions
(the firmware loads some modules only when a call needs them): each module can be understood,
loaded and dropped (`dowel.app._BOOT_ONLY`) without the ones that stand on it."""

from __future__ import annotations

import ast

from host_tools.paths import device_dir


def firmware_imports() -> dict[str, set[str]]:
    """dowel module -> the dowel modules it imports anywhere in its text."""
    graph = {}
    for path in (device_dir() / "dowel").glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "dowel":
                deps |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dowel."):
                deps.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dowel.")}
        graph[path.stem] = deps - {path.stem}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        for dep in sorted(graph.get(name, ())):
            found = visit(dep, path + [name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def test_the_walk_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_firmware_module_imports_one_that_imports_it_back():
    graph = firmware_imports()
    assert {"app", "logstore", "loghost", "logfiles", "running", "points"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])
