"""Chinese words the rule messages put in for codes (record types, dues classes), so that a
zh-CN message carries no English word or internal code."""

from __future__ import annotations

from functools import cache

from ._codelists import codelist

__all__ = ["CHECK_ZH", "class_zh", "collection_zh"]

#: The end of a message on a wrong check character: what the character should be.
CHECK_ZH = "校验位错误，按前十七位计算应为 {expected}：请核对号码"
_COLLECTIONS_ZH = {
    "organisations": "党组织",
    "members": "党员",
    "activities": "组织生活",
    "duesPayments": "党费",
    "transfers": "组织关系转接",
    "applicants": "入党申请人",
}


def collection_zh(collection: str) -> str:
    """The Chinese name of a record type by its package key."""
    return _COLLECTIONS_ZH.get(collection, "记录")


@cache
def class_zh(code: str) -> str:
    """The Chinese title of a dues member class (``salaried``: 在职)."""
    try:
        return codelist("member-class", "1.0").title(code)[0]
    except KeyError:
        return "该类别"
