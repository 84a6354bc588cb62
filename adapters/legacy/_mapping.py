"""The mapping file of a legacy platform: which hub the records belong to, where the source
database is, and one SQL query per collection whose column aliases are the standard's fields."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COLLECTIONS", "LegacyMapping", "MappingError", "Section", "load_mapping"]

#: The order records are sent in: what is referenced comes before what refers to it
#: (applicants, of standard 1.1, name members as their introducers and sponsors).
COLLECTIONS = ("organisations", "members", "activities", "duesPayments", "transfers", "applicants")


class MappingError(Exception):
    """The mapping file cannot be used; ``zh`` and ``en`` say why."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True, slots=True)
class Section:
    """One collection's query; ``cursor`` names an optional column that grows with every
    change (``updated_at``), read instead of a full snapshot for very large tables."""

    collection: str
    query: str
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LegacyMapping:
    """A parsed mapping file."""

    path: Path
    hub_id: str
    source_url: str
    sections: tuple[Section, ...]
    attendance: str | None = None

    @property
    def state_path(self) -> Path:
        """The agent's state file, beside the mapping."""
        return self.path.with_name(self.path.name + ".state")


def load_mapping(path: Path) -> LegacyMapping:
    """Read and check a mapping file."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read {path}: {exc}", f"无法读取 {path}：{exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(
            f"{path} is not valid TOML: {exc}", f"{path} 不是有效的 TOML 文件：{exc}"
        ) from None
    hub_id = raw.get("hub-id")
    source = raw.get("source", {})
    url = source.get("url") if isinstance(source, dict) else None
    if not isinstance(hub_id, str) or not hub_id:
        raise MappingError("the mapping needs hub-id", "映射文件缺少 hub-id（枢纽标识）")
    if not isinstance(url, str) or not url:
        raise MappingError(
            "the mapping needs [source] url", "映射文件缺少 [source] 下的 url（源数据库地址）"
        )
    sections = []
    for collection in COLLECTIONS:
        table = raw.get(collection)
        if table is None:
            continue
        query = table.get("query") if isinstance(table, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise MappingError(
                f"[{collection}] needs a query", f"[{collection}] 缺少 query（查询语句）"
            )
        cursor = table.get("cursor")
        sections.append(Section(collection, query.strip().rstrip(";"), cursor))
    unknown = set(raw) - {"hub-id", "source", "attendance", *COLLECTIONS}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise MappingError(f"unknown sections: {names}", f"映射文件中有无法识别的部分：{names}")
    if not sections:
        raise MappingError("the mapping maps no collection", "映射文件没有映射任何数据集合")
    attendance = raw.get("attendance", {}).get("query")
    return LegacyMapping(path, hub_id, url, tuple(sections), attendance)
