"""Rosters in and out (党员花名册): import a branch's Excel or CSV roster as standard member
records, and its applicants sheet (入党申请人、积极分子、发展对象) as applicant records, with every
cell accounted for; export records to the standard roster layout."""

from ._export import APPLICANT_COLUMNS, EXPORT_COLUMNS, write_roster
from ._export import select as members_under
from ._headers import FIELDS, Header, MappingError, find_header, load_mapping, mapping_toml
from ._http import HubClient, HubRequestError
from ._hub import import_to_hub
from ._import import Options, Roster
from ._model import CellIssue, ImportResult
from ._package import import_to_package, load_package, place_branches
from ._read import ReadError, column_letter, read_sheets
from ._rules import ROSTER_RULES, roster_rule
from ._workbook import write_error_workbook

__all__ = [
    "APPLICANT_COLUMNS",
    "EXPORT_COLUMNS",
    "FIELDS",
    "ROSTER_RULES",
    "CellIssue",
    "Header",
    "HubClient",
    "HubRequestError",
    "ImportResult",
    "MappingError",
    "Options",
    "ReadError",
    "Roster",
    "column_letter",
    "find_header",
    "import_to_hub",
    "import_to_package",
    "load_mapping",
    "load_package",
    "mapping_toml",
    "members_under",
    "place_branches",
    "read_sheets",
    "roster_rule",
    "write_error_workbook",
    "write_roster",
]
