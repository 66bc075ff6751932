"""The post-incident report (`crisiswatch incident report`): a crisis day told as a PR lead presents it to
management, in the team's zone, with the incident page's own numbers. Texts are written for this test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.mention import Author, Engagement, Mention, mention_id
from index import open_backend
from monitor.dashboard.incident_page import IncidentPageService
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from playbooks.statements import StatementStore
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict

DAY = datetime(2026, 11, 18, tzinfo=UTC)  # 08:00 UTC is 16:00 in Asia/Shanghai


def at(hh: int, mm: int = 0) -> datetime:
    """A time of the crisis day as the team in Shanghai reads it."""
    return DAY + timedelta(hours=hh - 8, minutes=mm)


STORY = "孩子用极光优选的取暖器被烫伤了，手上全是水泡，大家千万别买"
FIRST = mention_id("weibo", "s0")


@pytest.fixture
def day(tmp_path: Path):
    data = config_dict(tmp_path)
    data["alerts"]["slack"] = {"users": {"ULIN": "林晓"}}  # the Acknowledge button is pressed by a Slack member id
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    backend = open_backend(data["index"]["url"])
    crowd = [Mention(source="jd", native_id=f"c{i}", text=f"极光优选的台灯收到了 {i}", created_at=at(6) + timedelta(minutes=10 * i),
                     author=Author(id=f"u{i}", name=f"买家{i}"), brands=["aurora"], sentiment=0.6) for i in range(72)]
    # the story: first on Weibo at 09:00, then copied to 黑猫投诉 and X; the copies are one cluster
    copies = [Mention(source=("weibo", "tousu_sina", "x")[i % 3], native_id=f"s{i}", text=STORY + ("<script>x</script>" if i == 7 else ""),
                      created_at=at(9, 0) + timedelta(minutes=i), author=Author(id=f"a{i}", name=f"网友{i}", followers=100 + i),
                      brands=["aurora"], sentiment=0.05, cluster_id=FIRST, category="product_quality") for i in range(40)]
    media = Mention(source="weibo", native_id="media", text="【关注】多名家长反映极光优选取暖器烫伤儿童，记者已联系企业核实",
                    created_at=at(14, 0), author=Author(id="news", name="城市晚报", followers=2_800_000, verified=True),
                    engagement=Engagement(reposts=9000), brands=["aurora"], sentiment=0.1, category="product_quality")
    backend.upsert(crowd + copies + [media])
    backend.close()
    conn = connect(data["state_db"])
    incidents = IncidentService(conn)
    signal = dict(rule="negative_spike", key="brand=aurora", brand="aurora", value=12, baseline=0.4, p_value=1e-9,
                  summary="12 negative mentions in 1 min vs 0.40 expected", facts={"minutes": 1})
    incident = incidents.apply(Signal(level="warning", at=at(9, 6), **signal)).incident
    incidents.acknowledge(incident.id, "ULIN")
    conn.execute("UPDATE incidents SET acked_at=? WHERE id=?", (at(9, 12).isoformat(), incident.id))
    conn.execute("UPDATE incident_events SET at=? WHERE kind='acknowledged'", (at(9, 12).isoformat(),))
    incidents.apply(Signal(level="critical", at=at(14, 0), **signal))  # the media report raises the level
    conn.execute("UPDATE incident_events SET at=? WHERE kind='escalated'", (at(14, 0).isoformat(),))
    store = StatementStore(conn)
    s = store.draft(incident_id=incident.id, playbook="product_safety", ticket_number="", template="t",
                    text="【极光优选关于取暖器的说明】", approvers=["pr-lead", "legal-counsel"],
                    incident_start=incident.opened_at, ready_at=at(9, 10), window_minutes=240)
    conn.execute("UPDATE statements SET status='approved', decided_by='pr-lead', decided_at=? WHERE id=?",
                 (at(10, 0).isoformat(), s.id))
    store.publish(s.id, "pr-lead", at(10, 5))
    incidents.resolve(incident.id, at(18, 0), "normal for 2h")
    conn.execute("UPDATE incident_events SET at=? WHERE kind='resolved'", (at(18, 0).isoformat(),))
    return cfg, data, incident.id


def test_the_report_gives_the_day_in_the_teams_zone_with_the_golden_window(day, capsys):
    cfg, data, incident_id = day
    assert main(["--config", str(cfg), "incident", "report", f"INC-{incident_id}"]) == 0
    out = capsys.readouterr().out
    moments = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.splitlines()
               if line.startswith("| ") and "moment" not in line}
    assert moments["首条帖子 first post"] == "2026-11-18 09:00"  # the story's first copy, not the detection
    assert moments["发现 detected (golden window starts)"] == "2026-11-18 09:06"
    assert moments["确认 acknowledged"] == "2026-11-18 09:12"
    assert moments["首次声明 first statement published"] == "2026-11-18 10:05"
    assert moments["升级 level raised"] == "2026-11-18 14:00"
    assert moments["解决 resolved"] == "2026-11-18 18:00"
    assert moments["最广传播 widest-reaching post"] == "2026-11-18 14:00"  # the media report
    assert "微博 @城市晚报 (2,800,000 followers)" in out
    order = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ") and "moment" not in line]
    assert order.index("首条帖子 first post") < order.index("发现 detected (golden window starts)") < order.index(
        "确认 acknowledged") < order.index("首次声明 first statement published") < order.index("解决 resolved")
    assert "kept: first statement 59 min after detection (1 h 05 min after the first post), window 4 h 00 min " \
           "to 2026-11-18 13:06" in out
    assert "| 确认 acknowledged | 2026-11-18 09:12 | 林晓 |" in out and "- 2026-11-18 09:12 林晓 确认了事件" in out
    assert "ULIN" not in out  # who acknowledged, by name, not by Slack member id
    assert "detection to acknowledgement: 6 min" in out and "first post to detection: 6 min" in out


def test_the_reports_numbers_are_the_incident_pages(day, capsys):
    cfg, data, incident_id = day
    conn = connect(data["state_db"])
    backend = open_backend(data["index"]["url"])
    page = IncidentPageService(backend, IncidentService(conn), TicketService(conn), StatementStore(conn),
                               AuditLog(conn), lambda b: "极光优选").page(incident_id)
    spread = page["spreading"]
    assert main(["--config", str(cfg), "incident", "report", str(incident_id)]) == 0
    out = capsys.readouterr().out
    share = spread["negative"] / spread["mentions"]
    assert f"- mentions {spread['mentions']}, negative {spread['negative']} ({share:.0%})" in out
    assert "城市晚报 (2,800,000 followers)" in out.split("## 传播最广")[1].splitlines()[2]  # the widest first


def test_the_html_report_draws_the_curve_and_keeps_post_text_inert(day, tmp_path, capsys):
    cfg, data, incident_id = day
    out = tmp_path / "report.html"
    assert main(["--config", str(cfg), "incident", "report", str(incident_id), "--format", "html", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and page.count("<rect") >= 2 and "<script" not in page
    assert "&lt;script&gt;" in page or STORY in page
    curve = page[page.index("<svg"):page.index("</svg>")]
    assert "首次声明 10:05" in curve and "发现 09:06" in curve  # the key moments marked on the chart


def test_an_unknown_incident_is_one_line(day, capsys):
    cfg, *_ = day
    assert main(["--config", str(cfg), "incident", "report", "INC-99"]) == 1
    assert "no incident INC-99" in capsys.readouterr().err


def test_a_resolved_incident_read_weeks_later_keeps_its_curve_at_the_scale_of_its_day(day, capsys):
    # read on the day it is presented, weeks after: the curve ran to now and drew the crisis in a few 6-hour bars,
    # its peak "14:00, per 360 min" (the incident page showed the same curve)
    cfg, data, incident_id = day
    assert main(["--config", str(cfg), "incident", "report", str(incident_id)]) == 0
    out = capsys.readouterr().out
    assert "| 峰值 peak | 2026-11-18 09:00 | 17 mentions per 15 min |" in out
    conn = connect(data["state_db"])
    page = IncidentPageService(open_backend(data["index"]["url"]), IncidentService(conn), TicketService(conn),
                               StatementStore(conn), AuditLog(conn), lambda b: "极光优选")
    curve = page.page(incident_id, now=at(18) + timedelta(days=20))["curve"]
    assert curve["interval"] == 900 and curve["slots"][-1] == at(19).isoformat()
