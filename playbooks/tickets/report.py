"""The periodic complaint analysis from the manuals: volume, channels, categories, speed, quality.

Metrics over the tickets opened in the period: total, 投诉率 (per order, when the order count is
given), share per intake channel, category distribution, mean handling time (opened -> resolved),
first-contact resolution (resolved with a single reply and never reopened), satisfaction from 回访
(a score given before a reopening still counts), repeat-complaint rate, SLA breach rate, the daily
trend, the busiest hours, the open backlog by age, per-agent KPIs (处理时效, 满意度, 解决率) and the
top problems with example posts. Days and hours are the team's time zone. Each ticket is counted as it stood
at the end of the period (resolved, scored, breached, its status by then), so a past period reads the same
whenever its report is run. Rendered as Markdown, HTML
with charts, a per-ticket CSV, or the summary as CSV.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crisiswatch.config import INTAKE_CHANNEL_LABELS
from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORY_LABELS
from playbooks.tickets.linking import SAME_CUSTOMER
from playbooks.tickets.models import FALSE_ALARM, STATUSES
from playbooks.tickets.report_html import render_html
from playbooks.tickets.report_parts import Report, _num, _pct
from playbooks.tickets.service import TicketService

# week and month are calendar ones in the team's zone, the last complete one by `until` (周报, 月报: Monday to
# Sunday, the 1st to the last day); 7d and 30d end at `until` itself (what happened lately, today included)
PERIODS = ("week", "month", "7d", "30d")
FORMATS = ("md", "html", "csv", "summary-csv")
TICKET_COLUMNS = ("number", "channel", "category", "grade", "owner", "department", "status", "opened",
                  "first_response", "resolved", "breached", "satisfaction")
BACKLOG_AGES = ((1, "<1天"), (3, "1-3天"), (7, "3-7天"), (15, "7-15天"), (None, ">15天"))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class AsOf:
    """The tickets as they stood at the end of the period: resolved, scored and breached before it. A past
    period's report then reads the same whenever it is run, and its backlog and its resolved add up."""

    def __init__(self, tickets: TicketService, until: datetime) -> None:
        self.until = until
        self.breaches: Counter[int] = Counter()
        self.statuses: dict[int, str] = {}  # each lifecycle step records the status it led to
        self.departments: dict[int, str] = {}  # the lead department: routed at opening, then assigned
        for row in tickets.conn.execute("SELECT ticket_id, at, kind, detail FROM ticket_events ORDER BY id").fetchall():
            detail = json.loads(row["detail"])
            if row["kind"] == "sla_breached" and datetime.fromisoformat(detail["due"]) < until:
                self.breaches[row["ticket_id"]] += 1
            elif datetime.fromisoformat(row["at"]) >= until:
                continue
            elif detail.get("to") in STATUSES:  # a false alarm's closing is counted apart from the others
                self.statuses[row["ticket_id"]] = FALSE_ALARM if row["kind"] == "dismissed" else detail["to"]
            elif row["kind"] == "created" and detail.get("departments"):
                self.departments[row["ticket_id"]] = detail["departments"][0]
            elif row["kind"] == "assigned" and detail.get("department"):
                self.departments[row["ticket_id"]] = detail["department"]

    def status(self, t: Any) -> str:
        return self.statuses.get(t.id, STATUSES[0])

    def department(self, t: Any) -> str:
        return self.departments.get(t.id, t.department)

    def on_time(self, t: Any) -> bool:
        """Resolved (办结) by the end of the period and by its 办结 deadline, an approved extension included."""
        return self.resolved(t) and t.resolved_at <= t.resolve_due

    def resolved(self, t: Any) -> bool:
        return t.resolved_at is not None and t.resolved_at < self.until

    def score(self, t: Any) -> int | None:
        """The latest 回访 score given before the end (one given before a reopening still counts)."""
        given = [h["score"] for h in t.satisfaction_history if datetime.fromisoformat(h["at"]) < self.until]
        return given[-1] if given else None


