#!/usr/bin/python3
"""Draws LogiFlow's application icons (a stacked-crate mark on a blue tile).

Run from anywhere with Debian's python3-pil: /usr/bin/python3 icons/generate.py
The PNG and ICO files it writes are checked in; rerun it only to change the design.
"""
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
MASTER = 1024


def master() -> Image.Image:
    img = Image.new("RGBA", (MASTER, MASTER), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((32, 32, MASTER - 32, MASTER - 32), radius=200, fill=(21, 94, 168, 255))
    white = (255, 255, 255, 255)
    # Three crates: two below, one on top, each with a band across.
    for x, y in ((220, 540), (530, 540), (375, 250)):
        d.rounded_rectangle((x, y, x + 275, y + 250), radius=28, fill=white)
        d.rectangle((x, y + 105, x + 275, y + 145), fill=(21, 94, 168, 255))
    # The flow: an arrow along the bottom.
    d.rectangle((220, 840, 720, 880), fill=(255, 196, 61, 255))
    d.polygon([(720, 810), (805, 860), (720, 910)], fill=(255, 196, 61, 255))
    return img


def main() -> None:
    big = master()
    for name, size in (("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)):
        big.resize((size, size), Image.LANCZOS).save(HERE / name)
    big.resize((256, 256), Image.LANCZOS).save(HERE / "icon.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])


if __name__ == "__main__":
    main()
