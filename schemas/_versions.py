"""Which version of the standard checks a document: the one its ``schemaVersion`` declares.

A streamed package is checked record by record, so the version must be known before the first
record: a package declares it before its record arrays (``spec/standard.md`` §6). A 1.0
package is checked exactly as by a 1.0 validator: the record arrays 1.1 adds are, in a 1.0
package, unknown top-level fields as they always were.
"""

from __future__ import annotations

from typing import Any

from ._checks import PackageState, RecordContext
from ._checks11 import enable
from ._issues import Issue
from ._rules import RULES
from ._schemacheck import package_version

__all__ = ["declared_version", "late_version"]


def declared_version(ctx: RecordContext, state: PackageState | None, value: Any) -> None:
    """Set the version of ``ctx`` (and ``state``) from a declared ``schemaVersion``."""
    if package_version(value) != "1.0":
        enable(ctx, state)


def late_version(early: dict[str, Any], header: dict[str, Any], version: str) -> list[Issue]:
    """A finding when the package declares a later version only after its records (which were
    then checked as 1.0)."""
    declared = header.get("schemaVersion")
    if "schemaVersion" in early or package_version(declared) == version:
        return []
    return [
        RULES["SCH-001"].issue(
            "/schemaVersion",
            detail_zh=f"标准版本 {declared} 须写在各记录数组之前：请把该字段移到数据包开头",
            detail_en=f"schemaVersion {declared} must come before the record arrays: move it "
            "to the start of the package",
        )
    ]
