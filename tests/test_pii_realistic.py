"""The masking on complaints as people write them (benchmarks/data/pii_posts.jsonl, written for this audit):
personal data in the ways it is actually typed is masked; what support needs, or what names nobody, stays."""

from __future__ import annotations

import pytest

from benchmarks.pii_audit import audit, load
from crisiswatch.pii import mask


def test_the_written_complaints_lose_their_personal_data_and_keep_the_rest():
    result = audit(load())
    assert result["miss_cases"] == []
    assert result["overs"] == []
    assert result["unstable"] == []  # masking masked text changes nothing: `mentions remask` relies on it


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("电话一三九零五七一二八八六，快联系", "电话139****2886，快联系", "phone"),
        ("号码 幺三八 零零一三 四五二七 谢谢", "号码 138****4527 谢谢", "phone"),
        ("手机 1 5 9 1 2 3 4 0 0 8 8 ，快", "手机 159****0088 ，快", "phone"),
        ("我的手机13712345678一直被挂断", "我的手机137****5678一直被挂断", "phone"),  # 一直 is a word
        ("我电话是壹叁捌零零壹叁肆伍贰柒", "我电话是138****4527", "phone"),
        ("加我企鹅 934857261 我发你视频", "加我企鹅 93****61 我发你视频", "qq"),
        ("卫星 abc_9988 联系", "卫星 a***8 联系", "wechat"),
        ("广州市天河区体育西路191号中石化大厦B座2608，快递", "广州市天河区[地址]，快递", "address"),
        ("Call me at +1 (415) 555-0133 today", "Call me at +1 (415) ***-0133 today", "phone"),
        ("reach me at 415-555-0198.", "reach me at 415-***-0198.", "phone"),
        ("call +14155550123 pls", "call +1415***0123 pls", "phone"),
        ("加QQ号：2847561930 处理", "加QQ号：28****30 处理", "qq"),
        ("加我扣扣 84736251 维权", "加我扣扣 84****51 维权", "qq"),
        ("客服让我加微信：zw_2024hz 处理", "客服让我加微信：z***z 处理", "wechat"),
        ("加vx: lily-8899 建群", "加vx: l***9 建群", "wechat"),
        ("v信 abc123456x 求助", "v信 a***x 求助", "wechat"),
        ("车牌浙A·8K29D，开了两天", "车牌浙A·*****，开了两天", "plate"),
        ("新能源车牌京AD12345充电", "新能源车牌京A******充电", "plate"),
        ("收件人：王小明，电话", "收件人：王**，电话", "name"),
        ("联系人李建国 手机", "联系人李** 手机", "name"),
        ("望京西园三区312号楼2单元1501，送货", "望京西园三区[地址]，送货", "address"),
        ("成都市武侯区桐梓林小区8栋3单元602，物业", "成都市武侯区[地址]，物业", "address"),
    ],
)
def test_ways_people_write_personal_data(text, expected, kind):
    res = mask(text)
    assert res.text == expected
    assert res.found == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "微信支付扣了两次钱，微信客服说找商家",
        "微信 WeChat 里找不到客服入口",  # the app's name after a space is no id
        "全新M1234芯片的笔记本",  # 新 meaning "new" before a model number is no Xinjiang plate
        "QQ群 123456789 一起维权",  # a group is not a person
        "收件人不是我，是快递员随手签的，联系人都删了",
        "联系人 李女士，客服说会回电",
        "姓名和电话都填错了",
        "价格分别是 300 500 1000 元",  # three numbers with spaces are not a North American phone
        "客服热线400-820-8820，美国热线1-800-555-0199 或 +18005550199",  # hotlines are businesses
        "order 112-9988776-5544332, card ending 4421, $1,299.99 on 11/24/2025",
        "骁龙8 Gen3、RTX 4090、iPhone 15 Pro Max、小米14 Ultra、型号 BCD-501WLHFD7",
        "只留手机尾号4527就行",
    ],
)
def test_what_names_nobody_stays(text):
    res = mask(text)
    assert res.text == text
    assert res.found == {}
