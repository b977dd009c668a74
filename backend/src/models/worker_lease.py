"""A worker process's lease on its calls, renewed in the database (the worker mode)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from src.core.database import Base, UTCDateTime


class WorkerLease(Base):
    """When a worker last renewed its lease: while that is recent it is not declared lost, even
    if its heartbeat in Redis cannot be seen (`services/conversations/leases.py`)."""

    __tablename__ = "worker_leases"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
