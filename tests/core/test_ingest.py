import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sdft_local.errors import PhotoError
from sdft_local.ingest import IngestConfig, dhash, hamming, ingest_photos, normalize_photo

from .conftest import photo


def _stored(store, path):
    return Image.open(store.photo_path(normalize_photo(path).sha256))


def test_formats_are_normalized_to_rgb_png(store, tmp_path):
    ent = store.add_entity("Biscuit", "dog")
    files = [
        photo(tmp_path / "a.jpg", 1), photo(tmp_path / "b.png", 2),
        photo(tmp_path / "c.webp", 3, lossless=True), photo(tmp_path / "d.bmp", 4),
        photo(tmp_path / "e.tiff", 5), photo(tmp_path / "f.gif", 6, mode="P"),
        photo(tmp_path / "g.jpg", 7, mode="CMYK"),
    ]
    results = list(ingest_photos(store, ent, files))
    assert [r.status for r in results] == ["added"] * 7
    for f in files:
        im = _stored(store, f)
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (64, 48)
    assert len(store.photos(ent.id)) == 7


def test_alpha_is_composited_on_white(tmp_path):
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 20, 40))
    im.save(tmp_path / "t.png")
    out = Image.open(__import__("io").BytesIO(normalize_photo(tmp_path / "t.png").data))
    assert out.getpixel((30, 20)) == (255, 255, 255)
    assert out.getpixel((5, 20)) == (0, 0, 255)


def test_sixteen_bit_grey_scaled_not_clipped(tmp_path):
    arr = np.full((40, 40), 32768, dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    out = Image.open(__import__("io").BytesIO(normalize_photo(tmp_path / "g16.png").data))
    assert out.getpixel((0, 0)) == (128, 128, 128)


def test_exif_orientation_applied(tmp_path):
    im = Image.new("RGB", (60, 30), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert normalize_photo(tmp_path / "rot.jpg").width == 30


def test_animated_gif_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.new("RGB", (40, 40), (i * 80, 255 - i * 80, 0)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    norm = normalize_photo(tmp_path / "anim.gif")
    assert any("first frame" in n for n in norm.notes)


def test_downscale_to_pixel_budget(tmp_path):
    photo(tmp_path / "big.png", 1, size=(400, 300))
    norm = normalize_photo(tmp_path / "big.png", IngestConfig(max_pixels=30_000))
    assert norm.width * norm.height <= 30_000 and norm.width == 200
    assert any("downscaled" in n for n in norm.notes)


def test_heic_through_pillow_heif(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    photo(tmp_path / "p.heic", 1, fmt="HEIF")
    assert normalize_photo(tmp_path / "p.heic").width == 64


def test_heic_without_pillow_heif_gives_install_hint(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "p.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    with pytest.raises(PhotoError, match=r"p\.heic: .*sdft-local\[heic\]"):
        normalize_photo(path)


def test_duplicates_skipped_and_near_duplicates_warned(store, tmp_path):
    ent = store.add_entity("Biscuit", "dog")
    a = photo(tmp_path / "a.png", 1)
    Image.open(a).save(tmp_path / "a_copy.png")
    Image.open(a).convert("RGB").save(tmp_path / "a_similar.jpg", quality=80)
    results = list(ingest_photos(store, ent, [a, tmp_path / "a_copy.png", tmp_path / "a_similar.jpg"]))
    assert [r.status for r in results] == ["added", "duplicate", "added"]
    assert any("almost identical" in w for w in results[2].warnings)
    assert len(store.photos(ent.id)) == 2


def test_dhash_separates_different_pictures(tmp_path):
    a = Image.open(photo(tmp_path / "a.png", 1))
    b = Image.open(photo(tmp_path / "b.png", 2))
    assert hamming(dhash(a), dhash(a.resize((128, 96)))) <= 4
    assert hamming(dhash(a), dhash(b)) > 10


def test_split_is_deterministic_and_holds_out_at_least_one(store, tmp_path):
    ent = store.add_entity("Biscuit", "dog")
    files = [photo(tmp_path / f"{i}.png", 100 + i) for i in range(10)]
    list(ingest_photos(store, ent, files[:3]))
    assert all(p.split == "train" for p in store.photos(ent.id))
    list(ingest_photos(store, ent, files[3:4]))
    assert sum(p.split == "heldout" for p in store.photos(ent.id)) == 1
    list(ingest_photos(store, ent, files[4:]))
    held = sorted(p.sha256 for p in store.photos(ent.id, "heldout"))
    assert len(held) == 3
    store.rebalance_split(ent.id)
    assert sorted(p.sha256 for p in store.photos(ent.id, "heldout")) == held


def test_failure_inside_the_transaction_leaves_no_file_and_no_row(store, tmp_path, monkeypatch):
    ent = store.add_entity("Biscuit", "dog")
    monkeypatch.setattr(type(store), "rebalance_split", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        list(ingest_photos(store, ent, [photo(tmp_path / "a.png", 1)]))
    assert store.photos() == []
    assert list((store.root / "photos").rglob("*.png")) == []
    assert list((store.root / "photos").glob(".*.sdft-*")) == []


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(path, w, h):
    """A PNG that claims w x h pixels but carries a few bytes of data (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path
