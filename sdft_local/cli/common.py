"""Plumbing shared by every verb: --project/--json options, output and error rendering."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, is_dataclass
from functools import wraps
from typing import Any, Callable

import click


@dataclass(frozen=True)
class Env:
    """What every verb receives: the selected project (or None for the current one) and mode."""

    project: str | None
    json: bool

    def store(self):
        from ..store import open_project

        return open_project(self.project)

    def emit(self, data: Any, human: Callable[[], None] | None = None) -> None:
        """Write the result: one JSON document with --json, else the human rendering."""
        if self.json:
            click.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))
            click.get_current_context().find_root().ensure_object(dict)["emitted"] = True
        elif human is not None:
            human()


def common_options(fn):
    """Add --project and --json to a verb and pass an `Env` as its first argument."""

    @click.option("--project", "-p", metavar="NAME", help="Project to use (default: the current one).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
    @wraps(fn)
    def wrapper(*args, project, as_json, **kwargs):
        click.get_current_context().find_root().ensure_object(dict)["json"] = as_json
        return fn(Env(project, as_json), *args, **kwargs)

    return wrapper


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def report_error(ctx: click.Context, err) -> None:
    """An SdftError at the edge: message on stderr; with --json also a JSON document on stdout,
    unless the command already wrote its one document (which then says what went wrong)."""
    console().print(f"[bold red]{esc(err.title)}:[/] {esc(err.message)}", highlight=False, markup=True)
    state = ctx.find_root().obj or {}
    if state.get("json") and not state.get("emitted"):
        click.echo(json.dumps({"ok": False, "error": err.message, "title": err.title}))


def esc(value: Any) -> str:
    """`value` as text that rich prints as is: user text ('[dog] rex.jpg', 'sdft-local[heic]')
    is never read as markup."""
    from rich.markup import escape

    return escape(str(value))


def console():
    from rich.console import Console

    return Console(stderr=True)


def stdout_console():
    from rich.console import Console

    return Console()


def table(title: str, columns: list[str], rows: list[list[Any]]):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[esc(x) for x in r])
    return t
