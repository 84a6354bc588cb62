"""Formatting validation results: streamed JSON for machines, grouped text for people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

import orjson

from tongxin.schemas import RULES, Issue, Severity

__all__ = ["GroupedText", "JsonStream"]

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(slots=True)
class Tally:
    """Counts per severity, for the summary and the exit status."""

    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Severity})

    def add(self, issue: Issue) -> None:
        self.counts[issue.severity.value] += 1

    @property
    def valid(self) -> bool:
        return self.counts[Severity.ERROR.value] == 0


class JsonStream:
    """Writes ``{"issues": [...], "counts": {...}, "valid": bool}`` as issues arrive."""

    def __init__(self, out: IO[bytes], with_file: bool) -> None:
        self.out, self.with_file, self.first = out, with_file, True
        self.tally = Tally()
        out.write(b'{"issues":[')

    def write(self, issues: Iterable[Issue], file: str) -> None:
        for issue in issues:
            self.tally.add(issue)
            wire = issue.to_dict()
            if self.with_file:
                wire["file"] = file
            self.out.write((b"\n" if self.first else b",\n") + orjson.dumps(wire))
            self.first = False

    def close(self, error: dict[str, object] | None = None) -> None:
        """End the document; with ``error`` (a file that could not be read or checked) the
        document is still complete JSON, carries the error and is not valid."""
        tail: dict[str, object] = {} if error is None else {"error": error}
        tail.update(counts=self.tally.counts, valid=self.tally.valid and error is None)
        self.out.write(b"\n]," + orjson.dumps(tail)[1:] + b"\n")
        self.out.flush()


@dataclass(slots=True)
class _Group:
    count: int = 0
    examples: list[Issue] = field(default_factory=list)


class GroupedText:
    """Groups issues by rule and keeps the first examples of each, so a person reads a few
    groups instead of every line; memory stays bounded however many issues there are."""

    def __init__(self, out: IO[str], lang: str, examples: int = 5) -> None:
        self.out, self.lang, self.examples = out, lang, examples
        self.tally = Tally()

    def write(self, issues: Iterable[Issue], file: str) -> None:
        groups: dict[str, _Group] = {}
        for issue in issues:
            self.tally.add(issue)
            group = groups.setdefault(issue.rule, _Group())
            group.count += 1
            if len(group.examples) < self.examples:
                group.examples.append(issue)
        self.out.write(f"{file}\n")
        if not groups:
            self.out.write(
                "  " + ("没有发现问题" if self.lang == "zh" else "no issues found") + "\n"
            )
        ordered = sorted(groups.items(), key=lambda kv: (_ORDER[RULES[kv[0]].severity], kv[0]))
        for rule_id, group in ordered:
            rule = RULES[rule_id]
            title = rule.title_en if self.lang == "en" else rule.title_zh
            self.out.write(f"  {rule_id} [{rule.severity.value}] {title} × {group.count}\n")
            for issue in group.examples:
                self.out.write(f"    {issue.pointer or '/'}  {issue.message(self.lang)}\n")
            if group.count > len(group.examples):
                more = group.count - len(group.examples)
                self.out.write(
                    f"    … {'另有' if self.lang == 'zh' else 'and'} {more} "
                    f"{'处' if self.lang == 'zh' else 'more'}\n"
                )

    def close(self, error: dict[str, object] | None = None) -> None:
        c = self.tally.counts
        if self.lang == "en":
            line = f"{c['error']} errors, {c['warning']} warnings, {c['info']} infos"
        else:
            line = f"错误 {c['error']} 个，警告 {c['warning']} 个，提示 {c['info']} 个"
        self.out.write(line + "\n")
