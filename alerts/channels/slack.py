"""Slack through slack-sdk: Block Kit messages, incident threads, retries that never double-post.

chat.postMessage is never retried by the client, not even a 429: a 429 (Slack did not take the
message) goes back to the outbox, which tries again after its Retry-After without holding the row
asleep. A 5xx, a timeout or a dropped connection leaves the outcome unknown; the outbox row
stays in flight and the next attempt looks the alert up by its own key, carried in the message
metadata, with conversations.history / replies (by channel id, resolved from the configured name)
before posting again. Reads and chat.update are idempotent and keep slack-sdk's retry handlers.
A copy that still lands late (its sender stalled past its lease while another deliverer posted) is
found the same way afterwards: the earliest post of a key is the alert, a later one is deleted by
the deliverer that posted it (chat.delete; a bot may delete what it posted).

Scopes: chat:write to post, update and delete; channels:read (groups:read for private channels) to
turn names into ids; channels:history (groups:history) to look an alert up. Without a lookup scope the
alert is still posted: by name, or at the risk of a duplicate, never held (one warning line says which).

Slack's refusals are sorted for the outbox (alerts/channels/base.py): a refused token or a channel
the bot cannot post in waits for someone to fix it (NEEDS_FIX, with what to fix), a message Slack
can never take fails (PERMANENT), an error code not known here is retried a few times (UNKNOWN).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from alerts.channels.base import (
    NEEDS_FIX,
    PERMANENT,
    RATE_LIMITED,
    TRANSIENT,
    UNKNOWN,
    Channel,
    Delivery,
    DeliveryError,
    LookupRefused,
)
from alerts.channels.slack_ids import SlackChannelIds, channel_name, is_channel_id
from alerts.chart import png_bars
from alerts.message import AlertMessage
from alerts.render import slack_blocks, slack_fallback_text

logger = logging.getLogger(__name__)
# someone must fix the token or the app: every alert on Slack waits for it ({env}: the token's variable)
TOKEN_ERRORS = {
    "invalid_auth": "the Slack token was refused; set a new one in {env}",
    "not_authed": "no Slack token was sent; set one in {env}",
    "token_revoked": "the Slack token was revoked; set a new one in {env}",
    "token_expired": "the Slack token expired; set a new one in {env}",
    "account_inactive": "the Slack app or its bot user was deactivated; reinstall the app and set its token in {env}",
    "not_allowed_token_type": "the token in {env} is not a bot token (xoxb-…); set the bot token",
    "missing_scope": "the Slack app lacks the scope {needed} it needs to post; add it and reinstall the app",
    "no_permission": "the Slack app lacks a permission it needs (chat:write); add it and reinstall the app",
    "team_access_not_granted": "the Slack app is not allowed in this workspace; an admin must approve it",
    "ekm_access_denied": "the workspace's key management denied the Slack app; ask a workspace admin",
}
# someone must fix this channel (or the route's target): alerts to it wait
CHANNEL_ERRORS = {
    "not_in_channel": "the bot is not a member of {target}; invite it there (/invite @bot)",
    "channel_not_found": "Slack has no channel {target} the bot can see; invite the bot, or fix the route's target",
    "is_archived": "{target} is archived; unarchive it or point the route elsewhere",
    "restricted_action": "the workspace does not let the bot post in {target}; allow it or change the target",
    "restricted_action_read_only_channel": "{target} is read-only for the bot; allow it or change the target",
    "restricted_action_thread_only_channel": "{target} only takes thread replies; allow posts or change the target",
}
# this message can never be sent as it is: failed, with the reason
PERMANENT_ERRORS = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "too_many_attachments", "no_text",
                    "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
                    "invalid_arguments", "invalid_json", "json_not_object"}
# Slack's own trouble, whatever the HTTP status says
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
                    "team_added_to_org"}
METADATA_EVENT = "crisiswatch_alert"
# a second "opened" note in a thread (another playbook's notify) is news, not a change of state
STATE_KINDS = {"incident_updated", "incident_escalated", "incident_resolved", "approval"}
LOOKBACK_SECONDS = 300   # a lookup reads history from a little before the alert was enqueued
MAX_PAGES = 50           # bounds a lookup or a channel listing (200 a page)
RELIST_SECONDS = 60      # a name conversations.list did not show is posted by name meanwhile


def _delivery_error(exc: SlackApiError, target: str = "", token_env: str = "SLACK_BOT_TOKEN") -> DeliveryError:
    """What Slack's refusal means for the outbox row (alerts/channels/base.py), said as what to do."""
    error = str(exc.response.get("error", "")) if exc.response is not None else str(exc)
    status = exc.response.status_code if exc.response is not None else 0
    retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
    if status == 429:
        return DeliveryError(f"Slack rate limit (429{', Retry-After ' + retry_after + ' s' if retry_after else ''})",
                             kind=RATE_LIMITED, retry_after=_seconds(retry_after))
    if error in TOKEN_ERRORS:
        needed = exc.response.get("needed") if exc.response is not None else None
        return DeliveryError(f"{error}: {TOKEN_ERRORS[error].format(env=token_env, needed=needed or 'chat:write')}",
                             kind=NEEDS_FIX, scope="channel")
    if error in CHANNEL_ERRORS:
        return DeliveryError(f"{error}: {CHANNEL_ERRORS[error].format(target=target or '(none given)')}",
                             kind=NEEDS_FIX)
    said = f"Slack refused the message: {error or status}"
    if error in PERMANENT_ERRORS:
        return DeliveryError(said, kind=PERMANENT)
    if status >= 500 or error in TRANSIENT_ERRORS or not error:
        return DeliveryError(said, kind=TRANSIENT)
    return DeliveryError(said, kind=UNKNOWN)


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _struggling(exc: SlackApiError) -> bool:
    status = exc.response.status_code if exc.response is not None else 0
    return status == 429 or status >= 500


