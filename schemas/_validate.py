"""The validator: schema, record rules and package rules over a streamed package."""

from __future__ import annotations

import io
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from . import problems
from ._checks import (
    DuesPolicy,
    PackageState,
    RecordContext,
    check_record,
    record_issues,
    well_formed,
)
from ._codelists import LATEST
from ._errors import TongxinError
from ._issues import Issue, Severity
from ._parallel import validate_parallel
from ._schemacheck import COLLECTIONS, COLLECTIONS_BY_VERSION, header_errors, record_errors
from ._stream import PackageSyntaxError, RecordItem, iter_package
from ._versions import declared_version, late_version

__all__ = ["PackageReadError", "Report", "iter_issues", "validate", "validate_record"]

Source = str | Path | bytes | IO[bytes] | dict[str, Any]
_COLLECTIONS = frozenset(COLLECTIONS)


class PackageReadError(TongxinError):
    """The input cannot be read or is not JSON; ``source`` names it (``package-unreadable``)."""

    status = 400

    def __init__(self, source: str, reason: str, reason_zh: str = "无法读取") -> None:
        super().__init__(
            problems.PACKAGE_UNREADABLE,
            f"{source}: {reason}",
            f"{source}：{reason_zh}",
            source=source,
            reason=reason,
        )

    def __str__(self) -> str:
        return self.detail_en

    @property
    def source(self) -> str:
        return str(self.extra.get("source", ""))

    @property
    def reason(self) -> str:
        return str(self.extra.get("reason", ""))


