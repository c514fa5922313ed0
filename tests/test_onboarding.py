"""Onboarding payloads: QR code text, manual pairing code, base38 and Verhoeff."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matter_factory_data.core.onboarding import (
    INVALID_PASSCODES,
    ManualCode,
    SetupPayload,
    base38_decode,
    base38_encode,
    manual_code,
    onboarding_text,
    parse_manual_code,
    parse_qr_code,
    passcode_problem,
    qr_code,
    validate_payload,
    verhoeff_check_digit,
    verhoeff_is_valid,
)
from matter_factory_data.errors import InputError, OnboardingError

# --------------------------------------------------------------------------- vectors

# (VID, PID, discriminator, passcode, manual code, QR code); standard flow, BLE.
VECTORS = [
    pytest.param(0xFFF1, 0x8006, 0xF00, 20202021, "34970112332", "MT:8IXS142C00KA0648G00",
                 id="nrf-golden-fff1-8006"),
    pytest.param(0xFFF1, 0x8000, 0xF00, 20202021, "34970112332", "MT:Y.K9042C00KA0648G00",
                 id="chip-example-fff1-8000"),
    pytest.param(0x127F, 0xABCD, 0xFED, 13243546, "35442608082", "MT:KAYA3EYF15ND8B1OA00",
                 id="nrf-test-127f-abcd"),
]

# 21-digit codes published with the connectedhomeip examples (chip-tool docs).
LONG_VECTORS = [
    pytest.param(0xFFF1, 0x8001, 2, "749701123365521327694", id="chip-tool-doc-8001-custom"),
    pytest.param(0xFFF1, 0x8000, 1, "749701123365521327687", id="fff1-8000-user-intent"),
]


@pytest.mark.parametrize("vid, pid, disc, passcode, manual, qr", VECTORS)
def test_vectors_encode(vid, pid, disc, passcode, manual, qr):
    payload = SetupPayload(vendor_id=vid, product_id=pid, discriminator=disc, passcode=passcode)
    assert manual_code(payload) == manual
    assert qr_code(payload) == qr


@pytest.mark.parametrize("vid, pid, disc, passcode, manual, qr", VECTORS)
def test_vectors_decode(vid, pid, disc, passcode, manual, qr):
    assert parse_qr_code(qr) == SetupPayload(vid, pid, disc, passcode, flow=0, capabilities=2)
    assert parse_manual_code(manual) == ManualCode(disc >> 8, passcode, None, None)


@pytest.mark.parametrize("vid, pid, flow, manual", LONG_VECTORS)
def test_long_manual_code_vectors(vid, pid, flow, manual):
    payload = SetupPayload(vid, pid, discriminator=0xF00, passcode=20202021, flow=flow)
    assert manual_code(payload) == manual
    assert parse_manual_code(manual) == ManualCode(0xF, 20202021, vid, pid)


def test_worked_manual_code_digit_layout():
    code = manual_code(SetupPayload(0xFFF1, 0x8006, 3840, 20202021))
    assert (code[0], code[1:6], code[6:10], code[10:]) == ("3", "49701", "1233", "2")


def test_onboarding_text_is_the_nrf_txt_format():
    text = onboarding_text(SetupPayload(0xFFF1, 0x8006, 0xF00, 20202021))
    assert text == "Manualcode : 34970112332\nQRCode : MT:8IXS142C00KA0648G00"
    assert not text.endswith("\n")


def test_payload_defaults_are_standard_flow_and_ble():
    payload = SetupPayload(1, 2, 3, 20202021)
    assert (payload.flow, payload.capabilities, payload.version) == (0, 2, 0)


def test_records_are_immutable():
    with pytest.raises(AttributeError):
        SetupPayload(1, 2, 3, 20202021).passcode = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ManualCode(1, 20202021).passcode = 1  # type: ignore[misc]


@pytest.mark.parametrize("flow", [1, 2])
def test_non_standard_flow_gives_21_digits_with_vid_and_pid(flow):
    code = manual_code(SetupPayload(0x127F, 0x00AB, 0xFED, 13243546, flow=flow))
    assert len(code) == 21
    assert code[10:15] == "04735" and code[15:20] == "00171"
    assert int(code[0]) & 4


def test_manual_code_ignores_low_discriminator_bits():
    first = manual_code(SetupPayload(1, 2, 0xA00, 20202021))
    assert manual_code(SetupPayload(1, 2, 0xAFF, 20202021)) == first
    assert manual_code(SetupPayload(1, 2, 0xB00, 20202021)) != first


@pytest.mark.parametrize(
    "text", ["3497-011-2332", "34970 112332", " 3497 0112 332 ", "3-4-9-7-0-1-1-2-3-3-2"]
)
def test_manual_code_accepts_dashes_and_spaces(text):
    assert parse_manual_code(text) == ManualCode(0xF, 20202021)


def test_parse_qr_code_strips_surrounding_whitespace():
    assert parse_qr_code(" MT:8IXS142C00KA0648G00\n").product_id == 0x8006


# --------------------------------------------------------------------------- property tests

payloads = st.builds(
    SetupPayload,
    vendor_id=st.integers(0, 0xFFFF),
    product_id=st.integers(0, 0xFFFF),
    discriminator=st.integers(0, 0xFFF),
    passcode=st.integers(1, 99999998).filter(lambda n: n not in INVALID_PASSCODES),
    flow=st.integers(0, 2),
    capabilities=st.integers(0, 0x3F),
    version=st.integers(0, 7),
)


@given(payloads)
def test_qr_code_round_trip(payload):
    text = qr_code(payload)
    assert re.fullmatch(r"MT:[0-9A-Z.\-]{19}", text)
    assert parse_qr_code(text) == payload


@given(payloads)
def test_manual_code_round_trip(payload):
    code = manual_code(payload)
    long_code = payload.flow != 0
    assert re.fullmatch(r"\d{21}" if long_code else r"\d{11}", code)
    assert verhoeff_is_valid(code)
    parsed = parse_manual_code(code)
    assert parsed.passcode == payload.passcode
    assert parsed.short_discriminator == payload.discriminator >> 8
    expected_ids = (payload.vendor_id, payload.product_id) if long_code else (None, None)
    assert (parsed.vendor_id, parsed.product_id) == expected_ids


# --------------------------------------------------------------------------- base38


@pytest.mark.parametrize("size, chars", [(0, 0), (1, 2), (2, 4), (3, 5), (4, 7), (11, 19)])
def test_base38_lengths(size, chars):
    assert len(base38_encode(bytes(range(size)))) == chars


@pytest.mark.parametrize(
    "data, text",
    [
        pytest.param(b"", "", id="empty"),
        pytest.param(b"\x00", "00", id="zero"),
        pytest.param(b"\x25", ".0", id="37-last-symbol"),
        pytest.param(b"\x26", "01", id="38-carries"),
        pytest.param(b"\xff", "R6", id="255=6*38+27"),
        pytest.param(b"\x01\x00\x00", "10000", id="little-endian-chunk"),
        pytest.param(b"\x00\x00\x01", "OE710", id="65536"),
    ],
)
def test_base38_known_values(data, text):
    assert base38_encode(data) == text
    assert base38_decode(text) == data


@given(st.binary(max_size=64))
def test_base38_round_trip(data):
    text = base38_encode(data)
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.")
    assert len(text) == 5 * (len(data) // 3) + (0, 2, 4)[len(data) % 3]
    assert base38_decode(text) == data


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("0", "impossible length", id="1-char"),
        pytest.param("000", "impossible length", id="3-chars"),
        pytest.param("000000", "impossible length", id="6-chars"),
        pytest.param("00000000", "impossible length", id="8-chars"),
        pytest.param("0a", "'a' at position 2", id="lowercase"),
        pytest.param("0 ", "' ' at position 2", id="space"),
        pytest.param("00*00", "'*' at position 3", id="star"),
        pytest.param("S6", "does not fit in 1 byte", id="256-in-2-chars"),
        pytest.param("..", "does not fit in 1 byte", id="max-2-chars"),
        pytest.param("....", "does not fit in 2 byte", id="max-4-chars"),
        pytest.param(".....", "does not fit in 3 byte", id="max-5-chars"),
    ],
)
def test_base38_decode_rejects(text, fragment):
    with pytest.raises(OnboardingError, match=re.escape(fragment)):
        base38_decode(text)


def test_base38_decode_accepts_largest_values():
    assert base38_decode("R6") == b"\xff"
    assert base38_decode(base38_encode(b"\xff\xff\xff")) == b"\xff\xff\xff"


# --------------------------------------------------------------------------- Verhoeff


@pytest.mark.parametrize(
    "digits, check", [("236", "3"), ("12345", "1"), ("3497011233", "2"), ("", "0")]
)
def test_verhoeff_check_digit(digits, check):
    assert verhoeff_check_digit(digits) == check
    assert verhoeff_is_valid(digits + check)


VALID_CODES = ["34970112332", "35442608082", "749701123365521327694", "2363", "123451"]


def _substitutions(code):
    for index, digit in enumerate(code):
        for other in "0123456789":
            if other != digit:
                yield code[:index] + other + code[index + 1 :]


def _transpositions(code):
    for index in range(len(code) - 1):
        a, b = code[index], code[index + 1]
        if a != b:
            yield code[:index] + b + a + code[index + 2 :]


@pytest.mark.parametrize("code", VALID_CODES)
def test_verhoeff_detects_every_substitution_and_transposition(code):
    assert verhoeff_is_valid(code)
    substitutions = list(_substitutions(code))
    transpositions = list(_transpositions(code))
    assert len(substitutions) == 9 * len(code) and transpositions
    assert not [bad for bad in substitutions + transpositions if verhoeff_is_valid(bad)]


@given(st.text("0123456789", min_size=1, max_size=30))
def test_verhoeff_detects_errors_in_any_code(digits):
    code = digits + verhoeff_check_digit(digits)
    assert verhoeff_is_valid(code)
    assert not any(verhoeff_is_valid(bad) for bad in _substitutions(code))
    assert not any(verhoeff_is_valid(bad) for bad in _transpositions(code))


@pytest.mark.parametrize("code", ["", "12a3", "2363 ", "２３６３"])
def test_verhoeff_is_valid_rejects_non_digits(code):
    assert verhoeff_is_valid(code) is False


def test_verhoeff_check_digit_rejects_non_digits():
    with pytest.raises(OnboardingError, match="only the digits 0-9"):
        verhoeff_check_digit("12-3")


# --------------------------------------------------------------------------- validation

GOOD = dict(vendor_id=0xFFF1, product_id=0x8006, discriminator=0xF00, passcode=20202021)


def test_invalid_passcodes_is_the_spec_list():
    expected = {0, 12345678, 87654321} | {int(str(d) * 8) for d in range(1, 10)}
    assert isinstance(INVALID_PASSCODES, frozenset)
    assert expected == INVALID_PASSCODES


@pytest.mark.parametrize("passcode", [1, 20202021, 99999998, 11111112, 12345679])
def test_passcode_problem_accepts(passcode):
    assert passcode_problem(passcode) is None


@pytest.mark.parametrize(
    "passcode, fragment",
    [
        (0, "must be 1..99999998"),
        (-1, "must be 1..99999998"),
        (99999999, "must be 1..99999998"),
        (2**27 - 1, "must be 1..99999998"),
        (11111111, "forbidden passcodes (Matter spec 5.1.7.1)"),
        (55555555, "forbidden passcodes"),
        (88888888, "forbidden passcodes"),
        (12345678, "forbidden passcodes"),
        (87654321, "forbidden passcodes"),
        ("20202021", "must be an integer, not str"),
        (True, "must be an integer, not bool"),
    ],
)
def test_passcode_problem_rejects(passcode, fragment):
    assert fragment in passcode_problem(passcode)


def test_validate_payload_accepts_the_extremes():
    validate_payload(SetupPayload(0, 0, 0, 1, flow=0, capabilities=0, version=0))
    validate_payload(
        SetupPayload(0xFFFF, 0xFFFF, 0xFFF, 99999998, flow=2, capabilities=0xFF, version=7)
    )


BAD_PAYLOADS = [
    pytest.param({"vendor_id": -1}, "vendor_id -1 must be 0..65535.", id="vid-negative"),
    pytest.param({"vendor_id": 0x10000}, "vendor_id 65536 must be 0..65535.", id="vid-too-big"),
    pytest.param({"vendor_id": "0xFFF1"}, "vendor_id '0xFFF1' must be an integer", id="vid-str"),
    pytest.param({"product_id": 70000}, "product_id 70000 must be 0..65535.", id="pid-too-big"),
    pytest.param({"discriminator": 4096}, "discriminator 4096 must be 0..4095.", id="disc-too-big"),
    pytest.param({"discriminator": 1.5}, "discriminator 1.5 must be an integer", id="disc-float"),
    pytest.param({"passcode": 0}, "passcode 0 must be 1..99999998.", id="passcode-zero"),
    pytest.param({"passcode": 100000000}, "passcode 100000000 must be 1..99999998.",
                 id="passcode-big"),
    pytest.param({"passcode": 22222222}, "passcode 22222222 is in the list of forbidden",
                 id="passcode-22"),
    pytest.param({"passcode": 87654321}, "passcode 87654321 is in the list of forbidden",
                 id="passcode-876"),
    pytest.param({"flow": 3}, "flow 3 must be 0..2.", id="flow-reserved"),
    pytest.param({"flow": True}, "flow True must be an integer", id="flow-bool"),
    pytest.param({"capabilities": 256}, "capabilities 256 must be 0..255.", id="caps-too-big"),
    pytest.param({"capabilities": -1}, "capabilities -1 must be 0..255.", id="caps-negative"),
    pytest.param({"version": 8}, "version 8 must be 0..7.", id="version-too-big"),
]


@pytest.mark.parametrize("change, message", BAD_PAYLOADS)
def test_validate_payload_rejects(change, message):
    payload = SetupPayload(**{**GOOD, **change})
    with pytest.raises(OnboardingError) as info:
        validate_payload(payload)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, (InputError, ValueError))


@pytest.mark.parametrize("encoder", [qr_code, manual_code, onboarding_text])
@pytest.mark.parametrize("change, message", BAD_PAYLOADS[:2] + BAD_PAYLOADS[6:7])
def test_encoders_validate_first(encoder, change, message):
    with pytest.raises(OnboardingError, match=re.escape(message)):
        encoder(SetupPayload(**{**GOOD, **change}))


# --------------------------------------------------------------------------- QR decoder


def _raw_qr(version=0, vid=0xFFF1, pid=0x8006, flow=0, caps=2, disc=0xF00, passcode=20202021,
            padding=0):
    """Pack fields without any validation, to build deliberately bad QR texts."""
    value = 0
    for field, width in reversed([(version, 3), (vid, 16), (pid, 16), (flow, 2), (caps, 8),
                                  (disc, 12), (passcode, 27), (padding, 4)]):
        value = (value << width) | field
    return "MT:" + base38_encode(value.to_bytes(11, "little"))


def test_raw_qr_helper_matches_the_vector():
    assert _raw_qr() == "MT:8IXS142C00KA0648G00"


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("", "does not start with 'MT:'", id="empty"),
        pytest.param("8IXS142C00KA0648G00", "does not start with 'MT:'", id="no-prefix"),
        pytest.param("mt:8IXS142C00KA0648G00", "does not start with 'MT:'", id="lowercase-prefix"),
        pytest.param("MT8IXS142C00KA0648G00", "does not start with 'MT:'", id="no-colon"),
        pytest.param("MT:8IXS142C00KA0648G0", "has 18 characters after 'MT:', expected 19",
                     id="short"),
        pytest.param("MT:8IXS142C00KA0648G000", "has 20 characters", id="long"),
        pytest.param("MT:8IXS142C00KA0648G0000000", "TLV extension data is not supported",
                     id="tlv"),
        pytest.param("MT:", "has 0 characters", id="prefix-only"),
        pytest.param("MT:8IXS142C00KA0648g00", "character 'g' at position 17", id="lowercase"),
        pytest.param("MT:8IXS142C00KA0648G0_", "character '_'", id="underscore"),
        pytest.param("MT:8IXS142C00KA0648G00*MT:8IXS142C00KA0648G00", "joined by '*'",
                     id="concatenated"),
        pytest.param("MT:8IXS142C00KA0648...", "does not fit in 2 byte", id="chunk-overflow"),
        pytest.param(_raw_qr(padding=1), "padding bits are 0x1, expected 0", id="padding-1"),
        pytest.param(_raw_qr(padding=8), "padding bits are 0x8", id="padding-8"),
        pytest.param(_raw_qr(passcode=0), "passcode 0 must be 1..99999998", id="passcode-0"),
        pytest.param(_raw_qr(passcode=2**27 - 1), "passcode 134217727 must be 1..99999998",
                     id="passcode-max-bits"),
        pytest.param(_raw_qr(passcode=12345678), "passcode 12345678 is in the list of forbidden",
                     id="passcode-forbidden"),
        pytest.param(_raw_qr(flow=3), "flow 3 must be 0..2", id="flow-reserved"),
    ],
)
def test_parse_qr_code_rejects(text, fragment):
    with pytest.raises(OnboardingError, match=re.escape(fragment)):
        parse_qr_code(text)


def test_parse_qr_code_keeps_every_field():
    text = _raw_qr(version=5, vid=0x1234, pid=0xBEEF, flow=2, caps=0x35, disc=0xABC,
                   passcode=99999998)
    assert parse_qr_code(text) == SetupPayload(0x1234, 0xBEEF, 0xABC, 99999998, 2, 0x35, 5)


# --------------------------------------------------------------------------- manual code decoder


def _with_check(digits):
    return digits + verhoeff_check_digit(digits)


def _chunks(passcode, short=0xF):
    """Digits 2-10 of a manual code for ``passcode`` (no validation)."""
    return f"{((short & 3) << 14) | (passcode & 0x3FFF):05d}{passcode >> 14:04d}"


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("", "must contain only digits", id="empty"),
        pytest.param("---", "must contain only digits", id="dashes-only"),
        pytest.param("3497O112332", "must contain only digits", id="letter-O"),
        pytest.param("3497_011_2332", "must contain only digits", id="underscore"),
        pytest.param("3497.011.2332", "must contain only digits", id="dots"),
        pytest.param("３4970112332", "must contain only digits", id="fullwidth-digit"),
        pytest.param("3497011233", "has 10 digits, expected 11 or 21", id="10-digits"),
        pytest.param("349701123320", "has 12 digits", id="12-digits"),
        pytest.param("74970112336552132769", "has 20 digits", id="20-digits"),
        pytest.param("34970112333", "wrong check digit", id="check-digit"),
        pytest.param("34970112323", "wrong check digit", id="transposed"),
        pytest.param("749701123365521327695", "wrong check digit", id="long-check-digit"),
        pytest.param("849701123365521327693", "starts with 8: 8 and 9 are reserved", id="first-8"),
        pytest.param(_with_check("9" + _chunks(20202021)), "starts with 9", id="first-9"),
        pytest.param(_with_check("7" + _chunks(20202021)),
                     "has 11 digits but its first digit announces 21", id="long-flag-short-code"),
        pytest.param(_with_check("3" + _chunks(20202021) + "6552132769"),
                     "has 21 digits but its first digit announces 11", id="short-flag-long-code"),
        pytest.param(_with_check("399999" + "1233"), "digits 2-6 = 99999, which must be 0..65535",
                     id="chunk2-overflow"),
        pytest.param(_with_check("3" + _chunks(0)), "passcode 0, which must be 1..99999998",
                     id="passcode-0"),
        pytest.param(_with_check("3" + _chunks(99999999)),
                     "passcode 99999999, which must be 1..99999998", id="passcode-99999999"),
        pytest.param(_with_check("3" + "00000" + "9999"),
                     "passcode 163823616, which must be 1..99999998", id="passcode-chunk3-max"),
        pytest.param(_with_check("3" + _chunks(11111111)),
                     "passcode 11111111, which is in the list of forbidden passcodes",
                     id="passcode-forbidden"),
        pytest.param(_with_check("7" + _chunks(20202021) + "70000" + "00001"),
                     "vendor_id 70000, which must be 0..65535", id="vid-overflow"),
        pytest.param(_with_check("7" + _chunks(20202021) + "00001" + "99999"), "product_id 99999",
                     id="pid-overflow"),
    ],
)
def test_parse_manual_code_rejects(text, fragment):
    with pytest.raises(OnboardingError, match=re.escape(fragment)):
        parse_manual_code(text)


def test_parse_manual_code_reads_the_short_discriminator_bits():
    code = _with_check("2" + _chunks(20202021, short=0b1001))
    assert parse_manual_code(code).short_discriminator == 0b1001
