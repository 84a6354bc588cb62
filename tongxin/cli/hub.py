"""Commands of the reference hub: ``serve``, ``init`` and ``token create|list|revoke``.

Each parses its options, calls one library function of ``tongxin.server`` and prints the
result; heavy imports (FastAPI, SQLAlchemy) happen inside the commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

if TYPE_CHECKING:
    from tongxin.server import Hub, Settings

__all__ = ["Database", "fail", "load_settings", "opened_hub", "register"]

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (default: TONGXIN_DATABASE_URL, else sqlite:///tongxin.db).",
    ),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and the command line; a bad value exits 1 naming it."""
    from pydantic import ValidationError

    from tongxin.server import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"])
            typer.echo(f"error: {name} = {problem.get('input')!r}: {problem['msg']}", err=True)
        raise typer.Exit(1) from None


def fail(error: Exception) -> typer.Exit:
    """The exit (1) of a command that failed, its message on stderr."""
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


@contextmanager
def opened_hub(database: str | None) -> Iterator[Hub]:
    """The frame of a command working on the hub's database: settings from the environment and
    ``--database``, the hub opened, then closed; a configuration or hub error, on opening or
    inside the block, exits 1 with its message."""
    from tongxin.server import ConfigurationError, HubError, open_hub

    try:
        hub = open_hub(load_settings(database_url=database))
        try:
            yield hub
        finally:
            hub.close()
    except (ConfigurationError, HubError) as error:
        raise fail(error) from None


def serve(
    database: Database = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [1].")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Run the hub (zero configuration: ./tongxin.db, created on first start)."""
    from tongxin.server import ConfigurationError
    from tongxin.server import serve as run

    try:
        settings = load_settings(database_url=database, host=host, port=port, workers=workers)
        run(settings, access_log=access_log)
    except ConfigurationError as error:
        raise fail(error) from None


def init(
    database: Database = None,
    hub_id: Annotated[
        str | None, typer.Option("--hub-id", help="This hub's id, e.g. cd-wuhou.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="This hub's name.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Where to keep the encryption key.")] = None,
) -> None:
    """Create the hub's database, identity, field-encryption key and signing keys."""
    from tongxin.federation import KeyStoreError
    from tongxin.server import ConfigurationError, init_hub

    try:
        settings = load_settings(
            database_url=database, hub_id=hub_id, hub_name=name, key_file=key_file
        )
        made = init_hub(settings, hub_id=hub_id, name=name)
    except (ConfigurationError, KeyStoreError) as error:
        raise fail(error) from None
    if made.renamed_from is not None:
        typer.echo(
            f"hub id changed from {made.renamed_from} to {made.hub_id} (the hub held no data yet)",
            err=True,
        )
    typer.echo(f"signing key fingerprint: {made.fingerprint}", err=True)
    typer.echo(f"hub {made.hub_id} ready; key: {made.key_location}", err=True)


token_app = typer.Typer(help="Manage bearer tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", help="records:read, records:read-sensitive, records:write or admin; repeat."
        ),
    ],
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", help="Limit the token to this organisation's subtree."),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the audit log.")] = "",
    rate_limit: Annotated[
        float | None,
        typer.Option(help="Requests per second (0 = unlimited; default: the hub's setting)."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="Refuse the token from then on: a duration (90d, 12h, 30m) or an ISO 8601 "
            "date or time (a date ends at 00:00 China Standard Time)."
        ),
    ] = None,
    database: Database = None,
) -> None:
    """Create a token and print it (and nothing else) on stdout."""
    from tongxin.server import create_token

    try:
        expires_at = None if expires is None else parse_expiry(expires)
    except ValueError as error:
        raise fail(error) from None
    with opened_hub(database) as hub:
        token = create_token(
            hub.db,
            [s for item in scope for s in item.split()],
            organisation_id=organisation,
            name=name,
            rate_limit=rate_limit,
            expires_at=expires_at,
        )
    typer.echo(token)


_UNITS = {"d": 86_400, "h": 3_600, "m": 60}


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``90d`` / ``12h`` / ``30m`` from now, or an ISO 8601 date (00:00 UTC+8) or time."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if value[:-1].isascii() and value[:-1].isdigit() and value[-1:] in _UNITS:
        return now + timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]])
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=8)))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--expires {text!r}: give a duration (90d, 12h, 30m) or an ISO 8601 date or time"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@token_app.command("list")
def token_list(
    database: Database = None,
    output: Annotated[
        str, typer.Option("--format", help="text (a table) or json.", case_sensitive=False)
    ] = "text",
) -> None:
    """List the tokens (id, name, scopes, organisation, state, expiry); never their secrets."""
    from tongxin.server import list_tokens

    with opened_hub(database) as hub:
        found = list_tokens(hub.db)
    if output == "json":
        typer.echo(orjson.dumps([t.to_json() for t in found]).decode())
        return
    typer.echo("id\tstate\tscopes\torganisation\texpires\tname")
    for t in found:
        expiry = "-" if t.expires_at is None else t.expires_at.isoformat(timespec="minutes")
        typer.echo(
            f"{t.id}\t{t.state}\t{','.join(t.scopes)}\t{t.organisation_id or '-'}\t"
            f"{expiry}\t{t.name}"
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (tk_…, from `token list`).")],
    database: Database = None,
) -> None:
    """Revoke a token: every worker refuses it within five seconds."""
    from tongxin.server import revoke_token

    with opened_hub(database) as hub:
        info = revoke_token(hub.db, token_id)
    typer.echo(f"revoked {info.id} at {info.revoked_at:%Y-%m-%d %H:%M:%S} UTC", err=True)


def register(app: typer.Typer) -> None:
    """Add the hub's commands to ``app``."""
    app.command()(serve)
    app.command()(init)
    app.add_typer(token_app, name="token")
