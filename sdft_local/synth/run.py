"""`synthesize`: every training photo's dialogues, written to the store, as a stream of events.

Owns the run — which photos need work (missing variants, stale facts, or everything on
`regenerate`), one student session per photo (the photo encoded once), turn 3 through the
`ChatBackend`, and one write transaction per photo, so a photo's dialogues are stored completely or
not at all. Progress is yielded as frozen records; stopping the iteration stops the run between
photos. It does not load models itself (`project.synthesize_project` does, for its callers).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Iterator

from .. import __version__
from ..dialogue.answers import EntityRequest, usable_caption
from ..dialogue.plan import assemble, entity_targets, rng_for
from ..dialogue.types import Dialogue, Turn
from ..errors import NotFoundError
from ..store import Entity, Photo, Store
from .backends import ChatBackend
from .compose import compose_entity_answer
from .config import SynthConfig
from .student_turns import student_turns



# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthStarted:
    photos: int  # photos that need work
    total_photos: int  # training photos considered
    variants: int
    student: str
    backend: str
    sees_images: bool
    remote: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SynthProgressed:
    done: int
    total: int
    photo_id: int
    entity: str
    written: int  # dialogues written for this photo
    fallbacks: int  # turns that fell back to a template in this photo
    seconds: float


@dataclass(frozen=True)
class SynthFinished:
    photos: int
    skipped: int  # training photos whose dialogues were already complete
    dialogues: int
    fallbacks: int
    seconds: float
    backend: str = ""  # who wrote turn 3 (the template, for the fallbacks)
    entity_fallbacks: int = 0  # turn-3 answers the template wrote because the backend's never passed


SynthEvent = SynthStarted | SynthProgressed | SynthFinished


@dataclass(frozen=True)
class Job:
    entity: Entity
    photo: Photo
    variants: tuple[int, ...]
    generations: dict[int, int]  # variant -> generation number of the dialogue to write
    keep_below: int  # variants from here on are surplus (the config asks for fewer)


# --- the run -------------------------------------------------------------------------------------


def synthesize(store: Store, config: SynthConfig = SynthConfig(), *, backend: ChatBackend,
               student, entities: list[str] | None = None,
               regenerate: bool = False) -> Iterator[SynthEvent]:
    """Write the dialogues of every training photo (of `entities`, default all) that needs them.

    Idempotent: photos whose variants all exist with the entity's current facts are skipped,
    unless `regenerate`, which rewrites every dialogue with fresh choices. Dialogues a person
    edited are never overwritten.
    """
    jobs, considered = pending(store, config, entities, regenerate)
    check_backend(backend)
    yield SynthStarted(len(jobs), considered, config.dialogue.variants, student.name,
                       backend.name, backend.capabilities.sees_images,
                       backend.capabilities.remote, backend_warnings(backend))
    entities = store.entities()
    start, written, fallbacks, entity_fallbacks = time.monotonic(), 0, 0, 0
    for done, job in enumerate(jobs, 1):
        t0 = time.monotonic()
        dialogues = photo_dialogues(store, job, entities, config, backend, student)
        write_photo(store, job, dialogues, provenance_for(student, backend, job, config))
        n_fallback = sum(_is_fallback(t) for d in dialogues for t in d.turns)
        written, fallbacks = written + len(dialogues), fallbacks + n_fallback
        entity_fallbacks += sum(_is_fallback(d.turns[2]) for d in dialogues)
        yield SynthProgressed(done, len(jobs), job.photo.id, job.entity.name, len(dialogues),
                              n_fallback, time.monotonic() - t0)
    yield SynthFinished(len(jobs), considered - len(jobs), written, fallbacks,
                        time.monotonic() - start, backend.name, entity_fallbacks)


def pending(store: Store, config: SynthConfig, entities: list[str] | None = None,
            regenerate: bool = False) -> tuple[list[Job], int]:
    """The photos that need work, and how many training photos were considered.

    Raises with what to do when there is no entity or no training photo: callers can run this
    before loading any model.
    """
    chosen = _entities(store, entities)
    photos = [(e, p) for e in chosen for p in store.photos(e.id, "train")]
    if not photos:
        raise NotFoundError(_no_photos_message(store, chosen))
    jobs = [j for e, p in photos if (j := _job(store, e, p, config, regenerate)) is not None]
    return jobs, len(photos)


def _entities(store: Store, names: list[str] | None) -> list[Entity]:
    if names:
        return [store.entity(n) for n in names]
    entities = store.entities()
    if not entities:
        raise NotFoundError(
            f"project {store.project.name!r} has no entities yet; add one with "
            f"`sdft entity add NAME --kind KIND --fact FACT`, then its photos with "
            f"`sdft photos add NAME PHOTO...`")
    return entities


def _no_photos_message(store: Store, entities: list[Entity]) -> str:
    names = ", ".join(e.name for e in entities)
    heldout = sum(len(store.photos(e.id, "heldout")) for e in entities)
    extra = f" ({heldout} held out for the check)" if heldout else ""
    return (f"no training photos for {names}{extra}; add photos with "
            f"`sdft photos add {entities[0].name} PHOTO...` (at least 2 per entity)")


def check_backend(backend: ChatBackend) -> None:
    """Let a backend that can fail before any work (a remote server) do so now."""
    check = getattr(backend, "check", None)
    if check is not None:
        check()


def backend_warnings(backend: ChatBackend) -> tuple[str, ...]:
    """What the user must see before a run: where data goes, and template answers."""
    if backend.capabilities.remote and backend.capabilities.sees_images:
        return (f"photos are sent to the endpoint {backend.name} (send_photos is on for this "
                f"project; turn it off with --no-send-photos)",)
    if backend.capabilities.remote:
        return (f"text-only: {backend.name} gets captions, names and facts, but no photos "
                f"(allow photos with --send-photos)",)
    if backend.capabilities.templated:
        return ("turn 3 comes from templates (no synthesis model); for richer answers use "
                "--backend llama-cpp --synth-model MODEL.gguf",)
    return ()


# --- which photos need work ---------------------------------------------------------------------


def facts_digest(entity: Entity) -> str:
    text = json.dumps([entity.name, entity.kind, list(entity.facts)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _job(store: Store, entity: Entity, photo: Photo, config: SynthConfig,
         regenerate: bool) -> Job | None:
    rows = {r["variant"]: r for r in _rows(store, photo.id)}
    digest = facts_digest(entity)
    todo, generations = [], {}
    for variant in range(config.dialogue.variants):
        row = rows.get(variant)
        if row is not None and not _needs_work(row, digest, regenerate):
            continue
        todo.append(variant)
        generations[variant] = _generation(row) + 1 if row is not None else 0
    surplus = [v for v in rows if v >= config.dialogue.variants and rows[v]["status"] != "edited"]
    if not todo and not surplus:
        return None
    return Job(entity, photo, tuple(todo), generations, config.dialogue.variants)


def _rows(store: Store, photo_id: int) -> list[dict]:
    return list(store.db.query("SELECT * FROM dialogues WHERE photo_id = ? ORDER BY variant",
                               [photo_id]))


def _needs_work(row: dict, digest: str, regenerate: bool) -> bool:
    if row["status"] == "edited":
        return False
    stale = json.loads(row["provenance"]).get("facts_digest") != digest
    return regenerate or stale


def _generation(row: dict) -> int:
    return int(json.loads(row["provenance"]).get("generation", 0))


def photo_key(photo: Photo, generation: int) -> str:
    """The seed key of a photo's choices; a regenerated dialogue gets fresh ones."""
    return photo.sha256 if generation == 0 else f"{photo.sha256}#{generation}"


