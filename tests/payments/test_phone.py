import pytest

from dtexchange.errors import InvalidInput
from payments.phone import AIRTEL, MTN, msisdn_parse


@pytest.mark.parametrize(
    "raw",
    [
        "+256771234567",
        "+256 77 123 4567",
        "256771234567",
        "0771234567",
        "771234567",
        "0771-234-567",
        "00256771234567",
        " (077) 123 4567 ",
    ],
)
def test_every_usual_way_of_writing_a_number_normalises_to_e164(raw):
    assert msisdn_parse(value=raw).e164 == "+256771234567"


@pytest.mark.parametrize(
    ("national", "provider"),
    [
        ("761234567", MTN),
        ("771234567", MTN),
        ("781234567", MTN),
        ("790123456", MTN),
        ("799123456", MTN),
        ("724123456", MTN),
        ("737123456", MTN),
        ("701234567", AIRTEL),
        ("741234567", AIRTEL),
        ("751234567", AIRTEL),
        ("730123456", AIRTEL),
        ("731123456", AIRTEL),
    ],
)
def test_the_provider_comes_from_the_prefix(national, provider):
    assert msisdn_parse(value="0" + national).provider == provider


@pytest.mark.parametrize(
    "national",
    # UTL 71x, other 72x/73x blocks, a landline (41x), 72/73 neighbours of the
    # MTN/Airtel 3-digit blocks.
    ["711234567", "720123456", "725123456", "732123456", "736123456", "414123456"],
)
def test_other_networks_are_refused_naming_the_field(national):
    with pytest.raises(InvalidInput) as exc:
        msisdn_parse(value="0" + national, field="payout_phone")
    assert exc.value.code == "unsupported_network"
    assert "payout_phone" in exc.value.details
    assert "MTN or Airtel" in exc.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        256771234567,
        "+254712345678",
        "07712345",
        "077123456789",
        "+256 77 123 456a",
        "+25677123456",
    ],
)
def test_malformed_or_foreign_numbers_are_invalid(raw):
    with pytest.raises(InvalidInput) as exc:
        msisdn_parse(value=raw)
    assert exc.value.code == "invalid_phone_number"
    assert "phone_number" in exc.value.details


def test_masked_form_hides_the_middle():
    masked = msisdn_parse(value="0771234567").masked
    assert "1234" not in masked
    assert masked.startswith("+25677") and masked.endswith("567")
