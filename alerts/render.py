"""Alert messages as Slack Block Kit and plain text. Every piece of user text is masked and made inert.

Post text (and anything derived from it: authors, terms, summaries) goes through `safe`: PII
masked, mentions and links escaped, formatting characters neutralised, URLs defanged; and every
mrkdwn text object is sent with `verbatim: true`, so Slack auto-links and auto-mentions nothing.
Mentions that must ring come only from config (escalation steps), never from posts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alerts.message import AlertMessage, escape_mrkdwn, inert_mrkdwn
from crisiswatch.mention import SENTIMENT_LABELS, SOURCE_LABELS
from crisiswatch.pii import mask

SEVERITY_EMOJI = {"一般": ":large_blue_circle:", "重要": ":large_yellow_circle:", "紧急": ":large_orange_circle:",
                  "重大": ":red_circle:", "resolved": ":white_check_mark:"}
INCIDENT_ACTIONS = (("ack", "Acknowledge 确认", "primary"), ("convert", "Convert to complaint 转工单", None),
                    ("escalate", "Escalate 升级", "danger"), ("mute_1h", "Mute 1 h 静音", None),
                    ("dismiss", "False alarm 误报", None))
CONFIRM = {"dismiss": ("判定为误报 Dismiss?", "关闭事件，停止升级，撤回声明审批，工单按误报关闭。"
                                              "Closes the incident, stops its escalation, withdraws its statement "
                                              "approvals and closes its ticket as a false alarm.", "误报 Dismiss")}


def safe(text: Any, limit: int | None = None) -> str:
    """Post text as it may appear in an alert: PII masked, cut, inert in mrkdwn, one line."""
    value = mask(str(text or "")).text
    if limit and len(value) > limit:
        value = value[:limit] + "…"
    return inert_mrkdwn(value).replace("\n", " ")


SECTION = 2900  # a Slack section's text holds 3000 characters
MAX_SECTIONS = 45  # a message holds 50 blocks: the header, the sections, one that says what is left


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def more_line(left: int) -> str:
    return f"…另有 {left} 行未显示 ({left} more lines not shown)"


def fit_lines(lines: Sequence[str], limit: int, size: Callable[[str], int] = len, tail: Sequence[str] = ()) -> str:
    """Whole lines, then `tail` (links), within `limit` as `size` measures it (characters; WeCom counts UTF-8
    bytes). Lines that do not fit are said in a last line, never cut in the middle or dropped without a word."""
    budget = limit - sum(size(t) + 1 for t in tail)
    kept: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        need = size(line) + (1 if kept else 0)
        reserve = size(more_line(len(lines) - n)) + 1 if n + 1 < len(lines) else 0
        if used + need + reserve > budget:
            kept.append(more_line(len(lines) - n))
            break
        kept.append(line)
        used += need
    return "\n".join([*kept, *tail])


def sections(lines: Sequence[str]) -> list[str]:
    """Lines as the texts of as many Slack sections as they need, whole lines each; past MAX_SECTIONS one
    more section counts the lines left."""
    out: list[str] = []
    for n, line in enumerate(lines):
        if out and len(out[-1]) + 1 + len(line) <= SECTION:
            out[-1] += "\n" + line
        elif len(out) < MAX_SECTIONS:
            out.append(line[:SECTION])
        else:
            out.append(more_line(len(lines) - n))
            break
    return out


def slack_fallback_text(message: AlertMessage) -> str:
    """The notification text (shown in pop-ups and to screen readers); mentions ring from here too."""
    pings = " ".join(message.mentions)
    return f"{pings + ' ' if pings else ''}[{message.severity}] {escape_mrkdwn(message.title)}"


def _post_line(post: dict[str, Any], message: AlertMessage) -> str:
    who = safe(post.get("author", ""), 40)
    badge = " ✔" if post.get("verified") else ""
    followers = post.get("followers")  # None: the source gave no count, which is not 0
    reach = f"{int(followers):,} 粉丝" if followers is not None else "粉丝数未知"
    when = message.local_time(post.get("created_at"), "%H:%M")
    link = str(post.get("url") or "")
    ref = f" <{link}|原帖>" if link.startswith("https://") and "|" not in link and ">" not in link else ""
    return f"• `{when}` *{who}*{badge} ({reach}): {safe(post.get('text', ''), 200)}{ref}"


def _buttons(prefix: str, value: str, actions: tuple) -> dict[str, Any]:
    elements = []
    for action_id, label, style in actions:
        button = {"type": "button", "action_id": action_id, "value": value,
                  "text": {"type": "plain_text", "text": label}}
        if style:
            button["style"] = style
        if action_id in CONFIRM:  # closes the incident and all it set going: asked once more
            title, text, yes = CONFIRM[action_id]
            button["confirm"] = {"title": {"type": "plain_text", "text": title},
                                 "text": {"type": "plain_text", "text": text},
                                 "confirm": {"type": "plain_text", "text": yes},
                                 "deny": {"type": "plain_text", "text": "取消 Cancel"}}
        elements.append(button)
    return {"type": "actions", "block_id": f"{prefix}:{value}", "elements": elements}


def _state_line(message: AlertMessage) -> str:
    facts = message.facts
    if facts.get("dismissed"):
        return f":no_entry_sign: 误报 dismissed as a false alarm by {escape_mrkdwn(str(facts['dismissed'].get('by')))}"
    if message.kind == "incident_resolved" or facts.get("status") == "resolved":
        return ":white_check_mark: 已恢复 resolved"
    if facts.get("acked_by"):
        return f":eyes: 已确认 acknowledged by {escape_mrkdwn(str(facts['acked_by']))}"
    return ":rotating_light: 待确认 unacknowledged"


def _incident_fields(message: AlertMessage) -> list[dict[str, str]]:
    facts, fields = message.facts, []
    if "peak" in facts:
        fields.append({"type": "mrkdwn", "text": f"*峰值 / 基线*\n{facts['peak']:.0f} vs {facts['baseline']:.1f}"
                                                 " 条负面/桶"})
    if facts.get("opened_at"):
        fields.append({"type": "mrkdwn", "text": f"*开始 ({message.timezone})*\n"
                                                 f"{message.local_time(facts['opened_at'])}"})
    if facts.get("sentiment_mix"):
        mix = "、".join(f"{SENTIMENT_LABELS.get(k, k)} {v}" for k, v in facts["sentiment_mix"].items())
        fields.append({"type": "mrkdwn", "text": f"*情感分布*\n{escape_mrkdwn(mix)}"})
    if facts.get("top_terms"):
        fields.append({"type": "mrkdwn", "text": "*热词*\n" + safe("、".join(facts["top_terms"][:6]))})
    if facts.get("sources"):
        fields.append({"type": "mrkdwn", "text": "*来源*\n" + escape_mrkdwn(
            "、".join(f"{SOURCE_LABELS['zh'].get(k, k)} {v}" for k, v in facts["sources"].items()))})
    if message.ticket_number:
        fields.append({"type": "mrkdwn", "text": f"*工单*\n{escape_mrkdwn(message.ticket_number)}"})
    return fields


def _links(message: AlertMessage) -> dict[str, Any] | None:
    links = [f"<{url}|{escape_mrkdwn(name)}>" for name, url in message.links.items()
             if url.startswith("http") and "|" not in url and ">" not in url]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]} if links else None


def slack_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    renderer = RENDERERS.get(message.kind, _incident_blocks)
    return _verbatim(renderer(message))


def _verbatim(node: Any) -> Any:
    """`verbatim: true` on every mrkdwn text object: our own <url|label> links still work, nothing
    in the text is turned into a link, channel or mention by Slack."""
    if isinstance(node, list):
        return [_verbatim(n) for n in node]
    if isinstance(node, dict):
        out = {k: _verbatim(v) for k, v in node.items()}
        if out.get("type") == "mrkdwn":
            out["verbatim"] = True
        return out
    return node


def _incident_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    emoji = SEVERITY_EMOJI.get("resolved" if message.kind == "incident_resolved" else message.severity, "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{message.severity} · {message.title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{emoji} *{escape_mrkdwn(message.brand_name or message.brand)}* — "
                                             f"{safe(message.summary)}\n{_state_line(message)}"}},
    ]
    fields = _incident_fields(message)
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    facts = message.facts
    if facts.get("sparkline"):
        data = facts.get("series") or {}
        span = f"{len(data.get('counts', [])) * data.get('interval_seconds', 0) / 3600:g} h" if data else ""
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"负面趋势 {span} `{escape_mrkdwn(facts['sparkline'])}`"
                                       f" (末桶 {(data.get('negative') or [0])[-1]}, 基线 {data.get('baseline', 0)})"}]})
    posts = facts.get("top_posts") or []
    if posts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*代表性帖子*\n" + "\n".join(
            _post_line(p, message) for p in posts[:3])[:2900]}})
    links = _links(message)
    if links:
        blocks.append(links)
    if message.incident_id is not None and message.kind != "incident_resolved" and facts.get("status") != "resolved":
        blocks.append(_buttons("incident", str(message.incident_id), INCIDENT_ACTIONS))
    return blocks


def _note_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    """Escalation steps, operator alerts: a title, a line, the mentions from config that must ring."""
    text = f"*{escape_mrkdwn(message.title)}*\n{safe(message.summary)}"
    if message.mentions:
        text = " ".join(message.mentions) + " " + text
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
    links = _links(message)
    if links:
        blocks.append(links)
    if message.kind == "escalation" and message.incident_id is not None:
        blocks.append(_buttons("incident", str(message.incident_id), INCIDENT_ACTIONS[:1]))
    return blocks


def _digest_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    lines = [f"• `{message.local_time(item.get('at'))}` [{escape_mrkdwn(item.get('severity', ''))}] "
             f"{safe(item.get('title', ''), 120)} — {safe(item.get('summary', ''), 160)}"
             for item in message.facts.get("items", [])]
    return [{"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            *({"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections(lines or ["—"]))]


APPROVAL_STATUS = {"approved": "已批准 approved", "rejected": "已驳回 rejected", "expired": "已过期 expired"}


def _person(who: str) -> str:
    """A Slack user id as Slack shows it (their name); anyone else as plain text."""
    return f"<@{who}>" if who[:1] in "UW" and who.isalnum() else escape_mrkdwn(who)


def _approval_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    facts = message.facts
    approvers = " ".join(_person(a) for a in facts.get("approvers", []))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": safe(message.summary)[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"审批人 approvers: {approvers} · 截止 "
                                                                    f"{message.local_time(facts.get('expires_at'))}"}]},
    ]
    if facts.get("status", "pending") == "pending":
        blocks.append(_buttons("approval", str(facts["approval_id"]),
                               (("approve", "Approve 批准", "primary"), ("reject", "Reject 驳回", "danger"))))
    else:
        status = APPROVAL_STATUS.get(facts["status"], escape_mrkdwn(str(facts["status"])))
        by = f" · {_person(str(facts['decided_by']))}" if facts.get("decided_by") else ""
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": status + by}]})
    return blocks


RENDERERS = {"escalation": _note_blocks, "operator": _note_blocks, "digest": _digest_blocks,
             "approval": _approval_blocks, "golden_window_closing": _note_blocks, "golden_window_missed": _note_blocks}


def plain_lines(message: AlertMessage) -> list[str]:
    """The same content for channels without Block Kit; callers neutralise each line for their format."""
    facts = message.facts
    lines = [f"[{message.severity}] {message.title}", message.summary]
    if "peak" in facts:
        lines.append(f"峰值 {facts['peak']:.0f} vs 基线 {facts['baseline']:.1f}")
    if facts.get("sparkline"):
        lines.append(f"负面趋势 {facts['sparkline']}")
    for post in (facts.get("top_posts") or [])[:3]:
        lines.append(f"· {post.get('author', '')}: {mask(str(post.get('text', ''))).text[:120]}")
    for item in facts.get("items", []):
        lines.append(f"· [{item.get('severity', '')}] {item.get('title', '')}")
    return lines
