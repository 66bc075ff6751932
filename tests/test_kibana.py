"""Kibana saved objects (parse, reference the data view, use only mapped fields), install/export, Cases.

No real Kibana runs here: install and Cases are checked for request shape against `tests/kibana_api.py`,
a loopback fake; whether the dashboard renders in a given Kibana version is not tested.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

from crisiswatch.cli import main
from index import es_bodies, kibana
from index.kibana_cases import CaseRef, KibanaCases
from tests.kibana_api import FakeKibana


def mapped_fields(props: dict, prefix: str = "") -> set[str]:
    out = set()
    for name, spec in props.items():
        out.add(prefix + name)
        out |= mapped_fields(spec.get("properties", {}), f"{prefix}{name}.")
    return out


def test_objects_parse_and_point_at_the_data_view_by_id():
    objects = json.loads("[" + ",".join(kibana.to_ndjson(kibana.saved_objects()).splitlines()) + "]")
    by_id = {o["id"]: o for o in objects}
    assert len(by_id) == len(objects) == 8
    view = by_id[kibana.DATA_VIEW_ID]
    assert view["attributes"]["title"] == "crisiswatch-mentions*" and view["attributes"]["timeFieldName"] == "created_at"
    for obj in objects:
        for ref in obj["references"]:
            assert ref["id"] in by_id and by_id[ref["id"]]["type"] == ref["type"]
        meta = obj["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta and obj["type"] != "dashboard":
            assert json.loads(meta)["indexRefName"] in {r["name"] for r in obj["references"]}
        if obj["type"] == "visualization":
            state = json.loads(obj["attributes"]["visState"])
            assert state["title"] == obj["attributes"]["title"]
            for index_ref in (state["params"].get("index_pattern"), *[a.get("index_pattern") for a in
                                                                       state["params"].get("annotations", [])]):
                assert index_ref in (None, {"id": kibana.DATA_VIEW_ID})
        # Kibana 8.8+ runs only the migrations newer than these on import
        assert obj["coreMigrationVersion"] == "8.8.0"
        assert obj["typeMigrationVersion"] == kibana.TYPE_MIGRATION_VERSIONS[obj["type"]]
    board = by_id[kibana.DASHBOARD_ID]
    panels = json.loads(board["attributes"]["panelsJSON"])
    assert all(p["version"] == kibana.PANEL_VERSION for p in panels)
    assert {p["panelRefName"] for p in panels} == {r["name"] for r in board["references"]}
    assert len(panels) == 6


def test_every_field_used_is_in_the_mapping():
    used = kibana.fields_used(kibana.saved_objects())
    assert {"created_at", "brands", "sentiment_band", "category", "source", "author.name", "author.followers",
            "severity", "text"} <= used
    assert used <= mapped_fields(es_bodies.mappings()["properties"])


def test_export_writes_ndjson(tmp_path, capsys):
    out = tmp_path / "objects.ndjson"
    assert main(["kibana", "export", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["type"] for line in lines][0] == "index-pattern"
    assert "wrote 8 saved objects" in capsys.readouterr().out


def test_install_imports_into_the_space_with_overwrite(capsys):
    with FakeKibana() as fake:
        assert main(["kibana", "install", "--url", fake.url, "--space", "brand-team"]) == 0
        [req] = [r for r in fake.requests if r["path"].startswith("/s/brand-team/api/saved_objects/_import")]
    assert "overwrite=true" in req["path"]
    assert req["headers"]["content-type"].startswith("multipart/form-data")
    assert b'"id": "crisiswatch-overview"' in req["body"]
    assert "installed 8 saved objects" in capsys.readouterr().out


def test_install_reports_an_unreachable_kibana_in_one_line(capsys):
    assert main(["kibana", "install", "--url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("crisiswatch: cannot reach Kibana") and "\n" not in err


def ticket(**changes):
    fields = dict(number="CW-20250614-0001", title="极光优选物流投诉激增", brand="aurora", category="logistics",
                  department="客服", severity="紧急", status="新建", source_url="https://weibo.com/1/abc",
                  resolve_due=datetime(2025, 6, 15, 4, 0, tzinfo=UTC))
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_cases_create_then_update_with_version():
    with FakeKibana() as fake:
        client = kibana.kibana_client(fake.url)
        cases = KibanaCases(client, space="brand-team")
        ref = cases.create(ticket())
        created = fake.cases[ref.id]
        assert created["owner"] == "cases" and created["severity"] == "high"
        assert created["title"] == "[CW-20250614-0001] 极光优选物流投诉激增"
        assert "物流" in created["description"] and created["tags"] == ["crisiswatch", "aurora", "logistics"]
        assert fake.requests[-1]["path"] == "/s/brand-team/api/cases"
        newer = cases.update(ref, ticket(status="已解决", severity="重大"))
        assert newer.version != ref.version and fake.cases[ref.id]["status"] == "closed"
        assert fake.cases[ref.id]["severity"] == "critical"
        stale = CaseRef(ref.id, ref.version)
        try:
            cases.update(stale, ticket())
        except Exception as exc:  # Kibana's optimistic locking surfaces to the caller
            assert "409" in str(exc) or "onflict" in str(exc)
        else:
            raise AssertionError("a stale version must not overwrite the case")
        client.close()


def test_a_case_carries_no_phone_or_email_the_customer_gave(tmp_path):
    from crisiswatch.db import connect
    from playbooks.tickets.mirror import KibanaCaseMirror
    from playbooks.tickets.service import TicketService

    with FakeKibana() as fake:
        client = kibana.kibana_client(fake.url)
        conn = connect(tmp_path / "state.db")
        tickets = TicketService(conn, mirror=KibanaCaseMirror(KibanaCases(client), conn))
        t = tickets.intake(channel="phone", customer="王女士", contact="13812345678", category="logistics",
                           severity="一般", summary="快递没到，打我手机13912345678或者发wang.nv@example.com",
                           expectation="回电13912345678", actor="ada")
        tickets.classify(t.id, actor="ada", expected_version=t.version, severity="重要")
        bodies = [r["body"] for r in fake.requests if r["path"].startswith("/api/cases")]
        sent = "\n".join(b.decode("utf-8") if isinstance(b, bytes) else json.dumps(b, ensure_ascii=False)
                         for b in bodies)
        assert len(bodies) == 2 and "139****5678" in sent  # created, then updated, with the masked words
        for raw in ("13912345678", "wang.nv@example.com", "13812345678"):
            assert raw not in sent
        client.close()
