"""``tongxin legacy inspect|sync``: connect an existing platform's database to a hub.

Exit status of ``sync``: 0 when no row was refused, 1 when any was, 2 when the mapping or the
source database cannot be used or the hub cannot be reached. ``--format json`` prints one
object per run."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer

from tongxin.adapters.legacy import (
    HubSink,
    MappingError,
    PackageSink,
    SourceError,
    SyncReport,
    inspect_source,
    load_mapping,
    propose,
    run_sync,
)
from tongxin.client import Client, TongxinError

__all__ = ["legacy_app", "register"]

legacy_app = typer.Typer(
    help="Legacy platforms: inspect a source database, sync it to a hub through a mapping.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _fail(output: OutputFormat, en: str, zh: str) -> NoReturn:
    if output is OutputFormat.json:
        doc = {**SyncReport().as_json(), "error": {"message": {"zh-CN": zh, "en": en}}}
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    typer.echo(f"tongxin legacy: {zh}\n{en}", err=True)
    raise typer.Exit(2)


@legacy_app.command("inspect")
def inspect_(
    url: Annotated[str, typer.Argument(help="Source database URL, e.g. mysql+pymysql://…")],
    hub_id: Annotated[
        str, typer.Option("--hub-id", help="Hub id written into the proposed mapping.")
    ] = "my-hub",
) -> None:
    """List the tables and columns of a source database and propose a mapping (TOML)."""
    try:
        tables = inspect_source(url)
    except SourceError as exc:
        typer.echo(f"tongxin legacy: {exc.zh}\n{exc.en}", err=True)
        raise typer.Exit(2) from None
    for table in tables:
        typer.echo(f"# {table.name} ({table.rows} 行 rows): {', '.join(table.columns)}")
    typer.echo("")
    typer.echo(propose(hub_id, url, tables), nl=False)


def _print(report: SyncReport, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        sys.stdout.buffer.write(orjson.dumps(report.as_json()) + b"\n")
        sys.stdout.flush()
        return
    typer.echo(
        f"发送 {report.sent}：新建 {report.created}，更新 {report.updated}，"
        f"未变 {report.unchanged}，删除 {report.deleted}，被拒 {report.rejected}\n"
        f"sent {report.sent}: created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, deleted {report.deleted}, rejected {report.rejected}"
    )
    for issue in report.issues:
        message = issue["message"]
        typer.echo(
            f"  [{issue['mapping']}] {issue['id']} {issue['pointer']} {issue['rule'] or ''}: "
            f"{message['zh-CN']} / {message['en']}"
        )


@legacy_app.command("sync")
def sync(
    mapping_file: Annotated[Path, typer.Option("--mapping", help="The mapping file (TOML).")],
    hub: Annotated[str | None, typer.Option("--hub", help="Hub URL.")] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="TONGXIN_TOKEN", help="Bearer token.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write a package instead.")] = None,
    once: Annotated[bool, typer.Option("--once", help="One run, then exit (default).")] = False,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Run every SECONDS, for ever.")
    ] = None,
    batch: Annotated[int, typer.Option("--batch-size", help="Rows per bulk request.")] = 1000,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.text,
) -> None:
    """Send what changed in the source since the last acknowledged run."""
    if (hub is None) == (out is None):
        _fail(output, "give either --hub URL --token TOKEN or --out PACKAGE.json",
              "请指定 --hub 枢纽地址 与 --token 令牌，或 --out 数据包文件（二选一）")  # fmt: skip
    if once and interval is not None:
        _fail(
            output, "--once and --interval exclude each other", "--once 与 --interval 不能同时使用"
        )
    try:
        mapping = load_mapping(mapping_file)
    except MappingError as exc:
        _fail(output, exc.en, exc.zh)
    if out is not None:
        sink = PackageSink(mapping.hub_id)
        report = _run(lambda: run_sync(mapping, sink, track=False, batch=batch), output)
        sink.write(out)
        _print(report, output)
        raise typer.Exit(1 if report.rejected else 0)
    if token is None:
        _fail(output, "--hub needs --token (or TONGXIN_TOKEN)", "--hub 需要 --token 令牌")
    assert hub is not None
    with Client(hub, token=token) as client:
        while True:
            report = _run(lambda: run_sync(mapping, HubSink(client), batch=batch), output)
            _print(report, output)
            if interval is None:
                raise typer.Exit(1 if report.rejected else 0)
            time.sleep(interval)


def _run(call: Callable[[], SyncReport], output: OutputFormat) -> SyncReport:
    try:
        return call()
    except MappingError as exc:
        _fail(output, exc.en, exc.zh)
    except SourceError as exc:
        _fail(output, exc.en, exc.zh)
    except TongxinError as exc:
        _fail(
            output, f"the hub refused or could not be reached: {exc}", f"枢纽拒绝或无法连接：{exc}"
        )


def register(app: typer.Typer) -> None:
    """Add ``tongxin legacy`` to the main CLI."""
    app.add_typer(legacy_app, name="legacy")
