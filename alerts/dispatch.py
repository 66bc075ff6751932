"""Routes alerts to channels through the outbox and delivers what is due.

Low-severity alerts may wait: for the digest (gathered and sent on a schedule) or for the end of
quiet hours in the team's time zone. Updates to a muted incident are not sent at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.channels.base import (
    NEEDS_FIX,
    RATE_LIMITED,
    TRANSIENT,
    UNKNOWN,
    Channel,
    Delivery,
    DeliveryError,
    LookupRefused,
)
from alerts.channels.console import ConsoleChannel
from alerts.channels.dingtalk import DingTalkChannel
from alerts.channels.email import EmailChannel
from alerts.channels.feishu import FeishuChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.slack_ids import SlackChannelIds
from alerts.channels.slack_webhook import SlackWebhookChannel
from alerts.channels.wecom import WeComChannel
from alerts.message import AlertMessage
from alerts.outbox import HELD, PENDING, ClaimKeeper, Outbox, OutboxRow
from crisiswatch.config import Config, Route
from crisiswatch.db import StateConnection, transaction
from crisiswatch.lease import new_holder
from crisiswatch.mention import severity_rank

logger = logging.getLogger(__name__)
INCIDENT_KINDS = {"incident_opened", "incident_updated", "incident_escalated", "incident_resolved"}
ROOT_WAIT = timedelta(minutes=2)
MUTABLE_KINDS = {"incident_updated", "incident_escalated"}  # a resolution still gets through a mute


UNCONFIGURED_RETRY = timedelta(minutes=5)
RETRY_CAP = timedelta(minutes=5)        # the longest back-off between tries while a channel is down
NEEDS_FIX_RETRY = timedelta(minutes=10)  # between tries while a token or a channel waits for a person
RATE_LIMIT_WAIT = timedelta(seconds=30)  # a 429 without Retry-After
RATE_LIMIT_CAP = timedelta(minutes=15)   # a Retry-After beyond this is not believed
LOOKUP_REFUSED = object()                # _earlier_post: the channel may not look
WEBHOOK_TIMEOUT = 10.0  # seconds a robot webhook may take to answer (less, with a short outbox lease)


@dataclass
class DeliveryPass:
    """What one delivery pass did with the rows it claimed. A rate-limited alert is waiting, not failed: the
    channel did not take it and asked to be tried again later, which the outbox does by itself."""
    sent: int = 0
    rate_limited: int = 0   # a 429: tried again after its Retry-After, not an attempt
    failed: int = 0         # not delivered otherwise: an outage (retried), a fix awaited, a refusal for good
    next_try: timedelta | None = None  # the soonest try again of a rate-limited alert

    def waited(self, wait: timedelta) -> None:
        self.rate_limited += 1
        self.next_try = wait if self.next_try is None else min(self.next_try, wait)

    def summary(self) -> str:
        """The line `crisiswatch alerts deliver` prints (a cron job or a systemd unit logs it)."""
        line = f"alerts: {self.sent} sent, {self.failed} failed" + (
            " (`crisiswatch alerts outbox` says why)" if self.failed else "")
        if self.rate_limited and self.next_try is not None:
            line += (f"; {self.rate_limited} rate limited, waiting (not failed): the channel asked to be tried"
                     f" again later, next try in {self.next_try.total_seconds():.0f} s")
        return line


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … seconds after each failed attempt, at most RETRY_CAP."""
    return timedelta(seconds=min(2 ** min(attempts, 16), RETRY_CAP.total_seconds()))
UNCONFIGURED_HINT = {"slack": "its bot token is not in the environment", "email": "no SMTP settings"}


