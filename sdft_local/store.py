"""The project store: one SQLite database (plus a content-addressed photo folder) per project.

Owns the schema and its ordered, named migrations, the rows' record types, and the rules that
keep the database and the photo folder consistent across processes (WAL, write transactions that
take the lock up front, a sweep of files no row points to). It does not decode images (ingest.py)
or know anything about models.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import atomic
from .errors import ExistsError, NotFoundError, SdftError
from .names import validate_name
from .paths import projects_dir, sdft_home

DB_NAME = "project.db"
PHOTOS_DIR = "photos"


@dataclass(frozen=True)
class Project:
    name: str
    base_model: str
    settings: dict
    created: float


@dataclass(frozen=True)
class Entity:
    id: int
    name: str
    kind: str
    facts: tuple[str, ...]
    created: float


@dataclass(frozen=True)
class Photo:
    id: int
    entity_id: int
    sha256: str
    split: str
    width: int
    height: int
    size_bytes: int
    source_name: str
    phash: str
    added: float


# --- migrations -------------------------------------------------------------------------------


def _m001_core(db) -> None:
    db["project"].create(
        {"id": int, "name": str, "base_model": str, "settings": str, "created": float}, pk="id"
    )
    db["entities"].create(
        {"id": int, "name": str, "kind": str, "facts": str, "created": float}, pk="id"
    )
    db.execute("CREATE UNIQUE INDEX idx_entities_name ON entities(name COLLATE NOCASE)")
    db["photos"].create(
        {
            "id": int, "entity_id": int, "sha256": str, "split": str, "width": int,
            "height": int, "size_bytes": int, "source_name": str, "phash": str, "added": float,
        },
        pk="id",
        foreign_keys=[("entity_id", "entities", "id")],
    )
    db.execute("CREATE UNIQUE INDEX idx_photos_entity_sha ON photos(entity_id, sha256)")


def _m002_dialogues(db) -> None:
    db["dialogues"].create(
        {
            "id": int, "photo_id": int, "entity_id": int, "variant": int, "turns": str,
            "provenance": str, "status": str, "created": float, "updated": float,
        },
        pk="id",
        foreign_keys=[("photo_id", "photos", "id"), ("entity_id", "entities", "id")],
    )
    db.execute("CREATE UNIQUE INDEX idx_dialogues_photo_variant ON dialogues(photo_id, variant)")


def _m003_runs_checks_exports(db) -> None:
    db["runs"].create(
        {
            "id": int, "name": str, "config": str, "backend": str, "state": str, "metrics": str,
            "adapter_path": str, "parent_run_id": int, "created": float, "updated": float,
        },
        pk="id",
    )
    db["checks"].create(
        {"id": int, "run_id": int, "report": str, "verdict": str, "created": float},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["exports"].create(
        {
            "id": int, "run_id": int, "format": str, "path": str, "verified": int,
            "forced": int, "manifest": str, "created": float,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )


def _m004_run_owner(db) -> None:
    # Which process trains a run, so that a killed one shows as interrupted, not running.
    db["runs"].add_column("owner_host", str)
    db["runs"].add_column("owner_pid", int)


MIGRATIONS: list[tuple[str, Callable]] = [
    ("001_core", _m001_core),
    ("002_dialogues", _m002_dialogues),
    ("003_runs_checks_exports", _m003_runs_checks_exports),
    ("004_run_owner", _m004_run_owner),
]


# --- the store ------------------------------------------------------------------------------------


class Store:
    """A handle on one project's folder and database. Cheap to open; safe across processes."""

    def __init__(self, root: Path):
        sqlite_utils = _import_sqlite_utils()
        self.root = Path(root)
        self.conn = sqlite3.connect(
            self.root / DB_NAME, timeout=60, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=60000")
        self.db = sqlite_utils.Database(self.conn)
        self._migrate()

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, base_model: str, settings: dict | None = None) -> "Store":
        name = validate_name(name, "project name")
        root = projects_dir() / name
        if (root / DB_NAME).exists():
            raise ExistsError(f"project {name!r} already exists at {root}; pick another name")
        (root / PHOTOS_DIR).mkdir(parents=True, exist_ok=True)
        store = cls(root)
        with store.transaction():
            store.db["project"].insert(
                {"id": 1, "name": name, "base_model": base_model,
                 "settings": json.dumps(settings or {}), "created": time.time()}
            )
        return store

    def set_base_model(self, base_model: str) -> None:
        """Change the project's base model (earlier runs keep their adapters and configs)."""
        with self.transaction():
            self.db["project"].update(1, {"base_model": base_model})

    @classmethod
    def open(cls, name: str) -> "Store":
        name = validate_name(name, "project name")
        root = projects_dir() / name
        if not (root / DB_NAME).exists():
            raise NotFoundError(
                f"no project named {name!r} under {projects_dir()}; "
                f"create it with `sdft init {name} --base-model tiny-random` or pick one of: "
                f"{', '.join(list_projects()) or '(none yet)'}"
            )
        store = cls(root)
        store.sweep()
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        with self.transaction():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied REAL)"
            )
            done = {row[0] for row in self.conn.execute("SELECT name FROM _migrations")}
            for name, migration in MIGRATIONS:
                if name not in done:
                    migration(self.db)
                    self.conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that takes the database lock up front (no upgrade deadlocks)."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- project ----------------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        row = self.db["project"].get(1)
        return Project(row["name"], row["base_model"], json.loads(row["settings"]), row["created"])

    def update_settings(self, **changes) -> dict:
        with self.transaction():
            settings = {**self.project.settings, **changes}
            self.db["project"].update(1, {"settings": json.dumps(settings)})
        return settings

    # -- entities ---------------------------------------------------------------------------------

    def add_entity(self, name: str, kind: str, facts: list[str] | tuple[str, ...] = ()) -> Entity:
        name = validate_name(name, "entity name")
        kind = validate_name(kind, "entity kind")
        facts = tuple(_clean_fact(f) for f in facts if f.strip())
        with self.transaction():
            if self._entity_row(name):
                raise ExistsError(f"entity {name!r} already exists in project {self.project.name!r}")
            self.db["entities"].insert(
                {"name": name, "kind": kind, "facts": json.dumps(list(facts)), "created": time.time()}
            )
        return self.entity(name)

    def _entity_row(self, name: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM entities WHERE name = ? COLLATE NOCASE", [name]))
        return rows[0] if rows else None

    def entity(self, name: str) -> Entity:
        row = self._entity_row(name)
        if row is None:
            known = ", ".join(e.name for e in self.entities()) or "(none yet)"
            raise NotFoundError(
                f"no entity named {name!r} in project {self.project.name!r}; known: {known}; "
                f"add it with `sdft entity add {name} --kind KIND`"
            )
        return _entity(row)

    def entity_by_id(self, entity_id: int) -> Entity:
        return _entity(self.db["entities"].get(entity_id))

    def entities(self) -> list[Entity]:
        return [_entity(r) for r in self.db.query("SELECT * FROM entities ORDER BY id")]

    def update_entity(self, name: str, *, kind: str | None = None, facts=None) -> Entity:
        entity = self.entity(name)
        changes = {}
        if kind is not None:
            changes["kind"] = validate_name(kind, "entity kind")
        if facts is not None:
            changes["facts"] = json.dumps([_clean_fact(f) for f in facts if f.strip()])
        with self.transaction():
            self.db["entities"].update(entity.id, changes)
        return self.entity_by_id(entity.id)

    def remove_entity(self, name: str) -> list[Path]:
        """Remove an entity with its photos and dialogues; returns photo files no longer used."""
        entity = self.entity(name)
        with self.transaction():
            photos = self.photos(entity.id)
            self.conn.execute("DELETE FROM dialogues WHERE entity_id = ?", [entity.id])
            self.conn.execute("DELETE FROM photos WHERE entity_id = ?", [entity.id])
            self.conn.execute("DELETE FROM entities WHERE id = ?", [entity.id])
            freed = [self.photo_path(p.sha256) for p in photos if not self._sha_in_use(p.sha256)]
            for path in freed:
                path.unlink(missing_ok=True)
        return freed

    # -- photos -----------------------------------------------------------------------------------

    def photo_path(self, sha256: str) -> Path:
        return self.root / PHOTOS_DIR / sha256[:2] / f"{sha256}.png"

    def photos(self, entity_id: int | None = None, split: str | None = None) -> list[Photo]:
        where, args = [], []
        if entity_id is not None:
            where.append("entity_id = ?")
            args.append(entity_id)
        if split is not None:
            where.append("split = ?")
            args.append(split)
        sql = "SELECT * FROM photos" + (" WHERE " + " AND ".join(where) if where else "")
        return [Photo(**r) for r in self.db.query(sql + " ORDER BY id", args)]

    def photo(self, ref: str | int) -> Photo:
        """A photo by id or by a unique sha256 prefix (at least 6 characters)."""
        if isinstance(ref, int) or str(ref).isdigit():
            rows = list(self.db.query("SELECT * FROM photos WHERE id = ?", [int(ref)]))
        elif len(ref) >= 6:
            rows = list(self.db.query("SELECT * FROM photos WHERE sha256 LIKE ?", [ref + "%"]))
        else:
            rows = []
        if len(rows) != 1:
            raise NotFoundError(
                f"no single photo matches {ref!r}; use an id or at least 6 characters of the "
                f"sha256 shown by `sdft photos list`"
            )
        return Photo(**rows[0])

    def insert_photo(self, staged: Path, record: dict) -> Photo | None:
        """Move a fully written temp file into place and record it, atomically together; None
        when the entity already has this photo (checked under the write lock, so of several
        processes adding the same file one stores it and the others get None).

        The rename happens inside the write transaction: a crash before COMMIT leaves at most an
        unreferenced file, which `sweep` (run under the same lock) removes.
        """
        target = self.photo_path(record["sha256"])
        placed = False
        try:
            with self.transaction():
                if self.has_photo(record["entity_id"], record["sha256"]):
                    return None
                self.db["photos"].insert({**record, "split": "train", "added": time.time()})
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.replace(staged, target)
                    placed = True
                self.rebalance_split(record["entity_id"])
        except BaseException:
            if placed:
                target.unlink(missing_ok=True)
            raise
        return self._photo_for(record["entity_id"], record["sha256"])

    def _photo_for(self, entity_id: int, sha: str) -> Photo:
        rows = self.db.query(
            "SELECT * FROM photos WHERE entity_id = ? AND sha256 = ?", [entity_id, sha]
        )
        return Photo(**next(iter(rows)))

    def owners_of(self, sha: str) -> list[str]:
        """The names of the entities that have this photo."""
        sql = "SELECT e.name FROM photos p JOIN entities e ON e.id = p.entity_id WHERE p.sha256 = ? ORDER BY e.id"
        return [r[0] for r in self.conn.execute(sql, [sha])]

    def has_photo(self, entity_id: int, sha: str) -> bool:
        sql = "SELECT 1 FROM photos WHERE entity_id = ? AND sha256 = ?"
        return self.db.execute(sql, [entity_id, sha]).fetchone() is not None

    def remove_photo(self, ref: str | int) -> Photo:
        photo = self.photo(ref)
        with self.transaction():
            self.conn.execute("DELETE FROM dialogues WHERE photo_id = ?", [photo.id])
            self.conn.execute("DELETE FROM photos WHERE id = ?", [photo.id])
            if not self._sha_in_use(photo.sha256):
                self.photo_path(photo.sha256).unlink(missing_ok=True)
            self.rebalance_split(photo.entity_id)
        return photo

    def _sha_in_use(self, sha: str) -> bool:
        return self.db.execute("SELECT 1 FROM photos WHERE sha256 = ?", [sha]).fetchone() is not None

    def rebalance_split(self, entity_id: int) -> None:
        """Recompute the entity's held-out split (deterministic; see `heldout_count`)."""
        photos = self.photos(entity_id)
        fraction = float(self.project.settings.get("heldout_fraction", 0.3))
        order = sorted(photos, key=lambda p: split_key(entity_id, p.sha256))
        heldout = {p.id for p in order[: heldout_count(len(photos), fraction)]}
        with self.transaction():
            for p in photos:
                split = "heldout" if p.id in heldout else "train"
                if p.split != split:
                    self.db["photos"].update(p.id, {"split": split})

    # -- housekeeping -----------------------------------------------------------------------------

    def sweep(self) -> list[Path]:
        """Remove photo files no row refers to and temp files of dead processes.

        Runs under the write lock, so no other process can be between its rename and its COMMIT.
        """
        removed = []
        with self.transaction():
            used = {r[0] for r in self.conn.execute("SELECT sha256 FROM photos")}
            for path in (self.root / PHOTOS_DIR).glob("*/*.png"):
                if path.stem not in used:
                    path.unlink(missing_ok=True)
                    removed.append(path)
        for folder in sorted({path.parent for path in self.root.rglob(".*.sdft-*")}):
            removed += atomic.sweep_stale(folder)
        return removed

    def staging_path(self) -> Path:
        """A fresh temp file name inside the project (same filesystem as the photo folder)."""
        return atomic.temp_path(self.root / PHOTOS_DIR / "incoming", "photo")


# --- helpers ---------------------------------------------------------------------------------------


def _import_sqlite_utils():
    """sqlite-utils imports pandas only to map pandas types, which the store never passes;
    keeping it out saves a third of a second on every CLI verb and the app's start."""
    import sys

    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    sys.modules["pandas"] = None  # makes `import pandas` raise ImportError for this one import
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]
    return sqlite_utils


