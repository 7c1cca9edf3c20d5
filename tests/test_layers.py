"""The packages of src/emoscope import only from the layers below them, in the order docs/architecture.md
states, and no two modules import each other (every import, including those inside functions)."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "emoscope"


def stated_layers() -> list[str]:
    page = (REPO / "docs" / "architecture.md").read_text()
    line = next(line for line in page.splitlines() if " → " in line)
    return [re.sub(r"/|\.py", "", name.strip(" `")) for layer in line.split("→") for name in layer.split(",")]


def part_of(path: Path) -> str:
    """The top-level package (or module) of src/emoscope that a file belongs to."""
    first = path.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


def imports() -> set[tuple[str, str, str]]:
    """(importing part, imported part, file) for every import of another part of the package."""
    known = {part_of(path) for path in SRC.rglob("*.py")}
    found = set()
    for path in SRC.rglob("*.py"):
        importer = part_of(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            parts = {module.split(".")[1] for module in modules if module.startswith("emoscope.")} & known
            found |= {(importer, part, str(path.relative_to(SRC))) for part in parts if part != importer}
    return found


def test_every_import_goes_down_the_stated_layers():
    layers = stated_layers()
    rank = {name: index for index, name in enumerate(layers)}
    entry_points = {"__init__", "__main__"}  # the package root and `python -m`: above every layer
    upward = [f"{file}: {importer} imports {imported}" for importer, imported, file in sorted(imports())
              if importer not in entry_points and rank.get(imported, -1) >= rank.get(importer, len(layers))]
    assert not upward, "\n".join(upward)


def test_the_stated_layers_name_every_part():
    parts = {part_of(path) for path in SRC.rglob("*.py")} - {"__init__", "__main__"}
    assert parts == set(stated_layers())


def module_of(path: Path) -> str:
    """The dotted name of a file of the package (a package's ``__init__.py`` is the package)."""
    parts = ("emoscope", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules a file imports: ``from a.b import c`` is ``a.b.c`` when that is a module,
    else ``a.b``; relative imports resolved."""
    package = module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            origin = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            found |= {f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                      for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found & modules - {module_of(path)}


def test_no_two_modules_import_each_other():
    files = {module_of(path): path for path in SRC.rglob("*.py")}
    imported = {name: module_imports(path, set(files)) for name, path in files.items()}
    pairs = sorted(f"{a} <-> {b}" for a, targets in imported.items() for b in targets if a < b and a in imported[b])
    assert not pairs, ("these modules import each other; move what both need into a module below them:\n"
                       + "\n".join(pairs))
