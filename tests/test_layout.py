"""The house rules of LAYOUT.md, checked on the source: imports run downhill and never in a circle.

cli -> daemon -> apply -> planner -> discover -> the shared types. A module
may import its own package and any package below it, never one above; the
shared top-level modules (snapshot, plan, cpuset, config, exits, jsonfmt)
import none of the stage packages. Only ``config_model`` imports pydantic, only
``daemon.netlink`` imports pyroute2.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "irqd"
# lower index = further downhill
LAYERS = ["shared", "discover", "planner", "apply", "daemon", "cli"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the irqd modules (and third-party roots) a module imports, lazily or not."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            # "from .. import snapshot" names a module, not an attribute
            for alias in node.names:
                candidate = f"{mod}.{alias.name}"
                if (REPO / candidate.replace(".", "/")).with_suffix(".py").exists():
                    out.add(candidate)
    return out


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def layer(module: str) -> str:
    if module == "irqd.__main__":
        return "cli"  # python -m irqd: the command line's entry point
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "shared"


def test_imports_run_downhill():
    bad = []
    for mod, deps in graph().items():
        for dep in deps:
            if dep == "irqd":
                continue  # the package root holds only the version
            if LAYERS.index(layer(dep)) > LAYERS.index(layer(mod)):
                bad.append(f"{mod} imports {dep} ({layer(mod)} -> {layer(dep)} runs uphill)")
    assert bad == []


def test_no_import_circle():
    g = graph()
    seen: dict[str, int] = {}   # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for dep in sorted(g.get(node, ())):
            if seen.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in seen:
                visit(dep, [*path, dep])
        seen[node] = 2

    for node in sorted(g):
        if node not in seen:
            visit(node, [node])
    assert cycles == []


def test_library_never_imports_the_command_line():
    offenders = [m for m, deps in graph().items()
                 if layer(m) != "cli" and any(layer(d) == "cli" for d in deps)]
    assert offenders == []


def test_heavy_libraries_have_one_door():
    """pydantic only in config_model, pyroute2 only in daemon.netlink: irqd show and plan start light."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    for lib, allowed in (("pydantic", {"irqd.config_model"}), ("pyroute2", {"irqd.daemon.netlink"})):
        users = {m for m, p in modules.items() if any(i == lib or i.startswith(lib + ".") for i in _imports(p))}
        assert users <= allowed, f"{lib} imported by {sorted(users - allowed)}"


def test_the_checker_sees_real_edges():
    """The checks above would pass on an empty graph; prove they see a real edge."""
    g = graph()
    assert "irqd.planner.candidates" in g["irqd.planner.audit.context"]
    assert "irqd.discover.root" in g["irqd.cli.common"]
    assert layer("irqd.planner.audit") == "planner" and layer("irqd.snapshot") == "shared"
