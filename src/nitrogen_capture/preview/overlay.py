"""The preview's overlay: geometry of the heads-up strip and the drawing of one row onto a frame.

A preview frame is the session frame scaled to the output width with a HUD strip appended below
it, so the overlay never hides the game. The strip holds one labelled box per layout key (filled
when the row's ``actions`` value is 1), the row's mouse delta as an arrow from a fixed point, and
the gamepad sticks and buttons when the session recorded a gamepad. The row number, tick index
and time are written over the frame's top-left corner; the first frame after a pause or a tick
gap gets a red border and label.

All geometry is computed once per preview by :func:`hud_layout` and exposed as plain boxes so
tests (and anyone curious) can find the pixels of a key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from ..binning import GAMEPAD_WIDTH
from ..keylayout import PAD_BUTTONS
from .plot import drawable

__all__ = ["FLASH_BORDER", "Box", "HudLayout", "RowInfo", "draw_row", "hud_layout"]

FONT = cv2.FONT_HERSHEY_SIMPLEX
FLASH_BORDER = 8  # px of red border on the first frame after a pause or gap
KEY_W_MIN, KEY_H, GAP, MARGIN = 40, 20, 4, 8
MOUSE_W, PAD_W = 120, 176
# BGR colours: held keys green, idle keys dark grey, flash red.
HELD, IDLE, TEXT, DIM = (60, 200, 60), (60, 60, 60), (235, 235, 235), (150, 150, 150)
RED, PANEL = (40, 40, 230), (28, 28, 28)
_SHORT = {"backspace": "bksp", "space": "spc", "enter": "ent", "shift": "shft", "ctrl": "ctrl",
          "wheel_up": "wh^", "wheel_down": "whv", "wheel_left": "wh<", "wheel_right": "wh>"}
# Xbox-style face labels for south/west/east/north; short names for the rest.
_PAD_SHORT = {"dpad_down": "dD", "dpad_left": "dL", "dpad_right": "dR", "dpad_up": "dU",
              "left_shoulder": "LB", "left_thumb": "LS", "left_trigger": "LT",
              "right_shoulder": "RB", "right_thumb": "RS", "right_trigger": "RT", "south": "A",
              "west": "X", "east": "B", "north": "Y", "back": "bk", "start": "st", "guide": "gd"}


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in output-frame pixels (``x, y`` top-left, ``w, h`` size)."""

    x: int
    y: int
    w: int
    h: int

    def slice(self, img: npt.NDArray[np.uint8], inset: int = 0) -> npt.NDArray[np.uint8]:
        """The pixels of this box in ``img`` (``inset`` px smaller on every side)."""
        return img[self.y + inset:self.y + self.h - inset, self.x + inset:self.x + self.w - inset]


@dataclass(frozen=True)
class HudLayout:
    """Geometry of one preview: frame area, HUD strip and every box in it.

    Attributes:
        width, height: the drawn size, ``height = frame_h + hud_h`` (the video pads an odd one).
        frame_h: height of the scaled session frame at the top.
        key_boxes: one box per layout key, in layout order.
        mouse: the mouse panel; the arrow starts at its centre.
        pad: the gamepad panel, or None without a gamepad.
        pad_boxes: one box per gamepad button (PAD_BUTTONS order), empty without a gamepad.
        sticks: centres and radius of the left and right stick circles.
    """

    width: int
    height: int
    frame_h: int
    keys: tuple[str, ...]
    key_boxes: tuple[Box, ...]
    mouse: Box
    pad: Box | None = None
    pad_boxes: tuple[Box, ...] = field(default=())
    sticks: tuple[tuple[int, int], ...] = field(default=())
    stick_r: int = 0

    def key_box(self, key: str) -> Box:
        """The box of layout key ``key``."""
        return self.key_boxes[self.keys.index(key)]


@dataclass(frozen=True)
class RowInfo:
    """What the overlay shows for one row."""

    row: int
    tick: int
    t_s: float
    actions: npt.NDArray[np.int8]
    mouse: tuple[float, float]
    gamepad: npt.NDArray[np.float32] | None = None
    flash: str | None = None  # "PAUSE 0.52 s" / "GAP 3 ticks" on the first frame after one


