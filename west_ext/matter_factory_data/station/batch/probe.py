"""The probe: the largest device the series can make, built once before anything is written,
so a bad value or a too-small partition fails first."""

from __future__ import annotations

import json
from typing import Optional

from ...core import series
from ...errors import OPT, InputError
from .attestation import dac_common_name
from .device import IMAGE_NAME
from .request import Plan


def _probe_identity(plan: Plan, given_csv: Optional[list]) -> series.DeviceIdentity:
    """The largest device the series can make: longest serial, widest integers."""
    longest = max((g.sn for g in given_csv or () if g.sn), key=lambda s: len(s.encode()),
                  default=None)
    sn = longest or (plan.sn_template.format(plan.count) if not plan.sn_template.is_random
                     else "F" * 2 * series.RANDOM_SN_BYTES)
    salt_len = max((len(g.spake2_salt) for g in given_csv or () if g.spake2_salt),
                   default=series.SALT_LENGTH)
    rd_len = max((len(g.rd_uid) for g in given_csv or () if g.rd_uid),
                 default=series.RD_UID_LENGTH)
    return series.DeviceIdentity(index=plan.count, sn=sn, passcode=99999998,
                                 discriminator=4095, spake2_salt=b"\xff" * salt_len,
                                 rd_uid=b"\xff" * rd_len, dac_serial=(1 << 159) - 1,
                                 dac_key_seed=b"probe")


#: Room for the longest ECDSA signature: DER signatures are 70..72 bytes (P-256).
SIGNATURE_SLACK = 2


def probe_device(plan: Plan, given_csv: Optional[list], device) -> None:
    """Build the largest device once: a bad value or a too-small partition fails here."""
    from ...core import certs
    from ...errors import PartitionError
    from ...formats.base import ERROR

    issuer = certs.DacIssuer(issuer_cert=plan.pai_cert, issuer_key=plan.pai_key,
                             common_name=dac_common_name(plan.template.common),
                             vendor_id=plan.template.common["vendor_id"],
                             product_id=plan.template.common["product_id"],
                             not_before=plan.not_before)
    offset, size = plan.template.partition
    roomy = plan.template._replace(partition=(offset, 0xFFFFFFFF))
    built = device.build_device(roomy, _probe_identity(plan, given_csv), issuer)
    needed = len(built.files[IMAGE_NAME]) + SIGNATURE_SLACK
    if needed > size:
        what = "(CBOR + terminating byte)" if plan.template.format == "nrf-cbor" else \
            f"({plan.template.format} image)"
        raise PartitionError(
            f"a device of this batch needs up to {needed} bytes of factory data {what} "
            f"but the partition at 0x{offset:x} is only {size} bytes "
            f"({OPT.size} 0x{size:x}); enlarge the factory_data partition or drop optional keys")
    fmt = device.image_format(plan.template)
    device_map = fmt.decode(built.files[IMAGE_NAME], "batch data")
    for problem in fmt.lint(device_map, partition_size=size):
        if problem.severity == ERROR:
            raise InputError(f"batch data: {problem}")


def probe_json(plan: Plan) -> dict:
    from ...core import certs
    from . import device

    issuer = certs.DacIssuer(issuer_cert=plan.pai_cert, issuer_key=plan.pai_key,
                             common_name=dac_common_name(plan.template.common),
                             vendor_id=plan.template.common["vendor_id"],
                             product_id=plan.template.common["product_id"], not_before=None)
    built = device.build_device(plan.template, _probe_identity(plan, None), issuer)
    return json.loads(built.files["factory_data.json"])
