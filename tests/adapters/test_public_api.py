"""The roster adapter's public API is locked: a change to what it exports is deliberate."""

from __future__ import annotations

import tongxin.adapters.roster as roster

ROSTER_API = {
    "APPLICANT_COLUMNS", "EXPORT_COLUMNS", "FIELDS", "ROSTER_RULES", "CellIssue", "Header",
    "HubClient",
    "HubRequestError", "ImportResult", "MappingError", "Options", "ReadError", "Roster",
    "column_letter", "find_header", "import_to_hub", "import_to_package", "load_mapping",
    "load_package", "mapping_toml", "members_under", "place_branches", "read_sheets",
    "roster_rule", "write_error_workbook",
    "write_roster",
}  # fmt: skip


def test_roster_exports() -> None:
    assert set(roster.__all__) == ROSTER_API
    assert all(hasattr(roster, name) for name in ROSTER_API)


def test_roster_rules_are_their_own_family() -> None:
    assert all(rule_id.startswith("ROS-") for rule_id in roster.ROSTER_RULES)
    for rule in roster.ROSTER_RULES.values():
        assert rule.message_zh.isascii() is False
        assert "--" not in rule.message_zh  # no command-line flags in a Chinese message