def hud_layout(keys: tuple[str, ...], src_size: tuple[int, int], width: int,
               gamepad: bool) -> HudLayout:
    """Compute the preview geometry for a session frame of ``src_size`` (w, h)."""
    sw, sh = src_size
    # Any size: the H.264 writer pads an odd one (codecs/h264.py, the package's one rule).
    frame_h = max(1, math.floor(sh * width / sw + 0.5))
    right = MOUSE_W + (PAD_W if gamepad else 0)
    keys_w = max(KEY_W_MIN, width - right - 2 * MARGIN)
    cols = max(1, min(len(keys), (keys_w + GAP) // (KEY_W_MIN + GAP)))
    rows = math.ceil(len(keys) / cols)
    kw = (keys_w + GAP) // cols - GAP
    top = frame_h + MARGIN
    boxes = tuple(Box(MARGIN + (i % cols) * (kw + GAP), top + (i // cols) * (KEY_H + GAP),
                      kw, KEY_H) for i in range(len(keys)))
    hud_h = max(rows * (KEY_H + GAP) - GAP, 116 if gamepad else 92) + 2 * MARGIN
    x0 = width - right
    mouse = Box(x0, frame_h + MARGIN, MOUSE_W - MARGIN, hud_h - 2 * MARGIN)
    if not gamepad:
        return HudLayout(width, frame_h + hud_h, frame_h, keys, boxes, mouse)
    pad = Box(x0 + MOUSE_W, frame_h + MARGIN, PAD_W - MARGIN, hud_h - 2 * MARGIN)
    r = 17
    sticks = ((pad.x + 28 + r, pad.y + 6 + r), (pad.x + pad.w - 28 - r, pad.y + 6 + r))
    bw, bh, by = 26, 14, pad.y + 2 * r + 24
    pad_boxes = tuple(Box(pad.x + 4 + (i % 6) * (bw + 2), by + (i // 6) * (bh + 2), bw, bh)
                      for i in range(len(PAD_BUTTONS)))
    return HudLayout(width, frame_h + hud_h, frame_h, keys, boxes, mouse, pad, pad_boxes,
                     sticks, r)


def _label(img: npt.NDArray[np.uint8], text: str, box: Box, color: tuple[int, int, int],
           scale: float = 0.38) -> None:
    text = drawable(text)  # a key name from meta.json may be any text
    # Shrink the font until the label fits the box (long key names in narrow boxes).
    while scale > 0.25:
        (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
        if tw <= box.w - 4:
            break
        scale -= 0.03
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    org = (box.x + (box.w - tw) // 2, box.y + (box.h + th) // 2)
    cv2.putText(img, text, org, FONT, scale, color, 1, cv2.LINE_AA)


def _text(img: npt.NDArray[np.uint8], text: str, org: tuple[int, int], scale: float = 0.4,
          color: tuple[int, int, int] = TEXT) -> None:
    cv2.putText(img, drawable(text), org, FONT, scale, color, 1, cv2.LINE_AA)


def _draw_keys(img: npt.NDArray[np.uint8], hud: HudLayout, actions: npt.NDArray[np.int8]) -> None:
    for k, (key, box) in enumerate(zip(hud.keys, hud.key_boxes, strict=True)):
        held = k < len(actions) and actions[k] == 1
        p1, p2 = (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1)
        cv2.rectangle(img, p1, p2, HELD if held else IDLE, -1)
        cv2.rectangle(img, p1, p2, DIM, 1)
        _label(img, _SHORT.get(key, key), box, (0, 0, 0) if held else TEXT)


def _draw_mouse(img: npt.NDArray[np.uint8], hud: HudLayout, d: tuple[float, float],
                scale: float) -> None:
    m = hud.mouse
    cv2.rectangle(img, (m.x, m.y), (m.x + m.w - 1, m.y + m.h - 1), DIM, 1)
    _text(img, "mouse", (m.x + 4, m.y + 12), 0.35, DIM)
    cx, cy = m.x + m.w // 2, m.y + (m.h - 14) // 2 + 6
    r = min(m.w, m.h - 14) // 2 - 6
    cv2.circle(img, (cx, cy), r, IDLE, 1, cv2.LINE_AA)
    cv2.circle(img, (cx, cy), 2, DIM, -1)
    dx, dy = d
    # Arrow length: the delta times the span's scale, clipped to the circle (numbers stay exact).
    vx, vy = dx * scale * r, dy * scale * r
    n = math.hypot(vx, vy)
    if n > r:
        vx, vy = vx * r / n, vy * r / n
    if n >= 1.0:
        cv2.arrowedLine(img, (cx, cy), (round(cx + vx), round(cy + vy)), (0, 200, 255),
                        2, cv2.LINE_AA, tipLength=0.3)
    _text(img, f"{dx:+.0f},{dy:+.0f}", (m.x + 4, m.y + m.h - 4), 0.38)


def _draw_pad(img: npt.NDArray[np.uint8], hud: HudLayout, pad: npt.NDArray[np.float32]) -> None:
    if hud.pad is None:
        return
    p = hud.pad
    cv2.rectangle(img, (p.x, p.y), (p.x + p.w - 1, p.y + p.h - 1), DIM, 1)
    axes = pad[len(PAD_BUTTONS):GAMEPAD_WIDTH]
    for (cx, cy), (ax, ay), name in zip(hud.sticks, (axes[0:2], axes[2:4]), ("L", "R"),
                                        strict=True):
        r = hud.stick_r
        cv2.circle(img, (cx, cy), r, DIM, 1, cv2.LINE_AA)
        tip = (round(cx + float(ax) * r), round(cy + float(ay) * r))
        cv2.line(img, (cx, cy), tip, (0, 200, 255), 1, cv2.LINE_AA)
        cv2.circle(img, tip, 4, (0, 200, 255), -1, cv2.LINE_AA)
        _text(img, name, (cx - r - 14, cy + 4), 0.4, DIM)
        _text(img, f"{float(ax):+.2f},{float(ay):+.2f}", (cx - r - 8, cy + r + 13), 0.33)
    for i, (name, box) in enumerate(zip(PAD_BUTTONS, hud.pad_boxes, strict=True)):
        held = float(pad[i]) >= 0.5
        cv2.rectangle(img, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1),
                      HELD if held else IDLE, -1)
        _label(img, _PAD_SHORT[name], box, (0, 0, 0) if held else TEXT, 0.32)


def draw_row(frame: npt.NDArray[np.uint8], hud: HudLayout, info: RowInfo,
             mouse_scale: float) -> npt.NDArray[np.uint8]:
    """Return the preview image (hud.height, hud.width, 3) BGR for one session frame and row.

    ``mouse_scale`` maps counts to the arrow: a delta of ``1 / mouse_scale`` counts reaches the
    circle's edge (chosen per span so typical motion is visible).
    """
    out = np.full((hud.height, hud.width, 3), PANEL, dtype=np.uint8)
    interp = cv2.INTER_AREA if frame.shape[1] > hud.width else cv2.INTER_LINEAR
    out[:hud.frame_h] = cv2.resize(frame, (hud.width, hud.frame_h), interpolation=interp)
    _draw_keys(out, hud, info.actions)
    _draw_mouse(out, hud, info.mouse, mouse_scale)
    if info.gamepad is not None:
        _draw_pad(out, hud, info.gamepad)
    if info.flash:
        b = FLASH_BORDER
        cv2.rectangle(out, (b // 2, b // 2), (hud.width - 1 - b // 2, hud.frame_h - 1 - b // 2),
                      RED, b)
        (tw, th), _ = cv2.getTextSize(info.flash, FONT, 0.9, 2)
        x, y = (hud.width - tw) // 2, hud.frame_h // 2
        cv2.rectangle(out, (x - 10, y - th - 10), (x + tw + 10, y + 10), RED, -1)
        cv2.putText(out, info.flash, (x, y), FONT, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    header = f"row {info.row}  tick {info.tick}  t {info.t_s:.3f} s"
    (tw, th), _ = cv2.getTextSize(header, FONT, 0.5, 1)
    # A translucent backing keeps the header readable over any game content.
    band = out[0:th + 12, 0:tw + 12]
    band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
    cv2.putText(out, header, (6, th + 5), FONT, 0.5, TEXT, 1, cv2.LINE_AA)
    return out
