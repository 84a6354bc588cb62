"""``tongxin legacy inspect``: tables that look like members or organisations, and a mapping
proposed from their column names (pinyin abbreviations such as ``xm``, ``sfzh``, ``rdsj``, or
English names such as ``id_card``, ``join_date``)."""

from __future__ import annotations

from ._source import Table

__all__ = ["SYNONYMS", "propose"]

#: collection -> field -> column names seen on legacy platforms (lower case)
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "members": {
        "id": ("id", "dyid", "dy_id", "member_id", "ryid"),
        "name": ("xm", "xingming", "name", "dyxm", "real_name"),
        "gender": ("xb", "xingbie", "gender", "sex"),
        "ethnicity": ("mz", "minzu", "nation", "ethnicity"),
        "birthDate": ("csrq", "csny", "birthday", "birth_date", "birthdate"),
        "citizenId": ("sfzh", "sfz", "sfzhm", "id_card", "idcard", "id_no", "zjhm"),
        "education": ("xl", "whcd", "education", "edu"),
        "nativePlace": ("jg", "native_place"),
        "organisationId": ("dzz_id", "dzzid", "org_id", "branch_id", "szdzz_id", "dept_id"),
        "category": ("dylb", "rylb", "dyzt_lb", "category", "member_type"),
        "joinedDate": ("rdsj", "rdrq", "join_date", "rdny", "join_party_date"),
        "fullMembershipDate": ("zzsj", "zzrq", "regular_date", "full_date"),
        "status": ("djzt", "zt", "status"),
        "phone": ("lxdh", "sjhm", "phone", "mobile", "tel", "sjh"),
        "workUnit": ("gzdw", "work_unit", "company"),
    },
    "organisations": {
        "id": ("id", "org_id", "dzzid", "dzz_id", "dept_id"),
        "name": ("dzzmc", "org_name", "name", "mc", "dept_name"),
        "parentId": ("parent_id", "pid", "sjdzz_id", "sjdzzid", "parent_org_id"),
        "type": ("dzzlx", "org_type", "type", "lx", "dzzlb"),
        "divisionCode": ("xzqh", "xzqhdm", "division_code", "area_code"),
        "establishedDate": ("clrq", "clsj", "established", "create_date"),
        "creditCode": ("tyshxydm", "credit_code", "uscc"),
    },
}
_NEEDS = {"members": {"name", "citizenId"}, "organisations": {"name", "parentId"}}


def _match(collection: str, table: Table) -> dict[str, str]:
    found: dict[str, str] = {}
    lower = {c.lower(): c for c in table.columns}
    for field, names in SYNONYMS[collection].items():
        column = next((lower[n] for n in names if n in lower), None)
        if column is not None and column not in found.values():
            found[field] = column
    return found


def propose(hub_id: str, url: str, tables: list[Table]) -> str:
    """A mapping file (TOML) for the tables that look like members and organisations, with
    the columns it could not place listed as comments, for the vendor to edit."""
    out = [
        f'hub-id = "{hub_id}"',
        "",
        "[source]",
        f'url = "{url}"',
    ]
    for collection in ("organisations", "members"):
        best: tuple[int, Table, dict[str, str]] | None = None
        for table in tables:
            found = _match(collection, table)
            if not _NEEDS[collection] <= set(found):
                continue
            if best is None or len(found) > best[0]:
                best = (len(found), table, found)
        if best is None:
            continue
        _, table, found = best
        select = ", ".join(f"{col} AS {field}" for field, col in found.items())
        rest = [c for c in table.columns if c not in found.values()]
        out += ["", f"[{collection}]", f"# {table.name}: {table.rows} rows"]
        if rest:
            out.append("# not mapped (add an alias or leave out): " + ", ".join(rest))
        out.append(f'query = "SELECT {select} FROM {table.name}"')
    return "\n".join(out) + "\n"
