"""Tongxin (同心): an open data standard and federation service for grass-roots Party-building
platforms. The standard's validator is available at the top level::

    import tongxin
    report = tongxin.validate("package.json")
"""

from tongxin.schemas import (
    Issue,
    PackageReadError,
    Report,
    Severity,
    iter_issues,
    validate,
    validate_record,
)

__version__ = "1.0.0"
__all__ = [
    "Issue",
    "PackageReadError",
    "Report",
    "Severity",
    "__version__",
    "iter_issues",
    "validate",
    "validate_record",
]
