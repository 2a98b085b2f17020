"""`sdft tui` (and `sdft` with no arguments): open the terminal app."""

from __future__ import annotations

import click

from ..errors import SdftError


@click.command("tui")
@click.option("--project", "-p", metavar="NAME", help="Project to open (default: the current one).")
def tui_cmd(project: str | None):
    """Open the terminal app."""
    launch_tui(project)


def launch_tui(project: str | None) -> None:
    try:
        from sdft_tui.app import run
    except ImportError as err:
        raise SdftError(f"the terminal app cannot start ({err}); reinstall sdft-local") from err
    code = run(project)
    if code:
        raise SystemExit(code)
