"""The discovery document served at ``/.well-known/tongxin``."""

from __future__ import annotations

from typing import Any

from tongxin.schemas import RECORD_TYPES, SCHEMA_VERSION, SCHEMA_VERSIONS

from ._crypto import SENSITIVE_FIELDS
from ._hub import Hub
from ._hubrules import HUB_RULES
from ._security import SCOPES

__all__ = ["API_VERSION", "discovery"]

API_VERSION = "1.0"


def discovery(hub: Hub) -> dict[str, Any]:
    """Who the hub is, what it serves, its limits, feeds and links."""
    s = hub.settings
    return {
        "hub": {"id": hub.hub_id, "name": hub.identity.name},
        "apiVersion": API_VERSION,
        "schemaVersions": list(SCHEMA_VERSIONS),
        "conformance": "core",
        "collections": [m.collection for m in RECORD_TYPES],
        "limits": {
            "pageSize": s.page_size,
            "maxPageSize": s.max_page_size,
            "maxBodyBytes": s.max_body_bytes,
            "maxValidateBytes": s.max_validate_bytes,
            "maxValidateIssues": s.max_validate_issues,
            "maxBulkLines": s.max_bulk_lines,
            "maxBulkLineBytes": s.max_bulk_line_bytes,
            "bulkBatchLines": s.bulk_batch_lines,
            "rateLimitPerSecond": s.rate_limit_per_second,
        },
        "feeds": {
            "changes": {
                "href": "/v1/changes",
                "order": "server-sequence",
                "tombstones": True,
                "tombstoneRetentionDays": s.tombstone_retention_days,
            },
        },
        "idempotency": {
            "header": "Idempotency-Key",
            "retentionHours": s.idempotency_retention_hours,
        },
        "concurrency": {"etag": "strong", "ifMatchRequired": True},
        "scopes": SCOPES,
        "sensitiveFields": SENSITIVE_FIELDS,
        "hubRules": sorted(HUB_RULES),
        "links": {
            "api": "/v1",
            "openapi": "/openapi.json",
            "docs": "/docs",
            "changes": "/v1/changes",
            "bulk": "/v1/bulk",
            "validate": "/v1/validate",
            "schemas": "https://tongxin.org.cn/schemas/" + SCHEMA_VERSION + "/",
        },
    }
