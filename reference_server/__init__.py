"""The Tongxin reference hub: settings, the hub object and its operations, one function each.

Routes (``tongxin.server.api``) and CLI commands (``tongxin.cli``) parse their input, call one
of these functions and format the result; the modules behind them are private.

Dependency direction: ``tongxin.server`` uses ``tongxin.schemas`` and ``tongxin.federation``;
the HTTP layer (``tongxin.server.api``) is the only part that imports FastAPI
(``docs/architecture.md``).
"""

from ._backup import BackupInfo, backup, restore
from ._backup import verify as verify_backup
from ._backupfile import BackupError
from ._errors import ConfigurationError, HubError
from ._federation import Peer, add_peer, list_peers
from ._hub import Hub, open_hub
from ._maintenance import purge
from ._rotation import RotationResult, rotate_data_key
from ._rounds import federation_round
from ._security import SCOPES, Principal, TokenInfo, create_token, list_tokens, revoke_token
from ._serve import serve
from ._service import (
    HubInit,
    MigrationPlan,
    create_record,
    delete_record,
    init_hub,
    migrate,
    replace_record,
)
from ._settings import Settings

__all__ = [
    "SCOPES",
    "BackupError",
    "BackupInfo",
    "ConfigurationError",
    "Hub",
    "HubError",
    "HubInit",
    "MigrationPlan",
    "Peer",
    "Principal",
    "RotationResult",
    "Settings",
    "TokenInfo",
    "add_peer",
    "backup",
    "create_record",
    "create_token",
    "delete_record",
    "federation_round",
    "init_hub",
    "list_peers",
    "list_tokens",
    "migrate",
    "open_hub",
    "purge",
    "replace_record",
    "restore",
    "revoke_token",
    "rotate_data_key",
    "serve",
    "verify_backup",
]
