"""The dependency rules of docs/architecture.md, checked on the source.

Across the project: hub -> features -> kernel, features never import each other, and only the
realtime facade (and its compat module of library hooks) imports socketio. Inside the hub: each
subpackage may import only the layers listed in `HUB_LAYERS` (the composition modules at the top
of `gala/` may import anything), the
edges (HTTP endpoints, socket handlers) reach stores only through their ports and never import
each other, and no module of the project takes part in an import cycle, not even one made only of
type-checking imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("overlays", "stage_control", "redpackets", "commerce", "sponsors")

# Shared leaf modules of the hub: they import only the kernel.
HUB_LEAVES = (
    "gala.supervisor",
    "gala.errors_map",
    "gala.settings",
    "gala.heap",
    "gala.metrics",
    "gala.logs",
)
# The composition: the only modules that may import every part of the hub.
COMPOSITION = ("gala", "gala.__main__", "gala.app", "gala.node", "gala.cli", "gala.money_audit")
PORTS = ("gala.stores.ports", "gala.results.ports")
# What each hub subpackage may import of the project, besides itself, the kernel and the leaves.
HUB_LAYERS: dict[str, tuple[str, ...]] = {
    "gala.stores": (*FEATURES, *PORTS),
    "gala.auth": PORTS,
    "gala.runofshow": (*FEATURES, *PORTS),
    "gala.results": (*FEATURES, *PORTS, "gala.runofshow"),
    "gala.realtime": (*FEATURES, *PORTS, "gala.auth", "gala.runofshow", "gala.results"),
    "gala.http": (*FEATURES, *PORTS, "gala.auth", "gala.runofshow", "gala.results", "gala.appkeys"),
    "gala.appkeys": (*FEATURES, *PORTS, "gala.auth", "gala.runofshow", "gala.results", "gala.http"),
}
# Store adapters of the features: the edges reach them only through services.
ADAPTER_MARKERS = ("sqlite_", "redis_")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every project-or-library module `path` imports, type-checking imports included, with
    relative imports resolved and `from X import name` counted as X.name when that is a module."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {
                f"{base}.{alias.name}"
                for alias in node.names
                if (ROOT / f"{base}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()
                or (ROOT / f"{base}.{alias.name}".replace(".", "/") / "__init__.py").exists()
            }
            names.update(submodules)
            # `from package import module` imports the module; any other name comes from `base`
            if len(submodules) < len(node.names):
                names.add(base)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in ("gala", *FEATURES) for p in modules(package)}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_kernel_imports_nothing_else_of_the_project() -> None:
    for path in modules("gala/kernel"):
        bad = {
            name
            for name in imports_of(path)
            if name.split(".")[0] in (*FEATURES, "gala") and not within(name, "gala.kernel")
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_features_import_only_the_kernel_of_the_hub_and_not_each_other() -> None:
    for feature in FEATURES:
        for path in modules(feature):
            for name in imports_of(path):
                top = name.split(".")[0]
                assert not (top == "gala" and not within(name, "gala.kernel")), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )
                assert top not in set(FEATURES) - {feature}, (
                    f"{path.relative_to(ROOT)} imports another feature: {name}"
                )
                assert top not in ("aiohttp", "socketio", "engineio", "aiortc", "jinja2"), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


def layer_of(name: str) -> str | None:
    for layer in sorted(HUB_LAYERS, key=len, reverse=True):
        if within(name, layer):
            return layer
    return None


def test_each_hub_subpackage_imports_only_the_layers_below_it() -> None:
    problems = []
    for name, path in project_modules().items():
        if not within(name, "gala") or within(name, "gala.kernel") or name in COMPOSITION:
            continue
        allowed: tuple[str, ...]
        if name in HUB_LEAVES:
            allowed = ()
        else:
            layer = layer_of(name)
            assert layer is not None, f"{name} belongs to no layer of the hub: add it to one"
            allowed = (layer, *HUB_LAYERS[layer], *HUB_LEAVES)
        for imported in imports_of(path):
            top = imported.split(".")[0]
            if top not in ("gala", *FEATURES) or within(imported, "gala.kernel"):
                continue
            if imported == "gala" or not any(within(imported, a) for a in allowed):
                problems.append(f"{name} imports {imported}")
    assert not problems, "\n".join(problems)


def test_edges_reach_stores_only_through_ports_and_never_import_each_other() -> None:
    problems = []
    for name, path in project_modules().items():
        edge = next((e for e in ("gala.http", "gala.realtime") if within(name, e)), None)
        if edge is None:
            continue
        other = "gala.realtime" if edge == "gala.http" else "gala.http"
        for imported in imports_of(path):
            leaf = imported.rpartition(".")[2]
            if within(imported, other):
                problems.append(f"{name} imports the other edge: {imported}")
            elif imported.split(".")[0] in (*FEATURES, "gala") and (
                leaf.startswith(ADAPTER_MARKERS)
                or (within(imported, "gala.stores") and imported not in PORTS)
            ):
                problems.append(f"{name} imports a store adapter: {imported}")
    assert not problems, "\n".join(problems)


def test_no_module_of_the_project_is_in_an_import_cycle() -> None:
    graph = {
        name: {i for i in imports_of(path) if i in project_modules() and i != name}
        for name, path in project_modules().items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def importers_of(library: str) -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for package in ("gala", *FEATURES)
        for path in modules(package)
        if any(name.split(".")[0] == library for name in imports_of(path))
    }


def test_only_the_realtime_facade_and_its_compat_module_import_socketio() -> None:
    # the facade is the one user of python-socketio; compat holds every hook into its internals
    assert importers_of("socketio") == {"gala/realtime/facade.py", "gala/realtime/compat.py"}
    # the facade's engine.io layer: lean sessions under python-socketio, their hooks in compat
    assert importers_of("engineio") == {
        "gala/realtime/engineio_session.py",
        "gala/realtime/compat.py",
    }


def test_every_module_opens_with_a_docstring() -> None:
    for package in ("gala", *FEATURES):
        for path in modules(package):
            tree = ast.parse(path.read_text())
            assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"


def test_only_the_command_line_prints() -> None:
    # a node speaks through its logs and metrics; a print on a hot path is a write per call
    printing = {
        str(path.relative_to(ROOT))
        for path in project_modules().values()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    }
    assert printing <= {"gala/cli.py"}, printing
