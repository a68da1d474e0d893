"""The package's imports obey its layers, and it has no import circles (issue 22).

The import graph and the rules are those of ``scripts/house_counts.py`` (one place:
``LAYER_RULES`` there; ``python scripts/house_counts.py`` prints them and every break). Every
import statement counts, at module level or inside a function or ``if TYPE_CHECKING:``: a lazy
import is still a dependency, it only moves the moment it is paid.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]



def _house_counts() -> ModuleType:
    spec = importlib.util.spec_from_file_location("house_counts",
                                                  REPO / "scripts" / "house_counts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["house_counts"] = module  # dataclasses look their module up while built
    spec.loader.exec_module(module)
    return module


hc = _house_counts()


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return hc.import_graph(REPO)  # type: ignore[no-any-return]


def test_the_graph_holds_the_known_edges(graph: dict[str, set[str]]) -> None:
    # A module-level, a function-level and a package-relative import the builder must see.
    assert "nitrogen_capture.session.frames" in graph["nitrogen_capture.config"]
    assert "nitrogen_capture.codecs.jobs" in graph["nitrogen_capture.session.frames._png"]
    assert "nitrogen_capture.session.chunkcheck" in graph["nitrogen_capture.session.reader"]
    assert "nitrogen_capture.encoderpool.pool" in graph["nitrogen_capture.record.recorder"]


def test_layer_rules_hold(graph: dict[str, set[str]]) -> None:
    assert hc.layer_breaks(graph) == []
    # The rules name what this test promises: session/ and export/ never reach the recording
    # side (record, capture, inputs, targets, the encoder pool, the record settings).
    first_importers, first_forbidden, _ = hc.LAYER_RULES[0]
    assert set(first_importers) == {"nitrogen_capture.session", "nitrogen_capture.export"}
    assert {"nitrogen_capture.record", "nitrogen_capture.capture", "nitrogen_capture.inputs",
            "nitrogen_capture.targets", "nitrogen_capture.encoderpool"} <= set(first_forbidden)


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    circles = hc.circles(graph)
    assert circles == [], "import circle(s): " + "; ".join(" <-> ".join(c) for c in circles)


def test_nothing_outside_the_frame_stores_branches_on_the_kind() -> None:
    # The exporters pick their fast reader by the store's access capability and `record --check`
    # asks each store its encode cost: no site outside session/frames/ names a kind.
    assert [str(s) for s in hc.frame_kind_sites(REPO)] == []


def test_the_builder_finds_lazy_and_type_checking_circles(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "nitrogen_capture"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from ..b import g\n    return g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .sub import a\n")
    (pkg / "c.py").write_text("import nitrogen_capture.b\n")
    (pkg / "record.py").write_text("")
    (pkg / "session.py").write_text("from . import record\n")
    g = hc.import_graph(tmp_path)
    assert hc.circles(g) == [["nitrogen_capture.b", "nitrogen_capture.sub.a"]]
    assert g["nitrogen_capture.c"] == {"nitrogen_capture.b"}
    assert hc.layer_breaks(g) == [
        "nitrogen_capture.session -> nitrogen_capture.record "
        f"({hc.LAYER_RULES[0][2]})"]
