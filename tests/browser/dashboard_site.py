"""A dashboard with demo-like data, served by uvicorn on a free loopback port, for the dashboard tests.

Mentions are upserted straight into a real SQLite index (the crawl path has its own tests); the
incident and its ticket go through the real services. Texts are written for these tests.
"""

from __future__ import annotations

import random
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
import uvicorn

from crisiswatch.audit import AuditLog
from crisiswatch.config import Config, parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from monitor.dashboard.app import create_app
from monitor.dashboard.auth import User, UserStore, hash_password
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from playbooks.statements import StatementStore
from playbooks.tickets.service import TicketService

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORDS = {"viv": "viewer-pass-1", "ada": "agent-pass-1", "root": "admin-pass-1"}
ROLES = {"viv": "viewer", "ada": "agent", "root": "admin"}

PRAISE = ["{b}的{p}收到了，做工不错，好评", "第二次买{b}的{p}，一如既往地满意", "{b}客服很耐心，帮我换了{p}"]
NEUTRAL = ["{b}的{p}什么时候补货？", "有人用过{b}的{p}吗，求测评", "{b}的会员日是哪天"]
NEGATIVE = [
    ("{b}的快递一周了还没到，{p}到底发没发", "logistics", "重要"),
    ("{b}显示已签收但我根本没收到{p}，虚假签收！", "logistics", "紧急"),
    ("{b}的{p}用了两天就坏了，质量太差", "product_quality", "一般"),
    ("{b}退款拖了半个月，客服只会说在处理", "payment_billing", "重要"),
    ("{b}客服态度恶劣，直接挂我电话", "service_attitude", "一般"),
]
PRODUCTS = ["空气炸锅", "电饭煲", "蓝牙耳机", "羽绒服", "保温杯"]
BRANDS = {"aurora": "极光优选", "beichen": "北辰家电"}
TASKS = ["核查订单与物流记录", "联系发帖用户致歉并跟进"]

# The Mention model strips real tags and unescapes entities once, on the way in (as crawled HTML needs),
# so the payloads are entity-encoded once: what the dashboard reads from the index is then literal
# markup, exactly what a page must never interpret.
HOSTILE_TEXTS = [
    "&lt;script&gt;window.__pwned = 'script'&lt;/script&gt;极光优选快递丢了",
    "&lt;img src=x onerror=\"window.__pwned='img'\"&gt;极光优选退款不到账",
    "&lt;a href=\"javascript:window.__pwned='link'\"&gt;点我&lt;/a&gt; 极光优选客服不理人",
    "&lt;div onmouseover=\"window.__pwned='hover'\" style=\"position:fixed;inset:0\"&gt;极光优选虚假签收&lt;/div&gt;",
    "\"&gt;&lt;svg onload=\"window.__pwned='svg'\"&gt; 极光优选的包裹被扔在门口",
    "{{7*7}}&lt;/textarea&gt;&lt;/script&gt;&lt;script&gt;window.__pwned='break-out'&lt;/script&gt; 极光优选物流太慢",
]
HOSTILE_NAME = '<img src=x onerror="window.__pwned=\'author\'">'


def site_config(db: Path) -> Config:
    return parse_config({
        "state_db": str(db),
        "index": {"url": f"sqlite:///{db}"},
        "brands": [{"key": k, "names": [n]} for k, n in BRANDS.items()],
        "alerts": {"routes": [{"name": "console", "channel": "console"}]},
        "tickets": {"staff": {"ada": "客服", "root": "管理层", "zhou": "调查"}},
    }, str(db.parent / "crisiswatch.yaml"))


