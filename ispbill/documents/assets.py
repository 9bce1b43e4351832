"""Assets checked by their content: a font must parse as a font (fontTools), an image must
decode as an image of its kind within a pixel budget (Pillow), an SVG must parse as an SVG
document that references nothing outside itself (lxml, no entities, no network).

Checked at upload (``ispbill.invoicing.templates.issuer_asset_upload``) and again wherever an
asset is rendered (``render._assets_check``), so a file stored before these checks, or put in
the database another way, is never handed to Typst unchecked. The result is remembered per
content digest, so a batch of documents checks each asset once.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings

__all__ = ["MAX_IMAGE_PIXELS", "asset_content_refusal"]

# 16 megapixels (4096 x 4096) decode to 64 MB of RGBA: far more than a logo needs.
MAX_IMAGE_PIXELS = 16_000_000
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# An SVG may reference other files or URLs (href, xlink:href, CSS url(), entities): only
# fragment (#id) and data: references are allowed, so an image cannot pull anything in.
_SVG_REFERENCE_RE = re.compile(
    rb"""(?:href\s*=\s*["'](?!\s*(?:#|data:))|url\(\s*["']?(?!\s*(?:#|data:))|<!ENTITY|<!DOCTYPE)""",
    re.IGNORECASE,
)


def _suffix(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def asset_content_refusal(name: str, content: bytes) -> str | None:
    """Why the file's bytes are not what its name says (a sentence for the user), or None.

    ``.typ`` parts are not judged here (they obey the template rules); any other suffix than
    a font's or an image's is refused."""
    digest = hashlib.sha256(content).hexdigest()
    return _refusal(_suffix(name), digest, content)


_cache: dict[tuple[str, str], str | None] = {}


def _refusal(suffix: str, digest: str, content: bytes) -> str | None:
    key = (suffix, digest)
    if key not in _cache:
        if len(_cache) > 1024:
            _cache.clear()
        _cache[key] = _judge(suffix, content)
    return _cache[key]


def _judge(suffix: str, content: bytes) -> str | None:
    if suffix in FONT_SUFFIXES:
        return _font_refusal(suffix, content)
    if suffix in IMAGE_FORMATS:
        return _image_refusal(suffix, content)
    if suffix == ".svg":
        return _svg_refusal(content)
    return "only fonts (TTF, OTF), images (PNG, JPEG, SVG) and Typst parts (.typ) can be used"


def _font_refusal(suffix: str, content: bytes) -> str | None:
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    kind = "TrueType" if suffix in (".ttf", ".ttc") else "OpenType"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix in (".ttc", ".otc"):
                fonts = list(TTCollection(io.BytesIO(content)).fonts)
            else:
                fonts = [TTFont(io.BytesIO(content))]
            for font in fonts:
                # Reading the tables Typst needs parses them; a file that only starts like
                # a font fails here.
                for table in ("head", "cmap", "name", "maxp"):
                    font[table]
                if "glyf" not in font and "CFF " not in font and "CFF2" not in font:
                    return f"the file is not a {kind} font: it has no glyphs"
    except (TTLibError, Exception):  # any parser failure (struct, key, value) means: no font
        return f"the file is not a {kind} font"
    return None


def _image_refusal(suffix: str, content: bytes) -> str | None:
    from PIL import Image

    expected = IMAGE_FORMATS[suffix]
    label = "a PNG" if expected == "PNG" else "a JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[expected]) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    return (
                        f"the image has {width} x {height} pixels; at most "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are allowed"
                    )
                image.load()  # decodes every pixel: a truncated or broken file fails here
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return (
            f"the image has too many pixels; at most {MAX_IMAGE_PIXELS // 1_000_000} "
            "megapixels are allowed"
        )
    except Exception:
        return f"the file is not {label} image"
    return None


def _svg_refusal(content: bytes) -> str | None:
    from lxml import etree

    if _SVG_REFERENCE_RE.search(content):
        return "SVG images may not reference other files or addresses; embed everything"
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return "the file is not an SVG image"
    if not isinstance(root.tag, str) or etree.QName(root).localname != "svg":
        return "the file is not an SVG image"
    return None
