import pytest

from crisiswatch.pii import id_checksum_ok, luhn_ok, mask

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _W, strict=True)) % 11]


VALID_ID = make_id("11010519491231002")  # ends in X
BAD_CHECKSUM_ID = VALID_ID[:-1] + "5"


def test_checksum_helpers():
    assert VALID_ID.endswith("X")
    assert id_checksum_ok(VALID_ID)
    assert id_checksum_ok(VALID_ID.lower())
    assert not id_checksum_ok(BAD_CHECKSUM_ID)
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话13812345678", "电话138****5678"),
        ("电话 138 1234 5678 谢谢", "电话 138****5678 谢谢"),
        ("电话138-1234-5678", "电话138****5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("+86-138-1234-5678", "+86-138****5678"),
    ],
)
def test_phone(text, expected):
    res = mask(text)
    assert res.text == expected
    assert res.found == {"phone": 1}


def test_phone_not_inside_longer_numbers_or_landline():
    for text in ["时间戳1718345600000", "客服400-820-8820", "12812345678", "编号A13812345678"]:
        assert mask(text).found == {}, text


def test_id_card_valid_checksum():
    res = mask(f"我的身份证是{VALID_ID}，别外传")
    assert res.text == "我的身份证是110***********002X，别外传"
    assert res.found == {"id_card": 1}


def test_id_card_with_bad_checksum_is_still_masked():
    res = mask(f"身份证 {BAD_CHECKSUM_ID}")
    assert res.text == "身份证 110***********0025"
    assert res.found == {"id_card": 1}


def test_id_shaped_number_passing_luhn_but_not_checksum_is_a_bank_card():
    candidates = (make_id("11010519900101" + f"{i:03d}")[:-1] + str(c) for i in range(200) for c in range(10))
    value = next(v for v in candidates if luhn_ok(v) and not id_checksum_ok(v))
    res = mask(f"号码{value}")
    assert res.found == {"bank_card": 1}
    assert res.text == f"号码{value[:4]}{'*' * 10}{value[-4:]}"


def test_not_an_id_without_plausible_birth_date():
    assert mask("编码110105194913310021").found == {}  # month 13, fails Luhn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("卡号4111111111111111", "卡号4111********1111"),
        ("卡号 4111 1111 1111 1111 ", "卡号 4111********1111 "),
        ("卡号4111-1111-1111-1111", "卡号4111********1111"),
    ],
)
def test_bank_card_luhn(text, expected):
    res = mask(text)
    assert res.text == expected
    assert res.found == {"bank_card": 1}


def test_bank_card_failing_luhn_untouched():
    assert mask("编号4111111111111112").found == {}


@pytest.mark.parametrize(
    "text",
    [
        "订单号：SF1234567890，麻烦查一下",
        "我的订单 202506141234567890 一直没发货",
        "order no. 112-3456789-0123456",
        "订单号 4021987735126653 退款呢",  # passes Luhn, yet an order number, not a card
        "天猫订单编号3412567890123456789，收到二手货",
        "售后单号 AS20250614001，三次寄修",
        "退款单号 RF20250614001 查不到",
        "订单号：ＳＦ１２３４５６７８９０，",
    ],
)
def test_order_numbers_are_kept_for_the_agent_who_looks_the_order_up(text):
    res = mask(text)
    assert res.text == text
    assert res.found == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("运单号是 YT9876543210123", "运单号是 [运单号]"),
        ("快递单号JD-00123456", "快递单号[运单号]"),
        ("中通运单号：78912345678901，五天了", "中通运单号：[运单号]，五天了"),
        ("顺丰SF1456789012345，显示签收", "顺丰[运单号]，显示签收"),
        ("UPS tracking number 1Z999AA10123456784 says delivered", "UPS tracking number [运单号] says delivered"),
        ("运单号：ＳＦ１２３４５６７８９０１２，", "运单号：[运单号]，"),
        ("退货单号：YT9876543210123 已寄回", "退货单号：[运单号] 已寄回"),  # the return parcel's waybill
    ],
)
def test_tracking_numbers_are_masked(text, expected):
    res = mask(text)
    assert res.text == expected
    assert res.found == {"tracking_no": 1}


def test_order_keyword_without_code_untouched():
    assert mask("订单号码不对，单号呢？").found == {}


def test_email():
    res = mask("联系 alice.wang@qq.com 或 13812345678@163.com")
    assert res.text == "联系 a***@qq.com 或 1***@163.com"
    assert res.found == {"email": 2}


