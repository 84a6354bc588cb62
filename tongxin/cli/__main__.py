"""``python -m tongxin.cli`` runs the ``tongxin`` command."""

from tongxin.cli import main

main()
