"""The app's screens: one module per screen, each a thin view over library calls.

`STAGES` maps each long stage of the workflow to its screen (imported when first opened).
"""

STAGES = {
    "dialogues": ("sdft_tui.screens.dialogues", "DialoguesScreen"),
    "train": ("sdft_tui.screens.train", "TrainScreen"),
    "check": ("sdft_tui.screens.check", "CheckScreen"),
    "export": ("sdft_tui.screens.export", "ExportScreen"),
    "chat": ("sdft_tui.screens.chat", "ChatScreen"),
}
STAGE_TITLES = {
    "dialogues": ("Dialogues", "Synthesize and review the three-turn dialogues"),
    "train": ("Train", "Train the LoRA adapter with live loss"),
    "check": ("Check", "Knowledge, retention and the export gate"),
    "export": ("Export", "MLX, PEFT, merged, GGUF, Ollama — verified"),
    "chat": ("Try it", "Ask the base and the tuned model about a photo"),
}
