"""``/console/stats``: every statistic of ``GET /v1/stats`` as a chart (where it is a
breakdown) with its table, for an organisation of the caller's subtree and a period; and
``/console/stats.xlsx``, the same tables as an Excel workbook (one sheet each, or the one asked
for with ``?table=``). The numbers are those of :func:`tongxin.server._stats.compute_stats`,
computed by the database and scoped by the signed-in user's subtree."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import xlsxwriter
from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tongxin.schemas import codelist
from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError
from tongxin.server._settings import Settings
from tongxin.server._stats import REQUIRED_EVERY, StatsQuery, compute_stats

from ._page import HEADERS, hub_of, lang_of, render, script_json, signed_in

__all__ = ["WORDS", "StatTable", "stat_tables", "stats_router", "workbook"]

#: key -> (zh-CN, en)
WORDS: dict[str, tuple[str, str]] = {
    "stats": ("统计报表", "Statistics"),
    "from": ("起始日期", "From"),
    "to": ("截止日期", "To"),
    "apply": ("统计", "Show"),
    "xlsx-all": ("下载全部报表（Excel）", "Download every table (Excel)"),
    "xlsx": ("下载此表（Excel）", "Download this table (Excel)"),
    "bad-date": ("日期无效，请按 年-月-日 填写", "Invalid date: use YYYY-MM-DD"),
    "period-note": (
        "三会一课和党费按所选期间统计（默认本季度至今）；年龄、预备期和任期按截止日期计算。",
        "Meetings and dues cover the chosen period (by default this quarter so far); ages, "
        "probation and terms are counted at the end date.",
    ),
    "item": ("项目", "Item"),
    "col-count": ("数量", "Count"),
    "rate": ("比率", "Rate"),
    "id": ("编号", "Id"),
    "col-name": ("名称", "Name"),
    "organisation": ("所在党组织", "Organisation"),
    "col-members": ("党员数", "Members"),
    "full-members": ("正式党员数", "Full members"),
    "joined": ("入党日期", "Joined"),
    "due-date": ("应转正日期", "Due"),
    "held": ("已开次数", "Held"),
    "required": ("应开次数", "Required"),
    "branches-meeting": ("达标支部数", "Branches meeting it"),
    "complete": ("全部达标", "Complete"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "paid": ("已交人月数", "Member-months paid"),
    "col-due": ("应交人月数", "Member-months due"),
    "month": ("月份", "Month"),
    "paid-members": ("交纳人数", "Members who paid"),
    "elected": ("选举日期", "Elected"),
    "term-years": ("任期（年）", "Term (years)"),
    "term-ends": ("届满日期", "Term ends"),
    "t-by-category": ("党员类别", "Members by category"),
    "t-by-gender": ("党员性别", "Members by gender"),
    "t-by-age": ("党员年龄段", "Members by age band"),
    "t-by-education": ("党员学历", "Members by education"),
    "t-by-ethnicity": ("党员民族", "Members by ethnicity"),
    "t-by-status": ("党籍状态", "Members by status"),
    "t-by-size": ("支部规模（党员人数）", "Branches by size (members)"),
    "t-under-three": ("正式党员不足 3 人的支部", "Branches under 3 full members"),
    "t-due": ("30 天内应转正的预备党员", "Probationers due within 30 days"),
    "t-overdue": ("已超期未转正的预备党员", "Probationers overdue"),
    "t-meetings-type": ("三会一课（按类型）", "Required meetings by type"),
    "t-meetings-branch": ("三会一课（按支部）", "Required meetings by branch"),
    "t-dues-month": ("党费交纳率（按月）", "Dues collection by month"),
    "t-dues-branch": ("党费交纳率（按支部）", "Dues collection by branch"),
    "t-transfers-state": ("组织关系转接（按状态）", "Transfers by state"),
    "t-transfers-waiting": ("在途转接已等待天数", "Transfers in flight: days waiting"),
    "t-transfers-took": ("已接收转接用时（天）", "Accepted transfers: days taken"),
    "t-term-ending": ("任期 90 天内届满的组织", "Terms ending within 90 days"),
    "t-term-ended": ("任期已届满的组织", "Terms ended"),
    "in-flight": ("在途转接", "Transfers in flight"),
    "average-days": ("平均用时（天）", "Average days"),
}
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True, slots=True)
class StatTable:
    """One table of the statistics: its key, title, column headings and rows; ``chart`` the
    ``GET /v1/stats`` path of the breakdown drawn above it (``pie`` or ``bar``), if any."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    chart: tuple[str, str] | None = None
    #: How many there are in all when ``rows`` lists only the first 100.
    total: int | None = None


