"""The tray icon: a pure function of a status.

Why a pure function: the tray only has to compare snapshots and hand pystray a fresh image when the state
changed; nothing here keeps state, reads files or needs a display, so it is trivially testable and the
packaging script can render the very same glyphs into the app icons.

Every state differs by *shape* as well as by colour. macOS menu-bar template images discard colour and keep
only alpha, and colour-blind users cannot tell green from red, so the colour is a second channel, never the
only one:

    none      grey   a small dot                      (no sessions at all)
    ok        green  a filled disc                    (one live orchestrator)
    stale     amber  a hollow ring                    (only dead entries)
    vacating  amber  a ring whose lower half is full  (the orchestrator is handing over)
    orphaned  red    a warning triangle with a "!"    (workers without an orchestrator)
    conflict  red    two overlapping discs            (two live orchestrators)

Glyphs are drawn as coverage masks at 4x the requested size and box-filtered down, which gives exact
antialiasing. The optional count badge uses a built-in 3x5 pixel font snapped to the target pixel grid, so it
needs no font file (fonts are absent on minimal systems and in frozen builds) and stays crisp at 16 px.
"""

from __future__ import annotations

import sys
from typing import Dict, Optional, Tuple

from PIL import Image, ImageChops, ImageDraw

from tray.core.snapshot import State

__all__ = [
    "STATES",
    "STATE_COLORS",
    "badge_text",
    "icon_sizes",
    "render_icon",
]

#: Oversampling factor: shapes are drawn this many times larger, then averaged down.
SUPERSAMPLE = 4

RGB = Tuple[int, int, int]

#: Fill colour per state. Amber and red are chosen to stay distinct from each other and from the grey.
STATE_COLORS: Dict[State, RGB] = {
    State.NONE: (138, 143, 152),
    State.OK: (46, 160, 67),
    State.STALE: (227, 160, 8),
    State.VACATING: (227, 160, 8),
    State.ORPHANED: (215, 58, 73),
    State.CONFLICT: (215, 58, 73),
}

#: The states ``render_icon`` accepts, in order of increasing urgency.
STATES: Tuple[State, ...] = (State.NONE, State.OK, State.STALE, State.VACATING, State.ORPHANED, State.CONFLICT)

_BADGE_FILL: RGB = (36, 41, 47)
_BADGE_INK: RGB = (255, 255, 255)

# A 3x5 pixel font for the badge: one string of three "0/1" columns per row.
_GLYPHS: Dict[str, Tuple[str, ...]] = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "011", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    "+": ("000", "010", "111", "010", "000"),
}

# Sizes per platform and purpose ("tray": the status icon; "app": the application icon files).
_SIZES: Dict[str, Dict[str, Tuple[int, ...]]] = {
    # Windows picks from the .ico by DPI: 16 @100 %, 20 @125 %, 24 @150 %, 32 @200 %; Explorer wants up to 256.
    "win32": {"tray": (16, 20, 24, 32, 48, 64), "app": (16, 20, 24, 32, 40, 48, 64, 256)},
    # The macOS menu bar is 22 pt high: 22 px and 44 px on Retina. The .icns carries 16..1024.
    "darwin": {"tray": (22, 44), "app": (16, 32, 64, 128, 256, 512, 1024)},
    # Linux panels and AppIndicator hosts scale between 22 and 64 px; app icons for .desktop files.
    "linux": {"tray": (22, 24, 32, 48, 64), "app": (48, 64, 128, 256)},
}

_Resampling = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 moved the constants; keep Pillow 9.0 working


def _platform_key(platform: Optional[str]) -> str:
    name = (platform or sys.platform).lower()
    if name.startswith(("win", "cygwin", "msys")):
        return "win32"
    if name.startswith(("darwin", "mac", "osx")):
        return "darwin"
    return "linux"


