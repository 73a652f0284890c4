"""The declarative base every room's tables derive from; it imports no room.

Every schema change goes through a migration in ``migrations/versions``. The full metadata
(every room's tables) is ``callcenter.store.registry.metadata``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import DeclarativeBase

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for growth.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass
