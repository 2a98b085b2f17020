"""Photo ingest: decode, validate and normalize a user's photos, then hand them to the store.

Owns what a photo must be to enter a project (a real, complete, not-too-small, not-a-bomb image in
any common format), the normalization (EXIF orientation, RGB, pixel budget, PNG) and the per-file
report of a batch. It does not decide the held-out split or touch rows itself (store.py does).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .errors import ConfigError, PhotoError
from .store import Entity, Store

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif",
}
HEIF_SUFFIXES = {".heic", ".heif"}
QWEN2VL_MIN_SIDE = 28  # the processor's resize factor (patch 14 x merge 2); smaller images fail
QWEN2VL_MAX_ASPECT = 200


@dataclass(frozen=True)
class IngestConfig:
    max_pixels: int = 1024 * 1024
    max_decoded_pixels: int = 80_000_000
    near_duplicate_distance: int = 6

    def __post_init__(self):
        if self.max_pixels < QWEN2VL_MIN_SIDE**2:
            raise ConfigError(f"max_pixels={self.max_pixels} is below {QWEN2VL_MIN_SIDE**2}")
        if self.max_decoded_pixels < self.max_pixels:
            raise ConfigError("max_decoded_pixels must be at least max_pixels")
        if not 0 <= self.near_duplicate_distance <= 64:
            raise ConfigError(f"near_duplicate_distance={self.near_duplicate_distance}: use 0..64")


@dataclass(frozen=True)
class NormalizedPhoto:
    data: bytes
    sha256: str
    width: int
    height: int
    phash: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhotoResult:
    """What happened to one file of a batch."""

    source: str
    status: str  # "added" | "duplicate" | "rejected"
    message: str = ""
    sha256: str = ""
    photo_id: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


# --- decoding and normalization ---------------------------------------------------------------------


def normalize_photo(path: Path, config: IngestConfig = IngestConfig()) -> NormalizedPhoto:
    """Decode `path` and return its normalized PNG bytes, or raise PhotoError naming the file."""
    from PIL import Image, ImageOps

    notes: list[str] = []
    with _open_image(path, config) as im:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            im.seek(0)
            notes.append(f"animated ({frames} frames): used the first frame")
        _load_fully(im, path)
        im = ImageOps.exif_transpose(im)
        rgb = to_rgb(im)
    _check_size(path, rgb.size)
    rgb = _downscale(rgb, config.max_pixels, notes)
    data = _encode_png(rgb)
    return NormalizedPhoto(
        data, hashlib.sha256(data).hexdigest(), rgb.width, rgb.height, dhash(rgb), tuple(notes)
    )


def _open_image(path: Path, config: IngestConfig):
    from PIL import Image, UnidentifiedImageError

    _check_readable(path)
    heif = _register_heif(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError:
        what = "a corrupt HEIC/HEIF file" if heif else "not an image Pillow can read"
        raise PhotoError(f"{path.name}: {what} (is it really a photo? export it again as JPEG)")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise PhotoError(f"{path.name}: refused as a decompression bomb ({err})")
    except OSError as err:
        raise PhotoError(f"{path.name}: cannot be decoded ({err})")
    w, h = im.size
    if w * h > config.max_decoded_pixels:
        im.close()
        raise PhotoError(
            f"{path.name}: {w}x{h} = {w * h:,} pixels exceeds the limit of "
            f"{config.max_decoded_pixels:,} (a decompression bomb or a huge scan); resize it first"
        )
    return im


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise PhotoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PhotoError(f"{path.name}: the file is empty (0 bytes)")


def _register_heif(path: Path) -> bool:
    if path.suffix.lower() not in HEIF_SUFFIXES and not _looks_like_heif(path):
        return False
    try:
        import pillow_heif
    except ImportError:
        raise PhotoError(
            f"{path.name}: HEIC/HEIF needs pillow-heif; install it with "
            f"`pip install 'sdft-local[heic]'`, or convert the photo to JPEG"
        )
    pillow_heif.register_heif_opener()
    return True


def _looks_like_heif(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"heif"}


def _load_fully(im, path: Path) -> None:
    try:
        im.load()
    except OSError as err:
        raise PhotoError(f"{path.name}: the file is truncated or corrupt ({err}); copy it again")
    except Exception as err:  # decoders raise a zoo of types on malformed data
        raise PhotoError(f"{path.name}: cannot be decoded ({type(err).__name__}: {err})")


def to_rgb(im):
    """Any Pillow mode to 8-bit RGB: alpha composited on white, 16-bit and float scaled."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        im = _scale_to_8bit(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im.convert("RGB")


