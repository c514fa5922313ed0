"""The identities of a production series: one distinct set of values per device.

Pure: no files, no printing. :class:`Randomness` gives reproducible values per device
index and purpose with a seed (HMAC-SHA256 of the seed), else OS CSPRNG bytes.
:class:`IdentityAllocator` hands out serial numbers, passcodes, discriminators, salts,
rotating device ID unique IDs and DAC serials and refuses to hand out any of them twice,
including values recorded from devices made earlier in the series.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import string
from array import array
from collections.abc import Iterable
from typing import NamedTuple, Optional

from ..errors import OPT, InputError
from .onboarding import INVALID_PASSCODES, PASSCODE_MAX, PASSCODE_MIN

DISCRIMINATOR_COUNT = 4096
#: Devices remembered per discriminator (the manifest lists them as its sharers).
SHARERS_KEPT = 16
SALT_LENGTH = 32
RD_UID_LENGTH = 16
RANDOM_SN_BYTES = 8  # 16 upper-case hex digits
SN_MAX_BYTES = 32
# An integer format spec: [[fill]align][sign][#][0][width][grouping][type].
_SPEC = re.compile(r"(?:(?P<fill>.)?(?P<align>[<>=^]))?[+\- ]?#?0?[0-9]*[_,]?(?P<type>[dxXob])?",
                   re.S)


def _injective_spec(spec: str) -> bool:
    """Whether two different indexes always format differently: an integer presentation,
    and padding only on the left with a character that cannot start a number (or '0')."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        return False
    align, fill = match.group("align"), match.group("fill")
    if align in ("<", "^"):
        return False  # padding after the digits: 1 -> "10" == 10
    return fill is None or fill == "0" or not fill.isalnum()


class Randomness:
    """Bytes for (device index, purpose): reproducible from ``seed``, else from the OS."""

    #: Bytes read from the OS at a time without a seed (one system call for ~30 devices).
    POOL = 4096

    def __init__(self, seed: Optional[str]) -> None:
        self.seeded = seed is not None
        self._key = (hashlib.sha256(b"matter-factory-data series\0" + seed.encode("utf-8"))
                     .digest() if seed is not None else b"")
        self._pool, self._at, self._pid = b"", 0, -1

    def bytes(self, index: int, purpose: str, length: int) -> bytes:
        if not self.seeded:
            return self._from_os(length)
        out = b""
        block = 0
        while len(out) < length:
            message = f"{purpose}\0{index}\0{block}".encode("ascii")
            out += hmac.new(self._key, message, hashlib.sha256).digest()
            block += 1
        return out[:length]

    def _from_os(self, length: int) -> builtins.bytes:
        """Fresh OS CSPRNG bytes, each handed out once; a forked child never uses what its
        parent read (the pool is dropped when the process id changes)."""
        if self._at + length > len(self._pool) or self._pid != _PROCESS[0]:
            self._pool, self._at, self._pid = os.urandom(max(self.POOL, length)), 0, _PROCESS[0]
        start = self._at
        self._at = start + length
        return self._pool[start:self._at]

    def below(self, index: int, purpose: str, bound: int) -> int:
        """A uniform integer in ``[0, bound)`` (bias below 2**-100)."""
        return int.from_bytes(self.bytes(index, purpose, 16), "big") % bound


#: This process's id, renewed in a forked child (os.getpid() is a system call; Randomness asks
#: for it on every draw).
_PROCESS = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PROCESS.__setitem__(0, os.getpid()))


def seed_fingerprint(seed: Optional[str]) -> Optional[str]:
    """What the batch records about its seed: enough to recognise it, not to recover it."""
    if seed is None:
        return None
    return hashlib.sha256(b"matter-factory-data seed fingerprint\0" + seed.encode()).hexdigest()


# --------------------------------------------------------------------------- serial numbers

