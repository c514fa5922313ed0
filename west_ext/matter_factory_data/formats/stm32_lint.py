"""The STM32 device reader's view of the records (``Get_TagLocation``), plus the board's rules.

ERROR where the device rejects or misreads the data, WARNING where it is unwise or where
only a reader this board does not run would fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ..core import validate
from ..core.model import FIELDS_BY_KEY
from ..errors import OPT
from .base import ERROR, WARNING, Problem
from .stm32_boards import (
    COMMON_REQUIRED,
    PROVISIONING_APPENDED,
    PROVISIONING_LIMIT,
    UNSUPPORTED,
    Board,
)
from .stm32_records import (
    _INT_WIDTH,
    BY_NUMBER,
    END_MARKER,
    HEADER,
    MAX_RECORD,
    PROVISIONED_TAGS,
    STRING,
    Record,
    _records_in_order,
    tag_name,
    tag_number,
)


def lint(device_map: Mapping[str, bytes], *, partition_size: Optional[int] = None,
         board: Optional[Board] = None, key_in_secure_storage: bool = False) -> list[Problem]:
    """ERROR where the device rejects or misreads the data, WARNING where it is unwise.

    ``key_in_secure_storage``: the user states that the board's firmware signs with a DAC
    key kept in its secure key storage (STM32WB: CKS), so the key record (tag 5) is neither
    needed nor read."""
    records = getattr(device_map, "records", None)
    if records is None:
        records = _records_in_order(sorted((tag_number(k) or 0, v)
                                           for k, v in device_map.items())).records
        findings, length = [], _encoded_length(device_map)
    else:
        read: Any = device_map  # the decoded image: records with findings and length
        findings, length = list(read.findings), read.image_length
    problems = findings + _record_problems(records, board)
    seen = {r.tag for r in _visible(records)}
    problems += _presence_problems(device_map, seen, board, key_in_secure_storage)
    problems += _size_problems(records, length, partition_size, board)
    return problems


def _encoded_length(device_map: Mapping[str, bytes]) -> int:
    return sum(HEADER.size + len(v) for v in device_map.values()) + len(END_MARKER)


def _visible(records: list[Record]) -> list[Record]:
    """The records the device reader can reach (it stops at the first unreadable one)."""
    out = []
    for record in records:
        if not 0 < record.declared <= MAX_RECORD:
            break
        out.append(record)
    return out


def _record_problems(records: list[Record], board: Optional[Board]) -> list[Problem]:
    problems, seen = [], set()
    for index, record in enumerate(records):
        name = tag_name(record.tag)
        if not 0 < record.declared <= MAX_RECORD:
            hidden = len(records) - index - 1
            what = "is empty (length 0)" if record.declared == 0 else \
                f"is {record.declared} bytes long (the device reader accepts 1..{MAX_RECORD})"
            problems.append(Problem(ERROR, name, f"at offset {record.offset} {what}: the device "
                                    "reports PARAM_ERROR for it and for every later lookup"
                                    + (f" ({hidden} later record(s) hidden)" if hidden else "")))
            break
        if record.tag in seen:
            problems.append(Problem(ERROR, name, f"at offset {record.offset} is a second "
                                    "record with this tag: the device reads the first, "
                                    "genFactoryData --binary keeps the last"))
            continue
        seen.add(record.tag)
        problems += _value_problems(record, board)
    return problems


def _value_problems(record: Record, board: Optional[Board]) -> list[Problem]:
    tag = BY_NUMBER.get(record.tag)
    name = tag_name(record.tag)
    if tag is None:
        return [Problem(WARNING, name, f"unknown tag {record.tag}: the device skips it and "
                        "genFactoryData --binary drops it")]
    unread = (board.unread if board else UNSUPPORTED).get(record.tag)
    if unread:
        return [Problem(WARNING, name, f"is not read on "
                        f"{board.title if board else 'STM32'}: {unread}")]
    value = record.value
    if tag.kind in _INT_WIDTH:
        width = _INT_WIDTH[tag.kind]
        if len(value) != width:
            return [Problem(ERROR, name, f"is {len(value)} bytes; the device reads a "
                            f"{8 * width}-bit integer from exactly {width} bytes")]
        typed: Any = int.from_bytes(value, "little")
    elif tag.kind == STRING:
        try:
            typed = value.decode("utf-8")
        except UnicodeDecodeError:
            return [Problem(ERROR, name, "is not valid UTF-8 text")]
    else:
        typed = value
    if tag.number == 6:
        return _public_key_problems(value)
    if tag.field is None:
        return []
    problem = validate.problem_for(tag.field, typed)
    if problem is None and tag.field == "spake2_verifier":
        from ..core.spake2p import verifier_problem

        problem = verifier_problem(value)
        problem = problem and f"the verifier {problem}"
    if problem and tag.field in SECRET_FIELDS:  # a secret: never quoted in a finding
        problem = problem.replace(str(typed), "(the stored value)")
    if problem:
        return [Problem(ERROR, name, f"{FIELDS_BY_KEY[tag.field].description} {problem}")]
    return []


#: Fields whose stored values are secrets: a finding never quotes them.
SECRET_FIELDS = ("passcode", "dac_key")


def _public_key_problems(value: bytes) -> list[Problem]:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), value)
    except ValueError:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PUB_KEY", f"is not an uncompressed P-256 "
                        f"point (65 bytes starting 04), got {len(value)} bytes")]
    if len(value) != 65:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PUB_KEY", "must be the 65-byte "
                        "uncompressed point (04 || X || Y)")]
    return []


def _presence_problems(device_map: Mapping[str, bytes], seen: set, board: Optional[Board],
                       key_in_secure_storage: bool = False) -> list[Problem]:
    problems = []
    board_required = set(board.required) if board else set()
    if key_in_secure_storage:
        board_required -= {PRIVATE_KEY_TAG}
    required = set(COMMON_REQUIRED) | board_required
    provisioning = board is not None and board.completes_provisioning and \
        not (seen & PROVISIONED_TAGS)
    if provisioning:
        required -= PROVISIONED_TAGS
    for number in sorted(required - seen):
        problems.append(Problem(ERROR, tag_name(number), _missing(number, board)))
    if key_in_secure_storage and PRIVATE_KEY_TAG in seen and \
            not (board and PRIVATE_KEY_TAG in board.unread):
        problems.append(Problem(WARNING, tag_name(PRIVATE_KEY_TAG), "is stored although the "
                                "DAC key is said to be in the secure key storage: the firmware "
                                "does not read it, and a private key in flash can be read back "
                                "by anyone with a probe"))
    if 15 in seen and 14 in seen:
        problems.append(Problem(WARNING, "SPAKE2_SETUP_PASSCODE", "the passcode is stored "
                                "next to the verifier; the Matter specification (5.1.7) "
                                "forbids this in production devices"))
    if PRIVATE_KEY_TAG in seen and 6 in seen:
        problems += _key_pair_problems(device_map, _key_pair_severity(board,
                                                                      key_in_secure_storage))
    return problems


#: The record of the DAC private key (raw 32-byte scalar).
PRIVATE_KEY_TAG = 5


def _missing(number: int, board: Optional[Board]) -> str:
    if board is None or number not in board.required:
        return "is missing: the device needs it"
    if number == PRIVATE_KEY_TAG:
        return (f"is missing: the {board.title} applications read the DAC private key from "
                "this record and fail attestation without it (if the firmware keeps the key "
                f"in the secure key storage, CKS, say so with {OPT['dac-key-in-secure-storage']})")
    return f"is missing: the device needs it on {board.title}"


def _key_pair_severity(board: Optional[Board], key_in_secure_storage: bool) -> str:
    """ERROR only where the device reads both key records: a board that reads neither
    (STM32WBA: PSA ITS) or a key said to be in secure storage makes a mismatch harmless."""
    if key_in_secure_storage:
        return WARNING
    if board is not None and PRIVATE_KEY_TAG in board.unread and 6 in board.unread:
        return WARNING
    return ERROR


def _key_pair_problems(device_map: Mapping[str, bytes], severity: str = ERROR
                       ) -> list[Problem]:
    from ..core import certs
    from ..errors import CredentialError

    try:
        key = certs.private_key_from_scalar(device_map["DEVICE_ATTESTATION_PRIV_KEY"],
                                            source="DEVICE_ATTESTATION_PRIV_KEY")
    except CredentialError as exc:
        return [Problem(severity, "DEVICE_ATTESTATION_PRIV_KEY", str(exc))]
    if certs.public_key_bytes(key) != device_map["DEVICE_ATTESTATION_PUB_KEY"]:
        return [Problem(severity, "DEVICE_ATTESTATION_PUB_KEY", "is not the public key of "
                        "DEVICE_ATTESTATION_PRIV_KEY")]
    return []


def _size_problems(records: list[Record], length: Optional[int], partition_size: Optional[int],
                   board: Optional[Board]) -> list[Problem]:
    problems: list[Problem] = []
    if length is None:
        return problems
    limits = []
    if partition_size is not None:
        limits.append((partition_size, "the partition"))
    if board is not None:
        limits.append((board.size, f"the {board.title} factory data region "
                                   f"(0x{board.address:08X}, {board.size} bytes)"))
    for size, what in limits:
        if length > size:
            problems.append(Problem(ERROR, "", f"the image is {length} bytes, more than "
                                    f"{what}"))
    tags = {r.tag for r in records}
    if board is not None and board.completes_provisioning and not (tags & PROVISIONED_TAGS):
        total = length + PROVISIONING_APPENDED - len(END_MARKER)
        if total > PROVISIONING_LIMIT:
            problems.append(Problem(ERROR, "", f"completed by the provisioning firmware the "
                                    f"image would be {total} bytes; the firmware edits only "
                                    f"the first {PROVISIONING_LIMIT} bytes in RAM"))
    return problems