def _scale_to_8bit(im):
    import numpy as np
    from PIL import Image

    arr = np.asarray(im, dtype=np.float64)
    top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
    if im.mode == "F":
        top = max(float(arr.max()), 1.0)
    return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def _check_size(path: Path, size: tuple[int, int]) -> None:
    w, h = size
    if min(w, h) < QWEN2VL_MIN_SIDE:
        raise PhotoError(
            f"{path.name}: {w}x{h} pixels is too small; Qwen2-VL needs at least "
            f"{QWEN2VL_MIN_SIDE}x{QWEN2VL_MIN_SIDE}"
        )
    if max(w, h) / min(w, h) > QWEN2VL_MAX_ASPECT:
        raise PhotoError(f"{path.name}: aspect ratio {w}x{h} is beyond Qwen2-VL's 200:1 limit")


def _downscale(im, max_pixels: int, notes: list[str]):
    from PIL import Image

    w, h = im.size
    if w * h <= max_pixels:
        return im
    scale = (max_pixels / (w * h)) ** 0.5
    size = (max(QWEN2VL_MIN_SIDE, int(w * scale)), max(QWEN2VL_MIN_SIDE, int(h * scale)))
    notes.append(f"downscaled from {w}x{h} to {size[0]}x{size[1]}")
    return im.resize(size, Image.Resampling.LANCZOS)


def _encode_png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def dhash(im, size: int = 8) -> str:
    """A 64-bit difference hash: near-identical photos differ in few bits."""
    from PIL import Image

    small = im.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    px = list(small.getdata())
    bits = 0
    for row in range(size):
        for col in range(size):
            left, right = px[row * (size + 1) + col], px[row * (size + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# --- batches ------------------------------------------------------------------------------------------


def expand_sources(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded (sorted) to the image files directly inside them."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(path)
    return out


def ingest_photos(
    store: Store, entity: Entity, paths: Iterable[str | Path], config: IngestConfig = IngestConfig()
) -> Iterator[PhotoResult]:
    """Add photos to `entity`, yielding one result per file; bad files are reported, not stored."""
    for path in expand_sources(paths):
        try:
            yield _ingest_one(store, entity, path, config)
        except PhotoError as err:
            yield PhotoResult(str(path), "rejected", err.message)


def _ingest_one(store: Store, entity: Entity, path: Path, config: IngestConfig) -> PhotoResult:
    photo = normalize_photo(path, config)
    if store.has_photo(entity.id, photo.sha256):
        return PhotoResult(str(path), "duplicate", "already in this entity; skipped", photo.sha256)
    near = _near_duplicates(store, entity, photo.phash, config.near_duplicate_distance)
    staged = store.staging_path()
    try:
        staged.write_bytes(photo.data)
        record = {
            "entity_id": entity.id, "sha256": photo.sha256, "width": photo.width,
            "height": photo.height, "size_bytes": len(photo.data), "source_name": path.name[:200],
            "phash": photo.phash,
        }
        stored = store.insert_photo(staged, record)
    finally:
        staged.unlink(missing_ok=True)
    if stored is None:  # another process stored the same photo meanwhile
        return PhotoResult(str(path), "duplicate", "already in this entity; skipped", photo.sha256)
    warns = photo.notes + tuple(f"looks almost identical to {n}" for n in near) + tuple(
        f"this photo is also one of {name}'s: the model will be taught both names for it; remove "
        f"it from one of them (`sdft photos remove {photo.sha256[:10]}`) unless both are in it"
        for name in store.owners_of(photo.sha256) if name != entity.name)
    return PhotoResult(str(path), "added", "stored", photo.sha256, stored.id, warns)


def _near_duplicates(store: Store, entity: Entity, phash: str, distance: int) -> list[str]:
    return [
        f"{p.source_name} ({p.sha256[:8]})"
        for p in store.photos(entity.id)
        if hamming(p.phash, phash) <= distance
    ]
