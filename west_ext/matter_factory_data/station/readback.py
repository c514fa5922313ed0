"""Readback: read the factory data partition back from a programmed device and compare it with
the image, as ``flash`` and ``stm32-program`` do after programming (and alone with
``--readback-only``).

The tools (every argv through :class:`~.runner.Runner`, files as absolute paths):

- nRF Util: ``nrfutil --json device read --address 0x… --bytes N`` (the ``task_end`` event's
  ``memoryData``), falling back to the older ``x-read`` when ``read`` fails;
- nrfjprog: ``nrfjprog --memrd 0x… --n N`` (text: an address, then little-endian 32-bit words);
- STM32CubeProgrammer: ``STM32_Programmer_CLI -c port=SWD sn=… -u 0x… N FILE.bin``.

What the device changes itself is masked: on nRF54L (and builds that move the DAC key into
the KMU or PSA ITS: ``CONFIG_CHIP_CRYPTO_PSA_DAC_PRIV_KEY_KMU``/``…_MIGRATE_DAC_PRIV_KEY``)
the firmware imports ``dac_key`` at first boot and overwrites exactly its 32 value bytes with
zeros: those bytes may hold the original key or all zeros, nothing else. Their offset comes
from decoding the image with the CBOR item reader. A mismatch is reported by its first
offset; the bytes of the DAC key are never shown.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Callable, NamedTuple, Optional

from ..errors import FactoryDataError
from .runner import CommandFailed, Runner, file_argument, printable

#: Kconfig symbols of a build whose firmware zeroes the DAC key after importing it.
MIGRATE_SYMBOLS = ("CONFIG_CHIP_CRYPTO_PSA_DAC_PRIV_KEY_KMU",
                   "CONFIG_CHIP_CRYPTO_PSA_MIGRATE_DAC_PRIV_KEY")
#: What the ledger's ``readback`` column holds.
MATCH, ZEROED, MISMATCH = "match", "match (dac_key zeroed by the device)", "mismatch"


class ReadbackMismatch(FactoryDataError):
    """The device does not hold the image (exit 1)."""


class Outcome(NamedTuple):
    ok: bool
    text: str  # "match", "match (dac_key zeroed ...)" or "mismatch at offset 0x..."
    offset: Optional[int] = None  # first differing offset of a mismatch


def dac_key_range(image: bytes) -> Optional[tuple[int, int]]:
    """``(offset, length)`` of the ``dac_key`` value bytes in an nRF CBOR image (None when the
    image holds none, e.g. a key kept elsewhere)."""
    from ..formats import nrf_cbor
    from ..formats.cbor_items import BSTR

    reading = nrf_cbor.read_image(image)
    for entry in reading.entries:
        node = entry.value_scan.node
        if entry.key == "dac_key" and node.major == BSTR and not node.head.indefinite:
            return node.head.end, node.end - node.head.end
    return None


def compare(image: bytes, device: bytes,
            may_zero: Optional[tuple[int, int]] = None) -> Outcome:
    """Compare what the device holds with the image. ``may_zero``: a range the device may
    have overwritten with zeros (the DAC key on nRF54L), accepted as the original or all
    zeros; a mismatch inside it is reported at the range's start (no key byte is shown)."""
    if len(device) < len(image):
        return Outcome(False, f"{MISMATCH}: the device returned {len(device)} of "
                              f"{len(image)} bytes", len(device))
    device = device[:len(image)]
    zeroed = False
    if may_zero is not None:
        start, length = may_zero
        held = device[start:start + length]
        if held != image[start:start + length]:
            if held == bytes(length):
                zeroed = True
            first = _first_difference(image[:start], device[:start])
            if not zeroed and first is None:
                return Outcome(False, f"{MISMATCH} at offset 0x{start:x} (in the dac_key value, "
                                      "neither the original nor all zeros; bytes not shown)",
                               start)
        image = image[:start] + bytes(length) + image[start + length:]
        device = device[:start] + bytes(length) + device[start + length:]
    first = _first_difference(image, device)
    if first is not None:
        return Outcome(False, f"{MISMATCH} at offset 0x{first:x} (image 0x{image[first]:02x}, "
                              f"device 0x{device[first]:02x})", first)
    return Outcome(True, ZEROED if zeroed else MATCH)


