"""The Tongxin standard: record models, published schemas, codelists, rules and the validator.

The names exported are those of the latest version (1.1); ``SCHEMA_VERSIONS`` lists every
version a validator accepts, and the 1.0 models stay in ``tongxin.schemas._models``.

``tongxin.schemas`` imports nothing else of Tongxin; every other part builds on it. Its error
model (:class:`TongxinError`, the problem catalogue :mod:`tongxin.schemas.problems`) is the one
the hub and the federation derive theirs from.
"""

from ._checkdigits import citizen_id_check, credit_code_check, valid_citizen_id, valid_credit_code
from ._checks import DuesPolicy
from ._codelists import CODELISTS, Code, Codelist, codelist
from ._errors import TongxinError, from_problem
from ._generate import SCHEMA_BASE, all_schemas, export, schema_id
from ._issues import Issue, Severity
from ._models import Activity, Attendance, DuesPayment, Member, Record, Transfer
from ._models import Package as Package10
from ._models11 import (
    RECORD_TYPES,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    Applicant,
    Leader,
    Organisation,
    Package,
)
from ._rules import RULES, Rule, rule
from ._schemacheck import field_title
from ._stream import PackageSyntaxError
from ._validate import PackageReadError, Report, iter_issues, validate, validate_record

__all__ = [
    "CODELISTS",
    "RECORD_TYPES",
    "RULES",
    "SCHEMA_BASE",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "Activity",
    "Applicant",
    "Attendance",
    "Code",
    "Codelist",
    "DuesPayment",
    "DuesPolicy",
    "Issue",
    "Leader",
    "Member",
    "Organisation",
    "Package",
    "Package10",
    "PackageReadError",
    "PackageSyntaxError",
    "Record",
    "Report",
    "Rule",
    "Severity",
    "TongxinError",
    "Transfer",
    "all_schemas",
    "citizen_id_check",
    "codelist",
    "credit_code_check",
    "export",
    "field_title",
    "from_problem",
    "iter_issues",
    "rule",
    "schema_id",
    "valid_citizen_id",
    "valid_credit_code",
    "validate",
    "validate_record",
]
