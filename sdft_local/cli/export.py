"""`sdft export`: write a run's adapter in the formats other tools load, each one verified.

Parses options, calls `sdft_local.export.export_run`, and renders: the current step and each
verification as it finishes on stderr, a summary table (or one JSON document with --json) on
stdout. A run whose latest check failed is refused (exit 3) unless --force.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import Env, common_options, console, esc, stdout_console, table

_FORMATS = "mlx, peft, merged, gguf, gguf-lora, ollama or all (comma-separated for several)"


@click.command("export")
@click.argument("run", required=False)
@click.option("--format", "-f", "formats", required=True, metavar="FORMAT",
              help=f"What to write: {_FORMATS}.")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Folder to create (one format: its files; several: a subfolder each).")
@click.option("--quant", type=click.Choice(["q8_0", "q4_k_m", "f16", "f32"]), default="q8_0",
              show_default=True, help="Type of the text GGUF (gguf, ollama).")
@click.option("--mmproj-type", type=click.Choice(["f16", "f32"]), default="f16", show_default=True,
              help="Type of the vision projector GGUF.")
@click.option("--ollama-adapter", is_flag=True,
              help="Ollama: base GGUF + ADAPTER (GGUF LoRA) instead of the merged model.")
@click.option("--name", default="sdft-local", show_default=True, help="Model name inside the GGUF files.")
@click.option("--reference", type=click.Choice(["auto", "torch", "mlx"]), default="auto", show_default=True,
              help="Runtime that computes the trained model's outputs for verification.")
@click.option("--no-verify", is_flag=True, help="Skip loading the exports back (the manifest says so).")
@click.option("--force", is_flag=True, help="Export even if the run's latest check failed.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@common_options
def export_cmd(env: Env, run, formats, out, quant, mmproj_type, ollama_adapter, name, reference,
               no_verify, force, overwrite):
    """Export RUN (id or name; default: the newest trained run) for mlx-vlm, peft, llama.cpp, Ollama.

    Every file is loaded back by the tool it is for and compared with the trained model; the
    results, tolerances and sha256 of every file go into manifest.json. The folder appears only
    when complete.
    """
    from ..export import ExportOptions, export_run

    options = ExportOptions(quant=quant, mmproj_type=mmproj_type, verify=not no_verify,
                            reference=reference, ollama_adapter=ollama_adapter, name=name,
                            overwrite=overwrite)
    run_ref = int(run) if run and run.isdigit() else run
    with env.store() as store:
        result = _render(export_run(store, run_ref, formats, out, options, force=force))
    env.emit({"ok": True, **_summary(result)}, lambda: _print_result(result))


def _render(events):
    """Show progress on stderr while the export runs; return its ExportResult."""
    from ..export import VerificationFinished, ExportFinished, ExportStarted, FormatExported, StepStarted

    err = console()
    result = None
    with err.status("starting the export") as status:
        for event in events:
            if isinstance(event, ExportStarted):
                err.print(f"Exporting {esc(', '.join(event.formats))} to {esc(event.out)}", highlight=False)
            elif isinstance(event, StepStarted):
                status.update(f"{event.format}: {event.step}")
            elif isinstance(event, VerificationFinished):
                err.print(_check_line(event.check), highlight=False, soft_wrap=True)
            elif isinstance(event, FormatExported):
                err.print(f"[bold]{esc(event.result.format)}[/] written to {esc(event.result.path)}",
                          highlight=False)
            elif isinstance(event, ExportFinished):
                result = event.result
    return result


def _check_line(c) -> str:
    mark = "[green]ok[/]" if c.passed else ("[red]FAIL[/]" if c.refused else "[yellow]warn[/]")
    return f"  {mark} {c.artifact}: {c.name}: {c.value:.3g} ({c.op} {c.limit:.3g})"


def _summary(result) -> dict:
    from .common import to_jsonable

    data = to_jsonable(result)
    data["warnings"] = list(result.warnings)
    return data


def _print_result(result) -> None:
    rows = [[f.format, str(f.path), "yes" if f.verified else "no", len(f.warnings)] for f in result.formats]
    stdout_console().print(table(f"Export of run {result.run_id} (check: {esc(result.check_verdict)}"
                                 f"{esc(', forced' if result.forced else '')})",
                                 ["format", "path", "verified", "warnings"], rows))
    for warning in result.warnings:
        console().print(f"[yellow]warning:[/] {esc(warning)}", highlight=False, soft_wrap=True)
