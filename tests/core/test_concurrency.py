"""Two processes writing one project at once, and a process killed mid-batch."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from sdft_local.store import Store

from .conftest import photo

ADDER = textwrap.dedent("""
    import sys
    from sdft_local.store import Store
    from sdft_local.ingest import ingest_photos
    store = Store.open("proj")
    ent = store.entity("Biscuit")
    results = list(ingest_photos(store, ent, sys.argv[1:]))
    assert all(r.status == "added" for r in results), results
""")


def _env(home):
    return {**os.environ, "SDFT_HOME": str(home), "PYTHONPATH": os.getcwd()}


def test_two_processes_adding_photos_lose_nothing(store, home, tmp_path):
    store.add_entity("Biscuit", "dog")
    batches = [[str(photo(tmp_path / f"{w}_{i}.png", 1000 * w + i)) for i in range(12)] for w in (1, 2)]
    procs = [subprocess.Popen([sys.executable, "-c", ADDER, *b], env=_env(home)) for b in batches]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    fresh = Store.open("proj")
    photos = fresh.photos()
    assert len(photos) == 24
    assert all(fresh.photo_path(p.sha256).is_file() for p in photos)
    assert sum(p.split == "heldout" for p in photos) == 7
    assert fresh.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILLED = textwrap.dedent("""
    import os, signal, sys
    from sdft_local.store import Store
    from sdft_local.ingest import ingest_photos
    store = Store.open("proj")
    calls = {"n": 0}
    original = Store.rebalance_split
    def die_on_third(self, entity_id):
        calls["n"] += 1
        if calls["n"] == 3:   # file already renamed into place, COMMIT not yet done
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, entity_id)
    Store.rebalance_split = die_on_third
    list(ingest_photos(store, store.entity("Biscuit"), sys.argv[1:]))
""")


def test_sigkill_mid_batch_leaves_no_orphan_and_no_dangling_row(store, home, tmp_path):
    store.add_entity("Biscuit", "dog")
    files = [str(photo(tmp_path / f"{i}.png", 50 + i)) for i in range(5)]
    proc = subprocess.run([sys.executable, "-c", KILLED, *files], env=_env(home))
    assert proc.returncode == -signal.SIGKILL
    reopened = Store.open("proj")  # opening sweeps what the dead process left behind
    rows = {p.sha256 for p in reopened.photos()}
    on_disk = {p.stem for p in (reopened.root / "photos").glob("*/*.png")}
    assert len(rows) == 2 and rows == on_disk
    assert list((reopened.root / "photos").glob(".*.sdft-*")) == []
