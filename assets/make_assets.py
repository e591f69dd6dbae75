"""Generate Orchestray's icon files from ``tray.app.icon.render_icon``.

Why a script and not hand-drawn files: the app icon, the per-state PNGs and the tray icon must be the very
same glyphs, so they all come from one function; re-run this after changing ``icon.py`` and commit the result.

Writes:
    assets/orchestray.png      256 px app icon (the "ok" glyph)
    assets/orchestray.ico      Windows multi-size icon (16..256, each size rendered, not scaled)
    assets/orchestray.icns     macOS app icon (16..1024)
    assets/icon-states.png     contact sheet: every state, badge and template variant, light and dark
    tray/assets/orchestray.png 256 px app icon shipped as package data (notifications, .desktop Icon=)
    tray/assets/state-<state>-64.png, state-<state>-template-64.png  per-state package data

Usage: ``python assets/make_assets.py [--out-dir DIR] [--package-dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT))

from tray.app.icon import STATES, icon_sizes, render_icon  # noqa: E402

APP_STATE = "ok"
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def _largest_first(images: List[Image.Image]) -> List[Image.Image]:
    return sorted(images, key=lambda im: im.width, reverse=True)


def write_ico(path: Path) -> None:
    """Write a .ico whose every size is rendered natively (Pillow would otherwise downscale one image)."""
    sizes = icon_sizes("win32", "app")
    images = _largest_first([render_icon(APP_STATE, size=n) for n in sizes])
    images[0].save(path, format="ICO", sizes=[(n, n) for n in sizes], append_images=images[1:])


def write_icns(path: Path) -> None:
    """Write a .icns with natively rendered sizes (Pillow writes ICNS on every platform)."""
    images = _largest_first([render_icon(APP_STATE, size=n) for n in ICNS_SIZES])
    images[0].save(path, format="ICNS", append_images=images[1:])


def contact_sheet(cell: int = 64) -> Image.Image:
    """All states in rows; columns: plain, count 3, count 12, template, then 22 px and 16 px at 1:1.

    The left half is on a light background, the right half repeats it on a dark one (menu bars come in both).
    """
    font = ImageFont.load_default()
    label_w, pad, head = 78, 10, 22
    columns = ["plain", "3", "12", "template", "22px", "22px 2", "22 tmpl", "16px", "16px 2"]
    col_w = cell + pad
    half_w = label_w + len(columns) * col_w
    width, height = 2 * half_w, head + len(STATES) * (cell + pad) + pad
    sheet = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for half, (bg, fg) in enumerate((((246, 246, 246), (30, 30, 30)), ((40, 42, 46), (230, 230, 230)))):
        x_off = half * half_w
        draw.rectangle((x_off, 0, x_off + half_w - 1, height - 1), fill=bg)
        for i, name in enumerate(columns):
            draw.text((x_off + label_w + i * col_w, 6), name, fill=fg, font=font)
        for row, state in enumerate(STATES):
            y = head + row * (cell + pad)
            draw.text((x_off + 6, y + cell // 2 - 6), state, fill=fg, font=font)
            tiles = [
                render_icon(state, size=cell),
                render_icon(state, 3, size=cell),
                render_icon(state, 12, size=cell),
                _tint(render_icon(state, 2, size=cell, template=True), fg),
                render_icon(state, size=22),
                render_icon(state, 2, size=22),
                _tint(render_icon(state, size=22, template=True), fg),
                render_icon(state, size=16),
                render_icon(state, 2, size=16),
            ]
            for i, tile in enumerate(tiles):
                x = x_off + label_w + i * col_w
                sheet.alpha_composite(tile, (x, y + (cell - tile.height) // 2))
    return sheet


def _tint(template: Image.Image, color: Sequence[int]) -> Image.Image:
    """Show a template image the way macOS does: its alpha filled with the menu-bar foreground colour."""
    tinted = Image.new("RGBA", template.size, tuple(color[:3]) + (0,))
    tinted.putalpha(template.getchannel("A"))
    return tinted


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "assets")
    parser.add_argument("--package-dir", type=Path, default=ROOT / "tray" / "assets")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    pkg: Path = args.package_dir
    out.mkdir(parents=True, exist_ok=True)
    pkg.mkdir(parents=True, exist_ok=True)

    written: List[Path] = []
    app = render_icon(APP_STATE, size=256)
    for target in (out / "orchestray.png", pkg / "orchestray.png"):
        app.save(target)
        written.append(target)
    write_ico(out / "orchestray.ico")
    write_icns(out / "orchestray.icns")
    contact_sheet().save(out / "icon-states.png")
    written += [out / "orchestray.ico", out / "orchestray.icns", out / "icon-states.png"]
    for state in STATES:
        for template, suffix in ((False, ""), (True, "-template")):
            target = pkg / f"state-{state}{suffix}-64.png"
            render_icon(state, size=64, template=template).save(target)
            written.append(target)
    for path in written:
        print(os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
