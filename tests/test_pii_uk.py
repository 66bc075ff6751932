"""UK and Irish phone numbers, English street addresses and UK postcodes are masked; what looks like them and
names nobody (freephone numbers, Chinese landlines written the Chinese way, storage sizes, prices, dates,
order numbers, sentences with a number and a street word) stays, in the same post."""

from __future__ import annotations

import pytest

from crisiswatch.pii import mask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ring 07700 900123, not 0800 123 4567", "ring 07700 ***123, not 0800 123 4567"),
        ("mobile 07700 900 456 or 0770 090 0123", "mobile 07700 *** 456 or 0770 0** *123"),
        ("+44 (0)20 7946 0018, the shop is 020-87654321", "+44 (0)20 **** 0018, the shop is 020-87654321"),
        ("0044 7700 900321, order 112-9988776-5544332", "0044 7700 ***321, order 112-9988776-5544332"),
        ("+447700900123 since 14/11/2025 at 10:30", "+447700***123 since 14/11/2025 at 10:30"),
        ("(020) 7946 0018, refund £1,299.99", "(020) **** 0018, refund £1,299.99"),
        (
            "0161 496 0000 or 01632 960123; 0345 600 7000 is theirs",
            "0161 *** 0000 or 01632 ***123; 0345 600 7000 is theirs",
        ),
        (
            "text 087 123 4567 or +353 86 765 4321, Dublin 2",
            "text 087 *** 4567 or +353 86 *** 4321, Dublin 2",
        ),
        ("Dublin office (01) 234 5678, case 04871234", "Dublin office (01) *** 5678, case 04871234"),
        (
            "深圳仓 0755-12345678 不接，伦敦手机 07700900555",
            "深圳仓 0755-12345678 不接，伦敦手机 07700***555",
        ),
    ],
)
def test_uk_and_irish_phones_lose_their_local_number(text, expected):
    res = mask(text)
    assert res.text == expected
    assert set(res.found) == {"phone"}
    assert mask(res.text).text == res.text  # `mentions remask` relies on it


@pytest.mark.parametrize(
    ("text", "expected", "found"),
    [
        ("left at 221B Baker Street, London NW1 6XE", "left at [address], London NW1 ***", 2),
        (
            "Flat 3, 45 High Road, Leeds LS1 4AP; the M2 8GB MacBook",
            "[address], Leeds LS1 ***; the M2 8GB MacBook",
            2,
        ),
        (
            "send it to 17 acacia avenue, sw1a 1aa, 3 hours on the road",
            "send it to [address], sw1a ***, 3 hours on the road",
            2,
        ),
        (
            "10 Downing St. Drove 3 Hours On The Road, Pixel 8 Hazel Green",
            "[address]. Drove 3 Hours On The Road, Pixel 8 Hazel Green",
            1,
        ),
        ("12-14 Kingsway Crescent, M1 2AB; PS5 2TB at 2PM", "[address], M1 ***; PS5 2TB at 2PM", 2),
        (
            "EC1A 1BB is the office, 2 dogs on the street, NE808PA laptop",
            "EC1A *** is the office, 2 dogs on the street, NE808PA laptop",
            1,
        ),
    ],
)
def test_english_street_addresses_and_postcodes_keep_only_the_town_and_district(text, expected, found):
    res = mask(text)
    assert res.text == expected
    assert res.found == {"address": found}
    assert mask(res.text).text == res.text
