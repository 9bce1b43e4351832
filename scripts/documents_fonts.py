"""Write the default templates' fonts: DejaVu Sans and DejaVu Sans Bold without TrueType hinting.

    .venv/bin/python scripts/documents_fonts.py [/usr/share/fonts/truetype/dejavu]

The default templates print in DejaVu Sans. Typst embeds a subset of each font used in every
PDF, compressed, and the system font's hinting (the glyphs' TrueType instructions and the
``fpgm``/``prep``/``cvt`` programs) went into every subset: about 10 kB of a 48 kB invoice and
a tenth of the CPU of its compile. PDF viewers draw these fonts without their hinting, so the
unhinted copy prints the same: same outlines, metrics, kerning and glyph coverage (only the
hinting is removed). The Bitstream Vera licence asks modified fonts to be renamed: the family
is "DejaVu Sans Unhinted" (ispbill/documents/fonts/LICENSE). docs/documents.md, "Fonts".
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools.ttLib import TTFont
from fontTools.ttLib.tables import ttProgram

OUT = Path(__file__).resolve().parent.parent / "ispbill" / "documents" / "fonts"
FAMILY = "DejaVu Sans Unhinted"
FILES = {
    "DejaVuSans.ttf": "DejaVuSansUnhinted.ttf",
    "DejaVuSans-Bold.ttf": "DejaVuSansUnhinted-Bold.ttf",
}
HINTING_TABLES = ("fpgm", "prep", "cvt ", "hdmx", "LTSH", "VDMX")


def unhinted(source: Path, target: Path) -> None:
    font = TTFont(source, recalcTimestamp=False)
    for tag in HINTING_TABLES:
        if tag in font:
            del font[tag]
    glyf = font["glyf"]
    for name in font.getGlyphOrder():
        glyph = glyf[name]
        if hasattr(glyph, "program"):
            glyph.program = ttProgram.Program()
            glyph.program.fromBytecode(b"")
    maxp = font["maxp"]
    maxp.maxZones = 1
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
    ):
        setattr(maxp, field, 0)
    # Without instructions, the rasterizer's smoothing for every size (no hinting to apply).
    if "gasp" in font:
        font["gasp"].gaspRange = {0xFFFF: 0x000A}
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 6, 16):
            text = record.toUnicode()
            text = text.replace("DejaVu Sans", FAMILY).replace("DejaVuSans", "DejaVuSansUnhinted")
            record.string = text
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(target)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
    for source, target in FILES.items():
        unhinted(folder / source, OUT / target)
        print(f"{OUT / target}: {(OUT / target).stat().st_size} bytes")


if __name__ == "__main__":
    main()
