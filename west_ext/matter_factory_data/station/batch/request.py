"""What a batch is asked (BatchRequest) and the validated plan it becomes (Plan)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple, Optional

from ...core import series
from ...jobs.pipeline import GenerateRequest
from .device import DeviceTemplate


class BatchRequest(GenerateRequest):
    """``batch``: generate's field options (common to every device) plus the series options.
    Per-device options of generate (--sn, --passcode, --dac_cert, ...) are refused."""

    count: Optional[int] = None
    csv: Optional[str] = None
    fields: Optional[str] = None
    build_dir: Optional[str] = None
    pai_key: Optional[str] = None
    sn_template: Optional[str] = None
    discriminators: str = "random"
    allow_shared_discriminators: bool = False
    jobs: Optional[int] = None
    qr: str = "png"
    label_size_mm: Optional[str] = None
    label_dpi: Optional[int] = None
    label_format: str = "png,svg"
    seed: Optional[str] = None
    verbose: bool = False
    defaults: bool = False
    ledger: Optional[str] = None  # URL; None: the lot's own sqlite:///<DIR>/ledger.db
    station: Optional[str] = None  # recorded with every claim; default: the host name


class Plan(NamedTuple):
    """Everything validated; nothing written yet."""

    out_dir: Path
    count: int  # type: ignore[assignment]  # a field named like a tuple method
    template: DeviceTemplate
    pai_cert: Any  # cryptography Certificate
    pai_key: Any  # EC private key, or a core.signer.Signer (a PKCS#11 token)
    params: dict  # what batch.json records; a rerun must give the same
    seed: Optional[str]
    sn_template: series.SerialTemplate
    sequential: bool
    first_discriminator: int
    allow_shared: bool
    csv_path: Optional[str]
    not_before: Optional[dt.datetime]
    jobs: int
    extra_files: list  # (name, bytes, secret) written with the series files
    ledger_url: Optional[str] = None  # given --ledger (checked); None: the lot's own
    station: Optional[str] = None
    warnings: tuple = ()  # Messages: what the profile accepted (a given PAI/PAA)
