"""The Tongxin reference hub: settings, the hub object, tokens and the app factory.

Dependency direction: ``tongxin.server`` uses ``tongxin.schemas``; the HTTP layer
(``tongxin.server.api``) is the only part that imports FastAPI.
"""

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
    "create_token",
    "list_tokens",
    "open_hub",
    "purge",
    "revoke_token",
]
