"""Audit of the enrichment stage on real text it never saw: language identification on the shared sets,
and how a handful of hard shapes come out of language, sentiment and brand matching.

    python benchmarks/enrich_audit.py [--shared ../shared/data] [--show 20]

Language: every row of tweeteval_dev.csv is an English tweet, every row of weibo.csv and
online_shopping.csv a Chinese post (a few are written in another language, or say nothing: see
--show); counted are the rows given another code, split into "und" (nothing to tell) and a
language. The shapes below are written for this audit, not taken from the sets.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.enrich.brands import BrandMatcher, BrandRule  # noqa: E402
from monitor.enrich.language import detect_languages  # noqa: E402
from monitor.enrich.sentiment import score_by_language  # noqa: E402

SETS = (("sentiment_en/tweeteval_dev.csv", "text", "en"), ("sentiment/weibo.csv", "review", "zh"),
        ("sentiment/online_shopping.csv", "review", "zh"))
SHAPES = [
    ("short", "ok"), ("short", "差评"), ("only emoji/links/handles", "😡😡😡 http://t.cn/A6bQxyZk"),
    ("only emoji/links/handles", "//@小王同学: //@Lily_W:"), ("only emoji/links/handles", "@user #NationalCoffeeDay"),
    ("zh + English brand", "买的iPhone 15 Pro屏幕碎了"), ("zh + English brand", "买了MacBook Pro和AirPods Pro，MacBook屏幕坏了"),
    ("en + Chinese name", "Just got my 小米 phone and the screen cracked"), ("en + Chinese name", "I love 小米"),
    ("Japanese kana", "小米のスマホ、画面が割れました"), ("Japanese kana", "京东の客服根本不管，退款拖了一周"),
    ("Traditional", "這家店的服務態度很差，退款拖了一個月"), ("pinyin", "mei you tui kuan"), ("pinyin", "keyi"),
    ("mixed line", "极光优选的快递太慢了 but the app is nice"), ("mixed line", "Thanks for the help! 多谢！"),
]
BRANDS = [BrandRule("apple", ("苹果", "Apple", "iPhone"), exclusions=("apple pie",)),
          BrandRule("xiaomi", ("小米", "Xiaomi", "MI"), exclusions=("小米粥",)),
          BrandRule("aurora", ("极光优选", "Aurora Select"))]
BRAND_SHAPES = [  # (text, brands a reader would say it is about)
    ("今天吃了个苹果，很甜", []), ("小米粥真好喝", []), ("apple pie and then my Apple Watch died", ["apple"]),
    ("看 https://www.apple.com/cn/shop 这个", []), ("http://t.cn/XiaoMi8q 点击", []), ("写信给 hr@xiaomi-fans.org", []),
    ("@苹果妹妹 周末去爬山", []), ("@小米客服 订单三天没发货", ["xiaomi"]), ("@AuroraSelect 退款呢", ["aurora"]),
    ("ＸＩＡＯＭＩ的售后太慢", ["xiaomi"]), ("蘋果手機壞了", ["apple"]), ("#小米汽车# 刹车失灵", ["xiaomi"]),
    ("#XiaomiSU7 brakes failed", ["xiaomi"]), ("小 米 手机坏了", ["xiaomi"]), ("AuroraSelect lost my parcel", ["aurora"]),
]


def rows(path: Path, column: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [r[column] for r in csv.DictReader(fh) if r[column].strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--show", type=int, default=0, help="print this many wrongly identified rows per set")
    args = ap.parse_args(argv)
    print(f"{'set':<32}{'rows':>7}{'wrong':>7}{'und':>6}{'other':>7}  top other codes   (seconds)")
    for rel, column, want in SETS:
        texts = rows(args.shared / rel, column)
        start = time.perf_counter()
        langs = detect_languages(texts)
        took = time.perf_counter() - start
        wrong = [(lang, t) for lang, t in zip(langs, texts, strict=True) if lang != want]
        und = sum(lang == "und" for lang, _ in wrong)
        top = ", ".join(f"{k} {v}" for k, v in Counter(lang for lang, _ in wrong if lang != "und").most_common(4))
        print(f"{rel:<32}{len(texts):>7}{len(wrong):>7}{und:>6}{len(wrong) - und:>7}  {top}   ({took:.1f})")
        for lang, text in wrong[: args.show]:
            print(f"    {lang:<4}{text[:100]!r}")
    print("\nshape                      lang  label     text")
    for (shape, text), s in zip(SHAPES, score_by_language([t for _, t in SHAPES]), strict=True):
        print(f"{shape:<27}{s.lang:<6}{s.label or '-':<10}{text}")
    matcher = BrandMatcher(BRANDS)
    wrong_brands = 0
    print("\nbrands (found / a reader's)  text")
    for text, want in BRAND_SHAPES:
        got = [m.brand for m in matcher.match(text)]
        wrong_brands += got != want
        print(f"{'ok ' if got == want else 'BAD'} {','.join(got) or '-':>8} / {','.join(want) or '-':<8} {text}")
    print(f"brand shapes wrong: {wrong_brands} of {len(BRAND_SHAPES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
