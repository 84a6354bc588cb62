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

if TYPE_CHECKING:  # explicit re-exports (`X as X`): the names of `_WHERE` below
    from ._accounts import UserInfo as UserInfo
    from ._accounts import create_user as create_user
    from ._accounts import disable_user as disable_user
    from ._accounts import list_users as list_users
    from ._accounts import reset_password as reset_password
    from ._backup import BackupInfo as BackupInfo
    from ._backup import backup as backup
    from ._backup import restore as restore
    from ._backup import verify_backup as verify_backup
    from ._backupfile import BackupError as BackupError
    from ._errors import ConfigurationError as ConfigurationError
    from ._errors import HubError as HubError
    from ._federation import Peer as Peer
    from ._federation import add_peer as add_peer
    from ._federation import list_peers as list_peers
    from ._hub import Hub as Hub
    from ._hub import open_hub as open_hub
    from ._maintenance import purge as purge
    from ._rotation import RotationResult as RotationResult
    from ._rotation import rotate_data_key as rotate_data_key
    from ._rounds import federation_round as federation_round
    from ._security import SCOPES as SCOPES
    from ._security import Principal as Principal
    from ._security import TokenInfo as TokenInfo
    from ._security import create_token as create_token
    from ._security import list_tokens as list_tokens
    from ._security import revoke_token as revoke_token
    from ._serve import serve as serve
    from ._service import HubInit as HubInit
    from ._service import MigrationPlan as MigrationPlan
    from ._service import create_record as create_record
    from ._service import delete_record as delete_record
    from ._service import init_hub as init_hub
    from ._service import migrate as migrate
    from ._service import replace_record as replace_record
    from ._settings import Settings as Settings

#: Where each public name lives: ``name -> (module, name there)``. The one list of the public
#: API: ``__all__`` is derived from it, and the imports above (for type checkers) must match it
#: (``tests/server/test_openapi.py``).
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
    "verify_backup": ("._backup", "verify_backup"),
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

__all__ = sorted(_WHERE)


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
