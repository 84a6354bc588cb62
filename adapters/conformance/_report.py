"""The reports of a run: text (zh-CN first, English beside), JSON and JUnit XML."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from ._run import Report

__all__ = ["render", "to_json", "to_junit", "to_text"]

_MARK = {"pass": "通过 pass", "fail": "失败 FAIL", "skip": "跳过 skip"}


def to_text(report: Report) -> str:
    lines = [
        f"同心一致性检查 / Tongxin conformance: {report.target} (级别 level: {report.level})",
        f"发现文档声明的一致性 / claimed in discovery: {report.claimed or '—'}",
        "",
    ]
    for r in report.results:
        kind = "MUST" if r.check.must else "SHOULD"
        lines.append(
            f"[{_MARK[r.status]}] {r.check.id} {kind} {r.check.title_zh} / {r.check.title_en}"
            f" ({r.check.spec})"
        )
        if r.status == "skip":
            lines.append(f"    {r.detail_zh} / {r.detail}")
        if r.status == "fail":
            lines.append(f"    发现 / found: {r.detail_zh}")
            lines.append(f"                  {r.detail}")
            lines.append(f"    规范要求 / the spec requires ({r.check.spec}): {r.check.requires}")
            if r.exchange is not None:
                lines.append("    请求 / request:")
                lines.extend(f"      {line}" for line in r.exchange.request.splitlines())
                lines.append("    响应 / response:")
                lines.extend(f"      {line}" for line in r.exchange.response.splitlines())
    counts = {s: sum(1 for r in report.results if r.status == s) for s in _MARK}
    must_failed = [r.check.id for r in report.results if r.check.must and r.status == "fail"]
    lines.append("")
    lines.append(
        f"通过 {counts['pass']} 项，失败 {counts['fail']} 项，跳过 {counts['skip']} 项 / "
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
    )
    if report.written:
        lines.append(
            f"写入记录 / records written: {len(report.written)} "
            + ("（已删除 / deleted）" if not report.cleanup_failures else "")
        )
        lines.extend(f"    {e['type']} {e['id']}" for e in report.written)
    for failure in report.cleanup_failures:
        lines.append(f"未能删除 / not deleted: {failure}")
    if report.passed:
        lines.append(f"结论：符合 {report.level} 级别的全部 MUST 要求 / verdict: conforms")
    else:
        lines.append(
            f"结论：不符合，未通过的 MUST 检查：{', '.join(must_failed)}"
            " / verdict: does not conform"
        )
    lines.append("数据包的一致性请用 tongxin validate 检查 / data packages: tongxin validate")
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    checks = []
    for r in report.results:
        entry = {
            "id": r.check.id,
            "status": r.status,
            "must": r.check.must,
            "spec": r.check.spec,
            "detail": r.detail,
            "detailZh": r.detail_zh,
            "title": {"zh-CN": r.check.title_zh, "en": r.check.title_en},
        }
        if r.status == "fail":
            entry["requires"] = r.check.requires
            if r.exchange is not None:
                entry["request"], entry["response"] = r.exchange.request, r.exchange.response
        checks.append(entry)
    doc = {
        "target": report.target,
        "level": report.level,
        "passed": report.passed,
        "claimed": report.claimed,
        "checks": checks,
        "written": list(report.written),
        "notDeleted": list(report.cleanup_failures),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_junit(report: Report) -> str:
    failures = sum(1 for r in report.results if r.status == "fail")
    skipped = sum(1 for r in report.results if r.status == "skip")
    suite = ET.Element(
        "testsuite",
        name=f"tongxin-conformance-{report.level}",
        tests=str(len(report.results)),
        failures=str(failures),
        skipped=str(skipped),
        errors="0",
    )
    for r in report.results:
        kind = "MUST" if r.check.must else "SHOULD"
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"tongxin.conformance.{r.check.level}",
            name=f"{r.check.id} {kind} {r.check.title_en}",
        )
        if r.status == "skip":
            ET.SubElement(case, "skipped", message=r.detail)
        elif r.status == "fail":
            failure = ET.SubElement(case, "failure", message=r.detail, type=kind)
            parts = [r.detail_zh, r.detail, f"requires ({r.check.spec}): {r.check.requires}"]
            if r.exchange is not None:
                parts += ["request:", r.exchange.request, "response:", r.exchange.response]
            failure.text = "\n".join(parts)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def render(report: Report, fmt: str) -> str:
    return {"text": to_text, "json": to_json, "junit": to_junit}[fmt](report)
