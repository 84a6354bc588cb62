"""The Tongxin reference hub: settings, the hub object and its operations, one function each.

Routes (``tongxin.server.api``) and CLI commands (``tongxin.cli``) parse their input, call one
of these functions and format the result; the modules behind them are private.

Dependency direction: ``tongxin.server`` uses ``tongxin.schemas`` and ``tongxin.federation``;
the HTTP layer (``tongxin.server.api``) is the only part that imports FastAPI
(``docs/architecture.md``).

Each name is imported from its module on first use, so that ``import tongxin.server`` (done by
every worker process and CLI command) costs only what the caller uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._accounts import UserInfo, create_user, disable_user, list_users, reset_password
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
    "UserInfo",
    "add_peer",
    "backup",
    "create_record",
    "create_token",
    "create_user",
    "delete_record",
    "disable_user",
    "federation_round",
    "init_hub",
    "list_peers",
    "list_tokens",
    "list_users",
    "migrate",
    "open_hub",
    "purge",
    "replace_record",
    "reset_password",
    "restore",
    "revoke_token",
    "rotate_data_key",
    "serve",
    "verify_backup",
]

#: Where each public name lives: ``name -> (module, name there)``.
_WHERE = {
    "UserInfo": ("._accounts", "UserInfo"),
    "create_user": ("._accounts", "create_user"),
    "disable_user": ("._accounts", "disable_user"),
    "list_users": ("._accounts", "list_users"),
    "reset_password": ("._accounts", "reset_password"),
    "BackupError": ("._backupfile", "BackupError"),
    "BackupInfo": ("._backup", "BackupInfo"),
    "backup": ("._backup", "backup"),
    "restore": ("._backup", "restore"),
    "verify_backup": ("._backup", "verify"),
    "ConfigurationError": ("._errors", "ConfigurationError"),
    "HubError": ("._errors", "HubError"),
    "Peer": ("._federation", "Peer"),
    "add_peer": ("._federation", "add_peer"),
    "list_peers": ("._federation", "list_peers"),
    "Hub": ("._hub", "Hub"),
    "open_hub": ("._hub", "open_hub"),
    "purge": ("._maintenance", "purge"),
    "RotationResult": ("._rotation", "RotationResult"),
    "rotate_data_key": ("._rotation", "rotate_data_key"),
    "federation_round": ("._rounds", "federation_round"),
    "SCOPES": ("._security", "SCOPES"),
    "Principal": ("._security", "Principal"),
    "TokenInfo": ("._security", "TokenInfo"),
    "create_token": ("._security", "create_token"),
    "list_tokens": ("._security", "list_tokens"),
    "revoke_token": ("._security", "revoke_token"),
    "serve": ("._serve", "serve"),
    "HubInit": ("._service", "HubInit"),
    "MigrationPlan": ("._service", "MigrationPlan"),
    "create_record": ("._service", "create_record"),
    "delete_record": ("._service", "delete_record"),
    "init_hub": ("._service", "init_hub"),
    "migrate": ("._service", "migrate"),
    "replace_record": ("._service", "replace_record"),
    "Settings": ("._settings", "Settings"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
