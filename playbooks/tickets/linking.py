"""What makes posts one complaint, and complaints repeats: evidence, order numbers, topics."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from crisiswatch.mention import Mention, severity_rank
from index.tokenize import topic_tokens
from playbooks.tickets.ledger import TicketLedger

# order numbers survive the masking (crisiswatch.pii); the raw text, when kept, is read first all the same
_ORDER = re.compile(r"(?:订单编号|订单号|运单号|单号|订单)\s*[:：#]?\s*([A-Za-z]{0,4}\d{6,24})")
_STOP = set("的 了 是 我 你 他 她 它 们 在 和 就 都 也 还 又 很 吗 呢 吧 啊 这 那 有 没 不 一个 什么 怎么 已经 现在 "
            "今天 真的 而且 但是 因为 所以 可以 一下 这个 那个 你们 我们 他们".split())
TOPIC_SIMILARITY = 0.5
# links that say the same customer came back (重复投诉); "same_topic" is others with the same grievance (集中投诉)
SAME_CUSTOMER = ("same_author", "same_order", "same_contact", "same_customer")


def order_number(mention: Mention) -> str:
    for text in (str(mention.extra.get("raw_text") or ""), mention.text):
        found = _ORDER.search(text)
        if found:
            return found.group(1)
    return ""


def evidence(mention: Mention, now: datetime | None = None) -> dict[str, Any]:
    """A snapshot of the post as it was when converted: posts get edited or deleted."""
    return {
        "mention_id": mention.id, "url": mention.url, "source": mention.source, "text": mention.text,
        "author": mention.author.name, "author_id": mention.author.id, "followers": mention.author.followers,
        "created_at": mention.created_at.isoformat(), "cluster_id": mention.cluster_id or "",
        "captured_at": (now or datetime.now(UTC)).isoformat(),
    }


def main_category(mentions: list[Mention]) -> str:
    counts = Counter(m.category for m in mentions if m.category)
    return counts.most_common(1)[0][0] if counts else "other"


def gravest(mentions: list[Mention]) -> str:
    grades = [m.severity for m in mentions if m.severity]
    return max(grades, key=severity_rank) if grades else "一般"


def topic_terms(text: str) -> set[str]:
    return {t for t in topic_tokens(text) if len(t) > 1 and t not in _STOP and not t.isdigit()}


def similar_topic(a: str, b: str) -> bool:
    """Token Jaccard of two complaint texts; the same grievance retold shares most of its words."""
    x, y = topic_terms(a), topic_terms(b)
    if not x or not y:
        return False
    return len(x & y) / len(x | y) >= TOPIC_SIMILARITY


def contact_key(contact: str) -> str:
    """A contact as it identifies a customer: an e-mail in lower case, a phone number as its digits without
    the country code (`+86 138-1234-5678` and `13812345678` are one customer). Never the masked form, which
    many customers share."""
    value = contact.strip().lower()
    if "@" in value:
        return value
    digits = re.sub(r"\D", "", value)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix):]
    return digits


def _topic_text(row: Any) -> str:
    """What the complaint says: the posts it holds, or the customer's summary for one taken at the desk."""
    return " ".join(e.get("text", "") for e in json.loads(row["evidence"])) or row["summary"] or ""


def link_repeats(tickets: TicketLedger, ticket_id: int, now: datetime, actor: str) -> None:
    """Same author, order number or contact, the same customer retelling the same grievance, or the same
    grievance retold in the same category, within the window: a repeat."""
    new = tickets.conn.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone()
    since = (now - timedelta(days=tickets.settings.repeat_window_days)).isoformat()
    text, contact = _topic_text(new), contact_key(new["contact"] or "")
    customer = (new["customer"] or "").strip()
    candidates = tickets.conn.execute(
        "SELECT id, number, author_id, order_no, category, evidence, contact, customer, summary FROM tickets"
        " WHERE id != ? AND brand=? AND created_at >= ? ORDER BY id DESC LIMIT 500",
        (ticket_id, new["brand"], since)).fetchall()
    for old in candidates:
        if new["author_id"] and old["author_id"] == new["author_id"]:
            reason = "same_author"
        elif new["order_no"] and old["order_no"] == new["order_no"]:
            reason = "same_order"
        elif contact and contact_key(old["contact"] or "") == contact:
            reason = "same_contact"
        # a name such as 王女士 is shared by many customers: with what they said, not alone
        elif customer and (old["customer"] or "").strip() == customer and similar_topic(text, _topic_text(old)):
            reason = "same_customer"
        elif old["category"] == new["category"] and text and similar_topic(text, _topic_text(old)):
            reason = "same_topic"
        else:
            continue
        tickets.conn.execute("INSERT INTO ticket_links(ticket_id, related_id, reason) VALUES (?,?,?)"
                             " ON CONFLICT DO NOTHING",
                          (ticket_id, old["id"], reason))
        tickets.record_event(ticket_id, now, actor, "linked", related=old["number"], reason=reason)
