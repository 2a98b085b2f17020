"""The library's advice in the app's words: its messages name CLI flags, the app has controls.

Owns `in_app_words`, which rewrites the flags a library message may suggest (--force, --overwrite,
--out, the synthesis backend flags) into the control that does the same here. Messages without
such advice pass through unchanged.
"""

from __future__ import annotations

import re

_REWRITES = (
    (r"pass --force to export it anyway", "tick “force: export despite a failed check” to export it anyway"),
    (r"pass --overwrite to replace it, or choose another --out",
     "tick “overwrite the folder” to replace it, or choose another folder"),
    (r"so --overwrite will not delete it; choose an empty or new --out folder",
     "so overwriting will not delete it; choose an empty or new folder"),
    (r"use --backend llama-cpp --synth-model MODEL\.gguf", "press b and pick llama-cpp with a GGUF model"),
    (r"allow photos with --send-photos", "allow photos in the backend settings (b)"),
    (r"`?sdft train --resume`?", "ctrl+r on the train screen"),
    (r"train one with `sdft train`", "press t to train one"),
    (r"`?sdft synth`?", "s on the dialogues screen"),
)


def in_app_words(message: str) -> str:
    for pattern, replacement in _REWRITES:
        message = re.sub(pattern, replacement, message)
    return message
