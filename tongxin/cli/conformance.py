"""``tongxin conformance URL --token TOKEN``: run the conformance kit against a hub, and
``tongxin conformance cleanup --manifest FILE`` after a run that crashed.

Exit status: 0 when every MUST check of the level passed, 1 when one failed (or cleanup left
records behind), 2 for unusable arguments."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from tongxin.adapters.conformance import LEVELS, Target, TargetError, cleanup, render, run

__all__ = ["register"]


class Level(StrEnum):
    read = "read"
    write = "write"
    federation = "federation"


class Format(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


def _usage(en: str, zh: str) -> NoReturn:
    typer.echo(f"tongxin conformance: {zh}\n{en}", err=True)
    raise typer.Exit(2)


def conformance(
    url: Annotated[str, typer.Argument(help="The hub's base URL (or `cleanup` with --manifest).")],
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="TONGXIN_CONFORMANCE_TOKEN", help="A bearer token of the target."
        ),
    ] = None,
    level: Annotated[Level, typer.Option("--level", help="read, write or federation.")] = (
        Level.read
    ),
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox-organisation",
            help="An organisation made for testing: the only place the kit writes to.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text, json or junit.")] = Format.text,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here.")] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="The manifest of written records (default ./txc-manifest.json; for cleanup).",
        ),
    ] = None,
    fuzz: Annotated[
        int,
        typer.Option(
            "--fuzz",
            min=0,
            help="Also fuzz the target's OpenAPI: N examples per operation (needs tongxin[fuzz]).",
        ),
    ] = 0,
    peer_keys: Annotated[
        Path | None,
        typer.Option(
            "--peer-keys",
            help="Federation: the key store of a hub the target trusts as its parent.",
        ),
    ] = None,
) -> None:
    """Check that a hub speaks the Tongxin API (spec/conformance.md lists every check)."""
    if not token:
        _usage("--token is required", "缺少 --token")
    if url == "cleanup":
        if manifest is None:
            _usage("cleanup needs --manifest FILE", "cleanup 需要 --manifest 文件")
        failures = cleanup(manifest, token)
        for failure in failures:
            typer.echo(f"未能删除 / not deleted: {failure}", err=True)
        typer.echo(f"清理完毕 / cleaned up: {manifest}" if not failures else "")
        raise typer.Exit(1 if failures else 0)
    if level is not Level.read and sandbox is None:
        _usage(
            f"level {level.value} writes: give --sandbox-organisation ID",
            f"{level.value} 级别需要写入：请用 --sandbox-organisation 指定测试组织",
        )
    if level is Level.federation and peer_keys is None:
        _usage(
            "level federation needs --peer-keys (a hub the target trusts as its parent)",
            "federation 级别需要 --peer-keys（目标枢纽信任为上级的枢纽的密钥库）",
        )
    if sandbox is not None and manifest is None:
        manifest = Path("txc-manifest.json")
    assert level.value in LEVELS
    try:
        report = run(
            Target(
                url,
                token,
                level.value,
                sandbox=sandbox,
                peer_keys=peer_keys,
                manifest=manifest,
                fuzz=fuzz,
            )
        )
    except TargetError as error:
        _usage(error.en, error.zh)
    text = render(report, fmt.value)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if report.cleanup_failures and manifest is not None:
        typer.echo(
            f"部分记录未能删除，请运行 / some records remain, run: "
            f"tongxin conformance cleanup --manifest {manifest} --token …",
            err=True,
        )
    raise typer.Exit(0 if report.passed else 1)


def register(app: typer.Typer) -> None:
    app.command("conformance")(conformance)
