"""The import rules of the package: each layer imports only the layers below it, and no module imports
itself back through others. README "Layout" states the same rules in words."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "cim"
FOUNDATION = {"errors", "io", "paths", "options", "images", "progress", "threads"}
"""Modules at the bottom: any module may import them; they import only each other (and `cim` itself)."""
ALLOWED: dict[str, set[str]] = {
    "shapes": set(),
    "encoders": set(),
    "wire": set(),
    "index": {"encoders"},
    "gallery": {"encoders", "shapes"},
    "adapt": {"encoders", "gallery"},
    "reward": {"encoders", "gallery", "index", "shapes", "wire"},
    "eval": {"reward", "gallery", "index", "shapes", "wire"},
    "integrations": {"reward", "wire", "eval"},
    "server": {"reward", "gallery", "wire"},
    "train": {"reward", "integrations", "gallery", "shapes", "eval", "wire"},
    "demo": {"train", "eval", "gallery", "reward", "shapes"},
    "cli": {"*"},
}
"""Which other layers each layer may import (besides FOUNDATION)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every cim module `path` imports, at any depth of the file (functions and TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cim")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cim") and node.level == 0:
            found.add(node.module)
    return found


def layer(module: str) -> str:
    """"cim.reward.scorer" → "reward"; "cim" → "cim"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "cim"


GRAPH = {module_name(path): imports(path) for path in SRC.rglob("*.py")}


def test_every_package_has_a_rule():
    layers = {layer(module) for module in GRAPH} - {"cim"} - FOUNDATION
    assert layers == set(ALLOWED), "add the new package to ALLOWED (and to README's Layout)"


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    bottom = FOUNDATION | {"cim"}
    for module, targets in GRAPH.items():
        source = layer(module)
        for target in targets:
            to = layer(target)
            if to == source or to in bottom:
                continue
            if source in bottom or ("*" not in ALLOWED[source] and to not in ALLOWED[source]):
                wrong.append(f"{module} → {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_the_layer_rules_have_no_cycle():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and n in ALLOWED and reaches(n, goal, seen | {n})) for n in ALLOWED[start] - {"*"})

    assert not [name for name in ALLOWED if reaches(name, name, set())]


def test_no_module_imports_itself_back():
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            module, path = stack.pop()
            for target in GRAPH.get(module, ()):
                if target == start:
                    return [*path, start]
                if target in GRAPH and target not in path and len(path) < 12:
                    stack.append((target, [*path, target]))
        return None

    cycles = {" → ".join(cycle) for module in GRAPH if (cycle := cycle_from(module))}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))