def build_channels(config: Config, conn: StateConnection | None = None) -> dict[str, Channel]:
    """Console always; Slack when its token is in the environment; each other routed channel type.

    With the state database Slack keeps the channel ids it resolved there (lookups after a restart)."""
    alerts = config.alerts
    channels: dict[str, Channel] = {"console": ConsoleChannel()}
    token = os.environ.get(alerts.slack.token_env)
    if token:
        channels["slack"] = SlackChannel(token, base_url=alerts.slack.base_url, default_target=alerts.slack.channel,
                                         upload_charts=alerts.slack.upload_charts, ids=SlackChannelIds(conn),
                                         token_env=alerts.slack.token_env)
    routes = [*alerts.routes, *([alerts.operator_route] if alerts.operator_route else [])]
    secrets = {r.url_env: r.secret_env for r in routes if r.url_env and r.secret_env}
    kinds = {r.channel for r in routes}
    # every wait of a send (a robot's answer, each SMTP reply) is shorter than the claim it is sent under
    wait = send_timeout(WEBHOOK_TIMEOUT, alerts.outbox_lease_seconds)
    relays = tuple(alerts.webhook_relay_hosts)  # where robot URLs may point besides the platforms' own hosts
    if "slack_webhook" in kinds:
        channels["slack_webhook"] = SlackWebhookChannel(timeout=wait, relay_hosts=relays)
    if "wecom" in kinds:
        channels["wecom"] = WeComChannel(timeout=wait, relay_hosts=relays)
    if "dingtalk" in kinds:
        channels["dingtalk"] = DingTalkChannel(secrets, timeout=wait, relay_hosts=relays)
    if "feishu" in kinds:
        channels["feishu"] = FeishuChannel(secrets, timeout=wait, relay_hosts=relays)
    if "email" in kinds:
        channels["email"] = EmailChannel(alerts.email, timeout=send_timeout(alerts.email.timeout,
                                                                             alerts.outbox_lease_seconds))
    return channels


def send_timeout(seconds: float, lease_seconds: float) -> float:
    """A network wait of a send, at most a third of the outbox lease (one renewal round of its claim): a request
    that hangs ends well before the claim it runs under could run out."""
    return min(seconds, lease_seconds / 3)


def unavailable_routes(config: Config, channels: dict[str, Channel]) -> list[str]:
    """Routes whose channel this process cannot send on, each said as what happens to its alerts instead."""
    routes = [*config.alerts.routes, *([config.alerts.operator_route] if config.alerts.operator_route else [])]
    return [f"route {r.name!r} is {r.channel} but ${config.alerts.slack.token_env} is not set: its new alerts print "
            "to this process's console" for r in routes if r.channel == "slack" and "slack" not in channels]


