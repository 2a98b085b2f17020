import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from sdft_local.errors import ExistsError, NotFoundError
from sdft_local.store import MIGRATIONS, Store, heldout_count, open_project, set_current_project


def test_migrations_apply_in_order_once(store):
    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    reopened = Store(store.root)
    assert reopened.applied_migrations() == [name for name, _ in MIGRATIONS]
    tables = set(reopened.db.table_names())
    assert {"project", "entities", "photos", "dialogues", "runs", "checks", "exports"} <= tables


def test_wal_mode_and_location(store, home):
    assert store.root == home / "projects" / "proj"
    mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_create_twice_and_open_missing(store):
    with pytest.raises(ExistsError, match="already exists"):
        Store.create("proj", "tiny-random")
    with pytest.raises(NotFoundError, match="sdft init other"):
        Store.open("other")


def test_current_project_and_no_project(home):
    with pytest.raises(NotFoundError, match="--project"):
        open_project(None)
    Store.create("a", "tiny-random").close()
    set_current_project("a")
    assert open_project().project.name == "a"


def test_entities_roundtrip(store):
    ent = store.add_entity("Biscuit", "dog", ["4 years old", "  loves   tennis balls "])
    assert ent.facts == ("4 years old", "loves tennis balls")
    with pytest.raises(ExistsError):
        store.add_entity("biscuit", "cat")
    store.update_entity("Biscuit", facts=["5 years old"])
    assert store.entity("BISCUIT").facts == ("5 years old",)
    with pytest.raises(NotFoundError, match="known: Biscuit"):
        store.entity("Max")


@pytest.mark.parametrize("n, expected", [(1, 0), (3, 0), (4, 1), (5, 2), (10, 3), (20, 6)])
def test_heldout_count(n, expected):
    assert heldout_count(n, 0.3) == expected


def test_sweep_removes_orphans_and_dead_tmp(store):
    orphan = store.photo_path("ab" * 32)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    dead_tmp = store.root / "photos" / ".incoming.sdft-photo-999999999-abc0"
    dead_tmp.write_bytes(b"x")
    live_tmp = store.staging_path()
    live_tmp.write_bytes(b"x")
    store.sweep()
    assert not orphan.exists() and not dead_tmp.exists() and live_tmp.exists()
