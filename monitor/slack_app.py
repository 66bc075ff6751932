"""Slack interactivity: button payloads at /actions and the /crisiswatch slash command at /commands.

It acts on incidents, tickets, escalations and approvals, so it sits above alerts (which it uses
to answer and to deliver), beside the dashboard that mounts it.

Mounted under /slack (the dashboard does it; `crisiswatch slack serve` does it standalone). Every
request is verified (X-Slack-Signature with the signing secret, timestamps older than five minutes
refused, a body seen before refused), then refused (403) when it comes from another workspace than
this app's (alerts.slack.team_id, else the bot token's by auth.test: an app installed in several workspaces
signs all their requests with one secret), and answered at once; the work runs after the answer, within
Slack's three seconds, and reports back with an ephemeral message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from alerts.approvals import ApprovalRefused, ApprovalService
from alerts.channels.slack import SlackChannel
from alerts.channels.slack_ids import SlackChannelIds
from alerts.dispatch import AlertDispatcher, build_channels
from alerts.escalation import AcknowledgeRefused
from alerts.message import escape_mrkdwn
from alerts.render import safe
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.config.alerts import SLACK_USER_ID
from crisiswatch.db import StateConnection, connect
from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time
from monitor.incidents.service import IncidentService
from playbooks.dismiss import dismiss_incident
from playbooks.paging import escalation_service
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)
MAX_AGE = 60 * 5
MAX_BODY = 256 * 1024  # a Slack interaction payload (a whole message's blocks) is a few tens of KB
STATUS_SHOWN = 20  # open incidents listed by `/crisiswatch status` (the heading counts them all)


class _Clock:
    def __init__(self, now: Callable[[], float]) -> None:
        self.now_fn = now

    def now(self) -> float:
        return self.now_fn()


def parse_incident(text: str) -> int:
    value = text.strip().upper().removeprefix("INC-").removeprefix("#")
    if not value.isdigit():
        raise CrisiswatchError(f"not an incident: {text.strip()!r} (use INC-12 or 12)")
    return int(value)


def _database_of(conn: StateConnection) -> str:
    """The store behind a host's connection (the dashboard may serve another database than the config's);
    the app opens its own connection to it, so its transactions never interleave with the host's."""
    return ":memory:" if conn.url.endswith(":memory:") else conn.url


