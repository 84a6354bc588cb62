"""Operations commands: ``backup``, ``restore`` and ``migrate`` (``docs/operations.md``).

The backup passphrase comes from ``TONGXIN_BACKUP_PASSPHRASE`` or an interactive prompt, never
from the command line (where other users and the shell history would see it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .hub import Database, load_settings

__all__ = ["register"]

PASSPHRASE_ENV = "TONGXIN_BACKUP_PASSPHRASE"


def _passphrase(*, confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    prompt: str = typer.prompt(
        "备份口令 / backup passphrase", hide_input=True, confirmation_prompt=confirm
    )
    return prompt


def _fail(error: Exception) -> typer.Exit:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(error, SQLAlchemyError):  # the first line names the cause, not the SQL
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        error = Exception(f"数据库错误：{cause}\ndatabase error: {cause}")
    typer.echo(f"错误 / error:\n{error}", err=True)
    return typer.Exit(1)


def backup(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write an encrypted backup of the hub here.")
    ] = None,
    verify: Annotated[
        Path | None,
        typer.Option("--verify", help="Check this backup file without restoring it."),
    ] = None,
    database: Database = None,
) -> None:
    """Back up the hub while it serves (database, keys, settings; encrypted), or check a backup."""
    from sqlalchemy.exc import SQLAlchemyError

    from tongxin.server import BackupError, ConfigurationError, verify_backup
    from tongxin.server import backup as run_backup

    if (out is None) == (verify is None):
        typer.echo("error: give exactly one of --out FILE or --verify FILE", err=True)
        raise typer.Exit(2)
    try:
        if verify is not None:
            info = verify_backup(verify, _passphrase(confirm=False))
            typer.echo(f"备份完整 / backup intact: {info.summary()}")
            for name, rows in sorted(info.tables.items()):
                typer.echo(f"  {name}\t{rows}")
            return
        assert out is not None
        settings = load_settings(database_url=database)
        info = run_backup(settings, out, _passphrase(confirm=True))
    except (BackupError, ConfigurationError, SQLAlchemyError) as error:
        raise _fail(error) from None
    typer.echo(f"已写入 / written {out}: {info.summary()}", err=True)


def restore(
    file: Annotated[Path, typer.Argument(help="A backup made by `tongxin backup --out`.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a database and keys that are not empty (stop the hub first)."
        ),
    ] = False,
    database: Database = None,
) -> None:
    """Restore a backup into an empty database and key location (a new feed epoch)."""
    from sqlalchemy.exc import SQLAlchemyError

    from tongxin.server import BackupError, ConfigurationError
    from tongxin.server import restore as run_restore

    try:
        settings = load_settings(database_url=database)
        info = run_restore(settings, file, _passphrase(confirm=False), force=force)
    except (BackupError, ConfigurationError, SQLAlchemyError) as error:
        raise _fail(error) from None
    typer.echo(f"已恢复 / restored {info.summary()}", err=True)


def migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the pending migrations; change nothing.")
    ] = False,
    database: Database = None,
) -> None:
    """Upgrade the database schema to this release (back up first: `tongxin backup`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from tongxin.server import ConfigurationError
    from tongxin.server import migrate as run_migrate

    try:
        settings = load_settings(database_url=database)
        plan = run_migrate(settings, dry_run=dry_run)
    except (ConfigurationError, SQLAlchemyError) as error:
        raise _fail(error) from None
    before = plan.before or "empty"
    if dry_run:
        typer.echo(f"schema {before} -> {plan.head}: {len(plan.steps)} pending")
        for step in plan.steps:
            typer.echo(f"{step.revision}\t{step.title}")
        return
    typer.echo(f"migrated {before} -> {plan.head} ({len(plan.steps)} migrations)", err=True)


def rotate_data_key(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Values re-encrypted per transaction.")
    ] = 500,
    settle_seconds: Annotated[
        float,
        typer.Option(
            "--settle-seconds",
            min=0,
            help="Wait before the confirming sweep, longer than any write takes [60].",
        ),
    ] = 60.0,
    crash_after: Annotated[
        int | None,
        typer.Option("--crash-after-batches", hidden=True, help="Testing: SIGKILL itself."),
    ] = None,
    database: Database = None,
) -> None:
    """Re-encrypt every sensitive field with a new data key while the hub serves (resumable)."""
    import signal

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy.exc import SQLAlchemyError

    from tongxin.server import ConfigurationError
    from tongxin.server import rotate_data_key as run_rotation

    def crash(batches: int) -> None:
        if crash_after is not None and batches >= crash_after:
            os.kill(os.getpid(), signal.SIGKILL)

    bar = Progress(
        TextColumn("重新加密 / re-encrypting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task("rotate", total=None)
    try:
        settings = load_settings(database_url=database)
        with bar:
            result = run_rotation(
                settings,
                batch_size=batch_size,
                settle_seconds=settle_seconds,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                after_batch=crash,
            )
    except (ConfigurationError, SQLAlchemyError) as error:
        raise _fail(error) from None
    how = "续完 / resumed and finished" if result.resumed else "完成 / done"
    typer.echo(
        f"数据密钥已轮换，旧密钥已从密钥文件删除 / data key rotated, old key removed from the "
        f"key file ({how}: {result.resealed} values re-encrypted in {result.sweeps} sweeps)",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add the operations commands to ``app``."""
    from .federation import keys_app

    app.command()(backup)
    app.command()(restore)
    app.command()(migrate)
    keys_app.command("rotate-data-key")(rotate_data_key)
