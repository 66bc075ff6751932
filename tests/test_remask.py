"""`crisiswatch mentions remask`: posts stored before the masking learned a way of writing a number are
masked again where they are stored: the index (SQLite, and a real OpenSearch), its spool, the dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from index.base import MentionFilter
from index.spool import Spool
from index.writer import spool_target
from tests.conftest import config_dict

T0 = datetime(2025, 6, 14, 4, 0, 13, tzinfo=UTC)


def post(n: int, text: str, **kw) -> Mention:
    return Mention(source="weibo", native_id=f"p{n}", text=text, created_at=T0 + timedelta(minutes=n), **kw)


def stored_before_the_change() -> list[Mention]:
    """What an older masking let through: full-width and spaced digits, extra fields it did not read."""
    return [
        post(1, "极光优选退款拖了一个月，电话１３８ １２３４ ５６７８，谁来管管"),
        post(2, "快递丢了，客服电话138****5678也不接", extra={"pii": {"phone": 1},
             "replies": [{"content": "亲，请加微信联系，或致电 139-8765-4321"}]}),
        post(3, "极光优选的空气炸锅很好用"),
        post(4, "身份证被人冒用了", title="身份证号 110105 19491231 002X 被拿去注册"),
    ]


@pytest.fixture(params=["sqlite", "opensearch"])
def index_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cw.db'}"
        return
    clone = request.getfixturevalue("osmem_server").clone()
    yield f"opensearch://{clone.url.split('://', 1)[1]}"
    clone.close()


def write_config(tmp_path, index_url: str, **extra) -> str:
    data = config_dict(tmp_path, **extra)
    data["index"]["url"] = index_url
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(cfg)


def store(index_url: str, mentions: list[Mention]) -> None:
    backend = open_backend(index_url)
    backend.ensure_ready()
    backend.upsert(mentions)
    backend.close()


def stored(index_url: str) -> dict[str, Mention]:
    backend = open_backend(index_url)
    try:
        return {m.native_id: m for m in backend.latest(MentionFilter(), 100)}
    finally:
        backend.close()


def remask(cfg: str, capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["--config", cfg, "mentions", "remask", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_remask_masks_what_an_older_masking_left_in_the_index(tmp_path, index_url, capsys):
    cfg = write_config(tmp_path, index_url)
    store(index_url, stored_before_the_change())

    rc, out, err = remask(cfg, capsys, "--dry-run", "--batch-size", "2")
    assert rc == 0, err
    assert "remask (dry run): 4 read, 3 would change, 0 failed" in out
    assert "through 2025-06-14T04:02:13+00:00" in err  # progress after each batch of two
    assert "１３８ １２３４ ５６７８" in stored(index_url)["p1"].text  # a dry run writes nothing

    rc, out, err = remask(cfg, capsys, "--batch-size", "2")
    assert rc == 0, err
    assert "remask: 4 read, 3 changed, 0 failed" in out
    after = stored(index_url)
    assert after["p1"].text == "极光优选退款拖了一个月，电话138****5678，谁来管管"
    assert after["p1"].extra["pii"] == {"phone": 1}
    assert after["p2"].extra["replies"][0]["content"] == "亲，请加微信联系，或致电 139****4321"
    assert after["p2"].extra["pii"] == {"phone": 1}  # the text's count stays; the reply's is not the text's
    assert after["p4"].title == "身份证号 110***********002X 被拿去注册"
    assert after["p3"].text == "极光优选的空气炸锅很好用"
    backend = open_backend(index_url)
    try:  # the search index was rebuilt from the masked text: the number is gone from it too
        assert backend.search("1234") == [] and backend.search("5678") != []
    finally:
        backend.close()

    rc, out, _ = remask(cfg, capsys)  # idempotent: a second run reads everything and changes nothing
    assert rc == 0 and "remask: 4 read, 0 changed, 0 failed" in out


def test_a_kept_raw_text_is_masked_afresh_not_the_older_mask(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    cfg = write_config(tmp_path, url, enrichment={"sentiment_model": "crisiswatch", "keep_raw_text": True})
    raw = "电话13812345678，备用１３９ ８７６５ ４３２１"
    store(url, [post(1, "电话138****5678，备用１３９ ８７６５ ４３２１", extra={"raw_text": raw, "pii": {"phone": 1}})])

    rc, out, err = remask(cfg, capsys)
    assert rc == 0, err
    m = stored(url)["p1"]
    assert m.text == "电话138****5678，备用139****4321"
    assert m.extra["pii"] == {"phone": 2}  # counted on the original, not added to the older count
    assert m.extra["raw_text"] == raw  # kept, as configured


def test_the_spool_and_the_dead_letters_are_masked_again(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    cfg = write_config(tmp_path, url)
    conn = connect(tmp_path / "cw.db")
    Spool(conn, spool_target(url)).append([post(1, "等了十天，联系我 +86 １３８-１２３４-５６７８"), post(2, "没问题")])
    # a batch still waiting for an index the config no longer names holds post text all the same
    Spool(conn, "opensearch://old-cluster:9200").append([post(3, "QQ号：2847561930")])
    conn.execute("INSERT INTO dead_letters(at, stage, source, reason, payload) VALUES (?,?,?,?,?)",
                 (T0.isoformat(), "validate", "jd", "bad date in 电话１３８１２３４５６７８",
                  json.dumps({"native_id": "9", "text": "vx：１３８１２３４５６７８"}, ensure_ascii=False)))
    conn.close()

    rc, out, err = remask(cfg, capsys)
    assert rc == 0, err
    assert "remask: 4 read, 3 changed, 0 failed" in out
    assert "spool 3/2/0; dead letters 1/1/0" in out
    conn = connect(tmp_path / "cw.db")
    [(seq, batch)] = list(Spool(conn, spool_target(url)).batches())
    assert [m.text for m in batch] == ["等了十天，联系我 +86 138****5678", "没问题"]  # same batch, same turn
    [(_, other)] = list(Spool(conn, "opensearch://old-cluster:9200").batches())
    assert other[0].text == "QQ号：28****30"
    letter = conn.execute("SELECT reason, payload FROM dead_letters").fetchone()
    assert letter["reason"] == "bad date in 电话138****5678"
    assert json.loads(letter["payload"]) == {"native_id": "9", "text": "vx：138****5678"}
    conn.close()


def test_a_post_that_cannot_be_masked_is_a_failure_and_the_rest_are_still_done(tmp_path, capsys, monkeypatch):
    import monitor.enrich.remask as remask_module

    url = f"sqlite:///{tmp_path / 'cw.db'}"
    cfg = write_config(tmp_path, url)
    posts = stored_before_the_change()
    store(url, posts)
    real = remask_module.mask_mention

    def broken_on_p3(m: Mention, keep_raw: bool = False) -> None:
        if m.native_id == "p3":
            raise RecursionError("pattern too deep")
        real(m, keep_raw)

    monkeypatch.setattr(remask_module, "mask_mention", broken_on_p3)
    rc, out, err = remask(cfg, capsys)
    assert rc == 1
    assert "remask: 4 read, 3 changed, 1 failed" in out
    assert f"{posts[2].id} not written: masking failed: RecursionError: pattern too deep" in err


def test_an_index_lost_mid_way_stops_with_where_to_resume(tmp_path, osmem_server, capsys, monkeypatch):
    from index.elastic import SearchBackend

    clone = osmem_server.clone()
    url = f"opensearch://{clone.url.split('://', 1)[1]}"
    cfg = write_config(tmp_path, url)
    store(url, stored_before_the_change())
    real_upsert = SearchBackend.upsert

    def upsert_then_lose_the_cluster(self, mentions):
        result = real_upsert(self, mentions)
        clone.close()
        self.retries, self.backoff = 0, 0.0
        return result

    monkeypatch.setattr(SearchBackend, "upsert", upsert_then_lose_the_cluster)
    rc, out, err = remask(cfg, capsys, "--batch-size", "2")
    assert rc == 1
    assert "remask: 2 read, 2 changed, 0 failed" in out  # the first batch was written before the loss
    assert "unreachable" in err and "run again with --since 2025-06-14T04:02:13+00:00" in err