class SlackInteractions:
    """The work behind the endpoints; one lock serialises use of the shared SQLite connection."""

    def __init__(self, config: Config, conn: StateConnection | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.conn = connect(_database_of(conn) if conn is not None else config.state_store)
        self.clock = clock
        self.lock = threading.RLock()
        self._slack = None
        self._team: str | None = config.alerts.slack.team_id

    def signing_secret(self) -> str:
        secret = os.environ.get(self.config.alerts.slack.signing_secret_env, "")
        if not secret:
            raise CrisiswatchError(f"Slack signing secret: set {self.config.alerts.slack.signing_secret_env}")
        return secret

    # verification ------------------------------------------------------------------------------
    def verify(self, body: bytes, headers: Any) -> str | None:
        """None when the request is Slack's and new; else why it is refused."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        # ASCII only: "²" passes isdigit() and int() refuses it; hmac.compare_digest raises on non-ASCII text
        if not (timestamp.isascii() and timestamp.isdigit()) or abs(self.clock() - int(timestamp)) > MAX_AGE:
            return "stale or missing timestamp"
        if not signature.isascii():
            return "bad signature"
        verifier = SignatureVerifier(self.signing_secret(), clock=_Clock(self.clock))
        if not verifier.is_valid(body, timestamp, signature):
            return "bad signature"
        with self.lock:
            self.conn.execute("DELETE FROM slack_seen_requests WHERE at < ?", (self.clock() - 2 * MAX_AGE,))
            cur = self.conn.execute("INSERT INTO slack_seen_requests(signature, at) VALUES (?,?)"
                                    " ON CONFLICT DO NOTHING",
                                    (signature, self.clock()))
        return None if cur.rowcount else "replayed request"

    def workspace(self) -> str:
        """The Slack workspace (team id) this app serves: alerts.slack.team_id, else the bot token's, asked once
        with auth.test. Raises CrisiswatchError (a 503) while neither says: no request is taken unchecked."""
        if self._team is None:
            slack = self.slack()
            where = "set alerts.slack.team_id to the workspace's id (T…)"
            if slack is None:
                raise CrisiswatchError(f"Slack workspace unknown: {where}, or set"
                                       f" {self.config.alerts.slack.token_env} (auth.test tells its workspace)")
            try:
                self._team = slack.team_id()
            except (SlackApiError, OSError, KeyError) as exc:
                said = exc.response.get("error") if isinstance(exc, SlackApiError) and exc.response else exc
                raise CrisiswatchError(f"Slack workspace unknown: auth.test failed ({said}); {where}") from None
        return self._team

    def foreign(self, team: str) -> str | None:
        """Why a signed request is refused when it comes from another workspace than this app's (an app shared
        with other workspaces signs their requests with the same secret), else None."""
        ours = self.workspace()
        return None if team == ours else f"from Slack workspace {team or '(none given)'}, not this app's {ours}"

    # services ----------------------------------------------------------------------------------
    def services(self) -> tuple[Any, Any, Any]:
        dispatcher = AlertDispatcher(self.config, self.conn, build_channels(self.config, self.conn))
        return dispatcher, escalation_service(self.config, self.conn, dispatcher), IncidentService(self.conn)

    def slack(self) -> Any:
        if self._slack is None:
            token = os.environ.get(self.config.alerts.slack.token_env)
            self._slack = SlackChannel(token, base_url=self.config.alerts.slack.base_url,
                                       ids=SlackChannelIds(self.conn)) if token else None
        return self._slack

    def tell(self, channel: str, user: str, text: str) -> None:
        slack = self.slack()
        if slack is None or not channel:
            logger.info("to %s: %s", user, text)
            return
        try:
            slack.post_ephemeral(channel, user, text)
        except Exception as exc:  # the action is done; only the receipt is lost
            logger.warning("ephemeral reply to %s failed: %s", user, exc)

    # who -------------------------------------------------------------------------------------------
    def person(self, user: str) -> str | None:
        """The person behind a Slack user id (`alerts.slack.users`); never a name from the request, which
        the clicker chose (a display name, or an outsider's in a shared channel)."""
        return self.config.alerts.slack.users.get(user)

    def refused(self, user: str, action: str, subject: str) -> str | None:
        """Why this user may not act, when `alerts.slack.users` lists who may and they are not on it."""
        if not self.config.alerts.slack.users or self.person(user):
            return None
        with self.lock:
            AuditLog(self.conn).record(f"slack:{user}", f"slack.{action}", subject, "refused",
                                       reason="not in alerts.slack.users")
        return f"不能操作 refused: {user} is not in crisiswatch's Slack staff list (alerts.slack.users)"

    # actions -----------------------------------------------------------------------------------
    def act(self, action_id: str, value: str, user: str, reason: str = "") -> str:
        """Runs a button's action for the Slack user id `user`; returns the line shown to them. `reason`: why
        an incident is dismissed (the slash command's words; the button gives none)."""
        if action_id not in ("approve", "reject"):  # an approval's own approvers decide who may press it
            refusal = self.refused(user, action_id, f"INC-{value}")
            if refusal:
                return refusal
        with self.lock:
            dispatcher, escalation, incidents = self.services()
            try:
                if action_id in ("approve", "reject"):
                    approvals = ApprovalService(self.config, self.conn, dispatcher)
                    person = self.person(user)
                    try:
                        decided = approvals.decide(int(value), user, action_id == "approve",
                                                   aliases=(person,) if person else ())
                    except ApprovalRefused as exc:
                        # approvers named by name are known here only through the staff list
                        asked = approvals.get(int(value))
                        named = asked is not None and any(not SLACK_USER_ID.fullmatch(a) for a in asked.approvers)
                        hint = f" (an approver by name? add {user} to alerts.slack.users)" if named and not person else ""
                        return f"不能操作 refused: {exc}{hint}"
                    reply = f"审批 {decided.subject}: {decided.status}"
                else:
                    incident_id = int(value)
                    if incidents.get(incident_id) is None:
                        return f"no incident {incident_id}"
                    reply = self._incident_action(action_id, incident_id, user, escalation, incidents, reason)
                    AuditLog(self.conn).record(f"slack:{user}", f"slack.{action_id}", f"INC-{incident_id}")
            finally:
                dispatcher.deliver_due()
        return reply

    def _incident_action(self, action_id: str, incident_id: int, user: str, escalation: Any, incidents: Any,
                         reason: str = "") -> str:
        label = f"INC-{incident_id}"
        if action_id == "ack":
            try:
                changed = escalation.acknowledge(incident_id, by=user)
            except AcknowledgeRefused as exc:  # resolved already: said to the one who clicked, nothing else
                return str(exc)
            return f"{label} 已确认 acknowledged" if changed else f"{label} was already acknowledged"
        if action_id == "escalate":
            try:
                escalation.escalate_now(incident_id, by=user)
            except AcknowledgeRefused as exc:  # a late or replayed click: nobody is paged for a closed incident
                return str(exc)
            return f"{label} 已升级 escalated to the next tier"
        if action_id == "mute_1h":
            incident = incidents.get(incident_id)
            if not incident.is_open:
                return f"{label} already resolved: nothing to mute, nothing changed"
            until = datetime.now(UTC) + timedelta(hours=1)
            self.conn.execute("UPDATE incidents SET muted_until=? WHERE id=?", (until.isoformat(), incident_id))
            return f"{label} 静音 muted until {local_time(until, self.config.alerts.timezone, '%H:%M %Z')} (thread updates suppressed)"
        if action_id == "convert":
            return self.open_ticket(incident_id, user)
        if action_id == "dismiss":  # by the staff list's name, as the audit trail and the report name people
            by = self.person(user) or f"slack:{user}"
            try:
                done = dismiss_incident(self.config, self.conn, escalation.dispatcher, incident_id,
                                        reason=reason or "Slack 误报按钮 (false alarm button)", by=by,
                                        clock=lambda: datetime.fromtimestamp(self.clock(), UTC))
            except CrisiswatchError as exc:
                return f"不能操作 refused: {exc}"
            return done.summary()
        return f"unknown action {action_id!r}"

    def open_ticket(self, incident_id: int, user: str) -> str:
        tickets = TicketService(self.conn, timezone=self.config.alerts.timezone)
        existing = tickets.for_incident(incident_id)
        if existing:
            return f"INC-{incident_id} already has ticket {existing.number}"
        incident = IncidentService(self.conn).get(incident_id)
        posts = incident.facts.get("top_posts", [])
        ticket = tickets.open(
            title=f"{self.config.brand_name(incident.brand)} {incident.summary}"[:120],
            severity=incident.severity, category=next(iter(incident.facts.get("categories", {})), "other"),
            brand=incident.brand, channel="slack", incident_id=incident_id,
            evidence=[{"url": p.get("url", ""), "text": p.get("text", "")[:280]} for p in posts[:5]],
            mention_ids=[p["id"] for p in posts if p.get("id")], actor=f"slack:{user}")
        return f"INC-{incident_id} 转工单 ticket {ticket.number} opened"

    def command(self, text: str, user: str = "") -> tuple[str, Callable[[], str] | None]:
        """The immediate answer and, for slow sub-commands, the work to do after it."""
        verb, _, rest = text.strip().partition(" ")
        if verb in ("", "help"):
            return "用法 usage: /crisiswatch status | ack INCIDENT | ticket INCIDENT | dismiss INCIDENT REASON", None
        if verb == "status":
            refusal = self.refused(user, "status", "incidents")
            if refusal:
                return refusal, None
            with self.lock:
                incidents = IncidentService(self.conn)
                open_, total = incidents.list(status="open", limit=STATUS_SHOWN), incidents.count(status="open")
            if not open_:
                return "没有进行中的事件 no open incidents", None
            # a summary quotes what posts said (an emerging term): inert here as in the alerts
            lines = [f"• {i.label} {escape_mrkdwn(i.brand)} {i.level}"
                     f"{' · acked by ' + escape_mrkdwn(i.acked_by) if i.acked_by else ''}: {safe(i.summary)}"
                     for i in open_]
            shown = f"，最新 {len(open_)} 起 the newest {len(open_)}" if total > len(open_) else ""
            return f"进行中的事件 {total} 起 open incidents: {total}{shown}\n" + "\n".join(lines), None
        if verb in ("ack", "ticket"):
            incident_id = parse_incident(rest)
            action = "ack" if verb == "ack" else "convert"
            return f"处理中 working on INC-{incident_id} …", lambda user="": self.act(action, str(incident_id), user)
        if verb == "dismiss":
            target, _, reason = rest.strip().partition(" ")
            incident_id = parse_incident(target)
            return f"处理中 working on INC-{incident_id} …", \
                lambda user="": self.act("dismiss", str(incident_id), user, reason=reason.strip())
        return f"unknown sub-command {verb!r}: use status, ack, ticket or dismiss", None


def slack_routes(config: Config, conn: StateConnection | None = None, *,
                 clock: Callable[[], float] = time.time) -> list[Route]:
    """Routes for mounting under /slack: POST /actions and POST /commands."""
    interactions = SlackInteractions(config, conn, clock)

    async def verified(request: Request) -> tuple[bytes, Response | None]:
        # read before it is verified, so anyone may send it: bounded, never held whole in memory
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
            logger.warning("Slack request refused: body of %s bytes", declared)
            return b"", PlainTextResponse("request too large", status_code=413)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                logger.warning("Slack request refused: body over %d bytes", MAX_BODY)
                return b"", PlainTextResponse("request too large", status_code=413)
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            problem = await run_in_threadpool(interactions.verify, body, request.headers)
        except CrisiswatchError as exc:
            return body, PlainTextResponse(str(exc), status_code=503)
        if problem:
            logger.warning("Slack request refused: %s", problem)
            return body, PlainTextResponse(problem, status_code=401)
        return body, None

    async def other_workspace(team: str) -> Response | None:
        """A 403 (and one log line) for a request from another Slack workspace: `team` is block_actions'
        team.id, a slash command's team_id."""
        try:
            problem = await run_in_threadpool(interactions.foreign, team)
        except CrisiswatchError as exc:
            logger.error("Slack request refused: %s", exc)
            return PlainTextResponse(str(exc), status_code=503)
        if problem:
            logger.warning("Slack request refused: %s (alerts.slack.team_id)", problem)
            return PlainTextResponse("request from another Slack workspace", status_code=403)
        return None

    async def actions(request: Request) -> Response:
        body, refused = await verified(request)
        if refused:
            return refused
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
            action = payload["actions"][0]
            user = payload["user"]
        except (KeyError, IndexError, ValueError) as exc:
            return PlainTextResponse(f"bad payload: {exc.__class__.__name__}", status_code=400)
        refused = await other_workspace(str((payload.get("team") or {}).get("id") or ""))
        if refused:
            return refused
        channel = (payload.get("channel") or {}).get("id", "")

        def work() -> None:
            try:
                reply = interactions.act(action["action_id"], str(action.get("value", "")), user["id"])
            except (CrisiswatchError, ValueError) as exc:
                reply = f"crisiswatch: {exc}"
            interactions.tell(channel, user["id"], reply)

        return Response(status_code=200, background=BackgroundTask(run_in_threadpool, work))

    async def commands(request: Request) -> Response:
        body, refused = await verified(request)
        if refused:
            return refused
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        refused = await other_workspace(form.get("team_id", ""))
        if refused:
            return refused
        try:
            answer, later = await run_in_threadpool(interactions.command, form.get("text", ""),
                                                    form.get("user_id", ""))
        except CrisiswatchError as exc:
            return JSONResponse({"response_type": "ephemeral", "text": f"crisiswatch: {exc}"})
        task = None
        if later is not None:
            user, channel = form.get("user_id", ""), form.get("channel_id", "")

            def work() -> None:
                try:
                    reply = later(user)
                except (CrisiswatchError, ValueError) as exc:
                    reply = f"crisiswatch: {exc}"
                interactions.tell(channel, user, reply)

            task = BackgroundTask(run_in_threadpool, work)
        return JSONResponse({"response_type": "ephemeral", "text": answer}, background=task)

    return [Route("/actions", actions, methods=["POST"]), Route("/commands", commands, methods=["POST"])]


def create_app(config: Config, conn: StateConnection | None = None, *,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The standalone app (`crisiswatch slack serve`): the routes under /slack, and /healthz."""
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Mount("/slack", routes=slack_routes(config, conn, clock=clock)),
                             Route("/healthz", healthz)])
