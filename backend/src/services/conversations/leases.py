"""Worker leases: liveness a worker proves in the database, beside its heartbeat in Redis.

A worker's conversations end as `worker_lost` only when its Redis heartbeat has been missing
for LOST_AFTER_SECONDS *and* its lease (renewed every LEASE_RENEW_SECONDS) is older than
LEASE_SECONDS. A worker cut off from Redis alone still reaches the database and its users: it
keeps its calls (their media never touches Redis) instead of being declared lost while its bots
run. A worker that can write neither (cut off from both, or both down) for FENCE_AFTER_SECONDS
stops its bots itself (`worker_lost`), before anyone may declare it lost: a call is never ended
in the database while its bot still runs.

The lease compares the worker's clock with the reaper's: the machines' clocks must agree to
well under FENCE_AFTER_SECONDS' margin (NTP keeps them within milliseconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from src.core.clock import utcnow
from src.core.database import Database
from src.models.worker_lease import WorkerLease

LEASE_RENEW_SECONDS = 1.0
LEASE_SECONDS = 5.0
# Below LEASE_SECONDS and the heartbeat's TTL + LOST_AFTER_SECONDS (6 s) by 2 s: the time
# a worker has to stop its bots, and the clocks' disagreement.
FENCE_AFTER_SECONDS = 3.0


class WorkerLeases:
    """The workers' leases in the database.

    Args:
        database: The database.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    async def renew(self, worker_id: str, at: datetime) -> None:
        """Record that the worker was alive `at` (taken before the write)."""
        async with self._database.sessionmaker.begin() as session:
            result = await session.execute(
                update(WorkerLease).where(WorkerLease.worker_id == worker_id).values(renewed_at=at)
            )
            if not getattr(result, "rowcount", 0):
                # Only this worker writes its row: no other insert can race this one.
                session.add(WorkerLease(worker_id=worker_id, renewed_at=at))

    async def held(self, worker_ids: list[str]) -> set[str]:
        """Those of `worker_ids` whose lease is younger than LEASE_SECONDS."""
        if not worker_ids:
            return set()
        cutoff = utcnow() - timedelta(seconds=LEASE_SECONDS)
        async with self._database.sessionmaker() as session:
            found = await session.scalars(
                select(WorkerLease.worker_id).where(
                    WorkerLease.worker_id.in_(worker_ids), WorkerLease.renewed_at > cutoff
                )
            )
            return set(found)

    async def drop(self, worker_id: str) -> None:
        """Forget the worker's lease (it stopped, or it was declared lost)."""
        async with self._database.sessionmaker.begin() as session:
            await session.execute(delete(WorkerLease).where(WorkerLease.worker_id == worker_id))


def fenced(now: float, heartbeat_ok: float, lease_ok: float) -> bool:
    """Whether a worker must stop its bots: neither its heartbeat nor its lease was written
    (monotonic times at which the last successful writes began) for FENCE_AFTER_SECONDS."""
    return now - max(heartbeat_ok, lease_ok) >= FENCE_AFTER_SECONDS
