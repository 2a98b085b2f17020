"""Text that came out of a model, made safe to store, train on and show.

Owns `printable`. Pure, standard library only.
"""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """NFC text (the tokenizer normalizes to it) without undecodable bytes (U+FFFD from a token
    that split a UTF-8 sequence) or control characters: anything else would not survive the
    round trip through the tokenizer in training."""
    kept = (ch for ch in text if ch in "\n\t" or (ch != "\ufffd" and unicodedata.category(ch)[0] != "C"))
    return unicodedata.normalize("NFC", "".join(kept)).strip()
