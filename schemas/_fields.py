"""Field helpers shared by the record models: bilingual metadata, codelist-backed strings and
the identifier, date and money formats of the standard."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from ._codelists import codelist

__all__ = [
    "CODE_PATTERNS",
    "Amount",
    "CitizenId",
    "CodeOf",
    "CreditCode",
    "DivisionCode",
    "Period",
    "RecordId",
    "field",
]

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CODE_PATTERNS = {
    "citizenId": r"^[0-9]{17}[0-9Xx]$",
    "creditCode": r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    "divisionCode": r"^[0-9]{6}$",
    "period": r"^[0-9]{4}-(0[1-9]|1[0-2])$",
    "amount": r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$",
    "phone": r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$",
}

RecordId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=96),
    Field(
        json_schema_extra={
            "title": "记录标识 / Record identifier",
            "description": (
                "发布枢纽标识、冒号与本地标识，全国唯一。"
                " / The publishing hub's id, a colon and a local id; unique nationwide."
            ),
        }
    ),
]
CitizenId = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["citizenId"])]
CreditCode = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["creditCode"])]
DivisionCode = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["divisionCode"])]
Period = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["period"])]
Amount = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["amount"])]
Phone = Annotated[str, StringConstraints(pattern=CODE_PATTERNS["phone"])]


class CodeOf:
    """A string whose value must come from the named codelist (closed list).

    The JSON Schema gets ``enum`` (generated from the CSV), ``codelist`` and ``openCodelist``.
    """

    def __init__(self, name: str, version: str = "1.0") -> None:
        self.name, self.version = name, version

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        values = frozenset(codelist(self.name, self.version).values)
        name = self.name

        def check(value: str) -> str:
            if value not in values:
                raise PydanticCustomError(
                    "codelist",
                    "{value} is not a code of codelist {name}",
                    {"value": value, "name": name},
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        listed = codelist(self.name, self.version)
        out["enum"] = list(listed.values)
        out["codelist"] = listed.filename
        out["openCodelist"] = False
        return out


def field(
    zh: str,
    en: str,
    *,
    zh_desc: str = "",
    en_desc: str = "",
    default: Any = ...,
    deprecated: str | None = None,
    **kwargs: Any,
) -> Any:
    """A model field with a bilingual title and description (``中文 / English``)."""
    extra: dict[str, Any] = {"title": f"{zh} / {en}"}
    if zh_desc or en_desc:
        extra["description"] = f"{zh_desc} / {en_desc}"
    if deprecated:
        extra["deprecated"] = True
        extra["x-deprecatedVersion"] = deprecated
    return Field(default, json_schema_extra=extra, **kwargs)
