"""Cold start of the terminal app to its first screen, against the same start with torch and
transformers imported eagerly; prints JSON.

Each run is a fresh `python -m sdft_local.cli` (what `sdft` runs) on a pseudo-terminal of
110x30 cells, timed from spawn until the project screen's text has been written. The harness
answers the terminal's device-attributes query as a real terminal does; the Kitty graphics
query stays unanswered, as in most terminals (textual-image waits 0.1 s for it). The project
has one entity with a few photos. Usage: python bench/startup.py [--runs 5].
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARKER = "base model tiny-random"
ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b_[^\x1b]*\x1b\\")
HEAVY = ("torch", "transformers", "mlx", "mlx_vlm", "llama_cpp", "gguf", "peft", "numpy", "PIL")
EAGER = "import torch, transformers; from sdft_local.cli import main; main([])"
# sqlite-utils imports pandas whenever it is installed (the `datasets` extra pulls it in); this
# variant shows what the store's import costs the first screen.
NO_PANDAS = "import sys; sys.modules['pandas'] = None; from sdft_local.cli import main; main([])"
FIRST_SCREEN_PROBE = """
import asyncio, json, sys
from sdft_tui.app import make_app
async def main():
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "base model" in str(app.screen.query_one("#project-title").content)
    print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = _make_project(Path(home))
        app = [sys.executable, "-m", "sdft_local.cli"]
        eager = [sys.executable, "-c", EAGER]
        result = {
            "bench": "tui_cold_start",
            "runs": args.runs,
            "goal_s": 1.5,
            "first_screen_s": _stats([_first_screen(app, env) for _ in range(args.runs)]),
            "first_screen_eager_torch_transformers_s": _stats(
                [_first_screen(eager, env) for _ in range(args.runs)]),
            "first_screen_pandas_blocked_s": _stats(
                [_first_screen([sys.executable, "-c", NO_PANDAS], env) for _ in range(args.runs)]),
            "import_torch_transformers_s": _stats([_import_time(env) for _ in range(args.runs)]),
            "heavy_modules_at_first_screen": _heavy_modules(env),
        }
    result["meets_goal"] = result["first_screen_s"]["median"] <= result["goal_s"]
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2))


def _make_project(home: Path) -> dict:
    env = {**os.environ, "SDFT_HOME": str(home / "sdft"), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color"}
    env.pop("SDFT_PROJECT", None)
    script = (
        "import numpy as np; from PIL import Image; from pathlib import Path\n"
        "from sdft_local.store import Store, set_current_project\n"
        "from sdft_local.ingest import ingest_photos\n"
        "s = Store.create('pets', 'tiny-random'); set_current_project('pets')\n"
        "e = s.add_entity('Biscuit', 'dog', ['4 years old'])\n"
        f"d = Path({str(home)!r})\n"
        "files = []\n"
        "for i in range(6):\n"
        "    p = d / f'{i}.png'; rng = np.random.default_rng(i)\n"
        "    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p); files.append(p)\n"
        "list(ingest_photos(s, e, files))\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    return env


def _first_screen(argv: list[str], env: dict) -> float:
    """Seconds from spawn until MARKER is on the terminal; then quits the app with `q`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 1100, 600))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                            start_new_session=True)
    os.close(slave)
    seen, buf = None, b""
    while proc.poll() is None and time.perf_counter() - start < 60:
        chunk = _read(master)
        buf += chunk
        if b"\x1b[c" in chunk:
            os.write(master, b"\x1b[?62;22c")  # a VT220-class terminal without Sixel
        if seen is None and MARKER.encode() in ANSI.sub(b"", buf):
            seen = time.perf_counter() - start
            os.write(master, b"q")
    os.close(master)
    if seen is None:
        proc.kill()
        raise RuntimeError(f"the first screen never appeared: {ANSI.sub(b'', buf)[-400:]!r}")
    return seen


def _read(fd: int) -> bytes:
    ready, _, _ = select.select([fd], [], [], 0.02)
    if not ready:
        return b""
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


def _import_time(env: dict) -> float:
    code = "import time; t = time.perf_counter(); import torch, transformers; print(time.perf_counter() - t)"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _heavy_modules(env: dict) -> list[str]:
    probe = FIRST_SCREEN_PROBE.format(heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _stats(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


if __name__ == "__main__":
    main()
