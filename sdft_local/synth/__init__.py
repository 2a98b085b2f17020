"""Dialogue synthesis: turns 1–2 from the student itself, turn 3 from a `ChatBackend`, stored for review.

Public entry points (light to import; model libraries load inside backend factories):
`synthesize_project` (what the CLI, the pipeline and the app call), `synthesize`, `load_dialogues`,
`make_backend`, `BACKENDS`, the config records and
the review functions. Pure dialogue construction lives in `sdft_local.dialogue`.
"""

from ..dialogues import DialogueRecord, get_dialogue, list_dialogues, load_dialogues
from .backends import BACKENDS, Capabilities, ChatBackend, GenerationOptions, make_backend
from .config import BackendConfig, EndpointConfig, SynthConfig, backend_from_settings
from .review import edit_turn, export_jsonl, regenerate_dialogue, set_status
from .project import SynthBackendReady, SynthLoading, project_config, regenerate_one, synthesize_project
from .run import SynthEvent, SynthFinished, SynthProgressed, SynthStarted, synthesize

__all__ = [
    "BACKENDS", "BackendConfig", "Capabilities", "ChatBackend", "DialogueRecord", "EndpointConfig",
    "GenerationOptions", "SynthBackendReady", "SynthConfig", "SynthEvent", "SynthFinished", "SynthLoading",
    "SynthProgressed", "SynthStarted", "backend_from_settings", "edit_turn", "export_jsonl", "get_dialogue",
    "list_dialogues", "load_dialogues", "make_backend", "project_config", "regenerate_dialogue",
    "regenerate_one", "set_status", "synthesize", "synthesize_project",
]
