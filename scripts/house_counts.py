"""Count where the house writes one decision in several places (issue 22), and its layer rules.

Run from a checkout (standard library only; reads ``src/nitrogen_capture`` below the root)::

    python scripts/house_counts.py [ROOT]

What it prints, each with the files and lines it found (every source file of the package is
parsed with :mod:`ast`; nothing is imported):

- **import circles**: the strongly connected components (more than one module) of the package's
  module import graph. An edge ``a -> b`` is any ``import``/``from ... import`` statement in
  ``a`` naming module ``b`` of the package, wherever it stands: at module level, inside a
  function, or under ``if TYPE_CHECKING:`` (they all count). ``from pkg import name`` is an edge
  to ``pkg.name`` when that is a module, else to ``pkg``; a package is its ``__init__.py``, and
  importing ``a.b.c`` is not counted as an edge to ``a`` or ``a.b``.
- **layer-rule breaks**: imports that break :data:`LAYER_RULES` (the rules tests/test_layers.py
  pins; docs/architecture.md quotes them).
- **frame-kind branches** outside ``session/frames/``: a comparison (``==``, ``!=``, ``in``,
  ``not in``) of a name or attribute spelled with ``kind`` or ``frame_format`` against the
  literal ``"png"`` or ``"video"``; an ``isinstance`` test against ``PngFolderStore`` or
  ``MkvStore``; a tuple/list/set literal holding both ``"png"`` and ``"video"``.
- **export-format branches**: a comparison against, or a dict literal keyed by, one of the
  literals ``"pt"``, ``"nitrogen-dataset"``, ``"lerobot"``; a ``match`` case on one of them.
- **atomic-write implementations**: calls of ``os.replace``/``os.rename``, or of the
  ``.replace``/``.rename`` method, whose source (first argument or receiver) is spelled with
  ``tmp``, ``temp`` or ``partial``.
- **disk-full error classes**: the distinct exception classes ``C`` of ``raise C(...)`` or
  ``return C(...)`` whose literal text says "disk is full" or "no space left", plus any class
  spelled ``DiskSpace``/``DiskFull``/``NoSpace`` that a ``raise`` names.
- **settings check loops**: ``for ok, setting, message in ...`` statements.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "nitrogen_capture"

# The layer rules: (importing modules, what they must not import, why). A prefix names a
# module and everything below it ("nitrogen_capture.record" is record/__init__.py and record/*).
LAYER_RULES: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("nitrogen_capture.session", "nitrogen_capture.export"),
     ("nitrogen_capture.record", "nitrogen_capture.capture", "nitrogen_capture.inputs",
      "nitrogen_capture.targets", "nitrogen_capture.encoderpool", "nitrogen_capture.config"),
     "the on-disk format and the exporters read sessions; they never record"),
    (("nitrogen_capture.codecs",),
     ("nitrogen_capture.session", "nitrogen_capture.export", "nitrogen_capture.record",
      "nitrogen_capture.encoderpool", "nitrogen_capture.config"),
     "codecs/ is the shared encode/decode leaf under the frame stores, export and preview"),
    (("nitrogen_capture.encoderpool",),
     ("nitrogen_capture.session", "nitrogen_capture.export", "nitrogen_capture.record",
      "nitrogen_capture.config"),
     "the recorder's encoder pool runs what a frame store's EncoderSpec names, nothing more"),
)

FRAME_KINDS = ("png", "video")
STORE_CLASSES = ("PngFolderStore", "MkvStore")
EXPORT_FORMATS = ("pt", "nitrogen-dataset", "lerobot")
_TEMP = re.compile(r"tmp|temp|partial", re.IGNORECASE)
_FULL_TEXT = re.compile(r"disk is full|no space left", re.IGNORECASE)
_FULL_CLASS = re.compile(r"DiskSpace|DiskFull|NoSpace")


@dataclass(frozen=True)
class Site:
    """One place found: file (relative to the root), line and a short description."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root/src``: dotted name -> file."""
    src = root / "src"
    out: dict[str, Path] = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom,
              known: dict[str, Path]) -> set[str]:
    """The package modules one import statement of module ``name`` names."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in known:
                found.add(alias.name)
        return found
    if node.level:
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in known:
            found.add(sub)
        elif target in known:
            found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (every import statement counts, see above)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _imported(name, path, node, known)
        edges.discard(name)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, sorted (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_breaks(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks :data:`LAYER_RULES`, as ``importer -> imported (why)``."""
    out = []
    for importers, forbidden, why in LAYER_RULES:
        for name in sorted(graph):
            if _under(name, importers):
                out += [f"{name} -> {dep} ({why})" for dep in sorted(graph[name])
                        if _under(dep, forbidden)]
    return out


def _literals(node: ast.AST) -> set[str]:
    """The string constants of ``node`` itself or of a tuple/list/set literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {e.value for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def _files(root: Path) -> Iterator[tuple[str, ast.AST]]:
    for path in modules(root).values():
        yield (path.relative_to(root).as_posix(),
               ast.parse(path.read_text(encoding="utf-8"), str(path)))


def _store_isinstance(node: ast.AST) -> bool:
    """``isinstance(x, <a frame store class>)``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance" and len(node.args) == 2
            and any(c in ast.unparse(node.args[1]) for c in STORE_CLASSES))