def _first_difference(a: bytes, b: bytes) -> Optional[int]:
    if a == b:
        return None
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def device_changes_dac_key(family: Optional[str], config: Optional[dict]) -> bool:
    """Whether the firmware overwrites the DAC key: nRF54L, or a build that migrates it."""
    if family == "NRF54L":
        return True
    return any((config or {}).get(symbol) == "y" for symbol in MIGRATE_SYMBOLS)


# --- nRF ---------------------------------------------------------------------------------

def nrfutil_read_argv(verb: str, address: int, size: int, snr: Optional[str],
                      family_option: list, core_option: list) -> list[str]:
    select = (["--serial-number", snr] if snr else []) + family_option
    return ["nrfutil", "--json", "device", verb, "--address", f"0x{address:x}",
            "--bytes", str(size), "--width", "8", *core_option, *select]


def parse_nrfutil_read(output: str, address: int, size: int) -> bytes:
    """The bytes of the ``memoryData`` in nrfutil's NDJSON output (``task_end``)."""
    blocks: list = []
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        found = _find_memory(event)
        if found is not None:
            blocks = found
    memory = bytearray()
    for block in sorted((b for b in blocks if isinstance(b, dict)),
                        key=lambda b: _int(b.get("startAddress")) or 0):
        start, values = _int(block.get("startAddress")), block.get("values")
        if start is None or not isinstance(values, list) or \
                not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
            raise FactoryDataError("nrfutil device read: output holds no readable memoryData")
        if start != address + len(memory):
            break
        memory += bytes(values)
    if not memory:
        raise FactoryDataError("nrfutil device read: output holds no memoryData for "
                               f"0x{address:x}")
    return bytes(memory[:size])


def _find_memory(value, depth: int = 0):
    if depth > 6:
        return None
    if isinstance(value, dict):
        if isinstance(value.get("memoryData"), list):
            return value["memoryData"]
        for item in value.values():
            found = _find_memory(item, depth + 1)
            if found is not None:
                return found
    return None


def _int(value) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"(0x)?[0-9a-fA-F]{1,16}", value):
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    return None


