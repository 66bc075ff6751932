"""黑猫投诉's request signature: sha256 over the sorted request values plus a salt from its web app.

The site's JavaScript sends `ts` (epoch milliseconds), `rs` (16 random letters and digits) and
`signature` with every `/api/` call; the server rejects a reply without a matching signature.
The recipe reproduces a captured real URL (see tests/test_tousu_sina.py).
"""

from __future__ import annotations

import hashlib
import random
import string
import time

SALT = "$d6eb7ff91ee257475%"
_RS_ALPHABET = string.digits + string.ascii_letters


def signature(ts: str, rs: str, *values: str | int, salt: str = SALT) -> str:
    """sha256 hex of ts, rs, the salt and the signed values, sorted as strings and joined."""
    parts = sorted([str(ts), str(rs), salt, *(str(v) for v in values)])
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def signed_params(values: dict[str, str | int], *, now_ms: int | None = None,
                  rng: random.Random | None = None) -> dict[str, str]:
    """`ts`, `rs` and `signature` first (as the site orders them), then the signed values."""
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    rs = "".join((rng or random.SystemRandom()).choice(_RS_ALPHABET) for _ in range(16))
    return {"ts": ts, "rs": rs, "signature": signature(ts, rs, *values.values()),
            **{k: str(v) for k, v in values.items()}}
