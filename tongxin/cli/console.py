"""Console accounts: ``tongxin user create|list|disable|reset-password``.

Each parses its options, calls one function of ``tongxin.server`` and prints the result; a
one-time password goes to stdout (and nothing else does), messages to stderr.
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from .hub import Database, opened_hub

__all__ = ["register"]

user_app = typer.Typer(help="Manage console users (staff accounts).", no_args_is_help=True)

Username = Annotated[str, typer.Argument(help="The user's login name.")]


@user_app.command("create")
def user_create(
    username: Username,
    organisation: Annotated[
        str, typer.Option("--organisation", help="The user sees and acts in this subtree only.")
    ],
    role: Annotated[str, typer.Option("--role", help="admin, organiser, secretary or viewer.")],
    database: Database = None,
) -> None:
    """Create a user and print its one-time password (changed at the first login)."""
    from tongxin.server import create_user

    with opened_hub(database) as hub:
        password = create_user(hub.db, username, organisation, role)
    typer.echo(f"user {username} created ({role} of {organisation}); one-time password:", err=True)
    typer.echo(password)


@user_app.command("list")
def user_list(
    database: Database = None,
    output: Annotated[
        str, typer.Option("--format", help="text (a table) or json.", case_sensitive=False)
    ] = "text",
) -> None:
    """List the users (name, role, organisation, state); never their passwords."""
    from tongxin.server import list_users

    with opened_hub(database) as hub:
        found = list_users(hub.db)
    if output == "json":
        typer.echo(orjson.dumps([u.to_json() for u in found]).decode())
        return
    typer.echo("username\trole\torganisation\tstate\tfailed logins")
    for u in found:
        typer.echo(f"{u.username}\t{u.role}\t{u.organisation_id}\t{u.state}\t{u.failed_logins}")


@user_app.command("disable")
def user_disable(username: Username, database: Database = None) -> None:
    """Disable a user: it can no longer log in, and its sessions end at once."""
    from tongxin.server import disable_user

    with opened_hub(database) as hub:
        disable_user(hub.db, username)
    typer.echo(f"user {username} disabled", err=True)


@user_app.command("reset-password")
def user_reset_password(username: Username, database: Database = None) -> None:
    """Print a new one-time password; unlocks a locked account and ends its sessions."""
    from tongxin.server import reset_password

    with opened_hub(database) as hub:
        password = reset_password(hub.db, username)
    typer.echo(f"user {username}: new one-time password:", err=True)
    typer.echo(password)


def register(app: typer.Typer) -> None:
    """Add the console's commands to ``app``."""
    app.add_typer(user_app, name="user")
