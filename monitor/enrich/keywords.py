"""The foundation's keyword-rule classifier: category by keyword list, kept as a fast fallback and baseline."""

from __future__ import annotations

import re

from crisiswatch.mention import CATEGORIES

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "logistics": ("快递", "物流", "派送", "配送", "签收", "丢件", "运单", "驿站", "发货慢", "没到", "没收到"),
    "product_quality": ("质量", "坏了", "破损", "漏水", "故障", "假货", "变质", "发霉", "异物", "冒烟", "起火"),
    "after_sales": ("退货", "退换", "换货", "维修", "保修", "售后", "七天无理由"),
    "service_attitude": ("客服", "态度", "不理", "挂电话", "机器人回复", "敷衍"),
    "payment_billing": ("扣费", "扣款", "自动续费", "多扣", "退款没到", "重复扣"),
    "fraud_security_privacy": ("诈骗", "骗子", "盗刷", "被盗", "泄露", "隐私", "个人信息"),
    "price": ("先涨后降", "杀熟", "价保", "涨价", "优惠券"),
    "false_advertising": ("虚假宣传", "货不对板", "与描述不符", "夸大", "假的有机"),
}
_PATTERNS = {cat: re.compile("|".join(map(re.escape, words))) for cat, words in CATEGORY_WORDS.items()}
assert set(_PATTERNS) <= set(CATEGORIES)


def keyword_categories(text: str) -> list[str]:
    """Categories whose words appear, most hits first; empty when none."""
    hits = [(len(p.findall(text)), cat) for cat, p in _PATTERNS.items()]
    return [cat for n, cat in sorted(hits, key=lambda h: -h[0]) if n]