def _items(stats: dict[str, Any], path: str) -> list[dict[str, Any]]:
    value: Any = stats
    for part in path.split("."):
        value = value.get(part, {}) if isinstance(value, dict) else {}
    return value if isinstance(value, list) else []


def stat_tables(stats: dict[str, Any], lang: str) -> list[StatTable]:
    """Every table of ``stats`` (a ``GET /v1/stats`` document) with headings in ``lang``."""
    w = {key: pair[1 if lang == "en" else 0] for key, pair in WORDS.items()}
    out: list[StatTable] = []

    def breakdown(key: str, path: str, kind: str) -> None:
        rows = [[i["label"][lang], i["count"]] for i in _items(stats, path)]
        out.append(StatTable(key, w[f"t-{key}"], [w["item"], w["col-count"]], rows, (path, kind)))

    for key, name, kind in (
        ("by-category", "byCategory", "pie"),
        ("by-gender", "byGender", "pie"),
        ("by-age", "byAgeBand", "bar"),
        ("by-education", "byEducation", "bar"),
        ("by-ethnicity", "byEthnicity", "bar"),
        ("by-status", "byStatus", "bar"),
    ):
        breakdown(key, f"members.{name}", kind)
    breakdown("by-size", "branches.bySize", "bar")
    under = stats["branches"]["underThreeFull"]
    out.append(
        StatTable(
            "under-three",
            w["t-under-three"],
            [w["id"], w["col-name"], w["col-members"], w["full-members"]],
            [[i["id"], i["name"], i["members"], i["fullMembers"]] for i in under["items"]],
            total=under["count"],
        )
    )
    for key, name in (("due", "dueWithin30Days"), ("overdue", "overdue")):
        part = stats["probation"][name]
        out.append(
            StatTable(
                key,
                w[f"t-{key}"],
                [w["id"], w["col-name"], w["organisation"], w["joined"], w["due-date"]],
                [
                    [i["id"], i["name"], i["organisationId"], i["joinedDate"], i["dueDate"]]
                    for i in part["items"]
                ],
                total=part["count"],
            )
        )
    meetings = stats["meetings"]
    out.append(
        StatTable(
            "meetings-type",
            w["t-meetings-type"],
            [w["item"], w["held"], w["required"], w["branches-meeting"]],
            [
                [i["label"][lang], i["count"], i["required"], i["branchesMeeting"]]
                for i in meetings["byType"]
            ],
            ("meetings.byType", "bar"),
        )
    )
    kinds = list(REQUIRED_EVERY)
    titles = [codelist("activity-type").title(k)[1 if lang == "en" else 0] for k in kinds]

    def branch_row(i: dict[str, Any]) -> list[Any]:
        done = w["yes" if i["complete"] else "no"]
        return [i["id"], i["name"], *(i["held"][k] for k in kinds), done]

    out.append(
        StatTable(
            "meetings-branch",
            w["t-meetings-branch"],
            [w["id"], w["col-name"], *titles, w["complete"]],
            [branch_row(i) for i in meetings["items"]],
            total=meetings["branches"],
        )
    )
    dues = stats["dues"]
    out.append(
        StatTable(
            "dues-month",
            w["t-dues-month"],
            [w["month"], w["paid-members"], w["col-members"], w["rate"]],
            [[i["code"], i["count"], dues["members"], i["rate"]] for i in dues["byMonth"]],
            ("dues.byMonth", "bar"),
        )
    )
    out.append(
        StatTable(
            "dues-branch",
            w["t-dues-branch"],
            [w["id"], w["col-name"], w["paid"], w["col-due"], w["rate"]],
            [
                [i["code"], i["label"][lang], i["count"], i["due"], i["rate"]]
                for i in dues.get("byBranch", [])
            ],
            ("dues.byBranch", "bar"),
        )
    )
    if "transfers" in stats:
        breakdown("transfers-state", "transfers.byState", "pie")
        breakdown("transfers-waiting", "transfers.waitingDays", "bar")
        breakdown("transfers-took", "transfers.tookDays", "bar")
    for key, name in (("term-ending", "endingWithin90Days"), ("term-ended", "ended")):
        part = stats["committees"][name]
        out.append(
            StatTable(
                key,
                w[f"t-{key}"],
                [w["id"], w["col-name"], w["elected"], w["term-years"], w["term-ends"]],
                [
                    [i["id"], i["name"], i["electedDate"], i["termYears"], i["termEnds"]]
                    for i in part["items"]
                ],
                total=part["count"],
            )
        )
    return out


