"""The status icon: every state at every size, shapes that differ without colour, and a count badge."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tray.app.icon import STATE_COLORS, STATES, badge_text, icon_sizes, render_icon

ROOT = Path(__file__).resolve().parents[2]
ALL_SIZES = sorted(set(icon_sizes("win32")) | set(icon_sizes("darwin")) | set(icon_sizes("linux")))


def _mask(image: Image.Image) -> Image.Image:
    """Binary shape: what survives when colour is thrown away (macOS template images)."""
    return image.getchannel("A").point(lambda a: 255 if a >= 128 else 0)


def _differing_pixels(a: Image.Image, b: Image.Image) -> int:
    return sum(ImageChops.difference(a, b).histogram()[1:])


def _rgba_pixels(image: Image.Image) -> list:
    """Pixels as (r, g, b, a) tuples (``getdata`` is deprecated in Pillow 13, ``tobytes`` is not)."""
    data = image.convert("RGBA").tobytes()
    return [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]


@pytest.mark.parametrize("size", ALL_SIZES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("template", [False, True])
def test_every_state_renders_at_every_size(state: str, size: int, template: bool) -> None:
    for count in (0, 1, 12):
        image = render_icon(state, count, size=size, template=template)
        assert image.mode == "RGBA"
        assert image.size == (size, size)
        alpha = image.getchannel("A")
        assert alpha.getextrema()[1] == 255, "the glyph has a fully opaque core"
        # the corners of the canvas stay clear (unless the badge sits there)
        assert alpha.getpixel((0, 0)) == 0


@pytest.mark.parametrize("size", ALL_SIZES)
def test_states_differ_by_shape_at_every_size(size: int) -> None:
    threshold = size * size // 25  # at least 4 % of the pixels, with or without a badge
    for count in (0, 3, 12):
        masks = {s: _mask(render_icon(s, count, size=size, template=True)) for s in STATES}
        for a, b in itertools.combinations(STATES, 2):
            diff = _differing_pixels(masks[a], masks[b])
            assert diff >= threshold, f"{a} and {b} look alike at {size}px (count {count}): {diff} px differ"


def test_colours_follow_the_design() -> None:
    def dominant(state: str) -> tuple:
        image = render_icon(state, size=64)
        opaque = [p[:3] for p in _rgba_pixels(image) if p[3] == 255]
        return max(set(opaque), key=opaque.count)

    assert dominant("ok") == STATE_COLORS["ok"]
    g = dominant("ok")
    assert g[1] > g[0] and g[1] > g[2], "ok is green"
    r = dominant("conflict")
    assert r[0] > r[1] and r[0] > r[2], "conflict is red"
    assert dominant("orphaned") == dominant("conflict")
    assert dominant("stale") == dominant("vacating")
    grey = dominant("none")
    assert max(grey) - min(grey) < 30, "none is grey"


@pytest.mark.parametrize("state", STATES)
def test_template_images_are_black_with_shape_in_alpha(state: str) -> None:
    for size, count in [(22, 0), (44, 5), (16, 12)]:
        image = render_icon(state, count, size=size, template=True)
        colours = {p[:3] for p in _rgba_pixels(image) if p[3] > 0}
        assert colours == {(0, 0, 0)}
    for size in (16, 22, 44, 64):
        # without a badge the shape is the colour image's shape
        template, colour = render_icon(state, size=size, template=True), render_icon(state, size=size)
        assert _differing_pixels(_mask(template), _mask(colour)) == 0


@pytest.mark.parametrize("state", STATES)
def test_count_badge_changes_pixels(state: str) -> None:
    for size in (16, 22, 64):
        plain = render_icon(state, 0, size=size)
        one = render_icon(state, 1, size=size)
        two = render_icon(state, 2, size=size)
        many = render_icon(state, 10, size=size)
        assert plain.tobytes() != one.tobytes()
        assert one.tobytes() != two.tobytes(), "different digits"
        assert render_icon(state, 99, size=size).tobytes() == many.tobytes(), "capped at 9+"
        # digits are punched out of template images, so the count survives losing colour
        t1 = _mask(render_icon(state, 1, size=size, template=True))
        t2 = _mask(render_icon(state, 2, size=size, template=True))
        assert _differing_pixels(t1, t2) > 0


def test_badge_text() -> None:
    assert [badge_text(n) for n in (0, 1, 9, 10, 1000)] == ["", "1", "9", "9+", "9+"]


def test_rendering_is_pure() -> None:
    assert render_icon("vacating", 4, 32).tobytes() == render_icon("vacating", 4, 32).tobytes()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        render_icon("happy")
    with pytest.raises(ValueError):
        render_icon("ok", size=8)
    with pytest.raises(ValueError):
        render_icon("ok", count=-1)
    with pytest.raises(ValueError):
        icon_sizes("linux", "favicon")


def test_icon_sizes_per_platform() -> None:
    assert {16, 20, 24, 32, 48, 64, 256} <= set(icon_sizes("win32"))
    assert icon_sizes("darwin", "tray") == (22, 44)
    assert {16, 32, 128, 256, 512, 1024} <= set(icon_sizes("darwin", "app"))
    tray_linux = icon_sizes("linux", "tray")
    assert min(tray_linux) == 22 and max(tray_linux) == 64
    assert icon_sizes("freebsd13") == icon_sizes("linux")
    assert icon_sizes() == icon_sizes(sys.platform)
    for platform in ("win32", "darwin", "linux"):
        sizes = icon_sizes(platform)
        assert list(sizes) == sorted(set(sizes))


def test_assets_script_writes_every_file(tmp_path: Path) -> None:
    out, pkg = tmp_path / "assets", tmp_path / "pkg"
    subprocess.run(
        [sys.executable, str(ROOT / "assets" / "make_assets.py"), "--out-dir", str(out), "--package-dir", str(pkg)],
        check=True,
        capture_output=True,
    )
    assert Image.open(out / "orchestray.png").size == (256, 256)
    ico = Image.open(out / "orchestray.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    icns = Image.open(out / "orchestray.icns")
    assert icns.format == "ICNS"
    assert Image.open(out / "icon-states.png").width > 64 * 4
    for state in STATES:
        image = Image.open(pkg / f"state-{state}-64.png")
        assert image.size == (64, 64) and image.mode == "RGBA"
        assert (pkg / f"state-{state}-template-64.png").is_file()


def test_the_tray_draws_the_same_icons_without_pillows_freetype() -> None:
    """The tray keeps Pillow's FreeType module out (tray/app/main.py, UNUSED_AT_REST: about 1.4 MB resident):
    every state and badge renders to the very same pixels as with it, and FreeType is not loaded."""
    code = ("import sys\nfrom tray.app.main import keep_unused_modules_out\nkeep_unused_modules_out()\n"
            "from tray.app.icon import STATES, render_icon\n"
            "print('PIL._imagingft' in sys.modules and sys.modules['PIL._imagingft'] is not None)\n"
            "for state in STATES:\n"
            "    for count in (0, 7, 123):\n"
            "        print(render_icon(state, count, size=32).tobytes().hex())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded, *pixels = out.stdout.split()
    assert loaded == "False"
    assert pixels == [render_icon(state, count, size=32).tobytes().hex() for state in STATES for count in (0, 7, 123)]


def test_the_tray_saves_its_icon_as_png_without_pillows_other_image_formats() -> None:
    """pystray hands the icon to GTK (and macOS) as a PNG file; Pillow loads BMP, GIF, JPEG and PPM with PNG at
    the first save. The tray keeps those four out (tray/app/main.py, UNUSED_IMAGE_FORMATS): the PNG it saves
    reads back to the very pixels rendered, and none of the four is loaded. On Windows (ICO, which needs BMP)
    they are left alone."""
    code = ("import io, sys\nfrom tray.app.main import UNUSED_IMAGE_FORMATS, keep_unused_modules_out\n"
            "keep_unused_modules_out(platform='linux')\n"
            "from PIL import Image\nfrom tray.app.icon import render_icon\n"
            "icon = render_icon('conflict', 7, size=64)\nbuffer = io.BytesIO()\nicon.save(buffer, 'PNG')\n"
            "again = Image.open(io.BytesIO(buffer.getvalue()))\n"
            "print(again.format, again.convert('RGBA').tobytes() == icon.tobytes())\n"
            "print(sorted(name for name in UNUSED_IMAGE_FORMATS if sys.modules.get(name) is not None))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["PNG True", "[]"]
    from tray.app.main import UNUSED_IMAGE_FORMATS, keep_unused_modules_out

    windows: dict = {}
    keep_unused_modules_out(windows, platform="win32")
    assert not set(UNUSED_IMAGE_FORMATS) & set(windows) and windows["ssl"] is None
    linux: dict = {}
    keep_unused_modules_out(linux, platform="linux")
    assert all(linux[name] is None for name in UNUSED_IMAGE_FORMATS)
