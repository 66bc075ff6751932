"""An emerging term is what people say, once: one phrase is one term (食品安全, not also 食品 and 安全), and
the shopping festivals and 3·15 are terms in one spelling (双十一 = 双11), while plain numbers are none."""

from __future__ import annotations

from datetime import timedelta

from crisiswatch.config import parse_config
from crisiswatch.db import connect
from index import open_backend
from index.tokenize import topic_tokens
from monitor.detection import DetectionService
from monitor.incidents.service import IncidentService
from tests.conftest import config_dict
from tests.test_detect_service import T0, history, write

# a milk-powder scare bought in the November sale, as posts tell it
SCARE = [
    "极光优选的奶粉食品安全出问题了，喝完孩子拉肚子",
    "食品安全都保证不了？双十一在极光优选买的奶粉有异物",
    "双11在极光优选囤的奶粉，食品安全谁来管",
    "极光优选双十一的奶粉，食品安全问题还不回应",
]


def emerging_terms(tmp_path, burst: list[str]) -> set[str]:
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    backend = open_backend(config.index.url)
    history(backend, 300)
    for m in range(300, 320):
        for i, text in enumerate(burst):
            write(backend, m, 4, negative=3, text=text, tag=f"b{i}-")
    conn = connect(config.state_store)
    DetectionService(config, backend, conn).advance(T0 + timedelta(minutes=330))
    signals = [(i.rule, i.facts) for i in IncidentService(conn).list()]
    signals += [
        (r["rule"], r["facts"]) for i in IncidentService(conn).list() for r in i.facts.get("related", [])
    ]
    return {facts["term"] for rule, facts in signals if rule == "emerging_terms"}


def test_one_phrase_fires_as_one_term_and_a_festival_as_itself(tmp_path) -> None:
    terms = emerging_terms(tmp_path, SCARE)
    assert {"食品安全", "奶粉", "双11"} <= terms, terms
    assert not {"食品", "安全", "双十", "11"} & terms, terms


def test_festivals_and_consumer_day_are_one_token_and_numbers_stay_numbers() -> None:
    assert topic_tokens("双十一买的耳机，双11当天就坏了").count("双11") == 2
    assert "双12" in topic_tokens("双 12 的优惠券用不了") and "双十" not in topic_tokens("双十一")
    assert "618" in topic_tokens("今年618大促买的") and "3·15" in topic_tokens("315晚会曝光了极光优选")
    assert "3·15" in topic_tokens("3·15消费者权益日") and "3·15" in topic_tokens("3.15晚会")
    # a price, a length, an order number: numbers, never the festival
    for text in ("这件卖618元", "花了6.18块", "订单6180012", "身高3.15米"):
        assert not {"618", "3·15"} & set(topic_tokens(text)), text