def _ticket_row(t: Any, tz: ZoneInfo, at: AsOf) -> dict[str, Any]:
    return {"number": t.number, "channel": t.intake, "category": t.category, "grade": t.severity,
            "owner": t.owner, "department": at.department(t), "status": at.status(t), "opened": local_time(t.created_at, tz),
            "first_response": local_time(t.first_reply_at, tz),
            "resolved": local_time(t.resolved_at if at.resolved(t) else None, tz),
            "breached": at.breaches[t.id], "satisfaction": at.score(t) or ""}


def _agents(found: list[Any], at: AsOf) -> list[dict[str, Any]]:
    """Per owner: tickets, 解决率, mean 处理时效 (opened -> resolved, hours), 满意度, breaches."""
    by_owner: dict[str, list[Any]] = {}
    for t in found:
        by_owner.setdefault(t.owner or "(unassigned)", []).append(t)
    out = []
    for owner, group in sorted(by_owner.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        resolved = [t for t in group if at.resolved(t)]
        hours = _mean([(t.resolved_at - t.created_at).total_seconds() / 3600 for t in resolved])
        scores = [s for t in group if (s := at.score(t))]
        out.append({"owner": owner, "tickets": len(group), "resolved": len(resolved),
                    "resolution_rate": len(resolved) / len(group), "mean_handling_hours": hours,
                    "satisfaction": _mean(scores), "breached": sum(1 for t in group if at.breaches[t.id])})
    return out


def period_bounds(period: str, until: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[since, until) of a report: a rolling window ending at `until`, or the last complete calendar week or
    month in `tz` that ends at or before it."""
    if period in ("7d", "30d"):
        return until - timedelta(days=int(period[:-1])), until
    local = until.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        end = midnight - timedelta(days=midnight.weekday())  # the Monday that starts the week holding `until`
        start = end - timedelta(days=7)
    else:
        end = midnight.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    # rebuilt from dates: the zone's offset may differ at either end
    return (datetime.combine(start.date(), time(), tz), datetime.combine(end.date(), time(), tz))


def _backlog(tickets: TicketService, until: datetime) -> dict[str, int]:
    """Tickets open at the end of the period, by how long they had been: as they were then, so a past
    period's report reads the same after its tickets are closed."""
    counts = {label: 0 for _, label in BACKLOG_AGES}
    for t in tickets.list(until=until, limit=1_000_000, archived=True):
        if t.resolved_at is not None and t.resolved_at < until:
            continue
        age = (until - t.created_at) / timedelta(days=1)
        label = next(label for limit, label in BACKLOG_AGES if limit is None or age < limit)
        counts[label] += 1
    return counts


def build_report(tickets: TicketService, period: str = "week", until: datetime | None = None,
                 top: int = 5, orders: int | None = None) -> Report:
    if period not in PERIODS:
        raise CrisiswatchError(f"unknown period {period!r} (periods: {', '.join(PERIODS)})")
    if orders is not None and orders <= 0:
        raise CrisiswatchError("--orders: the number of orders in the period must be positive")
    tz = tickets.tz
    since, until = period_bounds(period, until or datetime.now(UTC), tz)
    found = tickets.list(since=since, until=until, limit=1_000_000, archived=True)  # archived tickets count too
    found = [t for t in found if not TicketService.merged_into(t)]  # a merged duplicate is counted in the one kept
    report = Report(period=period, since=since, until=until, total=len(found), timezone=tz.key, orders=orders)
    report.backlog = _backlog(tickets, until)
    if orders:
        report.complaint_rate = len(found) / orders
    day, last = since.astimezone(tz).date(), (until - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:  # `until` is the first instant after the period
        report.daily[day.isoformat()] = {"opened": 0, "resolved": 0}
        day += timedelta(days=1)
    if not found:
        return report
    found.sort(key=lambda t: t.created_at)
    at = AsOf(tickets, until)
    report.tickets = [_ticket_row(t, tz, at) for t in found]
    for t in found:
        report.daily.setdefault(_day(t.created_at, tz), {"opened": 0, "resolved": 0})["opened"] += 1
        if at.resolved(t):
            report.daily.setdefault(_day(t.resolved_at, tz), {"opened": 0, "resolved": 0})["resolved"] += 1
    report.hours = dict(sorted(Counter(t.created_at.astimezone(tz).hour for t in found).items()))
    report.agents = _agents(found, at)
    report.channels = dict(Counter(t.intake for t in found).most_common())
    report.categories = dict(Counter(t.category for t in found).most_common())
    report.severities = dict(Counter(t.severity for t in found).most_common())
    report.departments = dict(Counter(at.department(t) for t in found).most_common())
    report.statuses = dict(Counter(at.status(t) for t in found).most_common())
    resolved = [t for t in found if at.resolved(t)]
    report.resolved = len(resolved)
    if resolved:
        hours = [(t.resolved_at - t.created_at).total_seconds() / 3600 for t in resolved]
        report.mean_handling_hours = sum(hours) / len(hours)
        report.on_time_rate = sum(1 for t in resolved if at.on_time(t)) / len(resolved)
        report.first_contact_resolution = sum(1 for t in resolved if t.replies == 1 and not t.reopened) / len(resolved)
    scored = [s for t in found if (s := at.score(t))]
    report.satisfaction_count = len(scored)
    if scored:
        report.satisfaction_mean = sum(scored) / len(scored)
        report.satisfaction = dict(sorted(Counter(scored).items()))
    # 重复投诉: the same customer again; another customer with the same grievance is a common problem, not a repeat
    report.repeat_rate = sum(1 for t in found if any(r["direction"] == "earlier" and r["reason"] in SAME_CUSTOMER
                                                     for r in t.related)) / len(found)
    report.sla_breach_rate = sum(1 for t in found if at.breaches[t.id]) / len(found)
    by_category: dict[str, list[Any]] = {}
    for t in found:
        by_category.setdefault(t.category, []).append(t)
    for category, group in sorted(by_category.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]:
        examples = [e for t in sorted(group, key=lambda t: t.id) for e in t.evidence[:1]][:2]
        report.top_problems.append({
            "category": category, "label": CATEGORY_LABELS.get(category, category), "count": len(group),
            "severe": sum(1 for t in group if t.severity in ("紧急", "重大")),
            "examples": [{"text": str(e.get("text", ""))[:140], "url": e.get("url", ""),
                          "author": e.get("author", "")} for e in examples],
        })
    return report


def _day(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).date().isoformat()


def render(report: Report, fmt: str) -> str:
    if fmt == "md":
        return _markdown(report)
    if fmt == "csv":
        return ticket_csv(report)
    if fmt == "summary-csv":
        return _csv(report)
    if fmt == "html":
        return render_html(report)
    raise CrisiswatchError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")


def _share(counts: dict[Any, int], total: int) -> list[tuple[Any, int, str]]:
    return [(k, v, _pct(v / total) if total else "-") for k, v in counts.items()]


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(r: Report) -> str:
    tz = ZoneInfo(r.timezone)
    lines = [f"# 投诉分析报告 Complaint report ({r.period})", "",
             f"{local_time(r.since, tz)} → {local_time(r.until, tz)} ({r.timezone})", "", "| 指标 Metric | 值 Value |",
             "|---|---|"]
    lines += [f"| {label} | {value} |" for _, label, value in r.metrics()]
    names = {**CATEGORY_LABELS, **INTAKE_CHANNEL_LABELS}  # the keys' names where people have one
    for title, counts in (("渠道占比 Share per channel", r.channels), ("类别分布 Categories", r.categories),
                          ("等级 Grades", r.severities), ("部门 Lead department", r.departments),
                          ("满意度分布 Satisfaction scores", r.satisfaction)):
        lines += ["", f"## {title}", "", "| | 数量 Count | 占比 Share |", "|---|---|---|"]
        total = sum(counts.values())
        lines += [f"| {_md_cell(names.get(k, k) if isinstance(k, str) else k)} | {v} | {s} |"
                  for k, v, s in _share(counts, total)] or ["| - | 0 | - |"]
    lines += ["", "## 趋势 Daily trend", "", "| 日期 Day | 新增 Opened | 解决 Resolved |", "|---|---|---|"]
    lines += [f"| {d} | {v['opened']} | {v['resolved']} |" for d, v in r.daily.items()]
    lines += ["", "## 集中时段 Busiest hours", ""]
    lines += [f"- {h:02d}:00-{h:02d}:59: {n} 件" for h, n in r.busiest_hours] or ["- -"]
    lines += ["", "## 未结积压 Open backlog by age", "", "| 已开 Open for | 数量 Count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in r.backlog.items()]
    lines += ["", "## 客服绩效 Per-agent KPIs", "",
              "| 负责人 Owner | 工单 Tickets | 解决率 Resolved | 处理时效(小时) Handling (h) | 满意度 Satisfaction | 超时 Breached |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {_md_cell(a['owner'])} | {a['tickets']} | {_pct(a['resolution_rate'])} | "
              f"{_num(a['mean_handling_hours'])} | {_num(a['satisfaction'])} | {a['breached']} |" for a in r.agents]
    lines += ["", "## 主要问题 Top problems", ""]
    for i, p in enumerate(r.top_problems, 1):
        lines.append(f"{i}. **{p['label']}** ({p['category']}): {p['count']} 件, 其中紧急/重大 {p['severe']} 件")
        for e in p["examples"]:
            lines.append(f"   - “{_md_cell(e['text'])}” — {_md_cell(e['author'])} {e['url']}".rstrip())
    if not r.top_problems:
        lines.append("(no complaints in this period)")
    return "\n".join(lines) + "\n"


_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?%?")


def inert_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: post text or a name starting with = + - @ (or a tab or a carriage
    return) would run as a formula (`=HYPERLINK(...)`), so it gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-" \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class _InertWriter:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: list[object]) -> None:
        self.writer.writerow([inert_cell(v) for v in row])


def _csv(r: Report) -> str:
    buf = io.StringIO()
    w = _InertWriter(csv.writer(buf, lineterminator="\n"))
    w.writerow(["section", "key", "value", "share"])
    w.writerow(["period", r.period, f"{r.since.isoformat()}/{r.until.isoformat()}", r.timezone])
    for key, _, value in r.metrics():
        w.writerow(["metric", key, value, ""])
    for section, counts in (("channel", r.channels), ("category", r.categories), ("severity", r.severities),
                            ("department", r.departments), ("satisfaction", r.satisfaction)):
        for k, v, share in _share(counts, sum(counts.values())):
            w.writerow([section, k, v, share])
    for day, v in r.daily.items():
        w.writerow(["trend", day, v["opened"], v["resolved"]])
    for hour, n in r.hours.items():
        w.writerow(["hour", f"{hour:02d}", n, ""])
    for band, n in r.backlog.items():
        w.writerow(["backlog", band, n, ""])
    for a in r.agents:
        w.writerow(["agent", a["owner"], a["tickets"], f"{_pct(a['resolution_rate'])} resolved · "
                    f"{_num(a['mean_handling_hours'])} h · satisfaction {_num(a['satisfaction'])}"])
    for p in r.top_problems:
        example = p["examples"][0] if p["examples"] else {}
        w.writerow(["top_problem", p["category"], p["count"], example.get("text", "")])
    return buf.getvalue()


def ticket_csv(r: Report) -> str:
    """One row per ticket opened in the period, for a spreadsheet (times in the team's zone)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TICKET_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows({k: inert_cell(v) for k, v in row.items()} for row in r.tickets)
    return buf.getvalue()
