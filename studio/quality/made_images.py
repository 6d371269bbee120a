"""Input images the harness draws at run time, so the shipped briefs need no binary in the repo.

A brief names one as ``"input_images": ["made:living-room"]`` (studio.quality.benchmark); the
picture is drawn with Pillow, the same bytes every run (a PNG with no timestamp).
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw

from models.errors import ConfigError

MADE_PREFIX = "made:"
SIZE = (640, 448)


def _living_room(draw: ImageDraw.ImageDraw) -> None:
    """A plain living room: wall, floor, a window with sky, a sofa, a rug, a lamp and a frame."""
    width, height = SIZE
    horizon = int(height * 0.64)
    draw.rectangle((0, 0, width, horizon), fill=(226, 214, 190))  # wall
    draw.rectangle((0, horizon, width, height), fill=(150, 108, 72))  # wooden floor
    for x in range(0, width, 64):
        draw.line((x, horizon, x - 40, height), fill=(128, 90, 60), width=2)
    draw.rectangle((400, 60, 580, 220), fill=(250, 250, 250))  # window frame
    draw.rectangle((410, 70, 570, 210), fill=(150, 200, 235))  # sky
    draw.line((490, 70, 490, 210), fill=(250, 250, 250), width=6)
    draw.ellipse((520, 90, 550, 120), fill=(255, 236, 150))  # sun
    draw.rectangle((70, 80, 190, 170), fill=(90, 60, 40))  # picture frame
    draw.polygon([(80, 160), (120, 110), (150, 140), (180, 100), (180, 160)], fill=(80, 140, 90))
    draw.ellipse((120, 330, 470, 420), fill=(170, 50, 60))  # rug
    draw.rectangle((90, 230, 380, 330), fill=(60, 90, 140))  # sofa back and seat
    draw.rectangle((70, 250, 110, 340), fill=(50, 78, 125))  # arms
    draw.rectangle((360, 250, 400, 340), fill=(50, 78, 125))
    draw.rectangle((110, 280, 360, 320), fill=(72, 104, 158))
    draw.line((520, 260, 520, 380), fill=(40, 40, 40), width=4)  # floor lamp
    draw.polygon([(490, 260), (550, 260), (535, 215), (505, 215)], fill=(245, 225, 170))
    draw.ellipse((500, 372, 540, 388), fill=(40, 40, 40))


_SCENES: dict[str, Callable[[ImageDraw.ImageDraw], None]] = {"living-room": _living_room}


def made_image(name: str) -> bytes:
    """The PNG of a scene the harness can draw (``living-room``); ConfigError for another name."""
    scene = _SCENES.get(name)
    if scene is None:
        raise ConfigError(f"no image named {name!r} can be drawn; use one of: {', '.join(sorted(_SCENES))}")
    image = Image.new("RGB", SIZE, (255, 255, 255))
    scene(ImageDraw.Draw(image))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
