"""The Tongxin reference hub: settings, the hub object, tokens and the app factory.

Dependency direction: ``tongxin.server`` uses ``tongxin.schemas``; the HTTP layer
(``tongxin.server.api``) is the only part that imports FastAPI.
"""

from ._accounts import UserInfo, create_user, disable_user, list_users, reset_password
from ._errors import ConfigurationError, HubError
from ._hub import Hub, open_hub
from ._maintenance import purge
from ._security import SCOPES, Principal, TokenInfo, create_token, list_tokens, revoke_token
from ._settings import Settings

__all__ = [
    "SCOPES",
    "ConfigurationError",
    "Hub",
    "HubError",
    "Principal",
    "Settings",
    "TokenInfo",
    "UserInfo",
    "create_token",
    "create_user",
    "disable_user",
    "list_tokens",
    "list_users",
    "open_hub",
    "purge",
    "reset_password",
    "revoke_token",
]