class SerialTemplate:
    """``SN-{n:06d}``: ``{n}`` is the device index, with an integer format (d, x, X, o, b).

    Integer formats never truncate, so two indexes never give the same serial number;
    without a template, serial numbers are random (16 hex digits) and checked for repeats.
    """

    def __init__(self, template: Optional[str]) -> None:
        self.text = template
        if template is not None:
            self._check_syntax(template)

    @property
    def is_random(self) -> bool:
        return self.text is None

    def _check_syntax(self, template: str) -> None:
        from .validate import shown

        accepted = ("accepted: text with {n} or {n:FORMAT}, FORMAT an integer format such as "
                    "06d or 08X")
        try:
            fields = [f for f in string.Formatter().parse(template) if f[1] is not None]
        except ValueError as exc:
            raise InputError(f"{OPT.sn_template} {shown(template)}: {exc} ({accepted})") from None
        if not fields:
            raise InputError(f"{OPT.sn_template} {shown(template)}: gives every device the same "
                             f"serial number ({accepted})")
        for _, name, spec, conversion in fields:
            if name != "n" or conversion or "{" in (spec or ""):
                raise InputError(f"{OPT.sn_template} {shown(template)}: only {{n}} may be used "
                                 f"({accepted})")
            if not _injective_spec(spec or ""):
                raise InputError(f"{OPT.sn_template} {shown(template)}: format {spec!r} can make "
                                 f"two devices share a serial number ({accepted})")
        try:
            template.format(n=1)
        except ValueError as exc:
            raise InputError(f"{OPT.sn_template} {shown(template)}: {exc} ({accepted})") from None

    def format(self, index: int) -> str:
        assert self.text is not None
        return self.text.format(n=index)

    def check_range(self, last_index: int) -> None:
        """Every serial up to ``last_index`` fits the 1..32 bytes the device holds."""
        if self.text is None:
            return
        from .validate import formula_problem, shown, text_problem

        for index in (1, last_index):  # lengths only grow with the index
            serial = self.format(index)
            length = len(serial.encode("utf-8", "surrogateescape"))
            if not 1 <= length <= SN_MAX_BYTES:
                raise InputError(
                    f"{OPT.sn_template} {shown(self.text)}: device {index} would get the serial "
                    f"number {shown(serial)} of {length} bytes (accepted: 1..{SN_MAX_BYTES})")
            problem = text_problem(serial) or formula_problem(serial)
            if problem:
                raise InputError(f"{OPT.sn_template} {shown(self.text)}: the serial number of "
                                 f"device {index} {problem}")


# --------------------------------------------------------------------------- discriminators

class DiscriminatorPool:
    """Discriminators without repetition while there are unused ones.

    Sequential: ``start + index - 1`` (mod 4096). Seeded: a permutation of 0..4095 drawn
    from the seed, one per 4096 devices, so device ``i`` gets the same value whether or
    not the run was interrupted. Unseeded: a random value among the least used.
    """

    def __init__(self, *, sequential: bool, start: int, allow_shared: bool,
                 randomness: Randomness) -> None:
        self.sequential, self.start, self.allow_shared = sequential, start, allow_shared
        self.randomness = randomness
        self.users: dict[int, array] = {}  # value -> its first SHARERS_KEPT indexes
        self.uses = array("I", bytes(4 * DISCRIMINATOR_COUNT))  # value -> devices holding it
        self._free: list[int] = []
        self._permutations: dict[int, list[int]] = {}

    def record(self, value: int, index: int) -> None:
        """Take note of a discriminator given or made earlier."""
        self._use(value, index)
        self._free = []  # rebuilt on the next random draw

    def allocate(self, index: int) -> int:
        if self.sequential:
            value = (self.start + index - 1) % DISCRIMINATOR_COUNT
        elif self.randomness.seeded:
            position, cycle = (index - 1) % DISCRIMINATOR_COUNT, (index - 1) // DISCRIMINATOR_COUNT
            value = self._permutation(cycle)[position]
        else:
            value = self._least_used(index)
        if value in self.users and not self.allow_shared:
            raise InputError(f"device {index}: discriminator {value} is already used by device "
                             f"{self.users[value][0]}; pass {OPT.allow_shared_discriminators} or "
                             "make fewer devices")
        self._use(value, index)
        return value

    def _use(self, value: int, index: int) -> None:
        if value not in self.users:
            self.users[value] = array("I")
        if len(self.users[value]) < SHARERS_KEPT:  # flat in N: 4096 x 16 indexes at most
            self.users[value].append(index)
        self.uses[value] += 1

    def _permutation(self, cycle: int) -> list[int]:
        if cycle not in self._permutations:
            values = list(range(DISCRIMINATOR_COUNT))
            for last in range(DISCRIMINATOR_COUNT - 1, 0, -1):  # Fisher-Yates
                other = self.randomness.below(cycle, f"discriminators{last}", last + 1)
                values[last], values[other] = values[other], values[last]
            self._permutations = {cycle: values}
        return self._permutations[cycle]

    def _least_used(self, index: int) -> int:
        if not self._free:
            uses = self.uses
            fewest = min(uses)
            self._free = [v for v in range(DISCRIMINATOR_COUNT) if uses[v] == fewest]
        return self._free.pop(self.randomness.below(index, "discriminator", len(self._free)))

    def shared_with(self, value: int, index: int) -> list[int]:
        """The other devices holding ``value``: the first SHARERS_KEPT of the series."""
        return [i for i in self.users.get(value, ()) if i != index]


