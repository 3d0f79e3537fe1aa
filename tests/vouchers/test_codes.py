import re

import pytest
from django.test import override_settings

from vouchers import codes

CODE_RE = re.compile(r"^DTX(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){5}$")


def test_alphabet_has_no_ambiguous_symbols():
    assert not set("0O1IL") & set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 31


def test_generated_codes_are_long_grouped_and_distinct():
    bodies = {codes.generate_body() for _ in range(2000)}
    assert len(bodies) == 2000
    for body in list(bodies)[:50]:
        assert len(body) == 20
        assert CODE_RE.match(codes.format_code(body))
    # Every symbol of the alphabet turns up (secrets.choice over all 31).
    assert set("".join(bodies)) == set(codes.ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVW",
        "dtx-abcd-efgh-jkmn-pqrs-tuvw",
        "  DTX ABCD EFGH JKMN PQRS TUVW ",
        "DTXABCDEFGHJKMNPQRSTUVW",
        "ABCD-EFGH-JKMN-PQRS-TUVW",
        "abcdefghjkmnpqrstuvw",
        "ABCD.EFGH_JKMN-PQRS\tTUVW",
    ],
)
def test_normalise_ignores_case_spaces_dashes_and_prefix(typed):
    assert codes.normalise(typed) == "ABCDEFGHJKMNPQRSTUVW"


def test_a_body_starting_with_dtx_survives_normalisation():
    body = "DTXABCDEFGHJKMNPQRST"
    assert codes.normalise(codes.format_code(body)) == body
    assert codes.normalise(body) == body


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "DTX",
        "DTX-ABCD-EFGH-JKMN-PQRS-TUV",  # 19 symbols
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVWX",  # 21
        "DTX-ABCD-EFGH-JKMN-PQRS-TUV0",  # zero is not in the alphabet
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVO",  # nor O
        "DTX-ABCD-EFGH-JKMN-PQRS-TUV1",
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVI",
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVL",
        "DTX-ABCD-EFGH-JKMN-PQRS-TUVÉ",
        "'; DROP TABLE vouchers_voucher; --",
    ],
)
def test_normalise_refuses_malformed_input(typed):
    with pytest.raises(codes.MalformedCode):
        codes.normalise(typed)


def test_normalise_refuses_non_text():
    with pytest.raises(codes.MalformedCode):
        codes.normalise(12345)


def test_hash_is_keyed_hmac_sha256():
    body = "ABCDEFGHJKMNPQRSTUVW"
    with override_settings(VOUCHER_HASH_KEY="key-one"):
        one = codes.code_hash(body)
    with override_settings(VOUCHER_HASH_KEY="key-two"):
        two = codes.code_hash(body)
    assert re.fullmatch(r"[0-9a-f]{64}", one)
    assert one != two
    import hashlib
    import hmac

    assert one == hmac.new(b"key-one", body.encode(), hashlib.sha256).hexdigest()


def test_demo_bodies_are_deterministic_and_well_formed():
    first = [codes.demo_body("seed", i) for i in range(5)]
    assert first == [codes.demo_body("seed", i) for i in range(5)]
    assert len(set(first)) == 5
    assert first != [codes.demo_body("other", i) for i in range(5)]
    for body in first:
        assert codes.normalise(codes.format_code(body)) == body
