"""Write the default templates' fonts: DejaVu Sans and DejaVu Sans Bold without TrueType hinting.

    .venv/bin/python scripts/documents_fonts.py [/usr/share/fonts/truetype/dejavu]

The default templates print in DejaVu Sans. Typst embeds a subset of each font used in every
PDF, compressed, and most of the CPU of a stored invoice's compile went into compressing them:
the system font's hinting (the glyphs' TrueType instructions, the ``fpgm``/``prep``/``cvt``
programs) and the licence text of its Windows name records were copied into every subset,
20 of its 30 kB per font. PDF viewers draw these fonts without their hinting, so this copy
prints the same: same outlines, metrics, kerning and glyph coverage. The Bitstream Vera
licence asks modified fonts to be renamed: the family is "DejaVu Sans Unhinted"; the licence
is in ispbill/documents/fonts/LICENSE. docs/documents.md, "Fonts".
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
LICENSE_TEXT = 13
WINDOWS = 3


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
    # The licence text (name 13, 9.5 kB in UTF-16) went into every PDF too: Typst's subsetter
    # copies the Windows name records into each embedded subset. It stays in the font's
    # Macintosh record and in LICENSE; the Windows records keep the copyright (0) and the
    # licence's address (14).
    font["name"].names = [
        record
        for record in font["name"].names
        if not (record.nameID == LICENSE_TEXT and record.platformID == WINDOWS)
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(target)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
    for source, target in FILES.items():
        unhinted(folder / source, OUT / target)
        print(f"{OUT / target}: {(OUT / target).stat().st_size} bytes")


if __name__ == "__main__":
    main()
