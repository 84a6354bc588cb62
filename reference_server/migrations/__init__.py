"""Alembic migrations of the hub's database (run by ``tongxin init`` / ``tongxin serve``)."""