def icon_sizes(platform: Optional[str] = None, purpose: str = "all") -> Tuple[int, ...]:
    """Return the pixel sizes a platform wants, ascending.

    ``platform`` is a ``sys.platform`` value ("win32", "darwin", "linux", ...; default: this machine); any
    other Unix counts as Linux. ``purpose`` is "tray" (the status icon), "app" (.ico / .icns / app PNGs) or
    "all" (both). Windows: 16, 20, 24, 32, 40, 48, 64, 256; macOS: 22/44 for the menu bar and 16..1024 for the
    .icns; Linux: 22..64 for panels plus larger app icons.
    """
    table = _SIZES[_platform_key(platform)]
    if purpose == "all":
        return tuple(sorted(set(table["tray"]) | set(table["app"])))
    if purpose not in table:
        raise ValueError(f"unknown icon purpose {purpose!r}; expected 'tray', 'app' or 'all'")
    return tuple(sorted(table[purpose]))


def badge_text(count: int) -> str:
    """The badge label for ``count``: "" for no badge, "1".."9", then "9+" (a badge must stay readable)."""
    if count <= 0:
        return ""
    return str(count) if count <= 9 else "9+"


# --- glyph masks (drawn at SUPERSAMPLE x size; 255 = covered) ---------------------------------------------


def _circle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: int) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def _glyph_mask(state: str, s: int) -> Image.Image:
    """Draw the shape of ``state`` on an ``s`` x ``s`` canvas."""
    mask = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(mask)
    c = s / 2
    r = s * 0.45  # outer radius: a thin margin keeps the antialiased edge inside the canvas
    w = s * 0.15  # ring width: about 2.4 px at 16 px, still solid
    if state == State.NONE:
        _circle(d, c, c, s * 0.2, 255)
    elif state == State.OK:
        _circle(d, c, c, r, 255)
    elif state == State.STALE:
        _circle(d, c, c, r, 255)
        _circle(d, c, c, r - w, 0)
    elif state == State.VACATING:
        _circle(d, c, c, r, 255)
        # Hollow out only the upper half of the interior: "half full, draining".
        inner = Image.new("L", (s, s), 0)
        ImageDraw.Draw(inner).ellipse((c - r + w, c - r + w, c + r - w, c + r - w), fill=255)
        upper = Image.new("L", (s, s), 0)
        ImageDraw.Draw(upper).rectangle((0, 0, s, round(c - s * 0.02)), fill=255)
        mask = ImageChops.subtract(mask, ImageChops.multiply(inner, upper))
    elif state == State.ORPHANED:
        # A warning triangle with the "!" punched out: an outline no other state has.
        # Rounded corners: the hull of three discs, i.e. a triangle stroked with round caps.
        rc = s * 0.06
        top, bottom = s * 0.06 + 2 * rc, s * 0.9 - rc
        half = (bottom - top) / 3**0.5  # half the base of an equilateral triangle
        corners = [(c, top), (c + half, bottom), (c - half, bottom)]
        d.polygon(corners, fill=255)
        for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1]):
            d.line((x1, y1, x2, y2), fill=255, width=round(2 * rc))
        for x, y in corners:
            _circle(d, x, y, rc, 255)
        bar = s * 0.12
        d.rounded_rectangle((c - bar / 2, s * 0.34, c + bar / 2, s * 0.63), radius=bar / 2, fill=0)
        _circle(d, c, s * 0.74, bar * 0.6, 0)
    elif state == State.CONFLICT:
        # Two discs overlapping, the right one cut clear of the left by a transparent rim.
        rr = s * 0.29
        left, right, cy = s * 0.34, s * 0.66, c
        _circle(d, left, cy, rr, 255)
        _circle(d, right, cy, rr + s * 0.07, 0)
        _circle(d, right, cy, rr, 255)
    else:  # pragma: no cover - guarded by render_icon
        raise ValueError(state)
    return mask