def frame_kind_sites(root: Path) -> list[Site]:
    """Branches on the frame kind outside ``session/frames/`` (definition: module docstring)."""
    sites = []
    for rel, tree in _files(root):
        if "/session/frames/" in rel:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(re.search(r"kind|frame_format", ast.unparse(s))
                            for s in sides if isinstance(s, ast.Name | ast.Attribute))
                if named and any(_literals(s) & set(FRAME_KINDS) for s in sides):
                    sites.append(Site(rel, node.lineno, ast.unparse(node)))
            elif _store_isinstance(node) or (isinstance(node, ast.Tuple | ast.List | ast.Set)
                                             and set(FRAME_KINDS) <= _literals(node)):
                sites.append(Site(rel, node.lineno, ast.unparse(node)))
    return sites


def export_format_sites(root: Path) -> list[Site]:
    """Branches on the export format string (definition: module docstring)."""
    sites = []
    fmts = set(EXPORT_FORMATS)
    for rel, tree in _files(root):
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                if any(_literals(s) & fmts for s in [node.left, *node.comparators]):
                    sites.append(Site(rel, node.lineno, ast.unparse(node)[:80]))
            elif isinstance(node, ast.Dict) and any(k is not None and _literals(k) & fmts
                                                    for k in node.keys):
                sites.append(Site(rel, node.lineno, "dict keyed by format"))
            elif isinstance(node, ast.match_case) and any(
                    isinstance(p, ast.MatchValue) and _literals(p.value) & fmts
                    for p in ast.walk(node.pattern)):
                sites.append(Site(rel, node.pattern.lineno, "match case"))
    return sites


def atomic_write_sites(root: Path) -> list[Site]:
    """Renames of a temporary onto a target (definition: module docstring)."""
    sites = []
    for rel, tree in _files(root):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("replace", "rename")):
                continue
            func = node.func
            if isinstance(func.value, ast.Name) and func.value.id == "os":
                source = ast.unparse(node.args[0]) if node.args else ""
            else:
                source = ast.unparse(func.value)
            if _TEMP.search(source):
                sites.append(Site(rel, node.lineno, ast.unparse(node)[:80]))
    return sites


def disk_full_classes(root: Path) -> dict[str, list[Site]]:
    """Exception class -> where it is raised for a full disk (definition: module docstring)."""
    out: dict[str, list[Site]] = {}
    for rel, tree in _files(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise | ast.Return):
                continue
            value = node.exc if isinstance(node, ast.Raise) else node.value
            if not (isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name | ast.Attribute)):
                continue
            cls = ast.unparse(value.func).rsplit(".", 1)[-1]
            if not cls[:1].isupper():
                continue
            text = " ".join(c.value for c in ast.walk(value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str))
            if _FULL_TEXT.search(text) or (isinstance(node, ast.Raise)
                                           and _FULL_CLASS.search(cls)):
                out.setdefault(cls, []).append(Site(rel, node.lineno, cls))
    return out


def check_loops(root: Path) -> list[Site]:
    """``for ok, setting, message in ...`` statements."""
    sites = []
    for rel, tree in _files(root):
        for node in ast.walk(tree):
            if (isinstance(node, ast.For) and isinstance(node.target, ast.Tuple)
                    and [ast.unparse(e) for e in node.target.elts]
                    == ["ok", "setting", "message"]):
                sites.append(Site(rel, node.lineno, ast.unparse(node.iter)[:60]))
    return sites


def _section(title: str, items: list[str]) -> None:
    print(f"{title}: {len(items)}")
    for item in items:
        print(f"  {item}")


def main(argv: list[str]) -> int:
    """Print every count for the tree at ``argv[0]`` (default: this checkout)."""
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    if not (root / "src" / PACKAGE).is_dir():
        print(f"{root}: no src/{PACKAGE} here", file=sys.stderr)
        return 2
    graph = import_graph(root)
    print(f"tree: {root} ({len(graph)} modules, "
          f"{sum(len(e) for e in graph.values())} import edges)")
    _section("import circles", [" <-> ".join(c) for c in circles(graph)])
    print("layer rules:")
    for importers, forbidden, why in LAYER_RULES:
        print(f"  {', '.join(importers)} import nothing of {', '.join(forbidden)}: {why}")
    _section("layer-rule breaks", layer_breaks(graph))
    _section("frame-kind branches outside session/frames/", list(map(str, frame_kind_sites(root))))
    _section("export-format branches", list(map(str, export_format_sites(root))))
    _section("atomic-write implementations", list(map(str, atomic_write_sites(root))))
    full = disk_full_classes(root)
    _section("disk-full error classes",
             [f"{cls} ({len(s)}: {', '.join(f'{x.path}:{x.line}' for x in s)})"
              for cls, s in sorted(full.items())])
    _section("settings check loops", list(map(str, check_loops(root))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