def test_weibo_mention_is_not_an_email():
    assert mask("@小米公司 你们管管").found == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "我住浙江省杭州市西湖区文三路478号华星时代广场A座1201室，快来",
            "我住浙江省杭州市西湖区[地址]，快来",
        ),
        ("北京市朝阳区阳光花园小区3栋2单元501室", "北京市朝阳区[地址]"),
        ("上海市浦东新区世纪大道100号 2025年6月14日", "上海市浦东新区[地址] 2025年6月14日"),
        ("寄到3栋2单元501室", "寄到[地址]"),
    ],
)
def test_address_keeps_city_and_district(text, expected):
    res = mask(text)
    assert res.text == expected
    assert res.found["address"] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "新款iPhone 15 售价5999元，比去年贵了300块",
        "2025-06-14 14:30:00 发布，2025年6月14日到货",
        "SU7 Ultra 售价52.99万，销量1.2万台，同比+35.6%",
        "深圳市南山区科技园人很多",
        "第3号选手，排名第12名，评论区1000条",
        "型号 MI13 Pro，固件 V14.0.23.0",
        "我的订单2025-06-14下的，订单金额1299元",
        "北京时间 14:30:59，温度-3.5℃，排名TOP10",
    ],
)
def test_ordinary_numbers_untouched(text):
    res = mask(text)
    assert res.text == text
    assert res.found == {}


def test_mixed_counts():
    text = f"电话13812345678，身份证{VALID_ID}，卡号4111111111111111，运单号SF1234567890，邮箱bob@x.com"
    res = mask(text)
    assert res.found == {"phone": 1, "id_card": 1, "bank_card": 1, "tracking_no": 1, "email": 1}
    for secret in ("13812345678", VALID_ID, "4111111111111111", "SF1234567890", "bob@"):
        assert secret not in res.text


# Ways of writing a number that do not change it: full-width and other NFKC forms, the groupings
# people type, a phone keyword glued on. Each is masked where it stands; the text around it is kept
# as written (full-width punctuation, full-width prices and all).
@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("电话１３８１２３４５６７８", "电话138****5678", "phone"),
        ("电话：１３８　１２３４　５６７８。价格１２９９元，谢谢！", "电话：138****5678。价格１２９９元，谢谢！", "phone"),
        ("手机𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "手机138****5678", "phone"),
        ("电话1381 234 5678", "电话138****5678", "phone"),
        ("138.1234.5678", "138****5678", "phone"),
        ("138-1234-5678 回电", "138****5678 回电", "phone"),
        ("电话138—1234—5678", "电话138****5678", "phone"),
        ("Tel13812345678", "Tel138****5678", "phone"),
        ("TEL:+86 138 1234 5678", "TEL:+86 138****5678", "phone"),
        ("加vx13812345678", "加vx138****5678", "phone"),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", "身份证110***********002X", "id_card"),
        ("身份证 110105 19491231 002X 别外传", "身份证 110***********002X 别外传", "id_card"),
        ("身份证110105-1949-1231-002X", "身份证110***********002X", "id_card"),
        ("ID110105194912310021", "ID110***********0021", "id_card"),
        ("卡号４１１１ １１１１ １１１１ １１１１", "卡号4111********1111", "bank_card"),
        ("邮箱alice＠qq.com，", "邮箱a***@qq.com，", "email"),
        ("ａｌｉｃｅ＠ｑｑ．ｃｏｍ", "a***@qq.com", "email"),
    ],
)
def test_numbers_however_written(text, expected, kind):
    res = mask(text)
    assert res.text == expected
    assert res.found == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "２０２５－０６－１４ １４：３０ 到货，价格１２９９元",  # a full-width date, time and price
        "2025.06.14-2025.06.20 活动，2025 06 14 13 30",  # a date range is not a 16-digit card
        "13.5 12.8 19.9 11 分",  # numbers side by side are not one phone
        "共 13 18 2345 6789 件",
        "1381 2345 678",  # not a grouping anyone writes a phone in
        "110105 20250614",
        "8613812345678 1381234567890 １２８１２３４５６７８",  # plain long digit runs
        "YT13812345678 型号ABC13812345678",  # codes with letters glued on: models, too short for a tracking number
        "192.168.1.100 v13.8.1234 400-820-8820 010-12345678",
        "订单号 2025 0614 1381",
    ],
)
def test_other_numbers_however_written_untouched(text):
    res = mask(text)
    assert res.text == text
    assert res.found == {}


def test_a_date_before_a_phone_does_not_hide_it():
    assert mask("2025-06-14 13812345678").text == "2025-06-14 138****5678"
    assert mask("订单 20250614 13812345678").text == "订单 20250614 138****5678"

