"""OpenSearch's ISM policy API, in memory, for the test proxy (osmem-server has no ISM plugin).

It answers as OpenSearch documents it: creating a policy that exists is a 409
version_conflict_engine_exception; GET returns `_seq_no` and `_primary_term` beside the policy,
to which the server adds `policy_id`, `last_updated_time` and `schema_version`; PUT with
`if_seq_no` and `if_primary_term` replaces it only when they match; change_policy records which
indices were moved to the new version.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit


class IsmPolicies:
    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self.seq_no = 0
        self.changed: list[tuple[str, str]] = []  # (index pattern, policy id) of change_policy calls
        self._lock = threading.Lock()

    def seed(self, policy_id: str, policy: dict[str, Any]) -> None:
        """A policy that an earlier release (or another person) already stored."""
        with self._lock:
            self._store(policy_id, policy)

    def _store(self, policy_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        self.seq_no += 1
        stored = copy.deepcopy(policy)
        stored.update(policy_id=policy_id, last_updated_time=1_700_000_000_000 + self.seq_no, schema_version=21,
                      error_notification=None)
        self.policies[policy_id] = {"_id": policy_id, "_version": self.seq_no, "_seq_no": self.seq_no,
                                    "_primary_term": 1, "policy": stored}
        return self.policies[policy_id]

    def handle(self, method: str, target: str, body: bytes | None) -> tuple[int, dict[str, Any]] | None:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if m := re.fullmatch(r"/_plugins/_ism/change_policy/([^/]+)", parts.path):
            self.changed.append((m.group(1), json.loads(body or b"{}").get("policy_id", "")))
            return 200, {"updated_indices": 1, "failures": False, "failed_indices": []}
        m = re.fullmatch(r"/_plugins/_ism/policies/([^/]+)", parts.path)
        if not m:
            return None
        policy_id = m.group(1)
        with self._lock:
            current = self.policies.get(policy_id)
            if method == "GET":
                return (200, copy.deepcopy(current)) if current else (404, _error("status_exception",
                                                                                   "Policy not found", 404))
            if method != "PUT":
                return 405, _error("illegal_argument_exception", f"{method} not supported here", 405)
            if current is not None:
                if "if_seq_no" not in query:
                    return 409, _error("version_conflict_engine_exception",
                                       f"[{policy_id}]: version conflict, document already exists", 409)
                if (int(query["if_seq_no"]), int(query.get("if_primary_term", -1))) != (
                        current["_seq_no"], current["_primary_term"]):
                    return 409, _error("version_conflict_engine_exception",
                                       f"[{policy_id}]: version conflict, required seqNo [{query['if_seq_no']}]", 409)
            stored = self._store(policy_id, json.loads(body or b"{}")["policy"])
            return 200, {k: stored[k] for k in ("_id", "_version", "_seq_no", "_primary_term", "policy")}


def _error(kind: str, reason: str, status: int) -> dict[str, Any]:
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status}
