"""Fair turns on Huey's one queue: a tenant's thousands of jobs never make another's wait.

Huey's Redis queue is one list, first in first out, so a tenant that queued 2,000 jobs would
have every other tenant's job wait behind all of them. Instead, a job's task waits in its
tenant's own list (keys.fair_jobs_prefix), the tenant waits in a ring of tenants with jobs
waiting (keys.fair_tenants_key, each tenant once), and Huey's list gets a *turn*: a task
with no arguments (`dispatch_job`, consumer/tasks.py). Whichever worker takes a turn runs the
next job of the tenant at the front of the ring, which goes to the back while it has jobs
left; it runs the job's own task inside that worker (huey.execute: the task's id,
revocation, retries and signals are Huey's as before). Turns are interchangeable, so a job
waits for at most one job of each other tenant with jobs waiting, whatever their number, and
tenants with batches share the workers evenly.

Each side is one Lua script, atomic in Redis: `push` (the task onto its tenant's list, the
tenant into the ring if it was not there, the turn onto Huey's list) is one round trip, as
Huey's own LPUSH was; `take` is one more per job. A turn lost (its worker died between taking
it and taking a job) leaves a job with no turn: recovery counts both once a minute and adds
the turns missing (`top_up`); a turn too many finds nothing, or runs a job early.

Only the Redis queue has turns: the embedded SQLite queue serves one machine (and the
immediate queue, tests), where the tasks go straight onto Huey's queue.
"""

from __future__ import annotations

from core import keys

_PUSH = """
if redis.call('RPUSH', KEYS[1], ARGV[2]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[1]) end
redis.call('LPUSH', KEYS[3], ARGV[3])
return 1
"""

_TAKE = """
for _ = 1, redis.call('LLEN', KEYS[1]) do
  local tenant = redis.call('LPOP', KEYS[1])
  if not tenant then return false end
  local jobs = ARGV[1] .. tenant
  local task = redis.call('LPOP', jobs)
  if task then
    if redis.call('LLEN', jobs) > 0 then redis.call('RPUSH', KEYS[1], tenant) end
    return task
  end
end
return false
"""


class FairQueue:
    """Per-tenant lists and their ring beside one RedisHuey's queue."""

    def __init__(self, conn, queue_name: str, huey_queue_key: str):
        self.conn = conn
        self.ring = keys.fair_tenants_key(queue_name)
        self.prefix = keys.fair_jobs_prefix(queue_name)
        self.huey_queue = huey_queue_key
        self._push = conn.register_script(_PUSH)
        self._take = conn.register_script(_TAKE)

    def push(self, tenant: str, task: bytes, turn: bytes):
        """`task` waits behind its tenant's others; `turn` goes onto Huey's queue."""
        self._push(
            keys=[self.prefix + tenant, self.ring, self.huey_queue], args=[tenant, task, turn]
        )

    def take(self) -> bytes | None:
        """The next task of the tenant whose turn it is (None when no job waits)."""
        return self._take(keys=[self.ring], args=[self.prefix])

    def waiting(self) -> dict[str, int]:
        """Jobs waiting for a turn, by tenant."""
        tenants = [t.decode() for t in self.conn.lrange(self.ring, 0, -1)]
        with self.conn.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                pipe.llen(self.prefix + tenant)
            return dict(zip(tenants, pipe.execute(), strict=True))

    def held(self) -> list[bytes]:
        """Every task waiting for a turn (recovery's check that marked tasks exist)."""
        tenants = [t.decode() for t in self.conn.lrange(self.ring, 0, -1)]
        with self.conn.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                pipe.lrange(self.prefix + tenant, 0, -1)
            return [task for tasks in pipe.execute() for task in tasks]

    def put_first(self, task: bytes):
        """`task` at the head of Huey's list (Huey pops from the right): the next taken."""
        self.conn.rpush(self.huey_queue, task)

    def add_turns(self, turns: list[bytes]):
        if turns:
            self.conn.lpush(self.huey_queue, *turns)
