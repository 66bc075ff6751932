"""Alert messages as Slack Block Kit and plain text. Every piece of user text is escaped."""

from __future__ import annotations

from typing import Any

from alerts.message import AlertMessage, escape_mrkdwn

SEVERITY_EMOJI = {"一般": ":large_blue_circle:", "重要": ":large_yellow_circle:", "紧急": ":large_orange_circle:",
                  "重大": ":red_circle:", "resolved": ":white_check_mark:"}


def slack_fallback_text(message: AlertMessage) -> str:
    """The notification text (shown in pop-ups and to screen readers)."""
    return f"[{message.severity}] {escape_mrkdwn(message.title)}"


def _post_line(post: dict[str, Any]) -> str:
    who = escape_mrkdwn(str(post.get("author", "")))
    badge = " ✔" if post.get("verified") else ""
    followers = int(post.get("followers") or 0)
    text = escape_mrkdwn(str(post.get("text", ""))[:200]).replace("\n", " ")
    return f"• *{who}*{badge} ({followers:,} 粉丝): {text}"


def slack_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    emoji = SEVERITY_EMOJI.get("resolved" if message.kind == "incident_resolved" else message.severity, "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{message.severity} · {message.title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{emoji} *{escape_mrkdwn(message.brand)}* — "
                                             f"{escape_mrkdwn(message.summary)}"}},
    ]
    facts = message.facts
    fields = []
    if facts.get("sentiment_mix"):
        mix = ", ".join(f"{k} {v}" for k, v in facts["sentiment_mix"].items())
        fields.append({"type": "mrkdwn", "text": f"*情感分布*\n{escape_mrkdwn(mix)}"})
    if facts.get("top_terms"):
        fields.append({"type": "mrkdwn", "text": "*热词*\n" + escape_mrkdwn("、".join(facts["top_terms"][:6]))})
    if facts.get("sources"):
        fields.append({"type": "mrkdwn", "text": "*来源*\n" + escape_mrkdwn(
            ", ".join(f"{k} {v}" for k, v in facts["sources"].items()))})
    if message.ticket_number:
        fields.append({"type": "mrkdwn", "text": f"*工单*\n{escape_mrkdwn(message.ticket_number)}"})
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    if facts.get("sparkline"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"最近趋势 `{escape_mrkdwn(facts['sparkline'])}`"}]})
    posts = facts.get("top_posts") or []
    if posts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*代表性帖子*\n" + "\n".join(map(_post_line, posts[:3]))}})
    links = [f"<{url}|{escape_mrkdwn(name)}>" for name, url in message.links.items() if url.startswith("http")]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    if message.incident_id is not None and message.kind != "incident_resolved":
        value = str(message.incident_id)
        blocks.append({"type": "actions", "block_id": f"incident:{value}", "elements": [
            {"type": "button", "action_id": "ack", "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Acknowledge 确认"}},
            {"type": "button", "action_id": "convert", "value": value,
             "text": {"type": "plain_text", "text": "Convert to complaint 转工单"}},
            {"type": "button", "action_id": "escalate", "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Escalate 升级"}},
            {"type": "button", "action_id": "mute_1h", "value": value,
             "text": {"type": "plain_text", "text": "Mute 1 h 静音"}},
        ]})
    return blocks
