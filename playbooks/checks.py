"""What `playbook validate` and `dry-run` check beyond the schema: every template renders.

Each step's templates are rendered against a synthetic incident with every fact a real one has, with
unknown variables as errors, and every statement template name is looked up. So `{toppp_terms}` or a
misspelt template name fails here, naming the file and key, and not in a live crisis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crisiswatch.config import Config
from crisiswatch.db import connect
from crisiswatch.mention import CATEGORIES
from monitor.detectors import RULES
from monitor.incidents.models import Incident
from playbooks.context import StepContext
from playbooks.schema import Playbook
from playbooks.steps import STEP_TYPES
from playbooks.tickets.replies import ticket_facts
from playbooks.tickets.service import TicketService

SYNTHETIC_TICKET = "CW-20250101-0001"


def synthetic_incident(config: Config, category: str = "product_quality") -> Incident:
    """An incident with every fact the detectors write, for rendering templates before a real one exists."""
    now = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    brand = config.brands[0].key if config.brands else "brand"
    post = {"id": "weibo:1", "url": "https://weibo.com/1/1", "text": "示例投诉：充电宝冒烟", "author": "示例用户",
            "source": "weibo", "followers": 120_000, "severity": "重大", "category": category, "cluster_size": 3,
            "created_at": now.isoformat()}
    facts = {"mentions": 120, "categories": {category: 40, "other": 5}, "top_terms": ["充电宝", "冒烟", "批次"],
             "top_posts": [post], "top_authors": [{"name": "示例用户", "followers": 120_000}],
             "sources": {"weibo": 80, "jd": 40}}
    return Incident(id=0, key="synthetic", rule="negative_spike", brand=brand, level="critical", status="open",
                    opened_at=now - timedelta(minutes=30), updated_at=now, last_fired_at=now, resolved_at=None,
                    peak_value=120, baseline=10, signals=3, summary="负面声量 120 条/小时（基线 10）", facts=facts)


def check_playbook(playbook: Playbook, config: Config) -> list[str]:
    """One line per template that fails: `playbook FILE: steps.N.KEY: problem`."""
    tickets = TicketService.from_config(config, connect(":memory:"))
    category = next((c for c in playbook.trigger.categories if c in CATEGORIES), "product_quality")
    incident = synthetic_incident(config, category)
    problems = [f"playbook {playbook.path or playbook.name}: {key}: {problem}"
                for key, problem in trigger_problems(playbook, config)]
    for index, spec in enumerate(playbook.steps):
        ctx = StepContext(config=config, playbook=playbook.name, incident=incident, severity="重大", tickets=tickets,
                          dispatcher=None, audit=None, dry_run=True, now=incident.updated_at,  # type: ignore[arg-type]
                          outputs={"ticket_number": SYNTHETIC_TICKET})
        for key, problem in STEP_TYPES[spec.type](spec.options).check(ctx):
            problems.append(f"playbook {playbook.path or playbook.name}: steps.{index}.{key}: {problem}")
    return problems


def trigger_problems(playbook: Playbook, config: Config) -> list[tuple[str, str]]:
    """A trigger naming a detector rule or a brand that does not exist matches nothing: the playbook never runs."""
    t = playbook.trigger
    rules = [t.rule] if isinstance(t.rule, str) else t.rule
    problems = [("trigger.rule", f"unknown detector rule {r!r} (rules: {', '.join(RULES)}): this playbook never runs")
                for r in rules if r not in RULES]
    brands = [b.key for b in config.brands]
    problems += [("trigger.brands", f"unknown brand {b!r} (brands: {', '.join(brands) or 'none configured'}): "
                  "this playbook never runs for it") for b in t.brands if b not in brands]
    return problems


def synthetic_reply_facts(config: Config) -> dict[str, Any]:
    """The facts of a made-up ticket, for rendering every reply template in `playbook validate`."""
    tickets = TicketService.from_config(config, connect(":memory:"))
    ticket = tickets.intake(channel="email", customer="示例客户", contact="demo@example.com", summary="示例投诉",
                            expectation="示例诉求", category="other", severity="一般", order_no="1234567890",
                            actor="validate")
    return ticket_facts(ticket, tickets.tz, config.tickets.service_contact, config.tickets.followup_within)
