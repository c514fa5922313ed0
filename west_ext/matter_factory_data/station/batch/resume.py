"""Resume and recovery: finished devices from the manifest and from complete device
directories whose row a kill left unwritten; nothing is issued twice."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ...errors import FactoryDataError, InputError, OutputError
from .device import IMAGE_NAME
from .layout import DEVICES, SHARED_COLUMN, device_dir_name, image_path
from .manifest import Manifest
from .request import Plan


def _recorded_identity(row: dict, image: bytes, where: str, fmt=None) -> tuple:
    """(index, sn, passcode, discriminator, rd_uid, dac_serial) of a finished device."""
    from ...core import onboarding
    from .device import decoded_values

    try:
        index = int(row["index"])
        payload = onboarding.parse_qr_code(row["qr_payload"])
        dac_serial = int(row["dac_serial"], 16)
    except (ValueError, FactoryDataError) as exc:
        raise InputError(f"{where}: unreadable row ({exc}); restore the manifest") from None
    data = decoded_values(image, where, fmt)
    rd_uid = data.get("rd_uid")
    return index, row["sn"], payload.passcode, payload.discriminator, rd_uid, dac_serial


def recover_row(out_dir: Path, index: int, columns: list, pool, fmt=None) -> dict:
    """The manifest row of a complete device directory whose row was never written."""
    from ...core import certview, onboarding
    from .device import decoded_values

    directory = out_dir / DEVICES / device_dir_name(index)
    where = f"{directory}"
    try:
        image = (directory / IMAGE_NAME).read_bytes()
        text = (directory / "factory_data.txt").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{where}: incomplete device ({exc}); it has no manifest row, so "
                          "remove the directory and run again") from None
    data = decoded_values(image, where, fmt)
    qr = manual = ""
    for line in text.splitlines():
        label, _, value = line.partition(":")
        if label.strip() == "QRCode":
            qr = value.strip()
        elif label.strip() == "Manualcode":
            manual = value.strip()
    payload = onboarding.parse_qr_code(qr)
    dac = certview.parse_certificate(bytes(data["dac_cert"]), source=f"{where} DAC")
    row = {"index": index, "sn": bytes(data["sn"]).decode("utf-8"),
           "vendor_id": f"0x{data['vendor_id']:04X}", "product_id": f"0x{data['product_id']:04X}",
           "discriminator": data["discriminator"], "qr_payload": qr, "manual_code": manual,
           "dac_serial": f"{dac.serial_number:x}", "image": image_path(index),
           "image_sha256": hashlib.sha256(image).hexdigest(), "passcode": payload.passcode,
           "dac_pubkey_sha256": _dac_key_sha256(bytes(data["dac_cert"]), where)}
    if SHARED_COLUMN in columns:
        row[SHARED_COLUMN] = " ".join(map(str, pool.shared_with(data["discriminator"], index)))
    return row


def _dac_key_sha256(dac_der: bytes, where: str) -> str:
    from ...core import certs

    return certs.public_key_sha256(certs.load_certificate(dac_der, source=f"{where} DAC"))


class IndexSet:
    """Device indexes as a bitmap: one bit per device instead of ~60 bytes in a set."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, index: int) -> None:
        if index < 0:
            raise ValueError(index)
        if index >> 3 >= len(self._bits):
            self._bits.extend(bytes((index >> 3) + 1 - len(self._bits)))
        if not self._bits[index >> 3] & (1 << (index & 7)):
            self._bits[index >> 3] |= 1 << (index & 7)
            self._count += 1

    def __contains__(self, index: int) -> bool:
        return 0 <= index >> 3 < len(self._bits) and \
            bool(self._bits[index >> 3] & (1 << (index & 7)))

    def __len__(self) -> int:
        return self._count


