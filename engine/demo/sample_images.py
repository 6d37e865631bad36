"""Images with known boxes for the demo's box job (drawn here: the shared data has no images).

Shapes on a noisy background; one image is wide enough to be tiled, with a square straddling the
first tile border, so the demo shows a cut box coming back whole.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class SampleImage:
    filename: str
    png: bytes
    width: int
    height: int
    boxes: tuple[dict[str, float | str], ...]


def _draw(
    width: int, height: int, shapes: list[tuple[str, int, int, int, int]], seed: int
) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (235, 232, 220))
    draw = ImageDraw.Draw(img)
    for _ in range(width * height // 4000):  # texture, so the image is not trivially flat
        x, y = rng.randrange(width), rng.randrange(height)
        shade = rng.randrange(200, 235)
        draw.point((x, y), fill=(shade, shade, shade - 10))
    for label, x, y, w, h in shapes:
        box = (x, y, x + w, y + h)
        if label == "circle":
            draw.ellipse(box, fill=(200, 60, 50), outline=(90, 20, 20), width=3)
        else:
            draw.rectangle(box, fill=(50, 90, 190), outline=(20, 30, 90), width=3)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def sample_images() -> list[SampleImage]:
    layouts = [
        ("market.png", 800, 600, [("circle", 120, 100, 160, 160), ("square", 420, 260, 200, 180)]),
        ("yard.png", 640, 480, [("square", 60, 60, 140, 140), ("circle", 380, 220, 170, 170)]),
        ("field.png", 900, 500, [("circle", 600, 80, 120, 120)]),
        # 2600 px wide: tiled into 1024 px tiles (128 px overlap); the square crosses x = 1024.
        ("street-wide.png", 2600, 900,
         [("square", 930, 300, 260, 220), ("circle", 2000, 500, 200, 200)]),
    ]  # fmt: skip
    out = []
    for seed, (name, w, h, shapes) in enumerate(layouts):
        boxes: tuple[dict[str, float | str], ...] = tuple(
            {"label": s[0], "x": s[1], "y": s[2], "w": s[3], "h": s[4]} for s in shapes
        )
        out.append(SampleImage(name, _draw(w, h, shapes, seed), w, h, boxes))
    return out


def boxes_in_tile(
    boxes: tuple[dict[str, float | str], ...], tile: tuple[int, int, int, int]
) -> list[dict[str, float | str]]:
    """The parts of the source boxes a worker sees in one tile, in tile pixels."""
    tx, ty, tw, th = tile
    out: list[dict[str, float | str]] = []
    for b in boxes:
        x, y, w, h = (float(b[k]) for k in ("x", "y", "w", "h"))
        x0, y0 = max(x, tx), max(y, ty)
        x1, y1 = min(x + w, tx + tw), min(y + h, ty + th)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            out.append(
                {"label": b["label"], "x": x0 - tx, "y": y0 - ty, "w": x1 - x0, "h": y1 - y0}
            )
    return out
