"""The complaint report as one self-contained HTML page: tables plus PNG charts as data URIs."""

from __future__ import annotations

from typing import Any

from crisiswatch.mention import CATEGORY_LABELS
from playbooks.tickets.report import Report, _pct, chart_png, escape

STYLE = ("body{font-family:'Noto Sans CJK SC','PingFang SC',sans-serif;max-width:960px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 10px;"
         "text-align:left}img{max-width:100%}blockquote{color:#555;margin:.3em 0 .3em 1em}")


def _table(rows: list[tuple[Any, ...]], head: tuple[str, ...]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{escape(c)}</td>" for c in row), "</tr>"]
    out.append("</table>")
    return "".join(out)


def _counts(title: str, counts: dict[Any, int], labels: dict[Any, str] | None = None) -> str:
    total = sum(counts.values())
    rows = [((labels or {}).get(k, k), v, _pct(v / total) if total else "-") for k, v in counts.items()]
    chart = chart_png(counts, title, labels)
    img = f'<img alt="{escape(title)}" src="{chart}">' if chart else ""
    return f"<h2>{escape(title)}</h2>{img}{_table(rows, ('', '数量 Count', '占比 Share'))}"


def render_html(r: Report) -> str:
    parts = [f"<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>投诉分析报告 {escape(r.period)}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>投诉分析报告 Complaint report ({escape(r.period)})</h1>",
             f"<p>{r.since:%Y-%m-%d %H:%M} → {r.until:%Y-%m-%d %H:%M} UTC</p>",
             _table([(label, value) for _, label, value in r.metrics()], ("指标 Metric", "值 Value"))]
    parts.append(_counts("渠道占比 Share per channel", r.channels))
    parts.append(_counts("类别分布 Categories", r.categories, CATEGORY_LABELS))
    parts.append(_counts("等级 Grades", r.severities))
    parts.append(_counts("满意度分布 Satisfaction scores", r.satisfaction))
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
