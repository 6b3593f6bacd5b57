"""Retailer names as the order import compares them: look-alike spellings of one name match.

ORDRE and Zedonk may spell one retailer with different characters that look the same on
screen: a curly apostrophe for a straight one, a no-break space, an en dash, a full-width
letter, a decomposed accent. ``name_key`` folds all of these, so such names match one
customer; ``accent_key`` also drops accents, so ``Cafe Lumiere`` and ``Café Lumière`` are
recognised as a *possible* duplicate (never merged silently: the import holds the order for a
person). docs/orders.md has the table of cases.

Pure: no I/O. Used by ``daemon.core.ordermap`` (matching) and the ledger (customer intents).
"""

from __future__ import annotations

import functools
import unicodedata

# Folded to ASCII after NFKC (which already maps no-break and other fixed-width spaces to a
# space, full-width forms to ASCII and ligatures to letters).
QUOTES = {
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark (the curly apostrophe)
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u02bc": "'",  # ʼ modifier letter apostrophe
    "\u0060": "'",  # ` grave accent
    "\u00b4": "'",  # ´ acute accent
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
}
DASHES = {
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u00ad": "",  # soft hyphen: invisible
}
_FOLD = str.maketrans({**QUOTES, **DASHES})


@functools.lru_cache(maxsize=1 << 14)
def name_key(name: str) -> str:
    """How two retailer names are compared: Unicode compatibility form (NFKC), quotes and
    dashes folded to ASCII, invisible format characters (zero-width spaces, joiners, BOM)
    dropped, every run of whitespace one space, trimmed, case folded.

    ``name_key("Queen\u2019s\u00a0Atelier ") == name_key("queen's atelier")``.
    """
    text = unicodedata.normalize("NFKC", name).translate(_FOLD)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=1 << 14)
def accent_key(name: str) -> str:
    """``name_key`` without accents: names that differ only in accents share it."""
    decomposed = unicodedata.normalize("NFD", name_key(name))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