def _badge_masks(text: str, size: int) -> Tuple[Image.Image, Image.Image, Image.Image]:
    """Return (cutout, plate, ink) masks at SUPERSAMPLE x ``size`` for a badge in the lower-right corner.

    The badge is laid out on the *target* pixel grid (unit = whole pixels) so the digits stay sharp after
    downsampling. ``cutout`` is a transparent rim that separates the plate from the glyph underneath.
    """
    k = SUPERSAMPLE
    s = size * k
    text_w = 3 * len(text) + (len(text) - 1)  # 3 columns per glyph, 1 column between glyphs
    pad = 1
    w_units, h_units = text_w + 2 * pad, 5 + 2 * pad
    # Preferred unit: 1 px at 16 px, 2 px at 20-32 px (a 22 px menu bar needs it), 3 px at 44-48 px, 4 px at
    # 64 px; but the badge never covers more than about 2/3 of the icon, so the glyph's shape stays readable.
    preferred = max(round(size / 16), 2 if size >= 20 else 1)
    unit = max(1, min(preferred, int(size * 0.65 // max(w_units, h_units))))
    x0 = size - w_units * unit
    y0 = size - h_units * unit
    box = (x0 * k, y0 * k, size * k - 1, size * k - 1)
    radius = min(w_units, h_units) * unit * k / 2

    plate = Image.new("L", (s, s), 0)
    ImageDraw.Draw(plate).rounded_rectangle(box, radius=radius, fill=255)
    cutout = Image.new("L", (s, s), 0)
    gap = max(1, round(unit * 0.6)) * k
    ImageDraw.Draw(cutout).rounded_rectangle(
        (box[0] - gap, box[1] - gap, box[2] + gap, box[3] + gap), radius=radius + gap, fill=255
    )
    ink = Image.new("L", (s, s), 0)
    di = ImageDraw.Draw(ink)
    cx = x0 + pad * unit
    cy = y0 + pad * unit
    for ch in text:
        for row, bits in enumerate(_GLYPHS[ch]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    px, py = (cx + col * unit) * k, (cy + row * unit) * k
                    di.rectangle((px, py, px + unit * k - 1, py + unit * k - 1), fill=255)
        cx += 4 * unit
    return cutout, plate, ink


def _down(mask: Image.Image, size: int) -> Image.Image:
    return mask.resize((size, size), _Resampling.BOX)


def _layer(color: RGB, alpha: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", alpha.size, color + (0,))
    layer.putalpha(alpha)
    return layer


def render_icon(state: str, count: int = 0, size: int = 64, template: bool = False) -> Image.Image:
    """Render the status icon for ``state`` as a ``size`` x ``size`` RGBA image.

    ``count`` > 0 adds a badge (capped at "9+") in the lower-right corner, e.g. the number of projects that
    need attention. ``template=True`` returns black on transparent, where only alpha carries the shape and
    the badge digits are punched out: what macOS wants for a menu-bar template image.
    Raises ``ValueError`` for an unknown state, a negative count or a size below 16 px (no room for a badge).
    """
    if state not in STATE_COLORS:
        raise ValueError(f"unknown icon state {state!r}; expected one of {', '.join(STATES)}")
    state = State(state)  # a plain string (a test, the self-test) as the member it names
    if size < 16:
        raise ValueError(f"icon size {size} is too small (minimum 16 px)")
    if count < 0:
        raise ValueError(f"badge count {count} is negative")

    glyph = _glyph_mask(state, size * SUPERSAMPLE)
    text = badge_text(count)
    if text:
        cutout, plate, ink = _badge_masks(text, size)
        glyph = ImageChops.subtract(glyph, cutout)
    if template:
        alpha = glyph
        if text:
            alpha = ImageChops.subtract(ImageChops.lighter(alpha, plate), ink)
        image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        image.putalpha(_down(alpha, size))
        return image

    image = _layer(STATE_COLORS[state], _down(glyph, size))
    if text:
        image = Image.alpha_composite(image, _layer(_BADGE_FILL, _down(plate, size)))
        image = Image.alpha_composite(image, _layer(_BADGE_INK, _down(ink, size)))
    return image
