"""The enrichment stage as the pipelines run it: named steps over batches, state that persists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crisiswatch.db import connect
from crisiswatch.mention import Mention
from monitor.enrich import Enricher

T = datetime(2025, 6, 14, 4, tzinfo=UTC)


def m(n: int, text: str, **kw) -> Mention:
    return Mention(source="weibo", native_id=str(n), text=text, created_at=T, **kw)


def test_near_duplicate_clusters_survive_a_new_process(config):
    original = "极光优选的快递十天没到，客服只会说在核实，核实了十天还是没结果，太离谱了"
    first = Enricher.from_config(config, ["neardup"], state=connect(config.state_store))
    a = first.enrich([m(1, original)])[0]
    # the next crawl is a new process: a new Enricher on the same state database
    second = Enricher.from_config(config, ["neardup"], state=connect(config.state_store))
    b, c = second.enrich([m(2, f"转发微博 //@小鹿: {original}"), m(3, "极光优选的空气炸锅很好用，推荐给大家，真的很不错")])
    assert b.cluster_id == a.cluster_id == a.id
    assert b.extra["cluster_size"] == 2
    assert c.cluster_id == c.id


def test_pii_is_masked_before_anything_else_sees_it(config):
    out = Enricher.from_config(config, ["pii"]).enrich([m(1, "快递没到，电话13812345678，运单号 123456789012")])[0]
    assert "13812345678" not in out.text and "123456789012" not in out.text
    assert out.extra["pii"]["phone"] == 1 and "raw_text" not in out.extra


def test_raw_text_is_kept_only_when_configured(config):
    keep = config.with_overrides(enrichment__keep_raw_text=True)
    out = Enricher.from_config(keep, ["pii"]).enrich([m(1, "电话13812345678")])[0]
    assert out.extra["raw_text"] == "电话13812345678"


def test_pii_in_extra_is_masked_and_identifiers_stay(config):
    leak = "请加微信13812345678，身份证110101199003074258"
    extra = {"sku": "100012043978", "item_id": "652310918452", "bid": "Abc13812345678",
             "created": "2026-03-02 11:00:00", "sn": "17354211234567890", "pictures": 2,
             "retweet_of": {"id": "4111111111111111", "author": {"id": "13812345678", "name": "u"}, "text": leak},
             "replies": [{"content": leak, "created": "2026-03-02 11:00:00"}], "after_comment": leak,
             "reply": leak, "append_comment": leak,
             "timeline": [{"name": "u", "status": "发起投诉", "date": "2026-03-02", "content": leak}]}
    out = Enricher.from_config(config, ["pii"]).enrich([m(1, "极光优选不行", extra=extra)])[0]
    for value in (out.extra["retweet_of"]["text"], out.extra["replies"][0]["content"], out.extra["after_comment"],
                  out.extra["reply"], out.extra["append_comment"], out.extra["timeline"][0]["content"]):
        assert value == "请加微信138****5678，身份证110***********4258"
    assert out.extra["retweet_of"]["id"] == "4111111111111111"  # ids are not cards or phones
    assert out.extra["retweet_of"]["author"]["id"] == "13812345678"
    for key in ("sku", "item_id", "bid", "created", "sn", "pictures"):
        assert out.extra[key] == extra[key], key
    assert out.extra["replies"][0]["created"] == "2026-03-02 11:00:00"


def test_raw_text_kept_when_configured_survives_a_second_pass(config):
    keep = Enricher.from_config(config.with_overrides(enrichment__keep_raw_text=True), ["pii"])
    out = keep.enrich(keep.enrich([m(1, "电话13812345678")]))[0]
    assert out.extra["raw_text"] == "电话13812345678" and out.text == "电话138****5678"
    # without the setting, a raw text left from before is masked like any other field
    out = Enricher.from_config(config, ["pii"]).enrich([out])[0]
    assert out.extra["raw_text"] == "电话138****5678"


def test_brand_step_keeps_real_mentions_only(config):
    out = Enricher.from_config(config, ["brands"]).enrich([
        m(1, "极光优选的快递又慢了", brands=["aurora"]),
        m(2, "今晚去漠河看北极光", brands=["aurora"]),  # the search matched 极光, the text is not about us
    ])
    assert out[0].brands == ["aurora"] and "极光优选" in out[0].keywords
    assert out[1].brands == []


def test_a_comment_under_a_followed_post_stays_the_brands_though_it_never_names_it(config):
    comment = Mention(source="weibo_comment", native_id="c1", text="垃圾，再也不买了", created_at=T, brands=["aurora"])
    post = m(2, "垃圾，再也不买了", brands=["aurora"])  # the same words found by a search are not about us
    out = Enricher.from_config(config, ["brands"]).enrich([comment, post])
    assert out[0].brands == ["aurora"] and out[1].brands == []


def test_unknown_step_is_a_clear_error(config):
    with pytest.raises(ValueError, match="unknown enrichment step 'magic'"):
        Enricher.from_config(config, ["pii", "magic"])


def test_every_mention_is_scored_in_its_own_language(config):
    out = Enricher.from_config(config).enrich([
        Mention(source="x", native_id="1", text="极光优选的快递十天没到，客服也不理人，太差了", created_at=T),
        Mention(source="x", native_id="2", text="Absolutely love my new Aurora blender, best purchase this year!",
                created_at=T),
        Mention(source="x", native_id="3", text="Le colis est arrivé cassé et personne ne répond au service client",
                created_at=T),
    ])
    zh, en, fr = out
    assert (zh.lang, en.lang, fr.lang) == ("zh", "en", "fr")
    assert zh.sentiment_band == "negative" and zh.anger is not None
    assert en.sentiment_band == "positive" and en.anger is None  # the anger model only read Chinese
    assert fr.sentiment is None and fr.anger is None and fr.sentiment_band == "unknown"  # no French model


def test_a_stored_mention_without_a_language_still_loads():
    stored = m(1, "快递没到").to_record()
    del stored["lang"]
    assert Mention.from_stored(stored).lang is None
