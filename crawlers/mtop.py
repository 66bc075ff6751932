"""Alibaba's mtop H5 gateway (h5api.m.tmall.com / h5api.m.taobao.com): the public signing recipe.

Every call carries `sign = md5(token & t & appKey & data)`, where `token` is the part before "_"
of the `_m_h5_tk` cookie, `t` the time in epoch milliseconds and `data` the JSON request body as
sent. The gateway hands the cookie out itself: a call without it (or with an old one) is answered
`FAIL_SYS_TOKEN_EMPTY` / `FAIL_SYS_TOKEN_EXOIRED` (sic) together with a Set-Cookie of a fresh
`_m_h5_tk`, and the call is signed again with it. Review lists also want a logged-in session:
without one the gateway answers `FAIL_SYS_SESSION_EXPIRED` (a login block, crawlers/blocks.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

APP_KEY = "12574478"  # the web apps' public app key
TOKEN_COOKIE = "_m_h5_tk"
TOKEN_RETRY = ("FAIL_SYS_TOKEN_EMPTY", "FAIL_SYS_TOKEN_EXOIRED", "FAIL_SYS_TOKEN_EXPIRED")
SUCCESS = "SUCCESS"


def sign(token: str, t: str, app_key: str, data: str) -> str:
    return hashlib.md5(f"{token}&{t}&{app_key}&{data}".encode()).hexdigest()


def token_of(cookies: dict[str, str]) -> str:
    return cookies.get(TOKEN_COOKIE, "").split("_", 1)[0]


def signed_query(api: str, data: dict[str, Any], cookies: dict[str, str], *, now_ms: int | None = None,
                 version: str = "1.0") -> str:
    """The query string of one gateway call, signed with the session's token (empty when it has none)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    t = str(now_ms if now_ms is not None else int(time.time() * 1000))
    params = {"jsv": "2.7.2", "appKey": APP_KEY, "t": t, "sign": sign(token_of(cookies), t, APP_KEY, body),
              "api": api, "v": version, "isSec": "0", "ecode": "0", "timeout": "20000",
              "ttid": "2022@taobao_litepc_9.17.0", "AntiFlood": "true", "AntiCreep": "true",
              "preventFallback": "true", "type": "json", "dataType": "json", "data": body}
    return urlencode(params)


def ret_codes(payload: dict[str, Any]) -> str:
    """'SUCCESS::调用成功' or the failure codes, joined."""
    ret = payload.get("ret")
    return " ".join(str(r) for r in ret) if isinstance(ret, list) else str(ret or "")
