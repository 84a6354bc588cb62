"""The public API is locked: a change to what the packages export is a deliberate act."""

from __future__ import annotations

import tongxin
import tongxin.schemas

SCHEMAS_API = {
    "CODELISTS", "RECORD_TYPES", "RULES", "SCHEMA_BASE", "SCHEMA_VERSION", "SCHEMA_VERSIONS",
    "Activity", "Applicant", "Leader", "Attendance", "Code", "Codelist", "DuesPayment",
    "DuesPolicy", "Issue", "Member",
    "Organisation", "Package", "Package10", "PackageReadError", "PackageSyntaxError", "Record",
    "Report",
    "Rule", "Severity", "TongxinError", "Transfer", "all_schemas", "citizen_id_check",
    "codelist", "credit_code_check", "export", "field_title", "from_problem", "iter_issues",
    "rule", "schema_id",
    "valid_citizen_id", "valid_credit_code", "validate", "validate_record",
}  # fmt: skip
TOP_API = {
    "Issue", "PackageReadError", "Report", "Severity", "__version__", "iter_issues", "validate",
    "validate_record",
}  # fmt: skip


def test_schemas_exports() -> None:
    assert set(tongxin.schemas.__all__) == SCHEMAS_API
    assert all(hasattr(tongxin.schemas, name) for name in SCHEMAS_API)


def test_top_level_exports() -> None:
    assert set(tongxin.__all__) == TOP_API
    assert all(hasattr(tongxin, name) for name in TOP_API)