def nrfjprog_read_argv(address: int, size: int, family: str, snr: Optional[str],
                       core_option: list) -> list[str]:
    words = -(-size // 4) * 4
    return ["nrfjprog", "--memrd", f"0x{address:08x}", "--n", str(words), "--w", "32",
            "-f", family, *(["--snr", snr] if snr else []), *core_option]


_MEMRD_LINE = re.compile(r"^\s*0x([0-9A-Fa-f]{1,8})\s*:\s*((?:[0-9A-Fa-f]{8}\s*)+)")


def parse_nrfjprog_memrd(output: str, address: int, size: int) -> bytes:
    """``0x00020000: 12345678 9ABCDEF0 ... |....|``: little-endian 32-bit words."""
    memory = bytearray()
    for line in output.splitlines():
        match = _MEMRD_LINE.match(line)
        if not match:
            continue
        if int(match.group(1), 16) != address + len(memory):
            break
        for word in match.group(2).split():
            memory += int(word, 16).to_bytes(4, "little")
    if len(memory) < size:
        raise FactoryDataError(f"nrfjprog --memrd: read {len(memory)} of {size} bytes at "
                               f"0x{address:x}")
    return bytes(memory[:size])


def read_nrf(runner: Runner, tool: str, address: int, size: int, *, snr: Optional[str],
             family: Optional[str], family_option: list, core_option: list) -> Optional[bytes]:
    """The device's bytes at ``address`` (None in a dry run, which prints the argv).
    ``family``: nrfjprog's ``-f``; ``family_option``/``core_option``: how the tool names the
    family and the core (``flash`` knows them)."""
    if tool == "nrfjprog":
        assert family is not None  # checked by flash.commands_for before
        output = runner.output(nrfjprog_read_argv(address, size, family, snr, core_option))
        return None if runner.dry_run else parse_nrfjprog_memrd(output, address, size)
    argv = nrfutil_read_argv("read", address, size, snr, family_option, core_option)
    try:
        output = runner.output(argv)
    except CommandFailed:  # an older nrfutil-device: x-read
        output = runner.output(nrfutil_read_argv("x-read", address, size, snr, family_option,
                                                 core_option))
    if runner.dry_run:
        return None
    return parse_nrfutil_read(output, address, size)


# --- STM32 ---------------------------------------------------------------------------------

def read_stm32(runner: Runner, upload_argv: Callable[[str], list], address: int,
               size: int) -> Optional[bytes]:
    """Upload ``size`` bytes at ``address`` into a temporary file (``upload_argv(path)`` is
    the CubeProgrammer command writing it) and return them (None in a dry run)."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mfd-readback-") as tmp:
        out = os.path.join(tmp, "readback.bin")
        argv = upload_argv(file_argument(out))
        runner.output(argv)
        if runner.dry_run:
            return None
        try:
            with open(out, "rb") as handle:
                data = handle.read(size + 1)
        except OSError as exc:
            raise FactoryDataError(f"{os.path.basename(argv[0])} wrote no readback file "
                                   f"({exc.strerror or exc})") from None
    if len(data) < size:
        raise FactoryDataError(f"{os.path.basename(argv[0])}: read {len(data)} of {size} bytes "
                               f"at 0x{address:08X}")
    return data[:size]


# --- the ledger ------------------------------------------------------------------------------

def check_ledger(url: Optional[str], station: Optional[str], sn: Optional[str]) -> None:
    """Before anything is programmed: the ledger URL and the station name are valid, the
    ledger exists and knows the image's serial number (so the report cannot fail for those
    reasons after the device was written)."""
    if not url:
        return
    from .ledger.url import check_station, parse_ledger_url

    parse_ledger_url(url, "ledger")
    check_station(station)
    _identity(url, sn)


def _identity(url: str, sn: Optional[str]) -> str:
    from .ledger import open_ledger
    from .ledger.errors import LedgerError

    if not sn:
        raise LedgerError("readback: the image holds no serial number; the ledger cannot tell "
                          "which identity it is")
    with open_ledger(url, create=False) as ledger:
        serial = ledger.dac_serial_of(sn)
        if serial is None:
            raise LedgerError(f"ledger {ledger.url}: no device with serial number "
                              f"{printable(sn)!r}")
    return serial


def report_to_ledger(url: str, station: Optional[str], sn: Optional[str], image: bytes,
                     outcome: Outcome) -> str:
    """Record the readback in the identity ledger: state ``ok`` or ``failed``, the time, the
    station, the image's SHA-256 and the result in the ``readback`` column. The identity is
    found by the device serial number the image holds. Returns the DAC serial."""
    from .ledger import open_ledger
    from .ledger.batch import default_station
    from .ledger.url import check_station

    station = check_station(station) or default_station()
    serial = _identity(url, sn)
    with open_ledger(url, create=False) as ledger:
        ledger.report(serial, "ok" if outcome.ok else "failed", station,
                      image_sha256=hashlib.sha256(image).hexdigest(), readback=outcome.text)
    return serial


def finish(outcome: Outcome, image: bytes, sn: Optional[str], ledger: Optional[str],
           station: Optional[str], where: str, ui, probe: Optional[str] = None) -> int:
    """Say the result (one line; with ``--json`` a ``device_readback`` event), report it to
    the ledger when given; 0 or 1 (mismatch)."""
    from ..ui import event

    device = {"serial": sn, "probe": probe} if sn else {"probe": probe}
    event(ui, "device_readback", device, ok=outcome.ok,
          mismatches=[] if outcome.ok else [outcome.offset], result=outcome.text,
          bytes=len(image))
    if ledger:
        serial = report_to_ledger(ledger, station, sn, image, outcome)
        ui.info(f"ledger: DAC serial {serial} reported {'ok' if outcome.ok else 'failed'} "
                f"(readback {outcome.text})")
        event(ui, "device_reported", device, state="ok" if outcome.ok else "failed",
              dac_serial=serial)
    if not outcome.ok:
        raise ReadbackMismatch(f"readback at {where}: {outcome.text}; the device does not hold "
                               "the factory data image")
    ui.info(f"readback at {where}: {outcome.text} ({len(image)} bytes)")
    return 0
