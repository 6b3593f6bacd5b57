"""Writing YAML text that every YAML reader reads back the same way (pure).

``dump`` and ``products --format yaml`` write catalogue entries by hand, line by line, so that
the files look like ones a person wrote (comments beside products, looks in order). What goes
between the punctuation goes through these helpers: a value is written plain only when it
cannot be read as anything but that text, by YAML 1.1 and 1.2 alike (and by
``daemon.tree.yamlload``, which refuses the ambiguous cases); everything else is
double-quoted, with every character a YAML reader would not keep as it is escaped.
"""

from __future__ import annotations

import re

# Plain is safe for text that starts with a letter (or is a product id with slashes) and holds
# only letters, digits and a few marks that mean nothing to YAML in block or flow context.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/()+-]*")
# Words YAML 1.1 reads as booleans or null when they stand alone.
_WORDS = frozenset(
    {
        *("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO"),
        *("true", "True", "TRUE", "false", "False", "FALSE"),
        *("on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"),
    }
)
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _printable(char: str) -> bool:
    """What YAML 1.1 allows in a stream as is (tab and line breaks are escaped anyway)."""
    code = ord(char)
    if code in (0x85, 0x2028, 0x2029, 0xFEFF):  # line breaks to YAML 1.1, a BOM
        return False
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if _printable(char):
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_plain(text: str) -> bool:
    """Whether ``text`` reads back as itself written without quotes."""
    return (
        _PLAIN.fullmatch(text) is not None
        and not text.endswith(" ")
        and (text[0].isalpha() or "/" in text)
        and text not in _WORDS
    )


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that is safe, else double-quoted and escaped."""
    if is_plain(text):
        return text
    return '"' + "".join(_escape(char) for char in text) + '"'


def comment(text: str) -> str:
    """``text`` made fit for a one-line ``# comment``: line breaks, tabs and characters a YAML
    reader refuses become spaces, and runs of spaces one."""
    if not (text.isascii() and text.isprintable()):  # the quick test covers most text
        text = "".join(char if _printable(char) else " " for char in text)
    return " ".join(text.split())
