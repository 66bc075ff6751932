"""The outbox: one row per alert x channel, written before any send, marked sent only after.

A crash between send and mark re-sends on restart; channels that can (Slack) use the stored
message ts, or look the alert up by its key, to update instead of posting twice, and the
idempotency key stops double enqueues. Channels that cannot look anything up (webhooks, e-mail)
are at-least-once after a crash.

Any number of deliverers may share one outbox: a row is claimed with a lease (holder, expiry)
before it is sent, so only one of them sends it; the lease is released when the row is settled,
or runs out if its holder died. Lease times come from the database's clock, not the deliverer's,
so a host whose clock is off cannot take a row another holds. The claim is one UPDATE ... RETURNING over the oldest due row
(on PostgreSQL over `SELECT ... FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.message import AlertMessage
from crisiswatch.db import POSTGRESQL, Row, StateConnection, database_now
from crisiswatch.lease import LeaseKeeper
from crisiswatch.remask import Copies, Tally, mask_post_copies, remask_copies, rewrite_json

PENDING, SENT, FAILED = "pending", "sent", "failed"
HELD, DIGESTED = "held", "digested"  # low-severity rows waiting for the digest, and those it covered
# a settling UPDATE applies only while the deliverer settling it still holds the row's lease (or nobody took it
# since: an expired lease nobody claimed is still ours to settle)
HOLDER_CHECK = " AND lease_holder=?"
logger = logging.getLogger(__name__)


@dataclass
class OutboxRow:
    id: int
    key: str
    channel: str
    target: str
    message: AlertMessage
    status: str
    attempts: int
    external_id: str | None
    last_error: str | None
    in_flight: bool = False
    created_at: str = ""
    needs_fix: bool = False  # pending until a person fixes a token, a channel or a setting (last_error says what)


class ClaimKeeper(LeaseKeeper):
    """Keeps a claimed row's lease while its send is in flight (a thread renews it every ttl/3 on its own
    connection), so a live deliverer never loses its claim to a slow robot or SMTP server and another
    deliverer never sends the alert a second time; only a process that stopped renewing (dead, frozen,
    cut off from the database) loses it. `lost` says so, in one line, as for any lease."""

    def __init__(self, database: str, row_id: int, holder: str, ttl: timedelta) -> None:
        super().__init__(database, f"alert {row_id}", holder, ttl)
        self.row_id = row_id

    def _renew_on(self, conn: StateConnection) -> bool:
        return Outbox(conn).renew(self.row_id, self.holder, self.ttl)

    def _holder_on(self, conn: StateConnection) -> str | None:
        row = conn.execute("SELECT lease_holder FROM outbox WHERE id=?", (self.row_id,)).fetchone()
        return row[0] if row else None

    def _lose(self, why: str) -> None:
        logger.error("alert %s: %s lost its claim during the send (%s); another deliverer may send it too",
                     self.row_id, self.holder, why)
        self.lost.set()


@dataclass
class Trouble:
    """Rows with one kind of delivery trouble on one route (`crisiswatch status`, `alerts outbox`)."""
    status: str
    channel: str
    target: str
    needs_fix: bool      # waiting for a person to fix a token, a channel or a setting (OutboxRow.needs_fix)
    count: int
    since: str           # the oldest row's creation
    ids: list[int]
    last_error: str      # the newest row's
    attempts: int        # the most any of them has had
    next_attempt_at: str  # the soonest next try (pending rows)


def _row(r: Row) -> OutboxRow:
    return OutboxRow(r["id"], r["idempotency_key"], r["channel"], r["target"],
                     AlertMessage.from_dict(json.loads(r["message"])), r["status"], r["attempts"],
                     r["external_id"], r["last_error"], bool(r["in_flight"]), r["created_at"], bool(r["needs_fix"]))


class Outbox:
    def __init__(self, conn: StateConnection, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.conn = conn
        self.clock = clock

    def enqueue(self, key: str, channel: str, target: str, message: AlertMessage, *,
                not_before: datetime | None = None, status: str = PENDING) -> bool:
        """False when this key was already enqueued (the alert exists; nothing is duplicated)."""
        now = self.clock()
        cur = self.conn.execute(
            "INSERT INTO outbox(idempotency_key, channel, target, message, thread_key, status,"
            " next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (key, channel, target, json.dumps(message.to_dict(), ensure_ascii=False, default=str),
             message.thread_key, status, max(now, not_before or now).isoformat(), now.isoformat()),
        )
        return cur.rowcount == 1

    def mark_in_flight(self, row_id: int) -> None:
        """Set before a send and cleared only by success: the next attempt then looks for what landed."""
        self.conn.execute("UPDATE outbox SET in_flight=1 WHERE id=?", (row_id,))

    # leases ------------------------------------------------------------------------------------
    def claim(self, holder: str, ttl: timedelta, after_id: int = 0) -> OutboxRow | None:
        """The oldest due row past `after_id` that nobody holds, now leased to `holder` until now + ttl.

        SQLite runs the statement alone (one writer at a time). On PostgreSQL the inner SELECT locks
        the row it picks and skips rows another deliverer is claiming at that moment (FOR UPDATE SKIP
        LOCKED), and the outer WHERE checks the lease again on the row as locked, so two deliverers
        never both win one row and neither waits for the other."""
        due = self.clock().isoformat()
        now = self.database_now()  # leases: the database's clock, the one every deliverer shares
        free = "status=? AND next_attempt_at <= ? AND id > ? AND (lease_until IS NULL OR lease_until <= ?)"
        skip = " FOR UPDATE SKIP LOCKED" if self.conn.dialect == POSTGRESQL else ""
        args = (PENDING, due, after_id, now.isoformat())
        row = self.conn.execute(
            f"UPDATE outbox SET lease_holder=?, lease_until=? WHERE id = (SELECT id FROM outbox WHERE {free}"
            f" ORDER BY id LIMIT 1{skip}) AND {free} RETURNING *",
            (holder, (now + ttl).isoformat(), *args, *args),
        ).fetchall()
        return _row(row[0]) if row else None  # fetchall: the statement (and its write lock) must finish

    def renew(self, row_id: int, holder: str, ttl: timedelta) -> bool:
        """Extends our lease before a slow step; False when it ran out and another deliverer took the row."""
        now = self.database_now()
        cur = self.conn.execute("UPDATE outbox SET lease_until=? WHERE id=? AND lease_holder=? AND lease_until > ?",
                                ((now + ttl).isoformat(), row_id, holder, now.isoformat()))
        return cur.rowcount == 1

    def database_now(self) -> datetime:
        """Now by the state database's clock (`crisiswatch.db.database_now`), the one every deliverer shares."""
        return database_now(self.conn)

    def release(self, row_id: int, holder: str) -> None:
        """Gives a claimed row back untouched (it must wait for another row first)."""
        self.conn.execute("UPDATE outbox SET lease_holder=NULL, lease_until=NULL WHERE id=? AND lease_holder=?",
                          (row_id, holder))

    def held(self) -> list[OutboxRow]:
        return [_row(r) for r in self.conn.execute("SELECT * FROM outbox WHERE status=? ORDER BY id", (HELD,))]

    def mark_digested(self, row_ids: list[int], digest_key: str) -> None:
        self.conn.executemany("UPDATE outbox SET status=?, last_error=? WHERE id=? AND status=?",
                              [(DIGESTED, f"in {digest_key}", i, HELD) for i in row_ids])

    def with_prefix(self, prefix: str) -> list[OutboxRow]:
        """Rows whose key starts with `prefix` (e.g. every route an approval was asked on), oldest first."""
        rows = self.conn.execute("SELECT * FROM outbox WHERE substr(idempotency_key, 1, ?) = ? ORDER BY id",
                                 (len(prefix), prefix))
        return [_row(r) for r in rows.fetchall()]

    def by_key(self, key: str) -> OutboxRow | None:
        row = self.conn.execute("SELECT * FROM outbox WHERE idempotency_key=?", (key,)).fetchone()
        return _row(row) if row else None

    def due(self, now: datetime | None = None, limit: int = 100) -> list[OutboxRow]:
        now = now or self.clock()
        rows = self.conn.execute(
            "SELECT * FROM outbox WHERE status=? AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (PENDING, now.isoformat(), limit),
        ).fetchall()
        return [_row(r) for r in rows]

    def mark_sent(self, row_id: int, external_id: str | None, thread_id: str | None = None,
                  holder: str | None = None) -> bool:
        """Settles a delivered row. With `holder`, only while that deliverer still holds it: False (and one
        log line) when its lease ran out mid-send and another deliverer took the row, which is then theirs."""
        cur = self.conn.execute(
            "UPDATE outbox SET status=?, sent_at=?, external_id=COALESCE(?, external_id), in_flight=0,"
            " thread_id=COALESCE(?, thread_id), attempts=attempts+1, last_error=NULL, needs_fix=0, lease_holder=NULL,"
            f" lease_until=NULL WHERE id=?{HOLDER_CHECK if holder else ''}",
            (SENT, self.clock().isoformat(), external_id, thread_id, row_id, *((holder,) if holder else ())),
        )
        return self._settled(cur, row_id, holder, "sent")

    def _settled(self, cur, row_id: int, holder: str | None, what: str) -> bool:
        if holder is None or cur.rowcount == 1:
            return True
        now = self.conn.execute("SELECT status, lease_holder FROM outbox WHERE id=?", (row_id,)).fetchone()
        who = (f"{now['lease_holder']} holds it now" if now and now["lease_holder"]
               else f"another deliverer settled it meanwhile ({now['status'] if now else 'gone'})")
        logger.warning("alert %s: %s did not record it as %s: %s (its lease ran out during the send); left to"
                       " them", row_id, holder, what, who)
        return False

    def record_external_id(self, row_id: int, external_id: str) -> None:
        """Saved right after a post succeeds, so a crash before mark_sent updates instead of re-posting."""
        self.conn.execute("UPDATE outbox SET external_id=? WHERE id=?", (external_id, row_id))

    def mark_failed(self, row_id: int, error: str, retry_in: timedelta | None, *, count: bool = True,
                    in_flight: bool | None = None, holder: str | None = None, needs_fix: bool = False) -> bool:
        """Failed for good (retry_in None), or pending again in `retry_in`. `count=False`: the attempt does
        not count (a 429: the channel did not take the message); `in_flight` resets the in-flight mark
        (a 429 proves this post did not land, so an earlier attempt's mark is all that is left);
        `needs_fix`: it waits for a person, `error` saying what to fix (any other outcome clears the mark).
        With `holder`, only while that deliverer still holds the row (see mark_sent)."""
        bump = "attempts=attempts+1, " if count else ""
        flight = "in_flight=?, " if in_flight is not None else ""
        flight_arg = (int(in_flight),) if in_flight is not None else ()
        check, check_arg = (HOLDER_CHECK, (holder,)) if holder else ("", ())
        if retry_in is None:
            cur = self.conn.execute(f"UPDATE outbox SET status=?, {bump}{flight}last_error=?, needs_fix=?,"
                                    f" lease_holder=NULL, lease_until=NULL WHERE id=?{check}",
                                    (FAILED, *flight_arg, error[:500], int(needs_fix), row_id, *check_arg))
            return self._settled(cur, row_id, holder, "failed")
        cur = self.conn.execute(
            f"UPDATE outbox SET {bump}{flight}last_error=?, needs_fix=?, next_attempt_at=?, lease_holder=NULL,"
            f" lease_until=NULL WHERE id=?{check}",
            (*flight_arg, error[:500], int(needs_fix), (self.clock() + retry_in).isoformat(), row_id, *check_arg),
        )
        return self._settled(cur, row_id, holder, "to be retried")

    def needs_fix_besides(self, row_id: int, channel: str, target: str | None = None) -> bool:
        """Another row on this channel (and target, when given) already waits for a fix: one outage."""
        sql = "SELECT 1 FROM outbox WHERE needs_fix=1 AND status=? AND channel=? AND id <> ?"
        args: tuple = (PENDING, channel, row_id)
        if target is not None:
            sql, args = sql + " AND target=?", (*args, target)
        return self.conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def wake_needs_fix(self, channel: str) -> int:
        """The channel delivers again: its rows waiting for a fix are due now (each finds out for its target)."""
        now = self.clock().isoformat()
        return self.conn.execute("UPDATE outbox SET next_attempt_at=? WHERE needs_fix=1 AND status=? AND channel=?"
                                 " AND next_attempt_at > ?", (now, PENDING, channel, now)).rowcount

    def retry(self, row_ids: list[int] | None = None, *, needs_fix: bool = False) -> list[OutboxRow]:
        """Failed rows back to pending, due now, their attempts counted afresh (`row_ids` None: every failed
        row, or with `needs_fix` every row waiting for a fix, once it is fixed); a pending row among `row_ids`
        is made due now (say, once its token was fixed). Returns the rows as they were before. A row keeps
        its needs_fix mark until its next attempt settles it."""
        if row_ids is None and needs_fix:
            rows = self.conn.execute("SELECT * FROM outbox WHERE needs_fix=1 AND status=? ORDER BY id",
                                     (PENDING,)).fetchall()
        elif row_ids is None:
            rows = self.conn.execute("SELECT * FROM outbox WHERE status=? ORDER BY id", (FAILED,)).fetchall()
        else:
            rows = [r for i in row_ids for r in self.conn.execute(
                "SELECT * FROM outbox WHERE id=? AND status IN (?,?)", (i, FAILED, PENDING)).fetchall()]
        now = self.clock().isoformat()
        done = []
        for r in rows:
            if r["status"] == FAILED:
                cur = self.conn.execute("UPDATE outbox SET status=?, attempts=0, next_attempt_at=?, lease_holder=NULL,"
                                        " lease_until=NULL WHERE id=? AND status=?", (PENDING, now, r["id"], FAILED))
            else:
                cur = self.conn.execute("UPDATE outbox SET next_attempt_at=? WHERE id=? AND status=?",
                                        (now, r["id"], PENDING))
            if cur.rowcount == 1:
                done.append(_row(r))
        return done

    def waits_for_thread(self, row: OutboxRow) -> bool:
        """An update must not go out before its incident's first message, or it lands outside the thread."""
        if not row.message.thread_key:
            return False
        earlier = self.conn.execute(
            "SELECT 1 FROM outbox WHERE thread_key=? AND channel=? AND target=? AND id < ? AND status=? LIMIT 1",
            (row.message.thread_key, row.channel, row.target, row.id, PENDING),
        ).fetchone()
        return earlier is not None

    def thread_for(self, thread_key: str, channel: str, target: str) -> str | None:
        row = self.conn.execute(
            "SELECT thread_id FROM alert_threads WHERE thread_key=? AND channel=? AND target=?",
            (thread_key, channel, target),
        ).fetchone()
        return row[0] if row else None

    def remember_thread(self, thread_key: str, channel: str, target: str, thread_id: str) -> None:
        self.conn.execute(
            "INSERT INTO alert_threads(thread_key, channel, target, thread_id) VALUES (?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (thread_key, channel, target, thread_id),
        )

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {r[0]: r[1] for r in rows}

    def troubled(self, limit: int = 20) -> list[OutboxRow]:
        """Rows that failed for good or wait after a failed attempt, newest first."""
        return [_row(r) for r in self.conn.execute(
            "SELECT * FROM outbox WHERE status=? OR (status=? AND (needs_fix=1 OR (last_error IS NOT NULL"
            " AND last_error != ''))) ORDER BY id DESC LIMIT ?", (FAILED, PENDING, limit)).fetchall()]

    def trouble_summary(self) -> list[Trouble]:
        """The rows `troubled` lists, gathered by status, channel, target and kind of trouble: how many,
        since when (the oldest's creation), the newest's error. Failed first, then those waiting for a fix."""
        groups: dict[tuple[str, str, str, bool], Trouble] = {}
        for r in self.conn.execute(
                "SELECT id, status, channel, target, attempts, last_error, needs_fix, created_at, next_attempt_at"
                " FROM outbox WHERE status=? OR (status=? AND (needs_fix=1 OR (last_error IS NOT NULL"
                " AND last_error != ''))) ORDER BY id", (FAILED, PENDING)).fetchall():
            error = r["last_error"] or ""
            key = (r["status"], r["channel"], r["target"], r["status"] == PENDING and bool(r["needs_fix"]))
            t = groups.get(key)
            if t is None:
                t = groups[key] = Trouble(r["status"], r["channel"], r["target"], key[3], 0, r["created_at"], [],
                                          error, r["attempts"], r["next_attempt_at"])
            t.count += 1
            t.ids.append(r["id"])
            t.last_error, t.attempts = error, max(t.attempts, r["attempts"])
            t.next_attempt_at = min(t.next_attempt_at, r["next_attempt_at"])
        return sorted(groups.values(), key=lambda t: (t.status != FAILED, not t.needs_fix, t.since))

    def all(self) -> list[OutboxRow]:
        return [_row(r) for r in self.conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()]


