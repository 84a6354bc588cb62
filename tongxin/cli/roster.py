"""``tongxin roster import|mapping|export``: Excel and CSV rosters (党员花名册) in and out.

Exit status of ``import``: 0 when no row was rejected, 1 when any was, 2 when a file cannot be
read (or the hub cannot be reached). ``--format json`` prints one object in every case."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from tongxin.adapters.roster import (
    HubClient,
    HubRequestError,
    ImportResult,
    MappingError,
    Options,
    ReadError,
    Roster,
    find_header,
    import_to_hub,
    import_to_package,
    load_mapping,
    load_package,
    mapping_toml,
    members_under,
    place_branches,
    read_sheets,
    write_error_workbook,
    write_roster,
)

__all__ = ["register", "roster_app"]

roster_app = typer.Typer(
    help="Rosters (党员花名册) in and out: import Excel/CSV rosters, export the standard layout.",
    no_args_is_help=True,
)
_CHINA = timezone(timedelta(hours=8))


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


def _stamp() -> str:
    return datetime.now(UTC).astimezone(_CHINA).replace(microsecond=0).isoformat()


def _fail(output: OutputFormat, files: list[str], en: str, zh: str, lang: Lang) -> NoReturn:
    if output is OutputFormat.json:
        doc = {"files": files, "rows": 0, "accepted": 0, "rejected": 0, "skipped": 0,
               "issues": [], "error": {"message": {"zh-CN": zh, "en": en}}}  # fmt: skip
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    typer.echo(f"tongxin roster: {en if lang is Lang.en else zh}", err=True)
    raise typer.Exit(2)


@roster_app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Roster files: .xlsx, .xls or .csv.")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="Only this sheet.")] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Column mapping (TOML) from `roster mapping`.")
    ] = None,
    hub_id: Annotated[str | None, typer.Option("--hub-id", help="Hub id of new ids.")] = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Root organisation id.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Package file to write.")] = None,
    hub: Annotated[str | None, typer.Option("--hub", help="Hub URL to import into.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Token for --hub.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Error workbook (.xlsx) to write.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
    lang: Annotated[Lang, typer.Option("--lang", help="Message language.")] = Lang.zh,
) -> None:
    """Import rosters as member records (an applicants sheet as applicant records); every row
    accepted or reported at its cell. Exit 0 when no row was rejected, 1 when any was, 2 when a
    file cannot be read."""
    names = [str(f) for f in files]
    if out is not None and hub is not None:
        _fail(output, names, "give --out or --hub, not both", "--out 与 --hub 只能选一个", lang)
    if hub is not None and not token:
        _fail(output, names, "--hub needs --token", "--hub 需要同时提供 --token", lang)
    try:
        chosen = load_mapping(mapping) if mapping is not None else None
    except MappingError as exc:
        _fail(output, names, str(exc), f"映射文件无法使用：{exc}", lang)
    client = HubClient(hub, token or "") if hub is not None else None
    try:
        result = _run(files, out, client, chosen, sheet, hub_id, organisation, output, lang)
    except ReadError as exc:
        _fail(output, names, str(exc), f"{exc.path}：{exc.zh}", lang)
    except HubRequestError as exc:
        _fail(output, names, exc.en, exc.zh, lang)
    finally:
        if client is not None:
            client.close()
    if report is not None:
        write_error_workbook(result, report)
    _print(result, output, lang)
    raise typer.Exit(1 if result.rejected else 0)


def _run(
    files: list[Path],
    out: Path | None,
    client: HubClient | None,
    mapping: dict[str, str] | None,
    sheet: str | None,
    hub_id: str | None,
    organisation: str | None,
    output: OutputFormat,
    lang: Lang,
) -> ImportResult:
    if hub_id is None and organisation and ":" in organisation:
        hub_id = organisation.split(":", 1)[0]
    if hub_id is None and client is not None:
        hub_id = client.hub_id
    if hub_id is None and out is not None:
        hub_id = str((load_package(out) or {}).get("publisher") or "") or None
    if hub_id is None:
        _fail(output, [str(f) for f in files], "give --hub-id (or --organisation)",
              "请提供 --hub-id（或 --organisation）", lang)  # fmt: skip
    options = Options(hub_id, organisation, mapping, sheet, stamp=_stamp())
    options.as_of = datetime.now(_CHINA).date()
    if client is not None:
        return import_to_hub(files, client, options, _progress(output))
    if out is not None:
        return import_to_package(files, out, options)
    roster = Roster(options)  # a dry run: checked, nothing written
    roster.read(files)

    created = place_branches(roster, [])
    roster.created = {o["id"] for o in created}
    roster.assign_ids({})
    roster.link_people([])
    roster.check(created, [])
    return roster.finish()


class _Bar:
    """A rich progress bar on stderr for long hub imports."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("导入枢纽 / to hub", total=total)
        self.progress.update(self.task, completed=done, total=total)
        if done >= total:
            self.progress.stop()