def _sheet_name(title: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", title)[:28] or "sheet"
    name, n = base, 2
    while name.lower() in used:
        name, n = f"{base[:26]}~{n}", n + 1
    used.add(name.lower())
    return name


def workbook(tables: list[StatTable], heading: str) -> bytes:
    """An XLSX workbook with one sheet per table: its title and ``heading`` (scope, date),
    the column headings, then the rows. Text is always written as text (never a formula)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for table in tables:
        sheet = book.add_worksheet(_sheet_name(table.title, used))
        sheet.write_string(0, 0, table.title, bold)
        sheet.write_string(1, 0, heading)
        for col, name in enumerate(table.columns):
            sheet.write_string(3, col, name, bold)
            sheet.set_column(col, col, 18)
        for r, row in enumerate(table.rows, start=4):
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float):
                    sheet.write_string(r, col, str(value))
                else:
                    sheet.write_number(r, col, value)
    book.close()
    return out.getvalue()


def _day(text: str) -> date | str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return "bad-date"


def stats_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def compute(
        request: Request, organisation_id: str, start: str, end: str
    ) -> tuple[Session, dict[str, Any] | None, str | None]:
        session = await signed_in(request)
        first, last = _day(start), _day(end)
        if isinstance(first, str) or isinstance(last, str):
            return session, None, "bad-date"
        query = StatsQuery(organisation_id[:96] or None, first, last or date.today())
        try:
            stats = await to_thread.run_sync(
                compute_stats, hub_of(request), session.principal, query
            )
        except HubError as error:
            return session, None, error.message(lang_of(request))
        return session, stats, None

    @router.get("/console/stats")
    async def page(
        request: Request,
        organisationId: str = "",  # noqa: N803 (the API's parameter name)
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
    ) -> Response:
        session, stats, error = await compute(request, organisationId, start, end)
        orgs = await to_thread.run_sync(organisations, hub_of(request), session.principal)
        lang = lang_of(request)
        tables = stat_tables(stats, lang) if stats is not None else []
        query = {"organisationId": organisationId[:96], "from": start[:10], "to": end[:10]}
        return render(
            request,
            "stats.html",
            200 if error is None else 400,
            words=WORDS,
            session=session,
            stats=stats,
            stats_json=script_json(stats or {}),
            tables=tables,
            orgs=orgs,
            query=query,
            error=error,
        )

    @router.get("/console/stats.xlsx")
    async def download(
        request: Request,
        organisationId: str = "",  # noqa: N803 (the API's parameter name)
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
        table: str = "",
    ) -> Response:
        _session, stats, error = await compute(request, organisationId, start, end)
        if stats is None:
            return Response(error or "", 400, media_type="text/plain; charset=utf-8")
        lang = lang_of(request)
        tables = stat_tables(stats, lang)
        if table:
            tables = [t for t in tables if t.key == table]
            if not tables:
                return Response("", 404, media_type="text/plain; charset=utf-8")
        scope = stats["organisationId"] or ""
        heading = f"{scope} {stats.get('from') or ''}–{stats['asOf']}".strip()
        body = await to_thread.run_sync(workbook, tables, heading)
        name = f"tongxin-stats-{table or 'all'}-{stats['asOf']}.xlsx"
        headers = {
            **HEADERS,
            "Content-Disposition": f'attachment; filename="{name}"',
        }
        headers.pop("Content-Security-Policy")
        return Response(
            body,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=headers,
        )

    return router