def _lookup_refused(exc: SlackApiError, target: str, token_env: str) -> str:
    """A lookup (a channel listing, a history read) Slack refused: raised when nothing could be posted either
    (Slack struggling, the token refused), else what it lacks, for the caller's one log line. A missing
    lookup scope is not a token problem: chat:write may well be there, and the alert must not wait for it."""
    error = exc.response.get("error") if exc.response is not None else None
    if _struggling(exc) or (error in TOKEN_ERRORS and error != "missing_scope"):
        raise _delivery_error(exc, target, token_env) from None
    if error == "missing_scope":
        return f"missing_scope: the Slack app lacks {exc.response.get('needed') or 'a read scope'}"
    return str(error or exc)


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, token: str, base_url: str | None = None, default_target: str = "#crisis-response",
                 timeout: int = 10, max_retries: int = 2, upload_charts: bool = False,
                 ids: SlackChannelIds | None = None, token_env: str = "SLACK_BOT_TOKEN") -> None:
        kwargs: dict[str, Any] = {"token": token, "timeout": timeout}
        if base_url:
            kwargs["base_url"] = base_url.rstrip("/") + "/"
        # reads and updates: safe to repeat, so 429 (Retry-After), 5xx and dropped connections retry
        self.client = WebClient(**kwargs, retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries),
            ConnectionErrorRetryHandler(max_retry_count=max_retries)])
        # posts: no retry handler at all. A 429 goes back to the outbox (it waits out Retry-After there,
        # not asleep inside a send holding the row's lease); anything else is looked up before a re-post
        self.poster = WebClient(**kwargs, retry_handlers=[])
        self.default_target = default_target
        self.token_env = token_env
        self._listed_at: float | None = None  # a name not listed is not listed again for RELIST_SECONDS
        self.upload_charts = upload_charts
        self.ids = ids or SlackChannelIds()

    # channel ids -------------------------------------------------------------------------------
    def resolve(self, target: str) -> str:
        """The channel id for a configured target (an id passes through; a name is looked up once)."""
        name = target or self.default_target
        if is_channel_id(name):
            return name
        found = self.ids.get(name)
        if found is None and (self._listed_at is None or time.monotonic() - self._listed_at > RELIST_SECONDS):
            self._list_channels()
            self._listed_at = time.monotonic()
            found = self.ids.get(name)
        return found or name  # not listed (no channels:read scope?): post by name, learn the id from the reply

    def prepare(self, message: AlertMessage, target: str) -> None:
        self.resolve(target)  # conversations.list may be slow (pages, a 429's Retry-After): before the lease renewal

    def _list_channels(self) -> None:
        cursor, pairs = None, {}
        try:
            for _ in range(MAX_PAGES):
                resp = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                      limit=200, cursor=cursor)
                pairs.update({c["name"]: c["id"] for c in resp.get("channels", []) if c.get("name")})
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            why = _lookup_refused(exc, "", self.token_env)
            logger.warning("cannot list Slack channels (%s): posting by name; give channel ids (C…) as targets or"
                           " grant channels:read (groups:read for private channels)", why)
        except OSError as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        finally:
            self.ids.put(pairs)

    # sending -----------------------------------------------------------------------------------
    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        text, blocks = slack_fallback_text(message), slack_blocks(message)
        try:
            channel = self.resolve(target)
            if existing_id:  # an earlier attempt posted but failed or died before recording success
                self.client.chat_update(channel=channel, ts=existing_id, text=text, blocks=blocks)
                return Delivery(external_id=existing_id, thread_id=thread_id or existing_id, posted=False)
            kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks,
                                      "unfurl_links": False, "unfurl_media": False}
            if thread_id:
                kwargs["thread_ts"] = thread_id
            if key:
                kwargs["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
            resp = self.poster.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            raise _delivery_error(exc, target or self.default_target, self.token_env) from None
        except OSError as exc:  # connection refused, timeouts: Slack (or the network) is down
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        if resp.get("channel") and not is_channel_id(channel):
            self.ids.put({channel_name(target or self.default_target): resp["channel"]})
        ts = resp.get("ts")
        return Delivery(external_id=ts, thread_id=thread_id or ts)

    def find_existing(self, message: AlertMessage, target: str, key: str, thread_id: str | None,
                      since: datetime | None = None) -> str | None:
        """The ts of the earliest message carrying this outbox key (its metadata), read page by page from a
        little before `since`. Raises DeliveryError when Slack struggles or refuses the token (the send
        waits), LookupRefused for any other refusal (a missing history scope, say: the caller decides)."""
        channel = self.resolve(target)
        if not is_channel_id(channel):
            raise LookupRefused(f"no channel id for {channel}: conversations.list did not list it (channels:read?)")
        args: dict[str, Any] = {"channel": channel, "limit": 200, "include_all_metadata": True}
        if since is not None:
            args["oldest"] = f"{since.timestamp() - LOOKBACK_SECONDS:.6f}"
        cursor, found = None, []
        try:
            for _ in range(MAX_PAGES):
                if thread_id:
                    resp = self.client.conversations_replies(ts=thread_id, cursor=cursor, **args)
                else:
                    resp = self.client.conversations_history(cursor=cursor, **args)
                for msg in resp.get("messages", []):
                    meta = msg.get("metadata") or {}
                    if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == key:
                        found.append(msg["ts"])
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            else:
                logger.warning("alert %s: only %d pages of %s read for an earlier post", key, MAX_PAGES, channel)
        except SlackApiError as exc:
            raise LookupRefused(_lookup_refused(exc, target, self.token_env)) from None
        except OSError as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        return min(found, key=float) if found else None

    def withdraw(self, target: str, external_id: str) -> bool:
        """Deletes a message this bot posted (a second copy of an alert); False, logged, when Slack refuses."""
        try:
            self.client.chat_delete(channel=self.resolve(target), ts=external_id)
            return True
        except (SlackApiError, OSError) as exc:
            logger.warning("could not delete the second copy %s in %s: %s", external_id, target,
                           exc.response.get("error") if isinstance(exc, SlackApiError) and exc.response else exc)
            return False

    def after_delivery(self, message: AlertMessage, target: str, delivery: Delivery) -> None:
        """A thread reply refreshes the top message to the incident's current state; a new incident
        gets its chart uploaded into its thread. Failures here are logged, never re-send the alert."""
        channel = self.resolve(target)
        is_reply = delivery.thread_id and delivery.thread_id != delivery.external_id
        # a note about an incident that is already resolved (its facts say so) goes into the thread but
        # never turns the resolved top message back into an update
        settled = message.kind != "incident_resolved" and message.incident_id is not None \
            and message.facts.get("status") == "resolved"
        try:
            if is_reply and message.kind in STATE_KINDS and not settled:
                self.client.chat_update(channel=channel, ts=delivery.thread_id, text=slack_fallback_text(message),
                                        blocks=slack_blocks(message))
            elif (not is_reply and delivery.posted and self.upload_charts and message.kind == "incident_opened"
                  and message.facts.get("series")):
                data = message.facts["series"]
                self.client.files_upload_v2(
                    channel=channel, thread_ts=delivery.external_id, filename=f"{message.brand}-trend.png",
                    title=f"{message.brand} 近 {len(data['counts']) * data['interval_seconds'] / 3600:g} 小时提及量",
                    content=png_bars(data["counts"], data.get("negative"), data.get("baseline")),
                    initial_comment="提及量（红色为负面，虚线为负面基线）")
        except (SlackApiError, OSError) as exc:
            logger.warning("Slack follow-up for %s failed: %s", message.title, exc)

    def team_id(self) -> str:
        """The workspace the bot token belongs to (auth.test); raises SlackApiError or OSError when Slack will not say."""
        return str(self.client.auth_test()["team_id"])

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user, text=text)
