"""The layering ARCHITECTURE.md draws, held by walking the source: no import cycle anywhere
(imports inside functions count too), the firmware reached only through the device API, and
command modules imported by nobody but the CLI's table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = "host_tools.board.api"


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name: the host library and the firmware."""
    found = {}
    for base, prefix in (
        (ROOT / "host_tools", "host_tools"),
        (ROOT / "device" / "dowel", "dowel"),
    ):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports, at any depth of its code."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import mod` imports the module; `from mod import name` the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return components


def test_the_walk_sees_the_layers():
    # A walk that found nothing would pass everything below.
    assert len(MODULES) > 60
    assert API in GRAPH["host_tools.calibrate.session"]
    assert "dowel.logfiles" in GRAPH["dowel.logstore"]


def test_no_import_cycle():
    assert _cycles() == []


def test_the_firmware_is_called_only_through_the_device_api():
    call = re.compile(r"""\.call\(\s*["']dowel\.""")
    offenders = [
        str(path.relative_to(ROOT))
        for name, path in MODULES.items()
        if name.startswith("host_tools.") and name != API and call.search(path.read_text())
    ]
    assert offenders == []


def test_no_command_module_is_imported_by_another_module():
    commands = {n for n in MODULES if n.startswith("host_tools.commands.")}
    importers = {
        (name, target) for name, targets in GRAPH.items() for target in targets & commands
    }
    assert importers == set()


def test_the_firmware_imports_nothing_of_the_host():
    assert {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith("dowel")
        for target in targets
        if target.startswith("host_tools")
    } == set()
