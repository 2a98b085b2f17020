"""SDFT dialogues: the three-turn conversation built around each training photo (pure code)."""
