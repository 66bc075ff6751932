"""What every rendering of the complaint report shares: the Report, how its numbers read, HTML
escaping and the PNG charts (report.py builds a Report and renders Markdown and CSV, report_html.py HTML)."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Report:
    period: str
    since: datetime
    until: datetime
    total: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    severities: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)  # lead department -> tickets
    statuses: dict[str, int] = field(default_factory=dict)
    resolved: int = 0
    mean_handling_hours: float | None = None
    first_contact_resolution: float | None = None
    on_time_rate: float | None = None  # of those resolved: by the 办结 deadline
    satisfaction_mean: float | None = None
    satisfaction_count: int = 0
    satisfaction: dict[int, int] = field(default_factory=dict)
    repeat_rate: float | None = None
    sla_breach_rate: float | None = None
    top_problems: list[dict[str, Any]] = field(default_factory=list)
    timezone: str = "UTC"
    orders: int | None = None
    complaint_rate: float | None = None
    daily: dict[str, dict[str, int]] = field(default_factory=dict)  # local day -> opened, resolved
    hours: dict[int, int] = field(default_factory=dict)  # local hour of day -> tickets opened
    backlog: dict[str, int] = field(default_factory=dict)  # age band -> open tickets at the end of the period
    agents: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)  # one row per ticket (TICKET_COLUMNS)

    @property
    def busiest_hours(self) -> list[tuple[int, int]]:
        return sorted(self.hours.items(), key=lambda kv: (-kv[1], kv[0]))[:3]

    def metrics(self) -> list[tuple[str, str, Any]]:
        """(key, label, value) rows: the summary table in every format."""
        return [
            ("total", "投诉总量 Total complaints", self.total),
            ("complaint_rate", "投诉率 Complaints per order", _pct(self.complaint_rate, 3)),
            ("resolved", "已解决 Resolved", self.resolved),
            ("mean_handling_hours", "平均处理时长(小时) Mean handling time (h)", _num(self.mean_handling_hours)),
            ("on_time_rate", "按时办结率 Resolved on time", _pct(self.on_time_rate)),
            ("first_contact_resolution", "一次解决率 First-contact resolution", _pct(self.first_contact_resolution)),
            ("satisfaction_mean", "满意度(1-5) Satisfaction", _num(self.satisfaction_mean)),
            ("satisfaction_count", "回访数 Follow-ups", self.satisfaction_count),
            ("repeat_rate", "重复投诉率 Repeat-complaint rate", _pct(self.repeat_rate)),
            ("sla_breach_rate", "超时率 SLA breach rate", _pct(self.sla_breach_rate)),
        ]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def chart_png(counts: dict[Any, int], title: str, labels: dict[Any, str] | None = None,
              over_time: bool = False) -> str | None:
    """A bar chart of counts as a data URI (matplotlib, Agg): across for kinds, upright for days and hours
    (`over_time`); None when matplotlib is missing or nothing to draw."""
    if not counts:
        return None
    try:
        # lazy: matplotlib takes ~0.5 s to import and only the HTML report draws charts
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import font_manager
        from matplotlib import pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    cjk = _cjk_font(font_manager)
    names = [str((labels or {}).get(k, k)) if cjk else str(k) for k in counts]
    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=100)
    if over_time:  # time runs left to right
        ax.bar(names, list(counts.values()), color="#c0392b")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # tickets are whole
        ax.tick_params(axis="x", labelrotation=45 if len(names) > 8 else 0, labelsize=8)
        ticks = ax.get_xticklabels()
    else:
        ax.barh(names[::-1], list(counts.values())[::-1], color="#c0392b")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ticks = ax.get_yticklabels()
    ax.set_title(title if cjk else title.split(" ", 1)[-1], fontproperties=cjk)
    for label in ticks:
        if cjk:
            label.set_fontproperties(cjk)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _cjk_font(font_manager: Any) -> Any:
    """A font with Chinese glyphs if the system has one (fc-list :lang=zh), else None (English labels)."""
    for f in font_manager.fontManager.ttflist:
        if "CJK" in f.name or f.name in ("WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC"):
            return font_manager.FontProperties(fname=f.fname)
    return None


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)
