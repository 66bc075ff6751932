"""Throughput of the pure enrichment components on synthetic Chinese posts.

    .venv/bin/python benchmarks/enrich_components.py [--texts 20000] [--repeats 5]

Prints texts/s (median over repeats) for brand matching, SimHash, near-duplicate
assignment, PII masking and the influence score.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from crisiswatch.pii import mask
from monitor.enrich.brands import BrandMatcher, BrandRule
from monitor.enrich.influence import influence
from monitor.enrich.neardup import NearDupIndex, simhash

BRANDS = [
    BrandRule("xiaomi", ("小米", "Xiaomi", "MI", "雷军"), ('"小米 汽车" OR (SU7 AND NOT 模型)',), ("小米粥", "小米椒")),
    BrandRule("huawei", ("华为", "HUAWEI", "余承东"), ("鸿蒙 AND (手机 OR 系统)",)),
    BrandRule("apple", ("苹果", "Apple", "iPhone"), (), ("(吃 OR 削 OR 买) AND 苹果 AND 水果",)),
    BrandRule("byd", ("比亚迪", "BYD", "王传福")),
    BrandRule("nio", ("蔚来", "NIO", "李斌"), ("换电站 AND 排队",)),
    BrandRule("jd", ("京东", "JD", "刘强东"), ("京东 AND (快递 OR 物流)",)),
    BrandRule("meituan", ("美团", "Meituan"), ("外卖 AND (骑手 OR 超时)",)),
    BrandRule("pdd", ("拼多多", "PDD", "Temu")),
    BrandRule("oppo", ("OPPO", "一加", "OnePlus")),
    BrandRule("haier", ("海尔", "Haier"), ("冰箱 AND 售后",)),
]

SUBJECTS = ["小米SU7", "华为Mate70", "iPhone 16", "比亚迪汉", "蔚来ET5", "京东快递", "美团外卖", "拼多多", "海尔冰箱", "一加13"]
PROBLEMS = [
    "刚提车三天就出现异响，4S店说是正常现象",
    "屏幕突然出现绿线，售后说要自费维修2999元",
    "下单后等了两个小时还没送到，客服一直踢皮球",
    "电池鼓包差点起火，太吓人了，已经向12315投诉",
    "退款申请了半个月还没处理，订单号SF1234567890",
    "系统更新以后频繁死机，导航完全用不了",
    "收到的货是假货，包装都不一样，商家拒绝退货",
    "冰箱不制冷了，师傅上门看了一眼就走了",
]
TAILS = ["大家评评理", "气死我了😡", "有没有人遇到同样的问题？", "已经打了十几次电话", "", "求扩散！！"]
NOISE = ["今天天气不错，出门吃了个小米粥", "周末和朋友去爬山，风景很好", "这家奶茶店的新品还挺好喝的", "喝着小米粥刷手机"]


def make_posts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    posts: list[str] = []
    for i in range(n):
        if rng.random() < 0.25:
            text = rng.choice(NOISE) + rng.choice(TAILS)
        else:
            text = f"{rng.choice(SUBJECTS)}{rng.choice(PROBLEMS)}，{rng.choice(TAILS)}"
            if rng.random() < 0.2:
                text += f" 联系电话1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"
            if rng.random() < 0.1:
                text += " 地址：杭州市西湖区文三路478号3栋2单元501室"
        if rng.random() < 0.3:
            text += f" https://t.cn/A{i:06d}"
        if rng.random() < 0.15 and posts:
            text = f"转发微博 //@用户{rng.randint(1, 999)}: 哈哈 " + rng.choice(posts)
        posts.append(text)
    return posts


def rate(fn: Callable[[], None], n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    posts = make_posts(args.texts)
    n, reps = len(posts), args.repeats
    avg_len = sum(map(len, posts)) / n
    print(f"{n} synthetic posts, mean length {avg_len:.0f} chars, median of {reps} repeats")

    matcher = BrandMatcher(BRANDS)

    def brands() -> None:
        for t in posts:
            matcher.match(t)

    def hashes() -> None:
        for t in posts:
            simhash(t)

    def neardup() -> None:
        idx = NearDupIndex()
        for i, t in enumerate(posts):
            idx.assign(str(i), t)

    def pii() -> None:
        for t in posts:
            mask(t)

    rng = random.Random(1)
    rows = [
        (rng.randint(0, 10**7), rng.random() < 0.1, rng.randint(0, 10**4), rng.randint(0, 10**4), rng.randint(0, 10**5))
        for _ in range(n)
    ]

    def infl() -> None:
        for f, v, r, c, lk in rows:
            influence(f, v, r, c, lk, 3)

    for name, fn in [
        ("brands.match (10 brands)", brands),
        ("neardup.simhash", hashes),
        ("NearDupIndex.assign", neardup),
        ("pii.mask", pii),
        ("influence", infl),
    ]:
        print(f"{name:28s} {rate(fn, n, reps):>12,.0f} texts/s")

    idx = NearDupIndex()
    clusters = {idx.assign(str(i), t) for i, t in enumerate(posts)}
    print(f"(neardup: {len(clusters)} clusters for {n} posts)")


if __name__ == "__main__":
    main()
