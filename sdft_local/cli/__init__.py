"""The `sdft` command line: one click group whose verbs are thin clients of the library.

Owns argument parsing, rendering (rich on stderr, one JSON document on stdout with --json) and
exit codes (0 ok, 1 user error, 2 usage, 3 gate failed). Each verb lives in its own module,
imported only when that verb (or the help listing) needs it; heavy libraries load inside verbs.
"""

from __future__ import annotations

import importlib
import os

import click

from .. import __version__
from ..errors import SdftError

# verb -> (module, attribute). Order here is the order of `sdft --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("sdft_local.cli.project", "init_cmd"),
    "entity": ("sdft_local.cli.entity", "entity"),
    "photos": ("sdft_local.cli.photos", "photos"),
    "synth": ("sdft_local.cli.synth", "synth_cmd"),
    "dialogues": ("sdft_local.cli.synth", "dialogues"),
    "models": ("sdft_local.cli.models", "models_cmd"),
    "train": ("sdft_local.cli.train", "train_cmd"),
    "check": ("sdft_local.cli.check", "check_cmd"),
    "export": ("sdft_local.cli.export", "export_cmd"),
    "demo": ("sdft_local.cli.demo", "demo_cmd"),
    "tui": ("sdft_local.cli.tui", "tui_cmd"),
}


class LazyGroup(click.Group):
    """Imports a verb's module only when the verb is listed or run."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SdftError as err:
            from .common import report_error

            report_error(ctx, err)
            ctx.exit(err.exit_code)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sdft")
@click.pass_context
def cli(ctx):
    """sdft-local: teach a vision-language model about your own things, offline.

    Structured Dialogue Fine-Tuning (Hong et al., arXiv 2505.00029) with LoRA, a knowledge and
    retention check, and verified exports. Run with no arguments to open the terminal app.
    """
    if ctx.invoked_subcommand is None:
        from .tui import launch_tui

        launch_tui(None)


def main(argv: list[str] | None = None) -> None:
    # transformers' config notices (rope_scaling, mrope validation) say nothing a user can act on;
    # the command reports its own progress and errors. An explicit TRANSFORMERS_VERBOSITY wins.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    cli.main(args=argv, prog_name="sdft")