@dataclass(slots=True)
class Report:
    """All issues of one validation, with counts per severity."""

    issues: list[Issue] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(i.severity.value for i in self.issues)
        return {s.value: counted.get(s.value, 0) for s in Severity}

    @property
    def valid(self) -> bool:
        """True when there is no error (warnings and infos are allowed)."""
        return all(i.severity is not Severity.ERROR for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``tongxin validate --format json``."""
        return {
            "valid": self.valid,
            "counts": self.counts,
            "issues": [i.to_dict() for i in self.issues],
        }


def _today() -> date:
    return datetime.now(UTC).date()


def validate_record(
    collection: str,
    record: Any,
    *,
    as_of: date | None = None,
    dues: DuesPolicy | None = None,
    version: str = LATEST,
) -> list[Issue]:
    """Schema and single-record rules for one record of ``collection`` (``members``) in
    ``version`` of the standard (the latest unless told).

    Pointers are relative to the record (``/citizenId``).
    """
    if collection not in COLLECTIONS_BY_VERSION[version]:
        raise KeyError(collection)
    issues = record_errors(collection, record, version)
    if isinstance(record, dict):
        ctx = RecordContext(as_of or _today(), dues or DuesPolicy())
        declared_version(ctx, None, version)
        issues.extend(check_record(collection, well_formed(record, issues), "", ctx))
    return issues


def _items(
    source: Source, collections: set[str] | frozenset[str] = _COLLECTIONS, decode: bool = True
) -> Iterator[tuple[str, Any] | RecordItem]:
    """Top-level fields and record items of ``source``; the record arrays are those named in
    ``collections`` when the reader reaches them (the set grows once the version is known).
    Without ``decode`` most records come undecoded (``iter_package(decode=False)``)."""
    if isinstance(source, dict):
        for key, value in source.items():
            if key in collections and isinstance(value, list):
                yield from (RecordItem(key, i, v, b"") for i, v in enumerate(value))
            else:
                yield key, value
        return
    name = str(source) if isinstance(source, str | Path) else "<input>"
    try:
        if isinstance(source, str | Path):
            with Path(source).open("rb") as file:
                yield from iter_package(file, collections, decode=decode)
        else:
            stream = io.BytesIO(source) if isinstance(source, bytes) else source
            yield from iter_package(stream, collections, decode=decode)
    except OSError as exc:
        raise PackageReadError(name, exc.strerror or str(exc), "无法读取该文件") from None
    except UnicodeDecodeError as exc:
        raise PackageReadError(name, f"not UTF-8 text ({exc.reason})", "不是 UTF-8 文本") from None
    except PackageSyntaxError as exc:
        raise PackageReadError(
            name, f"not valid JSON: {exc}", f"不是有效的 JSON：{exc.detail_zh}"
        ) from None


def iter_issues(
    source: Source,
    *,
    as_of: date | None = None,
    dues: DuesPolicy | None = None,
    jobs: int = 1,
) -> Iterator[Issue]:
    """Validate a package, yielding issues as they are found (bounded memory).

    ``source`` is a path, bytes, a binary stream or an already parsed package. The reference
    date of time-dependent rules is ``as_of``, else the package's ``publishedAt`` when it comes
    before the records, else today. ``jobs`` > 1 checks records on that many processes (same
    result, same order). Raises :class:`PackageReadError` for unreadable input.
    """
    ctx = RecordContext(as_of or _today(), dues or DuesPolicy())
    state = PackageState()
    header: dict[str, Any] = {}
    collections = set(COLLECTIONS_BY_VERSION["1.0"])
    reread = _rereadable(source) if jobs > 1 else None
    items = _items(source, collections, decode=reread is None)
    if isinstance(source, dict):
        declared_version(ctx, state, source.get("schemaVersion"))
        collections.update(COLLECTIONS_BY_VERSION[ctx.version])
    fields = 0  # top-level fields before the first record, and the record arrays after each
    grown: dict[int, frozenset[str]] = {}
    for item in items:  # top-level fields before the first record may set the date and version
        if isinstance(item, RecordItem):
            items = itertools.chain([item], items)
            break
        fields += 1
        header[item[0]] = item[1]
        if item[0] == "publishedAt" and as_of is None:
            ctx.set_as_of(_published(item[1]) or ctx.as_of)
        if item[0] == "schemaVersion":
            declared_version(ctx, state, item[1])
            collections.update(COLLECTIONS_BY_VERSION[ctx.version])
            grown[fields] = frozenset(collections)
    early = dict(header)
    if jobs > 1 and not isinstance(source, dict):
        again = None if reread is None else _again(reread, fields, grown)
        yield from validate_parallel(items, ctx, state, jobs, header, again)
    else:
        for item in items:
            if not isinstance(item, RecordItem):
                header[item[0]] = item[1]
                continue
            issues, d = record_issues(item.collection, item.index, item.value, ctx)
            if d is not None:
                issues += state.add_digest(item.collection, item.index, d)
            if issues:
                yield from issues
    yield from header_errors(header)
    yield from late_version(early, header, ctx.version)
    yield from state.finish()


def _rereadable(source: Source) -> Callable[[], Source] | None:
    """A way to read ``source`` again from where its reading starts (none for a stream that
    cannot seek, or an already parsed package)."""
    if isinstance(source, bytes):
        return lambda: source
    if isinstance(source, str | Path):  # a regular file, not a pipe such as /dev/stdin
        try:
            return (lambda: source) if Path(source).is_file() else None
        except OSError:
            return None
    if isinstance(source, dict):
        return None
    try:
        start = source.tell() if source.seekable() else -1
    except (OSError, ValueError):
        return None
    if start < 0:
        return None

    def again() -> Source:
        source.seek(start)
        return source

    return again


def _again(
    reread: Callable[[], Source], fields: int, grown: dict[int, frozenset[str]]
) -> Callable[[int], Iterator[tuple[str, Any] | RecordItem]]:
    """``n`` → the items again (every record decoded) from the ``n``-th after the ``fields``
    top-level fields read before the first record."""
    return lambda n: _skip(reread(), fields + n, grown)


def _skip(
    source: Source, n: int, grown: dict[int, frozenset[str]]
) -> Iterator[tuple[str, Any] | RecordItem]:
    """The items of ``source`` (every record decoded) after the first ``n``, the record arrays
    growing after the same fields as in the first reading."""
    collections = set(COLLECTIONS_BY_VERSION["1.0"])
    items = _items(source, collections)
    for position, _ in zip(range(1, n + 1), items, strict=False):
        collections.update(grown.get(position, ()))
    return items


def _published(value: Any) -> date | None:
    try:
        return datetime.fromisoformat(value).date() if isinstance(value, str) else None
    except ValueError:
        return None


def validate(
    source: Source, *, as_of: date | None = None, dues: DuesPolicy | None = None, jobs: int = 1
) -> Report:
    """Validate a package and collect every issue into a :class:`Report`."""
    return Report(list(iter_issues(source, as_of=as_of, dues=dues, jobs=jobs)))
