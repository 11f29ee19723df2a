"""Identity keys: the form two names are compared in, so that look-alike names count as one identity.

:func:`identity_key` applies, in order (UTS #39 "Unicode Security Mechanisms", §4 Confusable Detection,
https://www.unicode.org/reports/tr39/#Confusable_Detection, plus the normalizations the issue asks for):

1. NFKC (compatibility forms: fullwidth ``ａｌｉｃｅ`` → ``alice``), then full case folding
   (``ALİCE`` → ``ali̇ce``);
2. removal of Default_Ignorable_Code_Point characters (zero-width space/joiners, soft hyphen, bidi controls,
   variation selectors, tags; ranges from Unicode's DerivedCoreProperties.txt) and trimming of white space;
3. the UTS #39 skeleton: NFD, each character replaced by its prototype from ``confusables.txt`` (the
   published data file, shipped as ``shared/data/confusables.txt``, source noted in its header), NFD again;
4. removal of combining marks (general category ``Mn``) and a final case fold + NFC, so ``alice\\u0301`` and
   ``ali̇ce`` meet ``alice``.

Step 4 goes beyond the plain skeleton on purpose: every use of the key in this app is a *separation* check
(the requester may not approve, one approver counts once), where treating two names as one is the stricter,
fail-closed outcome. Names that differ in letters that do not look alike (``alice`` / ``alicia``, ``bob`` /
``bob2``) keep distinct keys. No maintained PyPI library computes this skeleton (``confusable-homoglyphs``
only lists homoglyph groups; ``confusables`` ships a ``tests`` top-level package and no skeleton), hence
this small module over the published data.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "confusables.txt"

#: Default_Ignorable_Code_Point ranges (Unicode DerivedCoreProperties.txt), inclusive.
DEFAULT_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_default_ignorable(char: str) -> bool:
    """True when ``char`` (one code point) is a Default_Ignorable_Code_Point."""
    code = ord(char)
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE_RANGES)


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Source character → prototype string, read once from :data:`DATA_FILE`."""
    table: dict[str, str] = {}
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        source, target = line.split(";", 1)
        table[chr(int(source, 16))] = "".join(chr(int(part, 16)) for part in target.split())
    return table


def skeleton(text: str) -> str:
    """The UTS #39 ``skeleton(X)``: NFD, map every character to its prototype, NFD again."""
    table = _prototypes()
    mapped = "".join(table.get(char, char) for char in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


@lru_cache(maxsize=4096)
def identity_key(name: str) -> str:
    """The comparison key of an identity name (see the module docstring); ``""`` for a blank name."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    visible = "".join(char for char in folded if not is_default_ignorable(char)).strip()
    skel = skeleton(visible)
    bare = "".join(char for char in skel if unicodedata.category(char) != "Mn")
    return unicodedata.normalize("NFC", bare.casefold())
