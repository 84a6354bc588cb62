"""The conformance kit: checks with stable ids that a vendor runs against its own platform to
prove it speaks the hub API of the standard (``tongxin conformance URL``). The checks are
declared in one table (:data:`CHECKS`); ``spec/conformance.md`` is generated from it."""

from ._catalogue import CHECKS, by_id
from ._model import LEVELS, Check, Result, Target
from ._report import render, to_json, to_junit, to_text
from ._run import Report, TargetError, checks_for, cleanup, run

__all__ = [
    "CHECKS",
    "LEVELS",
    "Check",
    "Report",
    "Result",
    "Target",
    "TargetError",
    "by_id",
    "checks_for",
    "cleanup",
    "render",
    "run",
    "to_json",
    "to_junit",
    "to_text",
]
