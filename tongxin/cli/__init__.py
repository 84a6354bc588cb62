"""The ``tongxin`` command line: one small module per command group, wired here.

Commands parse their arguments, call one library function and format the result; exit codes:
0 success, 1 the input has errors (``validate``) or the operation failed, 2 unusable input.
"""

from __future__ import annotations

import typer

from . import conformance, console, federation, hub, legacy, ops, roster, standard

__all__ = ["app", "main"]

app = typer.Typer(
    name="tongxin",
    help="Tongxin (同心): validate records of the standard and run a federation hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
standard.register(app)
hub.register(app)
federation.register(app)
ops.register(app)
roster.register(app)
legacy.register(app)
console.register(app)
conformance.register(app)


def main() -> None:
    """Entry point of the ``tongxin`` script."""
    app()