# --- one photo ------------------------------------------------------------------------------------


def photo_dialogues(store: Store, job: Job, entities: list[Entity], config: SynthConfig,
                    backend: ChatBackend, student) -> list[Dialogue]:
    image = store.photo_path(job.photo.sha256)
    others = [e for e in entities if e.name.lower() != job.entity.name.lower()]
    names = [e.name for e in others]
    session = student.session(str(image), system=config.dialogue.system)
    out = []
    for variant in job.variants:
        key = photo_key(job.photo, job.generations[variant])
        first, second = student_turns(session, student.name, job.entity, names, config, key,
                                      variant)
        third = _entity_turn(job.entity, others, first.answer, image, config, backend, key, variant)
        out.append(assemble(str(image), job.entity, (first, second, third), variant,
                            config.dialogue))
    return out


def _entity_turn(entity: Entity, others: list[Entity], caption: str, image, config: SynthConfig,
                 backend: ChatBackend, key: str, variant: int) -> Turn:
    target = entity_targets(entity, config.dialogue, key)[variant]
    request = EntityRequest(entity.name, entity.kind, entity.facts, target.question,
                            target.fact, usable_caption(caption), tuple(e.name for e in others),
                            tuple((e.name, f) for e in others for f in e.facts))
    seed = rng_for(config.dialogue.seed, key, variant, "compose").randrange(2**31)
    answer = compose_entity_answer(backend, request, image, config, seed)
    meta = {"topic": target.topic, **({"fact": target.fact} if target.fact else {}),
            **answer.meta()}
    return Turn("entity", target.question, answer.text, config.dialogue.entity_weight,
                answer.source, meta)


def _is_fallback(turn: Turn) -> bool:
    return turn.meta.get("fallback") == "template"


def provenance_for(student, backend: ChatBackend, job: Job, config: SynthConfig) -> dict:
    return {
        "created_by": "synth", "sdft_local": __version__, "student": student.name,
        "synth_backend": backend.name, "facts_digest": facts_digest(job.entity),
        "dialogue_config": config.dialogue.summary(),
    }


def write_photo(store: Store, job: Job, dialogues: list[Dialogue], provenance: dict, *,
                replace_edited: bool = False) -> None:
    """Replace the photo's redone variants (and surplus ones) in one transaction.

    Unless `replace_edited`, a dialogue someone edited while this photo was being synthesized
    wins over the new one; a photo removed meanwhile gets nothing.
    """
    now = time.time()
    with store.transaction():
        if store.conn.execute("SELECT 1 FROM photos WHERE id = ?", [job.photo.id]).fetchone() is None:
            return
        edited = set() if replace_edited else {r[0] for r in store.conn.execute(
            "SELECT variant FROM dialogues WHERE photo_id = ? AND status = 'edited'",
            [job.photo.id])}
        for d in (d for d in dialogues if d.variant not in edited):
            store.conn.execute("DELETE FROM dialogues WHERE photo_id = ? AND variant = ?",
                               [job.photo.id, d.variant])
            prov = {**provenance, "generation": job.generations[d.variant],
                    "turns": [t.source for t in d.turns]}
            store.db["dialogues"].insert({
                "photo_id": job.photo.id, "entity_id": job.entity.id, "variant": d.variant,
                "turns": d.turns_json(), "provenance": json.dumps(prov), "status": "ok",
                "created": now, "updated": now,
            })
        store.conn.execute(
            "DELETE FROM dialogues WHERE photo_id = ? AND variant >= ? AND status != 'edited'",
            [job.photo.id, job.keep_below])
