"""The dependency rules of docs/architecture.md, checked on the source: hub -> features -> kernel,
features never import each other, and only the realtime facade imports socketio."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("overlays", "stage_control", "redpackets", "commerce", "sponsors")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_kernel_imports_nothing_else_of_the_project() -> None:
    for path in modules("gala/kernel"):
        bad = {
            name
            for name in imports_of(path)
            if name.split(".")[0] in (*FEATURES, "gala") and not name.startswith("gala.kernel")
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_features_import_only_the_kernel_of_the_hub_and_not_each_other() -> None:
    for feature in FEATURES:
        for path in modules(feature):
            for name in imports_of(path):
                top = name.split(".")[0]
                assert not (top == "gala" and not name.startswith("gala.kernel")), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )
                assert top not in set(FEATURES) - {feature}, (
                    f"{path.relative_to(ROOT)} imports another feature: {name}"
                )
                assert top not in ("aiohttp", "socketio", "engineio", "aiortc", "jinja2"), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


def importers_of(library: str) -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for package in ("gala", *FEATURES)
        for path in modules(package)
        if any(name.split(".")[0] == library for name in imports_of(path))
    }


def test_only_the_realtime_facade_imports_socketio() -> None:
    assert importers_of("socketio") == {"gala/realtime/facade.py"}
    # the facade's engine.io layer: lean sessions under python-socketio
    assert importers_of("engineio") == {"gala/realtime/engineio_session.py"}


def test_every_module_opens_with_a_docstring() -> None:
    for package in ("gala", *FEATURES):
        for path in modules(package):
            tree = ast.parse(path.read_text())
            assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
