"""Index setup on a real osmem-server: template, alias, lifecycle policy bodies, warnings, rollover-safe ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crisiswatch.errors import CrisiswatchError
from crisiswatch.mention import Mention
from index import es_bodies, open_backend
from index.base import MentionFilter
from tests.es_compat_proxy import EsCompatProxy
from tests.ism_emulation import IsmPolicies


@pytest.fixture(params=["elasticsearch", "opensearch"])
def setup(request, osmem_clone):
    proxy = EsCompatProxy(osmem_clone.url).start()
    backend = open_backend(f"{request.param}://127.0.0.1:{proxy.port}?shards=2&replicas=0&rollover_size=5gb")
    yield request.param, backend, proxy
    backend.close()
    proxy.stop()


def sent(proxy: EsCompatProxy, method: str, part: str) -> list[dict]:
    return [json.loads(body) for m, path, body in proxy.bodies if m == method and part in path and body]


def test_ensure_ready_is_idempotent_and_warns_in_one_line_each(setup):
    kind, backend, proxy = setup
    warnings = backend.ensure_ready()
    assert backend.ensure_ready() == warnings  # second run: no error, same state
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert "Chinese analyzer" in warnings[0]
    assert ("ILM" if kind == "elasticsearch" else "ISM") in warnings[1]
    aliases = backend._raw("GET", f"/_alias/{es_bodies.ALIAS}")
    assert aliases == {f"{es_bodies.ALIAS}-000001": {"aliases": {es_bodies.ALIAS: {"is_write_index": True}}}}
    [template, _] = sent(proxy, "PUT", "/_index_template/")
    assert template["index_patterns"] == [f"{es_bodies.ALIAS}-*"]
    assert template["template"]["settings"]["number_of_shards"] == 2
    assert "analyzer" not in template["template"]["mappings"]["properties"]["text"]
    # the cluster refused the lifecycle policy, so the template must not point at it
    assert not any(k.startswith(("index.lifecycle", "plugins.index_state")) for k in template["template"]["settings"])


def test_lifecycle_policy_bodies(setup):
    kind, backend, proxy = setup
    backend.ensure_ready()
    if kind == "elasticsearch":
        [policy] = sent(proxy, "PUT", "/_ilm/policy/crisiswatch-mentions-policy")
        assert policy["policy"]["phases"]["hot"]["actions"]["rollover"] == {
            "max_primary_shard_size": "5gb", "max_age": "7d"}
        assert "delete" not in policy["policy"]["phases"]
    else:
        [policy] = sent(proxy, "PUT", "/_plugins/_ism/policies/crisiswatch-mentions-policy")
        hot = policy["policy"]["states"][0]
        assert hot["actions"] == [{"rollover": {"min_primary_shard_size": "5gb", "min_index_age": "7d"}}]
        assert policy["policy"]["ism_template"][0]["index_patterns"] == [f"{es_bodies.ALIAS}-*"]
    ism = es_bodies.ism_policy("a", "1gb", "1d", "30d")["policy"]
    assert ism["states"][0]["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}]
    assert es_bodies.ilm_policy("1gb", "1d", "30d")["policy"]["phases"]["delete"]["min_age"] == "30d"


def test_chinese_analyzer_is_used_when_the_cluster_has_one():
    assert es_bodies.chinese_analyzer({"analysis-icu", "analysis-smartcn"}) == ("smartcn", "smartcn")
    assert es_bodies.chinese_analyzer({"analysis-ik"}) == ("ik_max_word", "ik_smart")
    assert es_bodies.chinese_analyzer({"analysis-kuromoji"}) is None
    text = es_bodies.mappings(("ik_max_word", "ik_smart"))["properties"]["text"]
    assert text == {"type": "text", "analyzer": "ik_max_word", "search_analyzer": "ik_smart"}


def test_a_concrete_index_named_like_the_alias_is_a_clear_error(setup):
    _, backend, _ = setup
    backend._raw("PUT", f"/{es_bodies.ALIAS}", {})
    with pytest.raises(CrisiswatchError, match="is an index, not an alias"):
        backend.ensure_ready()


def test_bad_url_options_are_one_line_errors():
    with pytest.raises(CrisiswatchError, match="unknown index URL option"):
        open_backend("opensearch://127.0.0.1:9200?shard=3")
    with pytest.raises(CrisiswatchError, match="index URL option shards=.many.*must be a whole number"):
        open_backend("elasticsearch://127.0.0.1:9200?shards=many")


def test_a_rolled_over_mention_is_updated_in_place_not_duplicated(setup):
    _, backend, _ = setup
    backend.ensure_ready()
    post = Mention(source="weibo", native_id="1", text="极光优选物流太慢", created_at=datetime(2025, 6, 14, tzinfo=UTC))
    backend.upsert([post])
    # what a rollover does: a new write index behind the alias, the old one stays readable
    backend._raw("PUT", f"/{es_bodies.ALIAS}-000002", {})
    backend._raw("POST", "/_aliases", {"actions": [
        {"add": {"index": f"{es_bodies.ALIAS}-000001", "alias": es_bodies.ALIAS, "is_write_index": False}},
        {"add": {"index": f"{es_bodies.ALIAS}-000002", "alias": es_bodies.ALIAS, "is_write_index": True}}]})
    edited = post.model_copy(update={"text": "极光优选物流太慢（已编辑）"})
    fresh = Mention(source="weibo", native_id="2", text="新帖子", created_at=datetime(2025, 6, 15, tzinfo=UTC))
    assert backend.upsert([edited, fresh]).written == 2
    assert backend.count() == 2
    assert backend.get(post.id).text.endswith("（已编辑）")
    hits = backend._raw("POST", f"/{es_bodies.ALIAS}/_search", {"query": {"match_all": {}}})["hits"]["hits"]
    assert {h["_id"]: h["_index"] for h in hits} == {post.id: f"{es_bodies.ALIAS}-000001",
                                                      fresh.id: f"{es_bodies.ALIAS}-000002"}
    assert [m.id for m in backend.scan(MentionFilter())] == [post.id, fresh.id]


def test_a_changed_ism_policy_replaces_the_stored_one(osmem_clone):
    proxy = EsCompatProxy(osmem_clone.url).start()
    proxy.ism = IsmPolicies()
    policy_id = f"{es_bodies.ALIAS}-policy"
    proxy.ism.seed(policy_id, es_bodies.ism_policy(es_bodies.ALIAS, "30gb", "7d", None)["policy"])
    try:
        backend = open_backend(f"opensearch://127.0.0.1:{proxy.port}?rollover_age=1d&delete_after=90d")
        assert not any("ISM" in w for w in backend.ensure_ready())
        stored = proxy.ism.policies[policy_id]["policy"]
        assert stored["states"][0]["actions"] == [{"rollover": {"min_primary_shard_size": "30gb",
                                                                "min_index_age": "1d"}}]
        assert stored["states"][1]["name"] == "delete"
        assert proxy.ism.changed == [(f"{es_bodies.ALIAS}-*", policy_id)]  # managed indices moved onto it
        # an unchanged policy is left alone: no new version, no second change_policy
        version = proxy.ism.policies[policy_id]["_seq_no"]
        backend.ensure_ready()
        assert proxy.ism.policies[policy_id]["_seq_no"] == version and len(proxy.ism.changed) == 1
        backend.close()
    finally:
        proxy.stop()
