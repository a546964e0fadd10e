"""The package's imports point one way: adapters -> policy, and never in a circle.

Read from the source (``ast``), so the rule holds for imports inside functions too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "unilim_hub"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_of(path.read_text("utf-8"), package)


def _imports_of(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, absolute, whether at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            # `from . import configuration` imports the module `unilim_hub.configuration`.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path) & modules.keys() for name, path in modules.items()}


def test_policy_imports_only_the_standard_library_and_itself() -> None:
    for path in (PACKAGE / "policy").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            inside = name == "unilim_hub.policy" or name.startswith("unilim_hub.policy.")
            assert inside or top in sys.stdlib_module_names or top == "__future__", (
                f"{_module_name(path)} imports {name}"
            )


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph[name])
    return seen


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    graph = _graph()
    circles = sorted(name for name in graph if name in _reachable(graph, name))
    assert circles == []


# The adapters: what JupyterHub loads. Only the command line may import them (to run them).
ADAPTERS = {"unilim_hub.spawner", "unilim_hub.authenticator", "unilim_hub.named_servers"}


def test_nothing_below_the_adapters_reaches_them() -> None:
    graph = _graph()
    for name in graph.keys() - ADAPTERS:
        reached = _reachable(graph, name) & ADAPTERS
        assert not reached, f"{name} reaches {sorted(reached)}"


def test_the_graph_sees_imports_inside_functions() -> None:
    # A late import is how the last circle hid (settings -> spawner -> settings).
    late = "def owners():\n    from .spawner import UnilimSpawner\n    return UnilimSpawner\n"
    assert "unilim_hub.spawner" in _imports_of(late, "unilim_hub")
    assert "unilim_hub.policy.models" in _imports_of(
        "from ..models import X", "unilim_hub.policy.x"
    )