def quiet_until(config: Config, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (team time zone), or None outside them."""
    quiet = config.alerts.quiet_hours
    if quiet is None:
        return None
    zone = ZoneInfo(config.alerts.timezone)
    local = now.astimezone(zone)
    start, end = (time.fromisoformat(quiet.start), time.fromisoformat(quiet.end))
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if start > end and t >= start else local.date()
    return datetime.combine(end_day, end, zone).astimezone(UTC)


class AlertDispatcher:
    def __init__(self, config: Config, conn: StateConnection, channels: dict[str, Channel],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), holder: str | None = None) -> None:
        self.config = config
        self.conn = conn
        self.outbox = Outbox(conn, clock)
        self.channels = channels
        self.clock = clock
        # this dispatcher's name on the outbox rows it claims (a run worker's id, so `status` shows them)
        self.holder = holder or new_holder("deliver")

    def _pair(self, route: Route) -> tuple[str, str]:
        if route.channel in self.channels:
            return route.channel, route.address or (self.config.alerts.slack.channel if route.channel == "slack" else "")
        return "console", route.target or ""

    def routes_for(self, message: AlertMessage) -> list[tuple[str, str]]:
        """(channel, target) pairs for a message, by brand and minimum severity; unconfigured falls back to console.

        Operator alerts (source health, dead-man, outages, delivery trouble) go only to the operator
        route; without one, to every crisis route, so a dead loop is never only a console line.
        """
        if message.kind == "operator":
            route = self.config.alerts.operator_route
            if route:
                return [self._pair(route)]
            return list(dict.fromkeys(self._pair(r) for r in self.config.alerts.routes)) or [("console", "operator")]
        out = []
        for route in self.config.alerts.routes:
            if route.brands and message.brand not in route.brands:
                continue
            if severity_rank(message.severity) < severity_rank(route.min_severity):
                continue
            pair = self._pair(route)
            if pair not in out:
                out.append(pair)
        return out

    def muted(self, message: AlertMessage) -> bool:
        if message.incident_id is None or message.kind not in MUTABLE_KINDS:
            return False
        row = self.conn.execute("SELECT muted_until FROM incidents WHERE id=?", (message.incident_id,)).fetchone()
        return bool(row and row[0] and datetime.fromisoformat(row[0]) > self.clock())

    def _low(self, message: AlertMessage, ceiling: str) -> bool:
        return message.kind in INCIDENT_KINDS and severity_rank(message.severity) <= severity_rank(ceiling)

    def enqueue(self, key: str, message: AlertMessage) -> int:
        """Writes one outbox row per route; returns how many were new (0 for a muted incident's update)."""
        if self.muted(message):
            logger.info("%s muted: %s not sent", message.incident_id, message.kind)
            return 0
        routes = self.routes_for(message)
        if not routes and not any(not r.brands or message.brand in r.brands for r in self.config.alerts.routes):
            # below every route's min_severity is the routes' choice; no route for the brand at all is a gap
            logger.warning("%s alert %r for brand %r is not sent: no route in alerts.routes covers the brand",
                           message.severity, message.title, message.brand)
        return sum(self.enqueue_to(f"{key}|{ch}|{target}", ch, target, message) for ch, target in routes)

    def enqueue_to(self, key: str, channel: str, target: str, message: AlertMessage) -> bool:
        """One row for an explicit channel and target (escalation steps, approvals)."""
        alerts, now = self.config.alerts, self.clock()
        if alerts.digest.enabled and self._low(message, alerts.digest.max_severity):
            return self.outbox.enqueue(key, channel, target, message, status=HELD)
        later = quiet_until(self.config, now) if alerts.quiet_hours and self._low(
            message, alerts.quiet_hours.max_severity) else None
        return self.outbox.enqueue(key, channel, target, message, not_before=later)

    def flush_digest(self, force: bool = False) -> int:
        """Gathers held low-severity alerts into one digest per channel once the oldest has waited
        `digest.every_minutes` (or at once with force); returns how many digests were enqueued."""
        held = self.outbox.held()
        now = self.clock()
        every = timedelta(minutes=self.config.alerts.digest.every_minutes)
        if not held or (not force and now - datetime.fromisoformat(held[0].created_at) < every):
            return 0
        groups: dict[tuple[str, str], list[OutboxRow]] = {}
        for row in held:
            groups.setdefault((row.channel, row.target), []).append(row)
        made = 0
        for (channel, target), rows in groups.items():
            key = f"digest|{channel}|{target}|{rows[0].id}-{rows[-1].id}"
            items = [{"at": r.created_at, "severity": r.message.severity, "title": r.message.title,
                      "summary": r.message.summary, "incident_id": r.message.incident_id} for r in rows]
            gravest = max((r.message.severity for r in rows), key=severity_rank)
            digest = AlertMessage(kind="digest", title=f"舆情摘要 Digest · {len(rows)} 条低级别提醒",
                                  severity=gravest, brand=",".join(sorted({r.message.brand for r in rows})),
                                  summary=f"{len(rows)} alerts", facts={"items": items},
                                  timezone=self.config.alerts.timezone)
            later = quiet_until(self.config, now) if self.config.alerts.quiet_hours else None
            made += self.outbox.enqueue(key, channel, target, digest, not_before=later)
            self.outbox.mark_digested([r.id for r in rows], key)
        return made

    def _operator_notice(self, row: OutboxRow, error: str, attempts: int) -> None:
        """A channel that keeps failing is itself an alert, on the operator route (another channel).
        When the only route is the failing one, the notice is a log line instead (and `crisiswatch
        status` / `alerts outbox` list the row and why)."""
        message = AlertMessage(kind="operator", title=f"告警通道故障 {row.channel} delivery failing",
                               severity="重要", brand=row.message.brand,
                               summary=f"{attempts} failed attempts to {row.channel} {row.target}: {error}"
                                       f" — alert: {row.message.title}", timezone=self.config.alerts.timezone)
        others = [(c, t) for c, t in self.routes_for(message) if (c, t) != (row.channel, row.target)]
        for channel, target in others:
            self.outbox.enqueue(f"operator:delivery:{row.id}|{channel}|{target}", channel, target, message)
        if not others:
            logger.error("alert delivery to %s %s is failing (%d attempts): %s — no other route to tell the operator"
                         " (set alerts.operator_route); `crisiswatch alerts outbox` lists what waits",
                         row.channel, row.target, attempts, error)

    def deliver_due(self) -> tuple[int, int]:
        """Sends every due row this deliverer can claim; returns (sent, not delivered, a 429 included).
        Never raises for a channel's failure. Rows claimed by another deliverer (a second process) are left to it."""
        done = self.deliver_pass()
        return done.sent, done.failed + done.rate_limited

    def deliver_pass(self) -> DeliveryPass:
        """deliver_due, telling a rate-limited alert (waiting) from one that failed."""
        done = DeliveryPass()
        ttl = timedelta(seconds=self.config.alerts.outbox_lease_seconds)
        after = 0
        while (row := self.outbox.claim(self.holder, ttl, after)) is not None:
            after = row.id
            outcome = self._deliver(row, ttl)
            if isinstance(outcome, timedelta):
                done.waited(outcome)
            else:
                done.sent += outcome == "sent"
                done.failed += outcome == "failed"
        return done

    def _deliver(self, row: OutboxRow, ttl: timedelta) -> str | timedelta:
        """One claimed row: sent, failed, released (it waits for its thread's first message), or the wait
        a rate limit asked for."""
        channel = self.channels.get(row.channel)
        if channel is None:
            # queued by a process that had the channel (its token), delivered by one that has not: the alert
            # waits for a deliverer that can send it, where it was failed for good and lost without a word
            why = f"channel {row.channel!r} is not configured in this process ({UNCONFIGURED_HINT.get(row.channel, '')})"
            logger.warning("alert %s waits: %s", row.key, why)
            self.outbox.mark_failed(row.id, why, UNCONFIGURED_RETRY, holder=self.holder)
            return "failed"
        thread_key = row.message.thread_key
        thread_id = self.outbox.thread_for(thread_key, row.channel, row.target) if thread_key else None
        if self.outbox.waits_for_thread(row) or (thread_id is None and self._waits_for_root(row)):
            self.outbox.release(row.id, self.holder)
            return "waiting"
        try:
            existing = row.external_id
            # an earlier claim ended without settling: its post may have landed, or may still land
            looked = row.in_flight and not existing
            if looked:
                found = self._earlier_post(row, channel, thread_id)
                looked = found is not LOOKUP_REFUSED
                existing = found if isinstance(found, str) else None
                if existing:
                    self.outbox.record_external_id(row.id, existing)
            channel.prepare(row.message, row.target)
            # right before the send: the lease must still be ours, and long enough for the send itself
            renewed_at = datetime.now(UTC)  # before the renewal: a lock it waits on counts against the claim
            if not self.outbox.renew(row.id, self.holder, ttl):
                logger.warning("alert %s: the lease ran out before the send (a slow lookup); not sent by %s, left"
                               " to whoever holds it now", row.id, self.holder)
                return "waiting"
            self.outbox.mark_in_flight(row.id)
            delivery = self._send(row, channel, ttl, renewed_at, thread_id=thread_id, existing_id=existing)
            if delivery is None:
                return "waiting"
        except DeliveryError as exc:
            return self._not_delivered(row, exc) or "failed"
        if looked and delivery.posted:  # the earlier claim's copy may have landed after our lookup
            delivery = self._one_copy(row, channel, delivery, thread_id)
        if not self._record(row, delivery, thread_key, thread_id):
            # sent by us, but the row is another deliverer's now (our lease ran out mid-send): if it posted
            # too, the later copy goes; the row and its follow-ups are theirs
            if delivery.posted:
                self._one_copy(row, channel, delivery, thread_id)
            return "sent"
        try:
            channel.after_delivery(row.message, row.target, delivery)
        except Exception:  # extras must never undo a delivered alert
            logger.exception("after-delivery step for alert %s failed", row.id)
        return "sent"

    def _send(self, row: OutboxRow, channel: Channel, ttl: timedelta, renewed_at: datetime, *,
              thread_id: str | None, existing_id: str | None) -> Delivery | None:
        """The send, on a claim that is still good. A channel that cannot look up what it posted (a robot
        webhook, SMTP) keeps its claim while the send is in flight (ClaimKeeper): a slow server must not let a
        second deliverer take the row and send it again. None, with the row let go, when the renewal before
        the send took so long (a lock, a stalled database) that less than a renewal round of the claim is left:
        the send does not start on a claim that may run out under it."""
        keeper = (ClaimKeeper(self.conn.url, row.id, self.holder, ttl).start(renewed_at)
                  if channel.keeps_claim and not self.conn.url.endswith(":memory:") else None)
        left = renewed_at + ttl - datetime.now(UTC)
        try:
            if left > ttl / 3 and not (keeper and keeper.lost.is_set()):
                return channel.send(row.message, row.target, thread_id=thread_id, existing_id=existing_id,
                                    key=row.key)
        finally:
            if keeper is not None:
                keeper.stop(release=False)
        logger.warning("alert %s: not sent by %s: its claim had %.1f s of %.0f s left when the send was due (the"
                       " database was slow to renew it); let go for the next deliverer", row.id, self.holder,
                       max(left.total_seconds(), 0.0), ttl.total_seconds())
        self.outbox.release(row.id, self.holder)
        return None

    def _not_delivered(self, row: OutboxRow, exc: DeliveryError) -> timedelta | None:
        """Settles a failed send by its kind (alerts/channels/base.py); returns the wait a rate limit asked for.
        Only a message the channel can never take, or an unknown refusal `alerts.max_attempts` times over,
        fails for good; an outage never does."""
        alerts, error = self.config.alerts, str(exc)
        if exc.kind == RATE_LIMITED:  # not taken: wait out Retry-After here, not asleep holding the row
            wait = timedelta(seconds=min(exc.retry_after, RATE_LIMIT_CAP.total_seconds())) \
                if exc.retry_after is not None else RATE_LIMIT_WAIT
            self.outbox.mark_failed(row.id, error, wait, count=False, in_flight=row.in_flight,
                                    holder=self.holder)
            logger.info("alert %s via %s rate limited: next try in %.0f s", row.id, row.channel, wait.total_seconds())
            return wait
        attempts = row.attempts + 1
        if exc.kind == NEEDS_FIX:
            self._needs_fix(row, exc, attempts)
            return None
        if exc.kind == TRANSIENT:
            retry_in: timedelta | None = timedelta(seconds=min(exc.retry_after, RETRY_CAP.total_seconds())) \
                if exc.retry_after else backoff(attempts)
        elif exc.kind == UNKNOWN and attempts < alerts.max_attempts:
            retry_in = backoff(attempts)
        else:
            retry_in = None
        if not self.outbox.mark_failed(row.id, error, retry_in, holder=self.holder):
            return None
        if retry_in is not None:
            logger.warning("alert %s via %s %s not delivered (attempt %d): %s; next try in %.0f s", row.id,
                           row.channel, row.target, attempts, error, retry_in.total_seconds())
        else:
            logger.error("alert %s via %s %s failed for good (attempt %d): %s; `crisiswatch alerts retry %s` sends"
                         " it again", row.id, row.channel, row.target, attempts, error, row.id)
        if row.message.kind != "operator" and (attempts == alerts.operator_after_failures
                                               or (retry_in is None and attempts < alerts.operator_after_failures)):
            self._operator_notice(row, error, attempts)
        return None

    def _needs_fix(self, row: OutboxRow, exc: DeliveryError, attempts: int) -> None:
        """A refused token, a bot not in its channel: no alert on that route can go until a person fixes
        it, and none is lost. The row stays pending, retried every NEEDS_FIX_RETRY, its last_error saying
        what to fix; the first row of an outage (on its target, or on the whole channel for a token) logs
        one line and tells the operator on another route, if there is one."""
        target = None if exc.scope == "channel" else row.target
        first = not row.needs_fix and not self.outbox.needs_fix_besides(row.id, row.channel, target)
        if not self.outbox.mark_failed(row.id, str(exc), NEEDS_FIX_RETRY, holder=self.holder, needs_fix=True):
            return
        where = f"{row.channel}" + (f" {row.target}" if target is not None else "")
        if not first:
            logger.info("alert %s via %s %s waits for a fix (attempt %d): %s", row.id, row.channel, row.target,
                        attempts, exc)
            return
        logger.error("alerts to %s are held until someone fixes this: %s — they are retried every %d min and go out"
                     " once it is fixed; `crisiswatch status` lists them", where, exc,
                     NEEDS_FIX_RETRY.total_seconds() // 60)
        message = AlertMessage(kind="operator", title=f"告警通道需要处理 {where} needs a fix", severity="紧急",
                               brand=row.message.brand, timezone=self.config.alerts.timezone,
                               summary=f"alerts to {where} are held until this is fixed: {exc}. They are retried"
                                       f" every {NEEDS_FIX_RETRY.total_seconds() // 60:.0f} min and go out once it"
                                       f" is. First held: {row.message.title}")
        for channel, t in self.routes_for(message):
            if channel != row.channel or (target is not None and t != row.target):
                self.outbox.enqueue(f"operator:needs-fix:{row.id}|{channel}|{t}", channel, t, message)

    def _waits_for_root(self, row: OutboxRow) -> bool:
        """An escalation note for the response channel enqueued before the incident's own message
        waits a little for it, so the channel still gets one top-level message per incident."""
        if row.message.kind != "escalation" or not row.message.thread_key:
            return False
        if (row.channel, row.target) not in self.routes_for(row.message):
            return False
        return self.clock() - datetime.fromisoformat(row.created_at) < ROOT_WAIT

    def _earlier_post(self, row: OutboxRow, channel: Channel, thread_id: str | None) -> str | object | None:
        """What an earlier claim of the row posted, if it landed; LOOKUP_REFUSED when the channel may not look.
        Then the alert is posted anyway: a possible duplicate is the lesser harm than a crisis alert held
        until someone grants a scope (one line says so)."""
        try:
            return channel.find_existing(row.message, row.target, row.key, thread_id,
                                         since=datetime.fromisoformat(row.created_at))
        except LookupRefused as exc:
            logger.warning("alert %s: cannot look for an earlier post of it (%s); posting it: a duplicate is the"
                           " lesser harm than an alert held until that is fixed", row.id, exc)
            return LOOKUP_REFUSED

    def _one_copy(self, row: OutboxRow, channel: Channel, delivery: Delivery, thread_id: str | None) -> Delivery:
        """After a post that may have a twin (another claim of the row posted it too, its sender stalled past
        its lease): the earliest copy carrying the row's key is the alert, and a later one is deleted by the
        deliverer that posted it. Returns the delivery to settle the row with (the earliest copy's ts, so
        threads and updates follow the message people saw first)."""
        try:
            first = channel.find_existing(row.message, row.target, row.key, thread_id,
                                          since=datetime.fromisoformat(row.created_at))
        except (DeliveryError, LookupRefused) as exc:  # keeping ours risks a second copy, deleting it a lost alert
            logger.warning("alert %s: cannot check for a second copy of %s's post %s (%s); kept it", row.id,
                           self.holder, delivery.external_id, exc)
            return delivery
        if not first or first == delivery.external_id or not delivery.external_id:
            return delivery
        gone = channel.withdraw(row.target, delivery.external_id)
        logger.warning("alert %s: %s's post %s was a second copy (the alert stands as %s, posted earlier): %s",
                       row.id, self.holder, delivery.external_id, first,
                       "deleted" if gone else "could not delete it")
        return Delivery(external_id=first, thread_id=thread_id or first, posted=False)

    def _record(self, row: OutboxRow, delivery: Delivery, thread_key: str | None, thread_id: str | None) -> bool:
        """The row settled as sent with what the send left (its ts, the incident's thread), while this
        deliverer still holds it; False when another deliverer holds the row now (nothing recorded)."""
        with transaction(self.conn, lock=f"outbox:{row.id}"):
            if not self.outbox.mark_sent(row.id, delivery.external_id, delivery.thread_id, holder=self.holder):
                return False
            if thread_key and delivery.thread_id and thread_id is None:
                self.outbox.remember_thread(thread_key, row.channel, row.target, delivery.thread_id)
        woken = self.outbox.wake_needs_fix(row.channel)  # it was fixed: what waited for the fix goes now
        if woken:
            logger.warning("%s delivers again: %d alert(s) that waited for a fix are due now", row.channel, woken)
        return True


__all__ = ["AlertDispatcher", "DeliveryPass", "PENDING", "build_channels", "quiet_until"]
