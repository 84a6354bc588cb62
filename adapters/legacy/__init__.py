"""Legacy platforms join the network: a mapping file (TOML) turns an existing MySQL/MariaDB,
PostgreSQL or SQLite database into standard records, and a sync agent sends the hub only what
changed since its last acknowledged run (inserts, updates and deletes)."""

from ._fields import field_kinds, row_hash, to_record, with_prefix
from ._mapping import COLLECTIONS, LegacyMapping, MappingError, Section, load_mapping
from ._propose import SYNONYMS, propose
from ._source import SourceError, Table, inspect_source
from ._sync import HubSink, PackageSink, SyncReport, run_sync

__all__ = [
    "COLLECTIONS",
    "SYNONYMS",
    "HubSink",
    "LegacyMapping",
    "MappingError",
    "PackageSink",
    "Section",
    "SourceError",
    "SyncReport",
    "Table",
    "field_kinds",
    "inspect_source",
    "load_mapping",
    "propose",
    "row_hash",
    "run_sync",
    "to_record",
    "with_prefix",
]
