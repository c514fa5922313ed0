"""The files of a batch directory: names, manifest columns, device directories."""

from __future__ import annotations

from .device import IMAGE_NAME

MANIFEST = "manifest.csv"


STATE = "batch.json"


DEVICES = "devices"


PAI_CERT = "PAI_cert.der"


PAI_KEY = "PAI_key.der"


STATE_FORMAT = 1


COLUMNS = ("index", "sn", "vendor_id", "product_id", "discriminator", "qr_payload",
           "manual_code", "dac_serial", "image", "image_sha256")


SHARED_COLUMN = "shares_discriminator_with"


#: Per-device values a --csv file may give (other columns are refused).
CSV_COLUMNS = ("sn", "passcode", "discriminator", "spake2_salt", "rd_uid")


def device_dir_name(index: int) -> str:
    return f"{index:06d}"


def columns_for(plan_params: dict) -> list:
    cols = list(COLUMNS)
    if plan_params["include_passcode"]:
        cols.append("passcode")
    if plan_params["allow_shared_discriminators"]:
        cols.append(SHARED_COLUMN)
    return cols


#: The files a series starts with; batch.json is written last.
SERIES_FILES = frozenset({"PAA_cert.der", "PAA_key.der", PAI_CERT, PAI_KEY, "CD.der",
                          "CD_signing_cert.der", "CD_signing_key.der", MANIFEST, STATE})


def image_path(index: int) -> str:
    return f"{DEVICES}/{device_dir_name(index)}/{IMAGE_NAME}"


LOCK = ".lock"

#: The lot's own ledger (when no --ledger is given): sqlite:///<DIR>/ledger.db
LEDGER = "ledger.db"
