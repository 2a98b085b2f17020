"""The real `sdft` command in a real terminal (tmux): open the app, add an entity, quit."""

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdft_local.store import Store

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Terminal:
    """One tmux server of its own (a private socket), one 110x30 window running `command`."""

    def __init__(self, command: str, env: dict[str, str]):
        self.base = ["tmux", "-L", f"sdft-test-{os.getpid()}-{time.monotonic_ns()}", "-f", "/dev/null"]
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = f"cd {shlex.quote(str(REPO))} && env {exports} {command}; echo EXITED=$?; sleep 120"
        self.tmux("new-session", "-d", "-s", "t", "-x", "110", "-y", "30", shell)

    def tmux(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{self.screen()}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def test_sdft_opens_the_app_adds_an_entity_and_quits(sdft_home):
    env = {"SDFT_HOME": str(sdft_home), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "TERM": "xterm-256color"}
    python = [sys.executable, "-m", "sdft_local.cli"]
    subprocess.run([*python, "init", "pets"], env={**os.environ, **env}, check=True,
                   capture_output=True)
    term = Terminal(shlex.join(python), env)
    try:
        term.wait_for("pets — base model demo")
        assert "No entities yet" in term.screen()
        term.keys("a")
        term.wait_for("New entity")
        term.keys("Rex", literal=True)
        term.keys("Enter")
        term.keys("cat", literal=True)
        term.keys("Enter")
        term.keys("sleeps in the sink", literal=True)
        term.keys("C-s")
        shown = term.wait_for("Added Rex")
        assert "Rex" in shown and "cat" in shown and "No entities yet" not in shown
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()
    with Store.open("pets") as store:
        rex = store.entity("Rex")
    assert (rex.kind, rex.facts) == ("cat", ("sleeps in the sink",))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_idle_app_uses_almost_no_cpu(sdft_home):
    env = {"SDFT_HOME": str(sdft_home), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "TERM": "xterm-256color"}
    python = [sys.executable, "-m", "sdft_local.cli"]
    subprocess.run([*python, "init", "idle"], env={**os.environ, **env}, check=True, capture_output=True)
    term = Terminal(shlex.join(python), env)
    try:
        term.wait_for("idle — base model demo")
        found = subprocess.run(["pgrep", "-f", "-n", "sdft_local.cli$"], capture_output=True, text=True)
        pid = int(found.stdout.split()[0])
        time.sleep(1.0)
        before = _cpu_seconds(pid)
        time.sleep(5.0)
        used = _cpu_seconds(pid) - before
        assert used < 0.25, f"the idle app used {used:.2f} s of CPU in 5 s"
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()