# The alerts' copies of post text (an incident's top posts, as they were when the alert was written), masked
# again by `crisiswatch mentions remask`, whatever the row's status: a pending alert then goes out masked, a
# failed one is retried masked. A row a deliverer holds right now (its lease runs) is left alone: it is being
# sent from the copy read before, and the next run finds it settled. An alert already posted (sent, or
# posted and not yet confirmed) is rewritten here and counted as `delivered`: the channel keeps what it got.
ALERT_POSTS = Copies(
    store="outbox", table="outbox", column="message", rewrite=rewrite_json(mask_post_copies, default=str),
    guard="(lease_until IS NULL OR lease_until <= ?)",
    guard_args=lambda conn: (database_now(conn).isoformat(),),
    label=lambda row: f"alert {row['id']} ({row['channel']} {row['target']})",
    delivered=lambda row: row["status"] == SENT or bool(row["external_id"]),
    extra_columns=("status", "external_id", "channel", "target"),
)


def remask_outbox(conn: StateConnection, *, dry_run: bool = False, batch_size: int = 500,
                  progress: Callable[[Tally], None] | None = None) -> Tally:
    """Every alert's copies of post text, masked again; `delivered` names the changed ones already posted."""
    return remask_copies(conn, ALERT_POSTS, dry_run=dry_run, batch_size=batch_size, progress=progress)
