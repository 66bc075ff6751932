"""Kill the delivering process with sends pending, restart it: every alert arrives exactly once.

The config names the channel (`#crisis`); like real Slack, the loopback API refuses names in
conversations.history, so the restart finds what the killed process posted only through the id
resolved before (conversations.list) and kept in the state database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import yaml

from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from crisiswatch.db import connect
from tests.conftest import REPO, config_dict


def alert(n: int, kind: str = "incident_opened") -> AlertMessage:
    return AlertMessage(kind=kind, title=f"极光优选 负面声量异常 (INC-{n})", severity="重要", brand="aurora",
                        summary=f"alert {n} {kind}", incident_id=n, thread_key=f"incident:{n}")


def deliver(cfg, slack) -> subprocess.Popen:
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "alerts", "deliver"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_delivery_then_restart_delivers_each_alert_once(tmp_path, slack):
    data = config_dict(tmp_path)
    data["alerts"] = {"slack": {"base_url": slack.base_url, "channel": "#crisis"}, "outbox_lease_seconds": 1,
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    from crisiswatch.config import load_config

    config = load_config(str(cfg))
    d = AlertDispatcher(config, connect(config.state_store), {"slack": None})
    for n in range(1, 7):
        d.enqueue(f"incident:{n}:opened", alert(n))
        d.enqueue(f"incident:{n}:resolved", alert(n, "incident_resolved"))
    for _ in range(40):  # every post is slow, so the kill lands mid-way
        slack.fail_next("chat.postMessage", 0, delay=0.15)

    first = deliver(cfg, slack)
    conn = connect(config.state_store)

    def mid_send() -> bool:  # some posts done, and one on its way: sent to Slack, not yet stored there
        stored = {(m["metadata"] or {}).get("event_payload", {}).get("key") for m in list(slack.messages)}
        flying = {r[0] for r in conn.execute("SELECT idempotency_key FROM outbox WHERE in_flight=1 AND status='pending'")}
        return len(stored) >= 3 and bool(flying - stored)

    assert _wait(mid_send, 20), first.stderr.read() if first.poll() is not None else ""
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    pending = d.outbox.counts().get("pending", 0)
    assert pending > 0, "the kill came too late to test anything"
    in_flight = [r for r in d.outbox.all() if r.in_flight and r.status == "pending"]
    assert in_flight, "the kill must land between a post and its bookkeeping"
    time.sleep(1.1)  # the killed deliverer's lease on its row runs out

    second = deliver(cfg, slack)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-2000:]
    keys = Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)
    expected = {f"incident:{n}:{k}|slack|#crisis" for n in range(1, 7) for k in ("opened", "resolved")}
    assert set(keys) == expected and set(keys.values()) == {1}, keys
    top = [m for m in slack.messages if not m["thread_ts"]]
    assert len(top) == 6 and all(m["thread_ts"] in {t["ts"] for t in top} for m in slack.messages if m["thread_ts"])
    assert d.outbox.counts() == {"sent": 12}
    listed = [c for c in slack.calls if c.method == "conversations.list"]
    assert len(listed) == 1, "the restart reads the channel id from the state database"
    lookups = [c for c in slack.calls if c.method in ("conversations.history", "conversations.replies")]
    assert lookups and all(c.params["channel"] == "CCRISIS" for c in lookups)


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
