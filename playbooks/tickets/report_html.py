"""The complaint report as one self-contained HTML page: tables plus PNG charts as data URIs."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from crisiswatch.config import INTAKE_CHANNEL_LABELS
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORY_LABELS
from playbooks.tickets.report_parts import Report, _num, _pct, chart_png, escape

STYLE = ("body{font-family:'Noto Sans CJK SC','PingFang SC',sans-serif;max-width:960px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 10px;"
         "text-align:left}img{max-width:100%}blockquote{color:#555;margin:.3em 0 .3em 1em}")


def _table(rows: list[tuple[Any, ...]], head: tuple[str, ...]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{escape(c)}</td>" for c in row), "</tr>"]
    out.append("</table>")
    return "".join(out)


def _counts(title: str, counts: dict[Any, int], labels: dict[Any, str] | None = None, over_time: bool = False) -> str:
    total = sum(counts.values())
    rows = [((labels or {}).get(k, k), v, _pct(v / total) if total else "-") for k, v in counts.items()]
    rows = rows or [("暂无 none", 0, "-")]
    chart = chart_png(counts, title, labels, over_time) if total else None
    img = f'<img alt="{escape(title)}" src="{chart}">' if chart else ""
    return f"<h2>{escape(title)}</h2>{img}{_table(rows, ('', '数量 Count', '占比 Share'))}"


def render_html(r: Report) -> str:
    tz = ZoneInfo(r.timezone)
    parts = [f"<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>投诉分析报告 {escape(r.period)}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>投诉分析报告 Complaint report ({escape(r.period)})</h1>",
             f"<p>{local_time(r.since, tz)} → {local_time(r.until, tz)} ({escape(r.timezone)})</p>",
             _table([(label, value) for _, label, value in r.metrics()], ("指标 Metric", "值 Value"))]
    parts.append(_counts("渠道占比 Share per channel", r.channels, INTAKE_CHANNEL_LABELS))
    parts.append(_counts("类别分布 Categories", r.categories, CATEGORY_LABELS))
    parts.append(_counts("等级 Grades", r.severities))
    parts.append(_counts("部门 Lead department", r.departments))
    parts.append(_counts("满意度分布 Satisfaction scores", r.satisfaction))
    parts.append(_counts("趋势 Daily opened", {d[5:]: v["opened"] for d, v in r.daily.items()}, over_time=True))
    parts.append(_counts("集中时段 Opened by hour", {f"{h:02d}:00": n for h, n in r.hours.items()}, over_time=True))
    parts.append(_counts("未结积压 Open backlog by age", r.backlog))
    parts.append("<h2>客服绩效 Per-agent KPIs</h2>" + _table(
        [(a["owner"], a["tickets"], _pct(a["resolution_rate"]), _num(a["mean_handling_hours"]),
          _num(a["satisfaction"]), a["breached"]) for a in r.agents],
        ("负责人 Owner", "工单 Tickets", "解决率 Resolved", "处理时效(小时) Handling (h)", "满意度 Satisfaction",
         "超时 Breached")))
    parts.append("<h2>主要问题 Top problems</h2><ol>")
    for p in r.top_problems:
        parts.append(f"<li><b>{escape(p['label'])}</b> ({escape(p['category'])}): {p['count']} 件，"
                     f"其中紧急/重大 {p['severe']} 件")
        for e in p["examples"]:
            link = f' <a href="{escape(e["url"])}">原帖</a>' if str(e["url"]).startswith(("http://", "https://")) else ""
            parts.append(f"<blockquote>“{escape(e['text'])}” — {escape(e['author'])}{link}</blockquote>")
        parts.append("</li>")
    parts.append("</ol></body></html>")
    return "".join(parts)