def _progress(output: OutputFormat) -> _Bar | None:
    return _Bar() if sys.stderr.isatty() and output is OutputFormat.text else None


_SEVERITY = {"zh": {"error": "错误", "warning": "警告", "info": "提示"},
             "en": {"error": "error", "warning": "warning", "info": "info"}}  # fmt: skip


def _print(result: ImportResult, output: OutputFormat, lang: Lang) -> None:
    if output is OutputFormat.json:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict()) + b"\n")
        return
    zh = lang is Lang.zh
    for i in result.issues:
        where = f"{i.file} · {i.sheet}"
        if i.row is not None:
            where += f" · 第{i.row}行" if zh else f" · row {i.row}"
        if i.column:
            where += (
                f" · {i.column}列（{i.header}）" if zh else f" · column {i.column} ({i.header})"
            )
        message = i.message_zh if zh else i.message_en
        typer.echo(f"{where}: [{_SEVERITY[lang.value][i.severity.value]}] {message} ({i.rule})")
    if zh:
        typer.echo(f"共 {result.rows} 行：接受 {result.accepted} 行，拒绝 {result.rejected} 行；"
                   f"跳过空行和重复表头 {result.skipped} 行")  # fmt: skip
    else:
        typer.echo(f"{result.rows} rows: {result.accepted} accepted, {result.rejected} rejected; "
                   f"{result.skipped} blank or repeated header rows skipped")  # fmt: skip


@roster_app.command("mapping")
def mapping_(
    files: Annotated[list[Path], typer.Argument(help="Roster files.")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="Only this sheet.")] = None,
) -> None:
    """Print the detected column mapping as TOML (edit it, pass it back with --mapping); an
    unrecognised column is listed commented out. Exit 2 when a file cannot be read."""
    found = []
    for path in files:
        try:
            for s in read_sheets(path, sheet):
                head = [r for _, r in zip(range(30), s.rows, strict=False)]
                header = find_header(head)
                if header is not None:
                    found.append((str(path), s.name, header))
                else:
                    typer.echo(f"# {path} · {s.name}: 未找到表头 / no header row", err=True)
        except ReadError as exc:
            typer.echo(f"tongxin roster: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(mapping_toml(found))
    unknown = sum(1 for _, _, h in found for f in h.fields.values() if f is None)
    if unknown:
        typer.echo(f"未识别的列 {unknown} 个 / {unknown} unrecognised column(s)", err=True)


@roster_app.command("export")
def export_(
    package: Annotated[
        Path | None, typer.Argument(help="Package (JSON) to export; or use --hub.")
    ] = None,
    hub: Annotated[str | None, typer.Option("--hub", help="Hub URL to export from.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Token for --hub.")] = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only members under this organisation.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Roster workbook (.xlsx) to write.")] = Path(
        "roster.xlsx"
    ),
) -> None:
    """Write members (and applicants, on a second sheet) to the standard roster layout (Chinese
    headers, titles, Excel dates)."""
    if (package is None) == (hub is None) or (hub is not None and not token):
        typer.echo("tongxin roster export: give PACKAGE.json or --hub URL --token TOKEN", err=True)
        raise typer.Exit(2)
    try:
        orgs, members, applicants = _source(package, hub, token or "")
    except (ReadError, HubRequestError) as exc:
        typer.echo(f"tongxin roster export: {exc}", err=True)
        raise typer.Exit(2) from None
    chosen = members_under(orgs, members, organisation)
    waiting = members_under(orgs, applicants, organisation)
    title = next((o["name"] for o in orgs if o["id"] == organisation), None)
    heading = f"{title}党员花名册" if title else "党员花名册"
    count = write_roster(out, orgs, chosen, heading, waiting)
    typer.echo(f"{out}: {count} 名党员，{len(waiting)} 名入党申请人 / "
               f"{count} members, {len(waiting)} applicants")  # fmt: skip


Records = list[dict[str, Any]]
_COLLECTIONS = ("organisations", "members", "applicants")


def _source(package: Path | None, hub: str | None, token: str) -> tuple[Records, Records, Records]:
    """Organisations, members and applicants of the package or the hub."""
    if package is not None:
        data = load_package(package)
        if data is None:
            raise ReadError(package, "no such file", "文件不存在")
        orgs, members, applicants = (list(data.get(k, [])) for k in _COLLECTIONS)
        return orgs, members, applicants
    client = HubClient(hub or "", token)
    try:
        orgs = list(client.records("organisations"))
        out = [orgs]
        for collection in ("members", "applicants"):
            try:
                out.append(list(client.records(collection, include="sensitive")))
            except HubRequestError:  # a token without records:read-sensitive
                out.append(list(client.records(collection)))
        return out[0], out[1], out[2]
    finally:
        client.close()


def register(app: typer.Typer) -> None:
    """Add ``tongxin roster`` to ``app``."""
    app.add_typer(roster_app, name="roster")
