"""Matter onboarding payloads: QR code text and manual pairing code (Matter spec 5.1).

Pure standard-library code. The QR payload is 88 bits packed LSB-first into 11
little-endian bytes and written in base38 after ``MT:``; the manual code is 11
digits (21 with vendor and product ID) ending in a Verhoeff check digit.
Optional TLV extension data is neither produced nor accepted.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

from matter_factory_data.errors import OnboardingError

__all__ = [
    "INVALID_PASSCODES",
    "ManualCode",
    "SetupPayload",
    "base38_decode",
    "base38_encode",
    "manual_code",
    "onboarding_text",
    "parse_manual_code",
    "parse_qr_code",
    "passcode_problem",
    "qr_code",
    "validate_payload",
    "verhoeff_check_digit",
    "verhoeff_is_valid",
]

QR_PREFIX = "MT:"
PASSCODE_MIN = 1
PASSCODE_MAX = 99999998
INVALID_PASSCODES = frozenset(
    [0, 12345678, 87654321] + [digit * 11111111 for digit in range(1, 10)]
)

FLOW_STANDARD = 0
FLOW_USER_INTENT = 1
FLOW_CUSTOM = 2

# (field, bit width) in packing order, lowest bits first; padding (4 bits) follows.
_QR_FIELDS = (
    ("version", 3),
    ("vendor_id", 16),
    ("product_id", 16),
    ("flow", 2),
    ("capabilities", 8),
    ("discriminator", 12),
    ("passcode", 27),
)
_QR_PADDING_BITS = 4
_QR_PAYLOAD_BYTES = 11
_QR_PAYLOAD_CHARS = 19

# Discovery capabilities (RendezvousInformationFlag, Matter Core spec 5.1.3.1): the 8-bit
# field between the flow and the discriminator in the QR payload; bits 6 and 7 are reserved
# (the SDK's QR generator refuses them). The manual code does not carry it.
DISCOVERY_BITS = {"softap": 1, "ble": 2, "onnetwork": 4, "wifipaf": 8, "nfc": 16, "thread": 32}
DISCOVERY_RESERVED = 0xC0
DISCOVERY_DEFAULT = DISCOVERY_BITS["ble"]  # the nRF Connect generator's (rendezvous=2)
DISCOVERY_ACCEPTED = ("a comma-separated list of softap, ble, onnetwork, wifipaf, nfc, "
                      "thread, or a number 0..63 (bits: softap 1, ble 2, onnetwork 4, wifipaf "
                      "8, nfc 16, thread 32)")


def discovery_problem(mask: object) -> str | None:
    """Why ``mask`` is not a discovery capabilities bitmask a QR code may carry, or None."""
    if isinstance(mask, bool) or not isinstance(mask, int):
        return f"must be an integer, not {type(mask).__name__}"
    if not 0 <= mask <= 0xFF:
        return f"{mask} is out of range (accepted: {DISCOVERY_ACCEPTED})"
    if mask & DISCOVERY_RESERVED:
        return (f"{mask} (0x{mask:02X}) sets bit(s) the Matter specification reserves "
                f"(0x{mask & DISCOVERY_RESERVED:02X}) (accepted: {DISCOVERY_ACCEPTED})")
    return None


def parse_discovery(text: str) -> tuple[int | None, str | None]:
    """``ble,onnetwork`` (also ``+``-joined, any case, ``-``/``_`` ignored) or a number ->
    (mask, None); or (None, the problem)."""
    if not isinstance(text, str) or not text or len(text) > 80:
        return None, f"{text!r} is not accepted (accepted: {DISCOVERY_ACCEPTED})"
    if text[:1] in "0123456789":
        import re

        if re.fullmatch(r"[0-9]+", text):
            mask = int(text, 10)
        elif re.fullmatch(r"0[xX][0-9A-Fa-f]+", text):
            mask = int(text, 16)
        else:
            return None, f"{text!r} is not a number (accepted: {DISCOVERY_ACCEPTED})"
    else:
        mask = 0
        for name in text.lower().replace("+", ",").split(","):
            key = name.strip().replace("-", "").replace("_", "")
            if key not in DISCOVERY_BITS:
                return None, f"{name.strip()!r} is not accepted (accepted: {DISCOVERY_ACCEPTED})"
            mask |= DISCOVERY_BITS[key]
    problem = discovery_problem(mask)
    return (None, problem) if problem else (mask, None)


# Accepted ranges of the fields other than the passcode (see passcode_problem).
_RANGES = {
    "version": (0, 7),
    "vendor_id": (0, 0xFFFF),
    "product_id": (0, 0xFFFF),
    "flow": (0, 2),
    "capabilities": (0, 0xFF),
    "discriminator": (0, 0xFFF),
}


class SetupPayload(NamedTuple):
    """The fields of a Matter QR code payload (no TLV extension)."""

    vendor_id: int
    product_id: int
    discriminator: int
    passcode: int
    flow: int = FLOW_STANDARD
    capabilities: int = 2
    version: int = 0


class ManualCode(NamedTuple):
    """What a manual pairing code carries: only 4 bits of the discriminator."""

    short_discriminator: int
    passcode: int
    vendor_id: Optional[int] = None
    product_id: Optional[int] = None


# --------------------------------------------------------------------------- validation


def passcode_problem(passcode: object) -> str | None:
    """Return why ``passcode`` is not a valid setup passcode (a sentence tail), or None."""
    if isinstance(passcode, bool) or not isinstance(passcode, int):
        return f"must be an integer, not {type(passcode).__name__}"
    if not PASSCODE_MIN <= passcode <= PASSCODE_MAX:
        return f"must be {PASSCODE_MIN}..{PASSCODE_MAX}"
    if passcode in INVALID_PASSCODES:
        return "is in the list of forbidden passcodes (Matter spec 5.1.7.1)"
    return None


def _range_problem(value: object, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, not {type(value).__name__}"
    if not low <= value <= high:
        return f"must be {low}..{high}"
    return None


def validate_payload(p: SetupPayload) -> None:
    """Raise OnboardingError naming the first field of ``p`` that is out of range."""
    for field, (low, high) in _RANGES.items():
        value = getattr(p, field)
        problem = _range_problem(value, low, high)
        if problem:
            raise OnboardingError(f"{field} {value!r} {problem}.")
    problem = passcode_problem(p.passcode)
    if problem:
        raise OnboardingError(f"passcode {p.passcode!r} {problem}.")


# --------------------------------------------------------------------------- base38

_BASE38_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-."
_BASE38_INDEX = {char: index for index, char in enumerate(_BASE38_ALPHABET)}
_CHARS_FOR_BYTES = {1: 2, 2: 4, 3: 5}
_BYTES_FOR_CHARS = {chars: count for count, chars in _CHARS_FOR_BYTES.items()}


def base38_encode(data: bytes) -> str:
    """Encode ``data`` in Matter base38: 3-byte LE chunks as 5 digits, least significant first."""
    out = []
    for start in range(0, len(data), 3):
        chunk = data[start : start + 3]
        value = int.from_bytes(chunk, "little")
        for _ in range(_CHARS_FOR_BYTES[len(chunk)]):
            value, digit = divmod(value, 38)
            out.append(_BASE38_ALPHABET[digit])
    return "".join(out)


def base38_decode(text: str) -> bytes:
    """Decode Matter base38; raise OnboardingError on a bad character, length or chunk value."""
    if len(text) % 5 in (1, 3):
        raise OnboardingError(
            f"base38 text of {len(text)} characters has an impossible length "
            "(a final chunk must have 2, 4 or 5 characters)."
        )
    out = bytearray()
    for start in range(0, len(text), 5):
        chunk = text[start : start + 5]
        value = 0
        for offset, char in enumerate(reversed(chunk)):
            if char not in _BASE38_INDEX:
                position = start + len(chunk) - offset
                raise OnboardingError(
                    f"base38 character {char!r} at position {position} of {text!r} is not one "
                    "of 0-9, A-Z, '-' and '.'."
                )
            value = value * 38 + _BASE38_INDEX[char]
        size = _BYTES_FOR_CHARS[len(chunk)]
        if value >= 1 << (8 * size):
            raise OnboardingError(
                f"base38 chunk {chunk!r} encodes {value}, which does not fit in {size} byte(s)."
            )
        out += value.to_bytes(size, "little")
    return bytes(out)


# --------------------------------------------------------------------------- Verhoeff


def _d5(j: int, k: int) -> int:
    """Product in the dihedral group D5 (elements 0..9)."""
    if j < 5 and k < 5:
        return (j + k) % 5
    if j < 5:
        return 5 + (j + k) % 5
    if k < 5:
        return 5 + (j - k) % 5
    return (j - k) % 5


def _permutations() -> tuple[tuple[int, ...], ...]:
    step = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)
    rows = [tuple(range(10))]
    for _ in range(7):
        rows.append(tuple(step[x] for x in rows[-1]))
    return tuple(rows)


_VERHOEFF_D = tuple(tuple(_d5(j, k) for k in range(10)) for j in range(10))
_VERHOEFF_P = _permutations()
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)
_DIGITS = frozenset("0123456789")


def _verhoeff_state(digits: str, first_position: int) -> int:
    state = 0
    for position, char in enumerate(reversed(digits), start=first_position):
        state = _VERHOEFF_D[state][_VERHOEFF_P[position % 8][ord(char) - 48]]
    return state


def verhoeff_check_digit(digits: str) -> str:
    """Return the Verhoeff check digit to append to the decimal string ``digits``."""
    if not set(digits) <= _DIGITS:
        raise OnboardingError(f"Verhoeff input {digits!r} must contain only the digits 0-9.")
    return str(_VERHOEFF_INV[_verhoeff_state(digits, 1)])


def verhoeff_is_valid(code: str) -> bool:
    """True if ``code`` (digits ending in their check digit) passes the Verhoeff check."""
    if not code or not set(code) <= _DIGITS:
        return False
    return _verhoeff_state(code, 0) == 0


# --------------------------------------------------------------------------- QR code


def qr_code(p: SetupPayload) -> str:
    """Return the QR code text ``MT:`` + 19 base38 characters for ``p``."""
    validate_payload(p)
    problem = discovery_problem(p.capabilities)
    if problem:
        raise OnboardingError(f"discovery capabilities {problem}.")
    value, shift = 0, 0
    for field, width in _QR_FIELDS:
        value |= getattr(p, field) << shift
        shift += width
    return QR_PREFIX + base38_encode(value.to_bytes(_QR_PAYLOAD_BYTES, "little"))


def parse_qr_code(text: str) -> SetupPayload:
    """Decode QR code text (``MT:...``) into a validated SetupPayload."""
    return _parse_qr_code(text.strip())


@functools.lru_cache(maxsize=64)  # verify reads a device's code from the manifest, its .txt
def _parse_qr_code(text: str) -> SetupPayload:  # and the image's values: parsed once
    if not text.startswith(QR_PREFIX):
        raise OnboardingError(f"QR code text {text[:8]!r} does not start with {QR_PREFIX!r}.")
    body = text[len(QR_PREFIX) :]
    if "*" in body:
        raise OnboardingError("QR code text with several payloads joined by '*' is not supported.")
    if len(body) != _QR_PAYLOAD_CHARS:
        raise OnboardingError(
            f"QR code text has {len(body)} characters after {QR_PREFIX!r}, expected "
            f"{_QR_PAYLOAD_CHARS} (TLV extension data is not supported)."
        )
    value = int.from_bytes(base38_decode(body), "little")
    fields, shift = {}, 0
    for field, width in _QR_FIELDS:
        fields[field] = (value >> shift) & ((1 << width) - 1)
        shift += width
    padding = value >> shift
    if padding:
        raise OnboardingError(f"QR code padding bits are {padding:#x}, expected 0.")
    payload = SetupPayload(**fields)
    validate_payload(payload)
    return payload


# --------------------------------------------------------------------------- manual code


def manual_code(p: SetupPayload) -> str:
    """Return the manual pairing code: 11 digits, or 21 (VID/PID added) for a non-standard flow."""
    validate_payload(p)
    short = p.discriminator >> 8
    vid_pid_present = p.flow != FLOW_STANDARD
    digits = (
        f"{(vid_pid_present << 2) | (short >> 2)}"
        f"{((short & 3) << 14) | (p.passcode & 0x3FFF):05d}"
        f"{p.passcode >> 14:04d}"
    )
    if vid_pid_present:
        digits += f"{p.vendor_id:05d}{p.product_id:05d}"
    return digits + verhoeff_check_digit(digits)


def _manual_digits(text: str) -> str:
    digits = text.replace("-", "").replace(" ", "")
    if not digits or not set(digits) <= _DIGITS:
        raise OnboardingError(
            f"manual pairing code {text!r} must contain only digits (dashes and spaces allowed)."
        )
    if len(digits) not in (11, 21):
        raise OnboardingError(
            f"manual pairing code {text!r} has {len(digits)} digits, expected 11 or 21."
        )
    if not verhoeff_is_valid(digits):
        raise OnboardingError(f"manual pairing code {text!r} has a wrong check digit.")
    return digits


def _manual_vid_pid(text: str, digits: str) -> tuple[int | None, int | None]:
    first = int(digits[0])
    if first > 7:
        raise OnboardingError(
            f"manual pairing code {text!r} starts with {first}: 8 and 9 are reserved."
        )
    long_code = bool(first & 4)
    if long_code != (len(digits) == 21):
        expected = 21 if long_code else 11
        raise OnboardingError(
            f"manual pairing code {text!r} has {len(digits)} digits but its first digit "
            f"announces {expected}."
        )
    if not long_code:
        return None, None
    vendor_id, product_id = int(digits[10:15]), int(digits[15:20])
    for name, value in (("vendor_id", vendor_id), ("product_id", product_id)):
        if value > 0xFFFF:
            raise OnboardingError(
                f"manual pairing code {text!r} has {name} {value}, which must be 0..65535."
            )
    return vendor_id, product_id


def parse_manual_code(text: str) -> ManualCode:
    """Decode an 11- or 21-digit manual pairing code (dashes and spaces ignored)."""
    digits = _manual_digits(text)
    vendor_id, product_id = _manual_vid_pid(text, digits)
    chunk2, chunk3 = int(digits[1:6]), int(digits[6:10])
    if chunk2 > 0xFFFF:
        raise OnboardingError(
            f"manual pairing code {text!r} has digits 2-6 = {chunk2}, which must be 0..65535."
        )
    passcode = (chunk3 << 14) | (chunk2 & 0x3FFF)
    problem = passcode_problem(passcode)
    if problem:
        raise OnboardingError(
            f"manual pairing code {text!r} has passcode {passcode}, which {problem}."
        )
    short = ((int(digits[0]) & 3) << 2) | (chunk2 >> 14)
    return ManualCode(short, passcode, vendor_id, product_id)


def onboarding_text(p: SetupPayload) -> str:
    """Return the nRF Connect ``.txt`` content: two lines, no trailing newline."""
    return onboarding_text_of(manual_code(p), qr_code(p))


def onboarding_text_of(manual: str, qr: str) -> str:
    """:func:`onboarding_text` of codes already made from one payload."""
    return f"Manualcode : {manual}\nQRCode : {qr}"
