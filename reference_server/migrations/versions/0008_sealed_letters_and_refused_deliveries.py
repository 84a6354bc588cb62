"""Letters sealed at rest; a delivery the peer refused for good ends instead of being retried.

``transfer_letters.letter`` held the signed letter envelope (personal data) in clear: existing
rows are sealed with the hub's field-encryption key, handed over by ``open_hub`` (a bare
``alembic upgrade`` without the key leaves them in clear: they still read, unsealed).
``transfer_letters.refused`` keeps the peer's problem when it refused a message permanently.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from tongxin.server._letters_at_rest import is_sealed, seal_letter

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfer_letters") as batch:
        batch.add_column(sa.Column("refused", sa.Text))
    seal_clear_letters(op.get_bind(), context.config.attributes.get("cipher"))


def seal_clear_letters(conn: sa.Connection, cipher: object) -> None:
    """Seal the letters stored in clear, when the key given is the database's key."""
    from tongxin.server._crypto import FieldCipher

    if not isinstance(cipher, FieldCipher):
        return
    stored_key = conn.execute(sa.text("SELECT key_id FROM hub_identity")).scalar()
    if stored_key is not None and stored_key != cipher.key_id:
        return  # the wrong key: the hub refuses to start right after, nothing is sealed
    rows = conn.execute(sa.text("SELECT transfer_id, letter FROM transfer_letters")).all()
    for transfer_id, letter in rows:
        if not is_sealed(letter):
            conn.execute(
                sa.text("UPDATE transfer_letters SET letter = :letter WHERE transfer_id = :id"),
                {"letter": seal_letter(cipher, transfer_id, letter), "id": transfer_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("transfer_letters") as batch:
        batch.drop_column("refused")