# --------------------------------------------------------------------------- identities

class DeviceIdentity(NamedTuple):
    """The per-device values; ``dac_key_seed`` is None when the key comes from the OS."""

    index: int  # type: ignore[assignment]  # a field named like a tuple method
    sn: str
    passcode: int
    discriminator: int
    spake2_salt: bytes
    rd_uid: bytes
    dac_serial: int
    dac_key_seed: Optional[bytes]


class Given(NamedTuple):
    """Per-device values given in a CSV row (None: generate it)."""

    sn: Optional[str] = None
    passcode: Optional[int] = None
    discriminator: Optional[int] = None
    spake2_salt: Optional[bytes] = None
    rd_uid: Optional[bytes] = None


#: Nothing given: every value generated.
NOTHING_GIVEN = Given()


class SeenFilter:
    """Values already handed out, in a fixed 512 KiB up to 1.5 million values (a Bloom filter
    of 2**22 bits and 3 hashes), whatever the size announced for the series; beyond, a layer
    twice as large per 1.5 million more (a scalable Bloom filter). Memory is flat in N.

    It never misses a value it holds, so nothing is handed out twice at any size. It wrongly
    claims to hold a value once in ~8 lookups at 1,000,000 values: a random draw it claims
    is taken is simply drawn again.
    """

    _BITS = 1 << 22
    _HASHES = 3
    _LAYER_VALUES = 1_500_000

    def __init__(self, expected: int = 0) -> None:
        del expected  # the size no longer depends on the series
        self._layers = [bytearray(self._BITS // 8)]
        self._added = 0

    @staticmethod
    def _digest(value: object) -> int:
        return int.from_bytes(hashlib.blake2b(repr(value).encode("utf-8"),
                                              digest_size=12).digest(), "little")

    def add(self, value: object) -> None:
        self._added += 1
        if self._added > self._LAYER_VALUES * len(self._layers):
            self._layers.append(bytearray(len(self._layers[-1]) * 2))
        layer = self._layers[-1]
        digest, mask = self._digest(value), len(layer) * 8 - 1
        for _ in range(self._HASHES):
            position = digest & mask
            layer[position >> 3] |= 1 << (position & 7)
            digest >>= 32

    def __contains__(self, value: object) -> bool:
        digest = self._digest(value)
        for layer in self._layers:
            bits, mask = digest, len(layer) * 8 - 1
            for _ in range(self._HASHES):
                position = bits & mask
                if not layer[position >> 3] & (1 << (position & 7)):
                    break
                bits >>= 32
            else:
                return True
        return False


class IdentityAllocator:
    """Hands out identities: a random serial number, rd_uid, passcode (for its discriminator)
    or DAC serial is never one handed out or recorded before. Given values (a CSV) are
    checked for repeats by the caller; template serial numbers are distinct by construction.
    """

    def __init__(self, *, randomness: Randomness, template: SerialTemplate,
                 discriminators: DiscriminatorPool, expected: int = 0) -> None:
        self.randomness, self.template, self.discriminators = randomness, template, discriminators
        self.serials = SeenFilter(expected)
        self.rd_uids = SeenFilter(expected)
        self.pairs = SeenFilter(expected)
        self.dac_serials = SeenFilter(expected)

    def record(self, index: int, sn: str, passcode: Optional[int], discriminator: int,
               rd_uid: Optional[bytes], dac_serial: int) -> None:
        """Take note of a device made earlier (from the manifest or a recovered device)."""
        self.discriminators.record(discriminator, index)
        self._note(sn, passcode, discriminator, rd_uid, dac_serial)

    def _note(self, sn: str, passcode: Optional[int], discriminator: int,
              rd_uid: Optional[bytes], dac_serial: int) -> None:
        self.serials.add(sn)
        if rd_uid is not None:
            self.rd_uids.add(bytes(rd_uid))
        if passcode is not None:
            self.pairs.add((passcode, discriminator))
        self.dac_serials.add(dac_serial)

    def allocate(self, index: int, given: Given = NOTHING_GIVEN) -> DeviceIdentity:
        sn = given.sn if given.sn is not None else self._serial(index)
        discriminator = (self.discriminators.allocate(index) if given.discriminator is None
                         else self._given_discriminator(index, given.discriminator))
        passcode = given.passcode
        if passcode is None:
            passcode = self._passcode(index, discriminator)
        rd_uid = given.rd_uid if given.rd_uid is not None else self._fresh(
            self.rd_uids, lambda attempt: self.randomness.bytes(index, f"rd_uid{attempt}",
                                                                 RD_UID_LENGTH))
        dac_serial = self._fresh(self.dac_serials, lambda attempt: self._dac_serial(index, attempt))
        salt = (given.spake2_salt if given.spake2_salt is not None
                else self.randomness.bytes(index, "salt", SALT_LENGTH))
        key_seed = self.randomness.bytes(index, "dac_key", 32) if self.randomness.seeded else None
        self._note(sn, passcode, discriminator, rd_uid, dac_serial)
        return DeviceIdentity(index, sn, passcode, discriminator, salt, rd_uid, dac_serial,
                              key_seed)

    def redraw(self, identity: DeviceIdentity, taken: Iterable[str],
               given: Given = NOTHING_GIVEN) -> tuple[DeviceIdentity, list]:
        """``identity`` with the values named in ``taken`` (``sn``, ``pair``, ``rd_uid``,
        ``dac_serial``: held by another device of a shared ledger) drawn again. Returns the
        new identity and the names it could not redraw (given, or from the serial number
        template)."""
        changes: dict = {}
        fixed = []
        index = identity.index
        for name in sorted(taken):
            if name == "sn":
                if given.sn is not None or not self.template.is_random:
                    fixed.append(name)
                    continue
                self.serials.add(identity.sn)
                changes["sn"] = self._serial(index)
            elif name == "pair":
                if given.passcode is not None:
                    fixed.append(name)
                    continue
                self.pairs.add((identity.passcode, identity.discriminator))
                changes["passcode"] = self._passcode(index, identity.discriminator)
            elif name == "rd_uid":
                if given.rd_uid is not None:
                    fixed.append(name)
                    continue
                self.rd_uids.add(bytes(identity.rd_uid))
                changes["rd_uid"] = self._fresh(self.rd_uids, lambda attempt: self.randomness
                                                .bytes(index, f"rd_uid{attempt}", RD_UID_LENGTH))
            elif name == "dac_serial":
                self.dac_serials.add(identity.dac_serial)
                changes["dac_serial"] = self._fresh(
                    self.dac_serials, lambda attempt: self._dac_serial(index, attempt))
            else:
                fixed.append(name)
        fresh = identity._replace(**changes)
        self._note(fresh.sn, fresh.passcode, fresh.discriminator, fresh.rd_uid,
                   fresh.dac_serial)
        return fresh, fixed

    def _serial(self, index: int) -> str:
        if not self.template.is_random:
            return self.template.format(index)
        return self._fresh(self.serials, lambda attempt: self.randomness.bytes(
            index, f"sn{attempt}", RANDOM_SN_BYTES).hex().upper())

    def _given_discriminator(self, index: int, value: int) -> int:
        self.discriminators.record(value, index)
        return value

    def _passcode(self, index: int, discriminator: int) -> int:
        span = PASSCODE_MAX - PASSCODE_MIN + 1
        for attempt in range(1000):
            passcode = PASSCODE_MIN + self.randomness.below(index, f"passcode{attempt}", span)
            if passcode not in INVALID_PASSCODES and (passcode, discriminator) not in self.pairs:
                return passcode
        raise InputError("no free passcode in 1000 draws: the series is too large for one "
                         "batch directory; split it into several series")

    def _dac_serial(self, index: int, attempt: int) -> int:
        # 20 octets in DER: bit 158 set, bit 159 clear (positive, at most 20 octets).
        raw = int.from_bytes(self.randomness.bytes(index, f"dac_serial{attempt}", 20), "big")
        return (raw & ((1 << 158) - 1)) | (1 << 158)

    @staticmethod
    def _fresh(used: SeenFilter, draw):
        for attempt in range(100):
            value = draw(attempt)
            if value not in used:
                return value
        raise InputError("100 random draws in a row were already used: the series is too "
                         "large for one batch directory (tens of millions of devices); "
                         "split it into several series")


def duplicates(values: Iterable[tuple[int, object]]) -> dict[object, list[int]]:
    """``{value: [indexes]}`` for every value held by more than one index."""
    seen: dict[object, list[int]] = {}
    for index, value in values:
        seen.setdefault(value, []).append(index)
    return {value: indexes for value, indexes in seen.items() if len(indexes) > 1}