class MissingIndexes:
    """The indexes 1..count not yet made, produced lazily."""

    def __init__(self, done: IndexSet, count: int) -> None:
        self.done, self.count = done, count
        self._length = sum(1 for _ in self)

    def __iter__(self) -> Iterator[int]:
        return (i for i in range(1, self.count + 1) if i not in self.done)

    def __len__(self) -> int:
        return self._length


def resume_series(plan: Plan, manifest: Manifest, allocator, columns: list,
            ui) -> tuple[IndexSet, dict]:
    """Take note of every finished device; return them and the rows a kill left unwritten."""
    from .device import image_format

    fmt = image_format(plan.template)
    devices_dir = plan.out_dir / DEVICES
    done = IndexSet()
    recovered: dict = {}
    for line, row in manifest.numbered():
        where = f"batch manifest {manifest.path}: line {line}"
        index = check_row(row, where)
        image = _read_image(plan.out_dir, row)
        identity = _recorded_identity(row, image, f"{where} (device {index})", fmt)
        if index in done:
            raise InputError(f"{where}: device {index} is listed twice; restore the "
                             "manifest of this batch")
        allocator.record(*identity)
        done.add(index)
    for entry in sorted(os.listdir(devices_dir)):
        if entry.startswith(".tmp-"):
            shutil.rmtree(devices_dir / entry, ignore_errors=True)  # a device cut short
        elif entry.isdigit() and int(entry) not in done:
            row = recover_row(plan.out_dir, int(entry), columns, allocator.discriminators,
                              fmt)
            _refuse_copies(row, manifest, recovered, allocator, devices_dir / entry)
            image = (devices_dir / entry / IMAGE_NAME).read_bytes()
            allocator.record(*_recorded_identity(row, image, f"{devices_dir / entry}", fmt))
            recovered[int(entry)] = row
            done.add(int(entry))
    if recovered:
        ui.info(f"recovered {len(recovered)} complete device(s) whose manifest row was not "
                "written")
    return done, recovered


def _refuse_copies(row: dict, manifest: Manifest, recovered: dict, allocator,
                   directory: Path) -> None:
    """A device directory without a row must not repeat a finished device's identity (a copy
    put there by hand). The allocator's filters answer "maybe" cheaply; a maybe is settled
    against the manifest itself."""
    if row["sn"] not in allocator.serials and \
            int(row["dac_serial"], 16) not in allocator.dac_serials:
        return
    for other in (*manifest.read(), *recovered.values()):
        if other["sn"] == row["sn"] or other["dac_serial"] == row["dac_serial"]:
            raise OutputError(f"{directory}: has the serial number or DAC of device "
                              f"{other['index']}, so it is a copy, not a device of this run; "
                              "remove it and run again")


def check_row(row: dict, where: str) -> int:
    """The device index of a manifest row whose cells the resume reads are well formed (the
    index, the DAC serial in hex, the image path inside the batch's devices/ folder)."""
    import re

    index = row.get("index", "")
    if not re.fullmatch(r"[0-9]{1,9}", index):
        raise InputError(f"{where}: cell 'index' {index[:20]!r} is not a device number; "
                         "restore the manifest of this batch")
    dac_serial = row.get("dac_serial", "")
    if not re.fullmatch(r"[0-9a-fA-F]{1,40}", dac_serial):
        raise InputError(f"{where}: cell 'dac_serial' {dac_serial[:44]!r} is not a hexadecimal "
                         "serial number (1..40 hex digits); restore the manifest of this batch")
    image = row.get("image", "")
    parts = Path(image).parts
    if Path(image).is_absolute() or ".." in parts or parts[:1] != (DEVICES,):
        raise InputError(f"{where}: cell 'image' {image[:60]!r} is not a file under {DEVICES}/ "
                         "of this batch; restore the manifest of this batch")
    return int(index)


def _read_image(out_dir: Path, row: dict) -> bytes:
    path = out_dir / row["image"]
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"{path}: the image of device {row['index']} is missing "
                          f"({exc.strerror}); restore it: its identity is already issued") \
            from None
