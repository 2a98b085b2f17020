"""manifest.json: what an export folder holds, where it came from, and how it was verified.

Owns the sha256 table of every file (the manifest itself excluded), writing and reading the
manifest, and `verify_files`, which re-hashes a folder against its manifest (a copied or
damaged export is detected without loading any model). The manifest's other sections are filled
by `formats.py` and `run.py`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import ExportError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict]:
    """{relative path: {"sha256", "bytes"}} for every file under `folder` but its own manifest
    (the manifests of format subfolders are hashed like any other file)."""
    folder = Path(folder)
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST:
            continue
        table[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def write_manifest(folder: Path, manifest: dict) -> dict:
    manifest = {"manifest_version": MANIFEST_VERSION, **manifest, "files": file_table(folder)}
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{folder} has no {MANIFEST}; it is not an sdft-local export") from None


def verify_files(folder: Path) -> list[str]:
    """Problems found re-hashing `folder` against its manifest (empty when intact)."""
    expected = read_manifest(folder).get("files", {})
    actual = file_table(folder)
    problems = [f"missing: {name}" for name in expected if name not in actual]
    problems += [f"unexpected: {name}" for name in actual if name not in expected]
    problems += [f"changed: {name}" for name, info in expected.items()
                 if name in actual and actual[name]["sha256"] != info["sha256"]]
    return problems