def heldout_count(n: int, fraction: float) -> int:
    """About `fraction` of n photos, at least 1 once there are 4, always leaving 2 for training."""
    if n < 4:
        return 0
    return min(max(1, round(n * fraction)), n - 2)


def split_key(entity_id: int, sha256: str) -> str:
    import hashlib

    return hashlib.sha256(f"{entity_id}:{sha256}".encode()).hexdigest()


def _clean_fact(fact: str) -> str:
    fact = " ".join(str(fact).split())
    if len(fact) > 300:
        raise SdftError(f"fact {fact[:40]!r}... is {len(fact)} characters; keep facts under 300")
    return fact


def _entity(row: dict) -> Entity:
    return Entity(row["id"], row["name"], row["kind"], tuple(json.loads(row["facts"])), row["created"])


def list_projects() -> list[str]:
    root = projects_dir()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DB_NAME).exists())


def current_project_file() -> Path:
    return sdft_home() / "current_project"


def set_current_project(name: str) -> None:
    atomic.write_text(current_project_file(), name)


def current_project() -> str | None:
    path = current_project_file()
    return path.read_text().strip() or None if path.exists() else None


def open_project(name: str | None = None) -> Store:
    """Open the named project, else the current one, with a clear error when there is none."""
    name = name or os.environ.get("SDFT_PROJECT") or current_project()
    if not name:
        raise NotFoundError(
            "no project selected; create one with `sdft init NAME --base-model tiny-random` "
            "or pass --project NAME"
        )
    return Store.open(name)