def demo_mentions(now: datetime, count: int = 240, seed: int = 7) -> list[Mention]:
    """A day of posts for two brands with a negative burst for aurora in the last hour."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        burst = n >= count * 3 // 4
        brand = "aurora" if burst or rng.random() < 0.6 else "beichen"
        age = timedelta(minutes=rng.uniform(0, 55)) if burst else timedelta(hours=rng.uniform(1, 23.5))
        kind = "neg" if burst or rng.random() < 0.2 else rng.choice(["praise", "neutral"])
        fill = {"b": BRANDS[brand], "p": rng.choice(PRODUCTS)}
        category = severity = None
        if kind == "neg":
            text, category, severity = rng.choice(NEGATIVE)
            sentiment = rng.uniform(0.02, 0.3)
        else:
            text = rng.choice(PRAISE if kind == "praise" else NEUTRAL)
            sentiment = rng.uniform(0.75, 0.98) if kind == "praise" else rng.uniform(0.45, 0.55)
        author = rng.randrange(60)
        out.append(Mention(
            source=rng.choice(["weibo", "weibo", "weibo", "jd", "tousu_sina"]), native_id=f"demo-{n}",
            url=f"https://m.weibo.cn/detail/{5000000 + n}", text=text.format(**fill), created_at=now - age,
            author={"id": f"u{author}", "name": f"用户{author:02d}", "followers": (author * 7919) % 250_000,
                    "verified": author % 11 == 0},
            engagement={"reposts": rng.randrange(50), "comments": rng.randrange(30), "likes": rng.randrange(200)},
            brands=[brand], sentiment=round(sentiment, 3), category=category, severity=severity,
            complaint=kind == "neg", lang="zh"))
    return out


def hostile_mentions(now: datetime) -> list[Mention]:
    return [Mention(source="weibo", native_id=f"hostile-{i}", url="javascript:window.__pwned='url'",
                    text=text, created_at=now - timedelta(seconds=i),
                    author={"id": f"h{i}", "name": HOSTILE_NAME, "followers": 9_000_000 + i},
                    brands=["aurora"], sentiment=0.05, category="logistics", severity="紧急", complaint=True)
            for i, text in enumerate(HOSTILE_TEXTS)]


def fresh_mention(now: datetime, n: int, text: str = "极光优选刚刚又有人投诉快递丢件") -> Mention:
    return Mention(source="weibo", native_id=f"fresh-{n}", url=f"https://m.weibo.cn/detail/{9000000 + n}",
                   text=text, created_at=now, author={"id": f"f{n}", "name": f"新用户{n}", "followers": 42},
                   brands=["aurora"], sentiment=0.08, category="logistics", severity="重要", complaint=True)


@dataclass
class Site:
    config: Config
    db: Path
    now: datetime
    incident_id: int
    ticket_number: str
    users_file: Path | None = None  # a users file makes passwords changeable from the dashboard
    incident_opened_local: str = ""  # as the pages show it (Asia/Shanghai)
    widest_negative: Mention | None = None  # the incident window's negative post with the most followers

    def index(self, mentions: list[Mention]) -> None:
        backend = open_backend(self.config.index.url)
        try:
            backend.upsert(mentions)
        finally:
            backend.close()


def build_site(tmp_path: Path, *, hostile: bool = False, users_file: bool = False) -> Site:
    db = tmp_path / "dash.db"
    config = site_config(db)
    now = datetime.now(UTC)
    backend = open_backend(config.index.url)
    backend.upsert(demo_mentions(now) + (hostile_mentions(now) if hostile else []))
    backend.close()
    conn = connect(db)
    incidents = IncidentService(conn)
    # as the detector writes it: an English summary for logs, the numbers in facts
    opened = incidents.apply(Signal(
        rule="negative_spike", key="aurora", brand="aurora", level="critical", at=now - timedelta(minutes=40),
        value=24, baseline=0.4, p_value=1e-9, summary="24 negative mentions in 1 min vs 0.40 expected (60x, p=1.0e-09)",
        facts={"negative": 24, "total": 30, "expected": 0.4, "ratio": 60.0, "p_value": 1e-9, "minutes": 1}))
    incident = opened.incident
    tickets = TicketService.from_config(config, conn)
    ticket = tickets.open(
        title="极光优选 负面声量激增：快递、签收", severity="紧急", category="logistics", brand="aurora",
        incident_id=incident.id, actor="playbook:negative_spike", now=now - timedelta(minutes=39))
    # what the playbooks do, through the services they use
    AuditLog(conn).record("playbook:negative_spike", "notify", incident.label, "done", at=now - timedelta(minutes=39))
    ticket = tickets.add_tasks(ticket.id, TASKS, actor="playbook:logistics_surge", expected_version=ticket.version,
                               now=now - timedelta(minutes=38))
    tickets.complete_task(ticket.id, 0, actor="ada", expected_version=ticket.version, now=now - timedelta(minutes=20))
    incidents.acknowledge(incident.id, "lin")
    StatementStore(conn).draft(incident_id=incident.id, playbook="negative_spike", ticket_number=ticket.number,
                               template="holding_statement", text="关于近期物流延误的说明", approvers=["pr-lead"],
                               incident_start=incident.opened_at, ready_at=now - timedelta(minutes=30),
                               window_minutes=12 * 60)
    conn.close()
    path = None
    if users_file:
        path = tmp_path / "dashboard-users.txt"
        path.write_text("".join(f"{u.name}:{u.role}:{u.password_hash}\n" for u in users().users.values()))
    window = [m for m in demo_mentions(now) + (hostile_mentions(now) if hostile else [])
              if "aurora" in m.brands and m.sentiment_band == "negative" and m.created_at >= now - timedelta(minutes=70)]
    widest = max(window, key=lambda m: (m.author.followers, m.created_at, m.id))
    local = incident.opened_at.astimezone(ZoneInfo(config.alerts.timezone)).strftime("%Y-%m-%d %H:%M")
    return Site(config, db, now, incident.id, ticket.number, path, local, widest)


def users(path: Path | None = None) -> UserStore:
    # few iterations: the tests log in often, and the hash format is the production one
    if path is not None:
        return UserStore.load(path)
    return UserStore({n: User(n, ROLES[n], hash_password(p, iterations=1000)) for n, p in PASSWORDS.items()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(site: Site, poll_seconds: float = 0.3, index_url: str | None = None) -> Iterator[str]:
    """The real app under uvicorn on loopback (reading `index_url` instead of the site's index if given);
    yields its base URL."""
    app = create_app(site.config, users(site.users_file), "test-secret-" + "x" * 20, poll_seconds=poll_seconds,
                     index_url=index_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("dashboard server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def login(base: str, name: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10)
    reply = session.post(f"{base}/login", data={"username": name, "password": PASSWORDS[name],
                                               "csrf": csrf_of(page.text), "next": "/"},
                         allow_redirects=False, timeout=10)
    assert reply.status_code == 303, reply.text[:300]
    return session


@contextmanager
def chromium_page(artifacts: Path | None = None) -> Iterator:
    """A fresh headless Chromium (Debian's package, never a downloaded build) and one page in it."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cw-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai")
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def browser_login(page, base: str, name: str, next_path: str = "/") -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
