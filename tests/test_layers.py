"""The package layers: every import points down (or sideways), no import cycles, and
nothing below render/ touches typer or rich.

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"

# Lowest first. A module may import its own layer and the layers below it.
# torch (PyTorch's API on the engine) stands beside api: it may use autodiff, ops, api and lang.
LAYERS = ["errors", "limits", "collector", "lang", "autodiff", "ops", "api", "torch", "analysis", "render", "cli", "__main__"]
RANK = {"errors": 0, "limits": 0, "collector": 0, "lang": 1, "autodiff": 2, "ops": 3, "api": 4, "torch": 4, "analysis": 5,
        "render": 6, "cli": 7, "__main__": 8, "__init__": 8}
UI_LIBRARIES = ("typer", "rich", "click")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of everything path imports (from x import y counts x.y when it is a module)."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    # A layer's __init__ holds its docstring only (test_layer_packages_hold_no_code), so
    # `from gradcli.api import functional` is an edge to the module, not to the package.
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py") if docstring_only(p)}
    return {name: {t for t in imports_of(path) if t in modules and t != name and t not in packages}
            for name, path in modules.items()}


def docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return len(body) <= 1 and all(isinstance(node, ast.Expr) for node in body)


def test_layer_packages_hold_no_code():
    """Except ops/, whose __init__ imports every family so that one import registers them all, and torch/,
    whose __init__ is the `torch` namespace that `import torch` gives a script under `gradcli run`."""
    assert [p for p in PACKAGE.glob("*/__init__.py")
            if p.parent.name not in ("ops", "torch") and not docstring_only(p)] == []


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_package_has_every_layer():
    found = {layer(m) for m in graph()}
    assert {"lang", "autodiff", "ops", "api", "analysis", "render", "cli"} <= found


def test_imports_point_down():
    upward = [f"{m} -> {t}" for m, targets in graph().items() for t in targets
              if m != "gradcli" and RANK[layer(t)] > RANK[layer(m)]]
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    cycles = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [m, t]) if t in stack else f"{m} -> {t}")
            elif t not in state:
                visit(t, stack + [m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])
    assert cycles == []


def test_nothing_below_render_imports_a_terminal_library():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if RANK[layer(name)] >= RANK["render"]:
            continue
        for target in imports_of(path):
            if target.split(".")[0] in UI_LIBRARIES:
                offenders.append(f"{name} imports {target}")
    assert offenders == []


def test_the_check_sees_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: a fake package with an upward import and a cycle is caught."""
    pkg = tmp_path / "gradcli"
    for sub in ("api", "render"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "api" / "a.py").write_text("def f():\n    from gradcli.render import b\n")
    (pkg / "render" / "b.py").write_text("from ..api import a\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    edges = graph()
    assert edges["gradcli.api.a"] == {"gradcli.render.b"}
    assert edges["gradcli.render.b"] == {"gradcli.api.a"}
    try:
        test_imports_point_down()
    except AssertionError as err:
        assert "gradcli.api.a -> gradcli.render.b" in str(err)
    else:
        raise AssertionError("the upward import was not found")
    try:
        test_no_import_cycles()
    except AssertionError as err:
        assert "gradcli.api.a" in str(err) and "gradcli.render.b" in str(err)
    else:
        raise AssertionError("the cycle was not found")
