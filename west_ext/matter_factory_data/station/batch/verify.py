"""``verify DIR`` on a batch: every device re-decoded and checked, and the series for repeats.

Per device (in a process pool): the image exists and has the manifest's SHA-256; the
image's serial number, VID/PID, discriminator and DAC serial are the manifest's; the
device parser accepts it; the DAC key matches the DAC, the DAC is signed by the series'
PAI (and the PAI by --paa_cert when given), VID/PID agree with the certificates; the
verifier derives from the passcode (taken from the QR payload); the QR payload, manual
code and factory_data.txt decode to the image's values; the .json and .hex hold the
image; the QR image shows the manifest's payload. Across the series: no serial number,
rd_uid, passcode+discriminator pair, DAC serial or DAC key twice (discriminators only
when the batch was not allowed to share them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Optional

from ...errors import OPT, InputError, Interrupted, VerificationError
from ...ui import event
from .layout import DEVICES, MANIFEST, PAI_CERT, STATE, device_dir_name
from .workers import Window


def is_batch_dir(path: str) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


class DeviceReport(NamedTuple):
    index: str  # type: ignore[assignment]  # a field named like a tuple method
    problems: list  # one sentence each; never a secret
    facts: dict  # what must be unique across the series


_CONTEXT: dict = {}


def _init(directory: str, pai_der: bytes, paa_der: Optional[bytes], qr: str,
          image_format: tuple = ("nrf-cbor", None)) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _CONTEXT.update(directory=Path(directory), pai=pai_der, paa=paa_der, qr=qr,
                    format=image_format)


def _format():
    from ...formats import get_format

    return get_format(*_CONTEXT.get("format", ("nrf-cbor", None)))


def check_device(row: dict) -> DeviceReport:
    """Every check of one manifest row; problems are collected, not raised."""
    from ...core import onboarding
    from ...errors import FactoryDataError
    from ...formats import nrf_cbor
    from ...jobs.verification import Expectations, verify

    directory, problems = _CONTEXT["directory"], []
    index = row.get("index", "?")
    if None in row or any(value is None for value in row.values()):
        return DeviceReport(index, [f"its {MANIFEST} row is incomplete (a run was cut short "
                                    "while writing it): rerun the batch command to finish the "
                                    "series"], {})
    try:
        image = (directory / row["image"]).read_bytes()
    except OSError as exc:
        return DeviceReport(index, [f"image {row['image']}: {exc.strerror}"], {})
    if hashlib.sha256(image).hexdigest() != row["image_sha256"]:
        problems.append(f"{row['image']}: SHA-256 differs from the manifest (changed after "
                        "it was made)")
    try:
        fmt = _format()
        found = None
        canonical = nrf_cbor.lint_canonical(image) if fmt.name == "nrf-cbor" else None
        if canonical is not None:  # what batch writes: no item-level walk needed
            reading, (records, found) = None, canonical
        elif fmt.name == "nrf-cbor":  # read once: the map and how each item is encoded
            reading = nrf_cbor.read_image(image, row["image"])
            records = nrf_cbor.map_of_reading(reading, row["image"])
        else:
            reading, records = None, fmt.decode(image, row["image"])
        data = fmt.model_values(records)
        payload = onboarding.parse_qr_code(row["qr_payload"])
    except FactoryDataError as exc:
        return DeviceReport(index, problems + [str(exc)], {})
    problems += _manifest_mismatches(row, data)
    codes = [("manifest qr_payload", row["qr_payload"]),
             ("manifest manual_code", row["manual_code"])]
    device_dir = (directory / row["image"]).parent
    codes += _codes_file(device_dir / "factory_data.txt", problems)
    checks = verify(records, Expectations(pai_cert=_CONTEXT["pai"], paa_cert=_CONTEXT["paa"],
                                          passcode=payload.passcode, codes=codes,
                                          policy=_CONTEXT.get("policy")),
                    fmt=fmt, reading=reading, parser_problems=found)
    problems += [c.message for c in checks if not c.ok]
    if "passcode" in row and row["passcode"] != str(payload.passcode):
        problems.append("manifest passcode differs from the passcode in its QR payload")
    problems += _sibling_files(device_dir, image, records, row["qr_payload"])
    return DeviceReport(index, problems, _facts(data, payload))


def _manifest_mismatches(row: dict, data: dict) -> list:
    from ...core import certview

    found = {
        "sn": bytes(data.get("sn", b"")).decode("utf-8", "replace"),
        "vendor_id": f"0x{data.get('vendor_id', -1):04X}",
        "product_id": f"0x{data.get('product_id', -1):04X}",
        "discriminator": str(data.get("discriminator")),
    }
    try:
        dac = certview.parse_certificate(bytes(data["dac_cert"]), source="dac_cert")
        found["dac_serial"] = f"{dac.serial_number:x}"
    except Exception:  # reported by the credential checks
        found["dac_serial"] = "?"
    return [f"manifest {key} {row[key]!r} differs from the image's {value!r}"
            for key, value in found.items() if row.get(key) != value]


def _codes_file(path: Path, problems: list) -> list:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: cannot read it ({exc})")
        return []
    codes = []
    for line in text.splitlines():
        label, _, value = line.partition(":")
        if label.strip() in ("Manualcode", "QRCode"):
            codes.append((f"{path.name} {label.strip()}", value.strip()))
    if len(codes) != 2:
        problems.append(f"{path.name}: expected a Manualcode and a QRCode line")
    return codes


def _sibling_files(device_dir: Path, image: bytes, data: dict, qr_payload: str) -> list:
    from ...formats import hexfile

    problems = []
    try:
        stored = json.loads((device_dir / "factory_data.json").read_bytes())
        if dict(_format().from_json(stored, "factory_data.json")) != dict(data):
            problems.append("factory_data.json does not hold the image's values")
    except (OSError, ValueError) as exc:
        problems.append(f"factory_data.json: unreadable ({exc})")
    try:
        text = (device_dir / "factory_data.hex").read_text("ascii")
        offset = _CONTEXT.get("hex_offset")
        # The text batch writes, compared whole; anything else is read record by record.
        if offset is None or text != hexfile.to_hex_text(offset, image):
            segments = hexfile.from_hex_text(text)
            if [s[1] for s in segments] != [image]:
                problems.append("factory_data.hex does not hold the image")
    except (OSError, ValueError) as exc:
        problems.append(f"factory_data.hex: unreadable ({exc})")
    qr = _CONTEXT["qr"]
    if qr in ("png", "svg"):
        path = device_dir / f"qr.{qr}"
        try:
            if not _same_image(path.read_bytes(), qr_payload, qr):
                problems.append(f"{path.name} does not show the manifest's QR payload")
        except OSError as exc:
            problems.append(f"{path.name}: {exc.strerror}")
    return problems


def _same_image(stored: bytes, qr_payload: str, qr: str) -> bool:
    """For SVG the same bytes as batch makes of ``qr_payload``; for PNG the same pixels (the
    same bytes have them; batches of other versions wrote their PNGs at another zlib level),
    compared without compressing the expected image."""
    from . import device

    if qr != "png":
        return stored == device.render_qr(qr_payload, qr)
    from ...core.qrimage import png_pixels

    pixels = png_pixels(stored)
    return pixels is not None and pixels == device.qr_png_pixels(qr_payload)


def _facts(data: dict, payload) -> dict:
    from ...core import certview

    facts = {"sn": bytes(data.get("sn", b"")), "rd_uid": data.get("rd_uid"),
             "passcode+discriminator": (payload.passcode, payload.discriminator),
             "discriminator": payload.discriminator}
    try:
        dac = certview.parse_certificate(bytes(data["dac_cert"]), source="dac_cert")
        facts["DAC serial"] = dac.serial_number
        key = data.get("dac_key", data.get("dac_pub_key"))
        if key is not None:  # not in the image when the device keeps it (STM32WBA: PSA ITS)
            facts["DAC key"] = hashlib.sha256(bytes(key)).digest()[:16]
    except Exception:  # reported by the credential checks
        pass
    return facts


# --------------------------------------------------------------------------- the series

def verify_batch(directory: str, *, pai_cert: Optional[str], paa_cert: Optional[str],
                 jobs: Optional[int], ui, profile=None) -> int:
    """Every device of a batch directory checked in a process pool, a progress line on
    stderr; with an events sink on ``ui`` (``--json``) a ``device_verified`` event per device
    and an ``error`` event per repeated identity (the FAIL lines then go to stderr with the
    rest of the text). ``profile``: the
    core.profile.ProfilePolicy the devices' certificates are checked under (None:
    development)."""
    from ...files.inputs import read_file
    from .common import check_jobs
    from .workers import Progress

    check_jobs(jobs)
    root = Path(directory)
    state = _state(root)
    pai_path = pai_cert or str(root / PAI_CERT)
    pai_der = read_file(pai_path, OPT.pai_cert)
    paa_der = read_file(paa_cert, OPT.paa_cert) if paa_cert else None
    allow_shared = bool(state["params"].get("allow_shared_discriminators"))
    _CONTEXT["policy"] = profile  # the workers are forked: they see it
    partition = state["params"].get("partition")
    _CONTEXT["hex_offset"] = partition[0] if isinstance(partition, list) and partition and \
        isinstance(partition[0], int) else None
    seen: dict = {}
    repeats: list = []
    failed = checked = 0
    listed: set = set()
    image_format = (state["params"].get("format", "nrf-cbor"), state["params"].get("board"))
    progress = Progress(ui, max(_row_count(root), 1), 0, live=ui.is_terminal(),
                        quiet_start=True)
    for report in _reports(root, pai_der, paa_der, state["params"].get("qr", "none"), jobs,
                           image_format):
        checked += 1
        if report.index in listed:
            repeats.append(f"device {report.index} is listed twice in {MANIFEST}")
        listed.add(report.index)
        if report.problems:
            failed += 1
            progress.finish_line()
            for problem in report.problems:
                ui.info(f"FAIL  device {report.index}: {problem}")
        event(ui, "device_verified", {"index": _as_index(report.index)},
                 ok=not report.problems, problems=report.problems)
        for what, value in report.facts.items():
            if value is None or (what == "discriminator" and allow_shared):
                continue
            first = seen.setdefault((what, value), report.index)
            if first != report.index:
                repeats.append(f"devices {first} and {report.index} share a {what}")
        progress.advance()
    progress.finish()
    repeats += _unlisted_devices(root, listed)
    for line in repeats:
        ui.info(f"FAIL  {line}")
        event(ui, "error", code="IDENTITY_REPEATED", retryable=False, message=line)
    if failed or repeats:
        raise VerificationError(f"{directory}: {failed} of {checked} devices failed, "
                                f"{len(repeats)} repeated identities")
    ui.info(f"{directory}: all {checked} devices passed; no repeated identity")
    return 0


def _as_index(index: str):
    return int(index) if str(index).isdigit() else index


def _row_count(root: Path) -> int:
    """Rows of the manifest (for the progress line), counted without keeping them."""
    try:
        with open(root / MANIFEST, "rb") as stream:
            return max(sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20),
                                                                 b"")) - 1, 0)
    except OSError:
        return 0


def _unlisted_devices(root: Path, listed: set) -> list:
    """Device directories without a manifest row: identities issued but not recorded."""
    import os

    devices = root / DEVICES
    names = sorted(os.listdir(devices)) if devices.is_dir() else []
    listed_names = {device_dir_name(int(i)) for i in listed if str(i).isdigit()}
    return [f"device {int(name) if name.isdigit() else name} ({DEVICES}/{name}) has no row in "
            f"{MANIFEST} (rerun the batch command to record it, or remove it if it was copied "
            "there)" for name in names if not name.startswith(".") and name not in listed_names]


def _state(root: Path) -> dict:
    from ...files.inputs import read_json_file

    if not (root / STATE).exists():
        raise InputError(f"{root}: not a batch directory (no {STATE})")
    state = read_json_file(root / STATE, "batch state")
    params = state.get("params") if isinstance(state, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("qr"), str):
        raise InputError(f"batch state {root / STATE}: no 'params' object with 'qr'; restore "
                         "it")
    return state


def _rows(root: Path) -> Iterator[dict]:
    from ...files.inputs import csv_lines
    from .resume import check_row

    for line, row in csv_lines(root / MANIFEST, "batch manifest"):
        check_row(row, f"batch manifest {root / MANIFEST}: line {line}")
        yield row


def _reports(root: Path, pai_der: bytes, paa_der: Optional[bytes], qr: str,
             jobs: Optional[int], image_format: tuple = ("nrf-cbor", None)
             ) -> Iterator[DeviceReport]:
    import multiprocessing
    import os

    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        _CONTEXT.update(directory=root, pai=pai_der, paa=paa_der, qr=qr, format=image_format)
        for row in _rows(root):
            yield check_device(row)
        return
    window = Window(jobs * 64)

    def bounded() -> Iterator[dict]:
        for row in _rows(root):
            if not window.enter():
                return
            yield row

    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(jobs, _init, (str(root), pai_der, paa_der, qr, image_format)) as pool:
            try:
                for report in pool.imap(check_device, bounded(), chunksize=4):
                    window.leave()
                    yield report
            finally:
                window.stop()
    except KeyboardInterrupt:
        raise Interrupted("verification interrupted") from None
