"""`synthesize_project`: the one entry the CLI, the pipeline and the app call to write dialogues.

Owns the setup every caller needs around `run.synthesize`: the project's settings resolved (flags
over saved settings; a project that names no backend gets the local quantized model this machine
has, else the template), the photos that need work found before any model loads, the turn-3
backend opened, checked and announced (`SynthBackendReady`: who writes turn 3 and why), the base
model loaded as the student (`SynthLoading`), and the backend closed when the run ends or stops.
`regenerate_one` does the same for one dialogue. It renders nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ..store import Store
from .backends import make_backend
from .config import BackendConfig, SynthConfig, backend_from_settings, dialogue_from_settings
from .run import SynthFinished, backend_warnings, check_backend, pending, synthesize


@dataclass(frozen=True)
class SynthBackendReady:
    """The turn-3 writer is loaded: its name, what it gets, and why it was chosen."""

    backend: str
    sees_images: bool
    remote: bool
    chosen_because: str | None  # None: the project or the flags named it
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SynthLoading:
    """A model is loading (no other record comes until it has)."""

    message: str


def project_config(store: Store, **dialogue_flags) -> SynthConfig:
    """The project's synthesis config: dialogue flags (None = not given) over its settings."""
    return SynthConfig(dialogue=dialogue_from_settings(store.project.settings, **dialogue_flags))


def synthesize_project(store: Store, config: SynthConfig | None = None,
                       backend_config: BackendConfig | None = None, *, entities: list[str] | None = None,
                       regenerate: bool = False, student_backend: str = "auto",
                       on_retry=None) -> Iterator[object]:
    """Write the dialogues of every training photo that needs them, with the project's settings.

    Yields `SynthBackendReady`, then (when there is work) `SynthLoading` and `synthesize`'s
    records; with nothing to do, a `SynthFinished` of zero photos. `on_retry(line)` hears an
    endpoint's transport retries.
    """
    config = config or project_config(store)
    jobs, considered = pending(store, config, entities, regenerate)  # fails before any model loads
    with opened_backend(store, backend_config, on_retry) as (backend, ready):
        yield ready
        if not jobs:
            yield SynthFinished(0, considered, 0, 0, 0.0, backend.name)
            return
        student = yield from load_student(store, student_backend)
        yield from synthesize(store, config, backend=backend, student=student, entities=entities,
                              regenerate=regenerate)


def regenerate_one(store: Store, dialogue_id: int, *, student_backend: str = "auto") -> Iterator[object]:
    """Write dialogue `dialogue_id` again with fresh choices; the last record is its `DialogueRecord`."""
    from .review import regenerate_dialogue

    config = project_config(store)
    with opened_backend(store, None) as (backend, ready):
        yield ready
        student = yield from load_student(store, student_backend)
        yield regenerate_dialogue(store, dialogue_id, config, backend=backend, student=student)


@contextmanager
def opened_backend(store: Store, backend_config: BackendConfig | None, on_retry=None):
    """The turn-3 backend (the project's when `backend_config` is None), checked, then closed."""
    config = backend_config or backend_from_settings(store.project.settings)
    backend = make_backend(config)
    if on_retry is not None and hasattr(backend, "on_retry"):
        backend.on_retry = on_retry
    try:
        check_backend(backend)
        caps = backend.capabilities
        yield backend, SynthBackendReady(backend.name, caps.sees_images, caps.remote, config.chosen_because,
                                         backend_warnings(backend))
    finally:
        backend.close()


def load_student(store: Store, student_backend: str):
    """Yield a `SynthLoading`, then return the project's base model as the student."""
    from ..models.student import make_student

    yield SynthLoading(f"Loading the base model {store.project.base_model} …")
    return make_student(store.project.base_model, student_backend)
