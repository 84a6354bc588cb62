"""Commands of the standard: ``validate``, ``schema export`` and ``codelists``."""

from __future__ import annotations

import os
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer

from tongxin.schemas import (
    CODELISTS,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    PackageReadError,
    codelist,
    export,
    iter_issues,
)

from ._report import GroupedText, JsonStream

__all__ = ["register"]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


def validate(
    files: Annotated[list[Path], typer.Argument(help="Package files (JSON) to validate.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
    lang: Annotated[Lang, typer.Option("--lang", help="Message language.")] = Lang.zh,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date (YYYY-MM-DD) of time rules.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=0, help="Processes to use; 0 = all cores for big files.")
    ] = 0,
) -> None:
    """Validate packages against the standard; exit 0 without errors, 1 with errors, 2 when a
    file cannot be read, 3 when a rule fails (a defect: please report it). With --format json
    the output is one JSON document whatever happens."""
    reference = _parse_date(as_of) if as_of else None
    sink: JsonStream | GroupedText
    if output is OutputFormat.json:
        sink = JsonStream(sys.stdout.buffer, with_file=len(files) > 1)
    else:
        sink = GroupedText(sys.stdout, lang.value)
    current = ""
    try:
        for path in files:
            current = str(path)
            workers = jobs or _auto_jobs(path)
            sink.write(iter_issues(path, as_of=reference, jobs=workers), current)
    except PackageReadError as exc:
        _stop(sink, current, "unreadable", exc.reason, f"tongxin validate: {exc}", 2)
    except Exception as exc:  # a rule failed: a defect of the validator, not of the file
        detail = f"a rule failed: {type(exc).__name__}: {exc}"
        _stop(sink, current, "rule-failed", detail, f"tongxin validate: {current}: {detail}", 3)
    sink.close()
    raise typer.Exit(0 if sink.tally.valid else 1)


#: zh-CN messages of the failures that end a validation early.
_FAILURES_ZH = {
    "unreadable": "无法读取该文件，或其内容不是有效的 JSON 文档",
    "rule-failed": "校验规则执行出错（校验器的缺陷），请报告此问题",
}


def _stop(
    sink: JsonStream | GroupedText, file: str, kind: str, en: str, line: str, status: int
) -> NoReturn:
    """End the output as a complete document naming the failure, explain on stderr, exit."""
    error: dict[str, object] = {
        "file": file,
        "code": kind,
        "message": {"zh-CN": _FAILURES_ZH[kind], "en": en},
    }
    if isinstance(sink, JsonStream):
        sink.close(error)
    sys.stdout.flush()
    typer.echo(line, err=True)
    raise typer.Exit(status)


def _auto_jobs(path: Path) -> int:
    """All cores for files over 8 MB, where starting worker processes pays off."""
    try:
        big = path.stat().st_size > 8 << 20
    except OSError:
        return 1
    return (os.cpu_count() or 1) if big else 1


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--as-of"
        ) from None


schema_app = typer.Typer(help="The published JSON Schema files.", no_args_is_help=True)


@schema_app.command("export")
def schema_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write into.")],
    version: Annotated[
        str, typer.Option("--version", help="Version of the standard: 1.1 (default) or 1.0.")
    ] = SCHEMA_VERSION,
) -> None:
    """Write the JSON Schema files (draft 2020-12) and the codelist CSV files of one version of
    the standard into DIRECTORY."""
    if version not in SCHEMA_VERSIONS:
        known = ", ".join(SCHEMA_VERSIONS)
        typer.echo(f"tongxin schema export: no version {version!r}; known: {known}", err=True)
        raise typer.Exit(2)
    for path in export(directory, version):
        typer.echo(str(path))


def codelists(
    name: Annotated[str | None, typer.Argument(help="Codelist to show; all when omitted.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """List the codelists, or the codes of one."""
    if name is not None and name not in CODELISTS:
        typer.echo(
            f"tongxin codelists: no codelist {name!r}; known: {', '.join(CODELISTS)}", err=True
        )
        raise typer.Exit(2)
    lists = [codelist(n) for n in ([name] if name else CODELISTS)]
    if output is OutputFormat.json:
        data = [
            {
                "name": c.name,
                "title": {"zh-CN": c.title_zh, "en": c.title_en},
                "source": c.source,
                "codes": [
                    {
                        "code": k.code,
                        "title": {"zh-CN": k.title_zh, "en": k.title_en},
                        "description": k.description,
                        "deprecated": k.deprecated or None,
                    }
                    for k in c.codes
                ],
            }
            for c in lists
        ]
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return
    for c in lists:
        typer.echo(f"{c.name}  {c.title_zh} / {c.title_en}  ({c.source}, {len(c.codes)} codes)")
        if name:
            for k in c.codes:
                flag = f"  [deprecated {k.deprecated}]" if k.deprecated else ""
                typer.echo(f"  {k.code}\t{k.title_zh}\t{k.title_en}{flag}")


def register(app: typer.Typer) -> None:
    """Add the standard's commands to ``app``."""
    app.command()(validate)
    app.command()(codelists)
    app.add_typer(schema_app, name="schema")
