"""``--policy module:callable``: a Python callable as a :class:`~.policy_base.Policy`.

``module`` is a dotted import path (``mypkg.policies``) or a ``.py`` file
(``examples/bc_policy.py``); ``callable`` is a name in it. With options (``--policy-arg K=V``,
:attr:`PolicySettings.options`) the named callable is a factory, called once with them as keyword
arguments; its result is the per-frame callable. That callable gets an ``(img_size, img_size, 3)``
uint8 RGB frame and returns a row ``(D,)`` or rows ``(T, D)``, read per
:attr:`PolicySettings.space`:

* ``raw``: the layout's K keys (> 0.5 is pressed), optionally followed by mouse dx, dy counts;
* ``nitrogen``: NitroGen's 25 floats; ``pad``: a 21-float gamepad row;
* ``auto``: by width (K or K+2 -> raw, 25 -> nitrogen, 21 -> pad); a width that fits two of
  them is refused, asking for the space to be named.

If the per-frame callable has a ``reset`` method, :meth:`CallablePolicy.reset` calls it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, PolicyError
from ..export.keymap import NITROGEN_ACTIONS
from ..rows import GAMEPAD_WIDTH
from .action import Action, ActionChunk
from .mapping import keys_to_pad, make_mapper, settings_keymap
from .policy_base import Policy, PolicySettings

__all__ = ["SPACES", "CallablePolicy", "import_callable"]

SPACES = ("auto", "raw", "nitrogen", "pad")
MAX_ROWS = 1024  # rows in one answer


def _import_module(module: str) -> Any:
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = Path(module).expanduser().resolve()
        if not path.is_file():
            raise PolicyError(f"policy file {module} does not exist")
        # A unique module name per file, so two files named policy.py do not collide.
        name = f"_nitrogen_policy_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise PolicyError(f"policy file {module} cannot be imported as Python")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses and pickle look their module up
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return mod
    return importlib.import_module(module)


def import_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:callable`` (module docstring); any failure is one :class:`PolicyError`."""
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr.isidentifier():
        raise ConfigError(f"--policy {spec!r}: expected module:callable (a dotted module or a "
                          ".py file, then a name in it)", setting="spec")
    try:
        mod = _import_module(module)
    except PolicyError:
        raise
    except Exception as exc:  # an import runs the user's code: any error, one line
        raise PolicyError(f"cannot import policy module {module}: {type(exc).__name__}: "
                          f"{exc}") from exc
    fn = getattr(mod, attr, None)
    if fn is None or not callable(fn):
        found = "is not callable" if fn is not None else "does not exist"
        raise PolicyError(f"policy {spec}: {module}.{attr} {found}")
    return fn  # type: ignore[no-any-return]


class CallablePolicy(Policy):
    """A local Python callable answering frames with action rows (module docstring)."""

    name = "callable"

    def __init__(self, settings: PolicySettings) -> None:
        if settings.space not in SPACES:
            raise ConfigError(f"--policy-space must be one of {', '.join(SPACES)}, got "
                              f"{settings.space!r}", setting="space")
        self.settings = settings
        self.frame_size = (settings.img_size, settings.img_size)
        self.step_s = 1.0 / settings.action_hz
        self._k = len(settings.layout)
        self._keymap = settings_keymap(settings.keymap)
        self._mapper = make_mapper(settings.output_kind, self._keymap, settings.layout,
                                   settings.mouse_scale)
        target = import_callable(settings.spec)
        if settings.options:
            try:
                target = target(**settings.options)
            except Exception as exc:
                raise PolicyError(f"policy factory {settings.spec} failed with options "
                                  f"{settings.options}: {type(exc).__name__}: {exc}") from exc
            if not callable(target):
                raise PolicyError(f"policy factory {settings.spec} returned "
                                  f"{type(target).__name__}, not a callable")
        self.fn: Callable[[npt.NDArray[np.uint8]], Any] = target
        self.space = settings.space if settings.space != "auto" else None

    def describe(self) -> dict[str, Any]:
        """Spec, options (as text), space, image size and rate."""
        return {"kind": self.name, "spec": self.settings.spec,
                "options": {str(k): str(v) for k, v in self.settings.options.items()},
                "space": self.space or self.settings.space, "img_size": self.settings.img_size,
                "action_hz": self.settings.action_hz}

    def _space_for(self, width: int) -> str:
        widths = {"raw": {self._k, self._k + 2}, "nitrogen": {len(NITROGEN_ACTIONS)},
                  "pad": {GAMEPAD_WIDTH}}
        if self.space is not None:
            if width not in widths[self.space]:
                raise PolicyError(f"policy {self.settings.spec} answered rows of width {width}: "
                                  f"space {self.space} expects "
                                  f"{' or '.join(str(w) for w in sorted(widths[self.space]))}")
            return self.space
        fits = [s for s, ws in widths.items() if width in ws]
        if len(fits) > 1:
            raise PolicyError(f"policy {self.settings.spec} answers rows of width {width}, which "
                              f"could be {' or '.join(fits)}: pass --policy-space")
        if not fits:
            raise PolicyError(f"policy {self.settings.spec} answered rows of width {width}: "
                              f"expected {self._k} or {self._k + 2} (layout keys, then dx, dy), "
                              f"{len(NITROGEN_ACTIONS)} (NitroGen) or {GAMEPAD_WIDTH} (pad)")
        self.space = fits[0]
        return self.space

    def _rows(self, answer: object) -> npt.NDArray[np.float64]:
        what = (f"{type(answer).__name__} of shape {answer.shape}"
                if isinstance(answer, np.ndarray) else type(answer).__name__)
        try:
            rows = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError):
            raise PolicyError(f"policy {self.settings.spec} returned a {what}: expected "
                              "numbers, a row (D,) or rows (T, D)") from None
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2 or not 1 <= rows.shape[0] <= MAX_ROWS or rows.shape[1] == 0:
            raise PolicyError(f"policy {self.settings.spec} returned shape {rows.shape}: "
                              f"expected a row (D,) or rows (T, D) with T in 1..{MAX_ROWS}")
        if not np.isfinite(rows).all():
            raise PolicyError(f"policy {self.settings.spec} returned values that are not finite")
        return rows

    def _raw_step(self, row: list[float]) -> Action:
        keys = frozenset(k for k, v in zip(self.settings.layout.keys, row, strict=False)
                         if v > 0.5)
        mouse = (row[self._k], row[self._k + 1]) if len(row) == self._k + 2 else (0.0, 0.0)
        if self.settings.output_kind == "gamepad":
            return keys_to_pad(keys, mouse, self.settings.layout, self._keymap,
                               self.settings.mouse_scale)
        return Action(keys, mouse)

    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        """Call the policy on the frame; its rows become the chunk's steps."""
        try:
            answer = self.fn(frame_rgb)
        except Exception as exc:  # the user's code: one line, the cause kept for --debug
            raise PolicyError(f"policy {self.settings.spec} failed: {type(exc).__name__}: "
                              f"{exc}") from exc
        rows = self._rows(answer)
        space = self._space_for(rows.shape[1])
        if space == "raw":
            steps = tuple(self._raw_step(r) for r in rows.tolist())
        elif space == "nitrogen":
            steps = tuple(self._mapper.nitrogen(r) for r in rows.tolist())
        else:
            steps = tuple(self._mapper.pad(r) for r in rows.tolist())
        return ActionChunk(steps, self.step_s)

    def reset(self) -> None:
        """Call the callable's ``reset`` when it has one."""
        reset = getattr(self.fn, "reset", None)
        if callable(reset):
            reset()
