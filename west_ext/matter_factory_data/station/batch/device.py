"""One device of a batch: from its identity to the bytes of every file it gets.

Pure: the caller writes the files. The onboarding codes are derived from the values read
back from the encoded image, so the label can never disagree with what the device holds.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple, Optional

from ...core import onboarding, spake2p
from ...core.model import FACTORY_DATA_VERSION
from ...core.series import DeviceIdentity
from ...formats import hexfile, nrf_cbor

IMAGE_NAME = "factory_data.bin"
QR_FORMATS = ("png", "svg", "none")
#: zlib level of batch's QR PNGs: level 1 deflates a 264 x 264 code in half the time of the
#: default (6) for ~150 bytes more; verify compares pixels, so either level verifies.
PNG_COMPRESSION = 1


class DeviceTemplate(NamedTuple):
    """What every device of the batch shares."""

    common: dict  # typed common field values (vendor_id, names, date, spake2_it, ...)
    pai_cert: bytes  # DER
    partition: tuple[int, int]  # offset, size
    include_passcode: bool
    qr: str  # one of QR_FORMATS
    discovery: int = onboarding.DISCOVERY_DEFAULT  # discovery capabilities in the QR code
    format: str = "nrf-cbor"  # formats.FORMATS
    board: Optional[str] = None  # stm32-tlv: formats/stm32_boards.py
    cd: Optional[bytes] = None  # stm32-tlv: the Certification Declaration stored in tag 1


def image_format(template: DeviceTemplate):
    from ...formats import get_format

    return get_format(template.format, template.board)


class BuiltDevice(NamedTuple):
    files: dict  # file name -> bytes, all secret (the image holds the DAC key)
    row: dict  # the manifest row, without the image path


def build_device(template: DeviceTemplate, identity: DeviceIdentity, issuer: Any) -> BuiltDevice:
    """Every file of one device; ``issuer`` is a :class:`~.certs.DacIssuer`."""
    from ...core import certs

    key = certs.new_key(identity.dac_key_seed)
    point = certs.public_key_bytes(key)
    dac = issuer.issue_der(key, identity.dac_serial, point=point)
    fmt = image_format(template)
    values = dict(template.common)
    values.update(
        version=FACTORY_DATA_VERSION, sn=identity.sn, dac_cert=dac,
        dac_key=certs.raw_private_scalar(key), pai_cert=template.pai_cert,
        passcode=identity.passcode if template.include_passcode else None,
        spake2_salt=identity.spake2_salt, discriminator=identity.discriminator,
        spake2_verifier=spake2p.compute_verifier(identity.passcode, identity.spake2_salt,
                                                 values["spake2_it"]),
        rd_uid=identity.rd_uid)
    if fmt.name != "nrf-cbor":  # ST's providers do not read the date (tag 26)
        values.update(_stm32_key_values(values, fmt), cd=template.cd, date=None)
    data = fmt.json_from_values(values)
    offset, size = template.partition
    device_map = fmt.from_json(data, "device data")
    image = image_bytes(device_map, size, fmt)
    payload = _payload_read_back(image, device_map, identity.passcode, template.discovery,
                                 fmt)
    qr_text, manual = onboarding.qr_code(payload), onboarding.manual_code(payload)
    files = {
        IMAGE_NAME: image,
        "factory_data.hex": hexfile.to_hex_text(offset, image).encode("ascii"),
        "factory_data.json": fmt.json_text(data).encode("utf-8"),
        "factory_data.txt": onboarding.onboarding_text_of(manual, qr_text).encode("ascii"),
    }
    qr_image = render_qr(qr_text, template.qr)
    if qr_image is not None:
        files[f"qr.{template.qr}"] = qr_image
    row = {
        "index": identity.index, "sn": identity.sn, "vendor_id": f"0x{payload.vendor_id:04X}",
        "product_id": f"0x{payload.product_id:04X}", "discriminator": payload.discriminator,
        "qr_payload": qr_text, "manual_code": manual,
        "dac_serial": f"{identity.dac_serial:x}",
        "image_sha256": hashlib.sha256(image).hexdigest(), "passcode": identity.passcode,
        "dac_pubkey_sha256": certs.point_sha256(point),
    }
    return BuiltDevice(files, row)


def _stm32_key_values(values: dict, fmt) -> dict:
    """Tags 5 and 6 (the DAC key and its public point); not on a board that keeps the key in
    its key storage (WBA65: PSA ITS)."""
    from ...core import certs

    if fmt.board is not None and 5 in fmt.board.unread:
        return {"dac_key": None}
    key = certs.private_key_from_scalar(values["dac_key"], source="dac_key")
    return {"dac_pub_key": certs.public_key_bytes(key)}


def decoded_values(image: bytes, where: str, fmt=None) -> dict:
    """The model values of an image (nRF: the CBOR map as decoded)."""
    fmt = fmt or nrf_cbor.NrfCborFormat()
    return fmt.model_values(fmt.decode(image, where))


def image_bytes(device_map: dict, size: int, fmt=None) -> bytes:
    fmt = fmt or nrf_cbor.NrfCborFormat()
    image = fmt.encode(device_map)
    if len(image) > size:
        from ...errors import PartitionError

        sn = fmt.model_values(device_map).get("sn", b"")
        raise PartitionError(f"the factory data of serial number "
                             f"{sn.decode('utf-8', 'replace')} needs "
                             f"{len(image)} bytes, more than the partition's {size}")
    return image


_READ_BACK = {"item_level": 0}  # devices of this process read back by the item-level reader


def _payload_read_back(image: bytes, device_map: dict, passcode: int, discovery: int,
                       fmt) -> onboarding.SetupPayload:
    """The setup payload of what the device will read, proven from the image's bytes.

    The first device of every process (and every 64th) goes through the item-level reader
    (``payload_from_image``: how the device's zcbor parser walks the map). For the others
    the proof is cheaper and as strict: the image is decoded by cbor2's C decoder, the map
    decoded must be the intended one (same keys in the same order, same values), and the
    image must be exactly the canonical encoding of that map followed by the terminator --
    so it has the same item structure (definite lengths, minimal heads, text keys) the
    item-level reader accepted; anything else takes the item-level path and its error.
    """
    counter = _READ_BACK["item_level"]
    _READ_BACK["item_level"] = counter + 1
    if fmt.name == "nrf-cbor" and counter % 64:
        import cbor2

        try:
            decoded = cbor2.loads(image)
        except (cbor2.CBORDecodeError, ValueError):
            decoded = None
        if (isinstance(decoded, dict) and list(decoded.items()) == list(device_map.items())
                and nrf_cbor.encode_image(decoded) == image):
            return onboarding.SetupPayload(
                vendor_id=decoded["vendor_id"], product_id=decoded["product_id"],
                discriminator=decoded["discriminator"], passcode=passcode,
                capabilities=discovery)
    return payload_from_image(image, passcode, discovery, fmt)


def payload_from_image(image: bytes, passcode: int,
                       discovery: int = onboarding.DISCOVERY_DEFAULT,
                       fmt=None) -> onboarding.SetupPayload:
    """The setup payload of what the device will read (only the passcode is not in it)."""
    fmt = fmt or nrf_cbor.NrfCborFormat()
    stored = fmt.model_values(fmt.decode(image, "image"))
    return onboarding.SetupPayload(vendor_id=stored["vendor_id"], product_id=stored["product_id"],
                                   discriminator=stored["discriminator"], passcode=passcode,
                                   capabilities=discovery)


def _fixed_symbol() -> dict:
    """Batch's QR symbols: a fixed mask (see qrimage.FAST_MASK_PATTERN) and version."""
    from ...core import qrimage

    return {"mask_pattern": qrimage.FAST_MASK_PATTERN, "version": qrimage.MT_PAYLOAD_VERSION}


def qr_png_pixels(qr_text: str) -> tuple:
    """(IHDR body, scanlines) of the PNG :func:`render_qr` makes of ``qr_text``."""
    from ...core import qrimage

    return qrimage.qr_png_pixels(qr_text, **_fixed_symbol())


def render_qr(qr_text: str, qr_format: str) -> Optional[bytes]:
    """The QR image in a fixed mask (see qrimage.FAST_MASK_PATTERN), or None for ``none``."""
    from ...core import qrimage

    fast = _fixed_symbol()
    if qr_format == "png":
        return qrimage.qr_png(qr_text, **fast, compression=PNG_COMPRESSION)
    if qr_format == "svg":
        return qrimage.qr_svg(qr_text, **fast)
    return None
