"""The post-incident report (复盘报告) a PR lead presents to management: the moments that matter (first post,
detection, acknowledgement, first statement, peak, resolution) in the team's zone, the golden window as it was
kept, the numbers and top posts, the whole timeline, and the curve as a chart.

Every number comes from the incident page's own service (`IncidentPageService.page`), so the report, the page
and the dashboard say the same; the report only adds the first post and the peak, read from the same curve."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crisiswatch.localtime import local_time
from crisiswatch.mention import SOURCE_LABELS
from index.base import Backend, MentionFilter
from monitor.dashboard.i18n_events import collapse_repeats, event_text, level_text
from monitor.dashboard.incident_page import IncidentPageService
from monitor.explain import LEAD as FIRST_POST_LOOKBACK  # the incident page's window starts this long before
from monitor.incidents.models import Incident


def _source(name: str) -> str:
    return SOURCE_LABELS["zh"].get(name, name)


def _followers(count: int | None, unit: str = " followers") -> str:
    """'2,300,000 followers', or 'followers unknown' for a source that gave no count (not 0)."""
    return "followers unknown" if count is None else f"{count:,}{unit}"


@dataclass(frozen=True)
class Moment:
    key: str
    label: str
    at: datetime | None
    note: str = ""


def minutes_between(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else round((end - start) / timedelta(minutes=1))


def first_post(backend: Backend, brand: str, opened_at: datetime) -> tuple[datetime | None, str]:
    """The post the crisis started from: the first of the story copied most around the opening, else the first negative post of the half hour before the opening."""
    window = MentionFilter(brand=brand, since=opened_at - FIRST_POST_LOOKBACK, until=opened_at + timedelta(hours=1))
    for cluster_id, size in backend.counts_by(window, "cluster_id", limit=1):
        # its copies, however long before: a crawl reads newest first, so the cluster's name may be a later copy
        first = min(backend.scan(MentionFilter(brand=brand, cluster_id=cluster_id)), key=lambda m: m.created_at,
                    default=None) if size > 1 else None
        if first is not None:
            return first.created_at, f"{_source(first.source)} @{first.author.name}"
    negative = MentionFilter(brand=brand, sentiment_band="negative", since=opened_at - FIRST_POST_LOOKBACK,
                             until=opened_at + timedelta(minutes=1))
    earliest = min(backend.scan(negative), key=lambda m: m.created_at, default=None)
    if earliest is None:
        return None, ""
    return earliest.created_at, f"{_source(earliest.source)} @{earliest.author.name}"


def build_postmortem(service: IncidentPageService, incident_id: int, now: datetime, zone: ZoneInfo) -> dict | None:
    data = service.page(incident_id, now)
    if data is None:
        return None
    inc = data["incident"]
    curve, golden = data["curve"], data["golden"]
    first_at, first_who = first_post(service.backend, inc.brand, inc.opened_at)
    peak_i = max(range(len(curve["total"])), key=lambda i: curve["total"][i]) if curve["total"] else None
    peak_at = datetime.fromisoformat(curve["slots"][peak_i]) if peak_i is not None else None
    raised = [e for e in service.incidents.events(inc.id) if e["kind"] in ("escalated", "regraded")]
    # the post that reached most people, whatever its tone: a news report is often not "negative" in words
    window = MentionFilter(brand=inc.brand, since=inc.opened_at - FIRST_POST_LOOKBACK, until=inc.resolved_at or now)
    widest = next(iter(service.backend.by_reach(window, limit=1)), None)
    moments = [
        Moment("first_post", "首条帖子 first post", first_at, first_who),
        Moment("detected", "发现 detected (golden window starts)", inc.opened_at),
        Moment("acknowledged", "确认 acknowledged", inc.acked_at, data["acked_by"]),
        Moment("statement", "首次声明 first statement published", golden.published_at,
               "missed the golden window" if golden.missed else ("within the golden window"
                                                                 if golden.published_at else "none published")),
        Moment("peak", "峰值 peak", peak_at, f"{curve['total'][peak_i]} mentions per {curve['interval'] // 60} min"
               if peak_i is not None else ""),
        *(Moment("raised", "升级 level raised", datetime.fromisoformat(e["at"]),
                 e["detail"]["grade"] if e["kind"] == "regraded" else level_text(e["detail"].get("level", ""), "zh"))
          for e in raised),
        Moment("resolved", "解决 resolved", inc.resolved_at),
        *([Moment("dismissed", "误报 dismissed as a false alarm", datetime.fromisoformat(inc.dismissed["at"]),
                  f"{inc.dismissed['by']}: {inc.dismissed['reason']}")] if inc.dismissed else []),
        *([Moment("widest", "最广传播 widest-reaching post", widest.created_at,
                  f"{_source(widest.source)} @{widest.author.name} ({_followers(widest.author.followers)})")]
          if widest is not None else []),
    ]
    moments.sort(key=lambda m: (m.at is None, m.at or now))
    task_names = [t["text"] for t in data["tasks"]]
    timeline = collapse_repeats([{**e, "text": event_text(e["kind"], e["actor"], e["detail"], "zh", task_names,
                                                          lambda at: local_time(at, zone))}
                                 for e in data["timeline"]], "zh")
    spreading = data["spreading"]
    return {
        **data, "zone": zone, "now": now, "moments": moments, "timeline": timeline, "first_post_at": first_at,
        "peak_at": peak_at,
        "measures": {
            "first_post_to_detection": minutes_between(first_at, inc.opened_at),
            "detection_to_ack": minutes_between(inc.opened_at, inc.acked_at),
            "detection_to_statement": minutes_between(inc.opened_at, golden.published_at),
            "first_post_to_statement": minutes_between(first_at, golden.published_at),
            "golden_window_minutes": golden.minutes,
            "duration": minutes_between(inc.opened_at, inc.resolved_at or now),
        },
        "negative_share": round(spreading["negative"] / spreading["mentions"], 3) if spreading["mentions"] else None,
    }


def _hm(minutes: int | None) -> str:
    if minutes is None:
        return "—"
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    return f"{sign}{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{sign}{minutes} min"


def _golden_line(report: dict) -> str:
    m, golden = report["measures"], report["golden"]
    due = local_time(golden.due, report["zone"])
    if golden.published_at is None:
        return f"no statement published; the golden window ({_hm(m['golden_window_minutes'])}) ended {due}"
    verdict = "MISSED" if golden.missed else "kept"
    return (f"{verdict}: first statement {_hm(m['detection_to_statement'])} after detection "
            f"({_hm(m['first_post_to_statement'])} after the first post), window {_hm(m['golden_window_minutes'])} "
            f"to {due}")


def incident_state(inc: Incident) -> str:
    """Open, resolved, or dismissed as a false alarm (误报) with who and why: the last is no crisis handled."""
    if inc.dismissed:
        return f"误报 false alarm, dismissed by {inc.dismissed['by']}: {inc.dismissed['reason']}"
    return "已解决 resolved" if inc.resolved_at else "进行中 still open"


def render_markdown(report: dict) -> str:
    inc, zone, s = report["incident"], report["zone"], report["spreading"]
    zone_name = getattr(zone, "key", str(zone))
    out = [f"# 复盘报告 post-incident report · {report['brand_name']} {inc.label}", "",
           f"等级 grade {report['grade']} · {level_text(inc.level, 'zh')} · "
           f"{incident_state(inc)}"
           + (f" · 工单 ticket {report['ticket'].number}" if report["ticket"] else ""),
           f"Times in {zone_name}.", "", "## 关键时间 key moments", "", "| moment | time | |", "|---|---|---|"]
    for m in report["moments"]:
        out.append(f"| {m.label} | {local_time(m.at, zone, empty='—')} | {_md(m.note)} |")
    measures = report["measures"]
    out += ["", f"- 黄金时间 golden window: {_golden_line(report)}",
            f"- first post to detection: {_hm(measures['first_post_to_detection'])}",
            f"- detection to acknowledgement: {_hm(measures['detection_to_ack'])}",
            f"- duration: {_hm(measures['duration'])}", "",
            "## 声量 volume", "", f"`{sparkline(report['curve']['total'])}` mentions per "
            f"{report['curve']['interval'] // 60} min from {local_time(report['curve']['slots'][0], zone)}", "",
            f"- mentions {s['mentions']}, negative {s['negative']}"
            + (f" ({report['negative_share']:.0%})" if report["negative_share"] is not None else ""),
            "- negative by source: " + (", ".join(f"{_source(k)} {v}" for k, v in s["sources"].items())
                                        or "—"), "", "## 传播最广 widest-reaching posts", ""]
    for p in s["top_posts"]:
        out.append(f"- {local_time(p['created_at'], zone)} · {_source(p['source'])} · "
                   f"{_md(p['author'])} ({_followers(p['followers'])}): {_md(p['text'][:140])}")
    out += ["", "## 时间线 timeline", ""]
    for e in report["timeline"]:
        repeats = f" (×{e['count']})" if e.get("count", 1) > 1 else ""
        out.append(f"- {local_time(e['at'], zone)} {_md(e['text'])}{repeats}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Post text inert in Markdown: no tables broken, no links or markup taken from what posts said."""
    return html.escape(str(text).replace("\n", " ")).replace("|", "\\|").replace("[", "\\[").replace("`", "'")


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    return "".join("▁▂▃▄▅▆▇█"[min(7, c * 8 // (top + 1))] if top else "▁" for c in counts)


def svg_curve(report: dict, width: int = 760, height: int = 220) -> str:
    """Mentions (grey) and negative ones (red) per bucket, with a line at each key moment."""
    curve, zone = report["curve"], report["zone"]
    total, negative = curve["total"], curve["negative"]
    n, top = len(total), max(total, default=0) or 1
    left, bottom, plot_h = 40, height - 40, height - 70
    bar = (width - left - 10) / max(n, 1)
    start = datetime.fromisoformat(curve["slots"][0])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="mentions per {curve["interval"] // 60} min">',
             f'<text x="{left}" y="14" font-size="11">max {top} / {curve["interval"] // 60} min · '
             f'<tspan fill="#8a96a3">■ 全部 all</tspan> <tspan fill="#d64545">■ 负面 negative</tspan></text>']
    for i, (t, neg) in enumerate(zip(total, negative, strict=True)):
        x = left + i * bar
        th, nh = t / top * plot_h, neg / top * plot_h
        parts.append(f'<rect x="{x:.1f}" y="{bottom - th:.1f}" width="{max(bar - 1, 1):.1f}" height="{th:.1f}" '
                     f'fill="#b8c2cc"/>')
        parts.append(f'<rect x="{x:.1f}" y="{bottom - nh:.1f}" width="{max(bar - 1, 1):.1f}" height="{nh:.1f}" '
                     f'fill="#d64545"/>')
    for j, m in enumerate(m for m in report["moments"] if m.at is not None):
        x = left + (m.at - start) / timedelta(seconds=curve["interval"]) * bar
        if left <= x <= width:
            parts.append(f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{bottom}" stroke="#1f4e79" '
                         f'stroke-dasharray="3,2"/>')
            parts.append(f'<text x="{x + 2:.1f}" y="{30 + 12 * (j % 6)}" font-size="10">'
                         f'{html.escape(m.label.split(" ")[0])} {local_time(m.at, zone, "%H:%M")}</text>')
    for i in range(0, n, max(1, n // 6)):
        parts.append(f'<text x="{left + i * bar:.1f}" y="{bottom + 14}" font-size="10">'
                     f'{local_time(curve["slots"][i], zone, "%H:%M")}</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#333"/></svg>')
    return "".join(parts)


def render_html(report: dict) -> str:
    """One self-contained page (no script, nothing fetched): the Markdown's facts, the curve drawn in SVG."""
    inc, zone, s = report["incident"], report["zone"], report["spreading"]
    esc = html.escape
    rows = "".join(f"<tr><th>{esc(m.label)}</th><td>{local_time(m.at, zone, empty='—')}</td><td>{esc(m.note)}</td></tr>"
                   for m in report["moments"])
    posts = "".join(f"<li><b>{esc(p['author'])}</b> ({_followers(p['followers'], unit='')}) · {esc(_source(p['source']))}"
                    f" · {local_time(p['created_at'], zone)}<br>{esc(p['text'])}</li>" for p in s["top_posts"])
    events = "".join(f"<li><time>{local_time(e['at'], zone)}</time> {esc(e['text'])}"
                     f"{' ×' + str(e['count']) if e.get('count', 1) > 1 else ''}</li>" for e in report["timeline"])
    share = f" ({report['negative_share']:.0%})" if report["negative_share"] is not None else ""
    title = f"复盘报告 · {report['brand_name']} {inc.label}"
    return (f"<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:820px;margin:2em auto}td,th{padding:2px 8px;text-align:left}"
            "</style></head><body>"
            f"<h1>{esc(title)}</h1><p>等级 {esc(report['grade'])} · {esc(level_text(inc.level, 'zh'))} · "
            f"<span id=\"state\">{esc(incident_state(inc))}</span> · "
            f"times in {esc(getattr(zone, 'key', str(zone)))}</p>"
            f"<h2>关键时间 key moments</h2><table id=\"moments\">{rows}</table>"
            f"<p id=\"golden\">黄金时间 golden window: {esc(_golden_line(report))}</p>"
            f"<h2>声量 volume</h2><figure id=\"curve\">{svg_curve(report)}</figure>"
            f"<p id=\"numbers\">mentions {s['mentions']}, negative {s['negative']}{share}</p>"
            f"<h2>传播最广 widest-reaching posts</h2><ol id=\"top-posts\">{posts}</ol>"
            f"<h2>时间线 timeline</h2><ol id=\"timeline\">{events}</ol></body></html>\n")
