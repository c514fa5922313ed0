"""The nRF Connect factory data model: keys, their order, types and limits.

The order of :data:`FIELDS` is the reference generator's insertion order, which is
also the CBOR map order on flash (see shared/reference/nrf-connect.md §2 and §9).
Limits are the device's (FactoryDataParser.c / FactoryDataProvider) and the
reference JSON schema's, whichever is stricter.
"""

from __future__ import annotations

from typing import Optional

FACTORY_DATA_VERSION = 1
HEX_PREFIX = "hex:"

# Kinds of values, as the device parser reads them.
UINT = "uint"  # CBOR unsigned integer
TEXT = "text"  # UTF-8 text, stored as a CBOR byte string
BYTES = "bytes"  # binary, JSON "hex:..." string, stored as a CBOR byte string
USER = "user"  # any JSON object, stored as a nested CBOR map


class Field:
    """One factory data key. A plain slotted class: a NamedTuple costs ~1 ms of every
    start-up, and every command imports this table."""

    __slots__ = ("key", "kind", "required", "minimum", "maximum", "device_bits", "description")

    def __init__(self, key: str, kind: str, required: bool = False,
                 minimum: Optional[int] = None,  # for UINT: value; TEXT/BYTES: length in bytes
                 maximum: Optional[int] = None,
                 device_bits: Optional[int] = None,  # width the device stores a UINT in
                 description: str = "") -> None:
        self.key, self.kind, self.required = key, kind, required
        self.minimum, self.maximum, self.device_bits = minimum, maximum, device_bits
        self.description = description

    def __repr__(self) -> str:
        return f"Field({self.key!r}, {self.kind!r})"

    def range_text(self) -> str:
        """The accepted range as a user would read it."""
        if self.kind == UINT:
            return f"{self.minimum}..{self.maximum}"
        unit = "bytes"
        if self.minimum == self.maximum:
            return f"exactly {self.minimum} {unit}"
        return f"{self.minimum}..{self.maximum} {unit}"


FIELDS: tuple[Field, ...] = (
    Field("version", UINT, True, 1, 1, 16, "factory data format version"),
    Field("sn", TEXT, True, 1, 32, description="serial number"),
    Field("vendor_id", UINT, True, 0, 0xFFF4, 16, "vendor ID"),
    Field("product_id", UINT, True, 1, 0xFFFF, 16, "product ID"),
    Field("vendor_name", TEXT, True, 1, 32, description="vendor name"),
    Field("product_name", TEXT, True, 1, 32, description="product name"),
    Field("product_label", TEXT, False, 1, 64, description="product label"),
    Field("product_url", TEXT, False, 1, 256, description="product URL"),
    Field("part_number", TEXT, False, 1, 32, description="part number"),
    Field("date", TEXT, True, 10, 10, description="manufacturing date YYYY-MM-DD"),
    Field("hw_ver", UINT, True, 0, 0xFFFF, 16, "hardware version"),
    Field("hw_ver_str", TEXT, True, 1, 64, description="hardware version string"),
    Field("sw_ver_str", TEXT, False, 1, 64, description="software version string"),
    Field("dac_cert", BYTES, True, 1, 600, description="DAC certificate (DER)"),
    Field("dac_key", BYTES, True, 32, 32, description="DAC private key (raw P-256 scalar)"),
    Field("pai_cert", BYTES, True, 1, 600, description="PAI certificate (DER)"),
    Field("passcode", UINT, False, 1, 99999998, 32, "setup passcode"),
    Field("spake2_it", UINT, True, 1000, 100000, 32, "SPAKE2+ iteration count"),
    Field("spake2_salt", BYTES, True, 16, 32, description="SPAKE2+ salt"),
    Field("spake2_verifier", BYTES, True, 97, 97, description="SPAKE2+ verifier"),
    Field("discriminator", UINT, True, 0, 0xFFF, 16, "discriminator"),
    Field("rd_uid", BYTES, False, 16, 32, description="rotating device ID unique ID"),
    Field("enable_key", BYTES, False, 16, 16, description="test event trigger enable key"),
    Field("product_finish", UINT, False, 0, 5, 8, "product finish"),
    Field("primary_color", UINT, False, 0, 20, 8, "product primary color"),
    Field("user", USER, description="user data (JSON object)"),
)

FIELDS_BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
KEY_ORDER: tuple[str, ...] = tuple(f.key for f in FIELDS)
REQUIRED_KEYS: tuple[str, ...] = tuple(f.key for f in FIELDS if f.required)

# The order in which the device parser compares a key against the known names
# (FactoryDataParser.c, ``strncmp(known, key, key_len)``); the first match wins. sw_ver_str
# is read (as a byte string) by parsers that have it; older ones skip it as unknown.
DEVICE_MATCH_ORDER: tuple[str, ...] = (
    "version", "hw_ver", "spake2_it", "vendor_id", "product_id", "discriminator", "passcode",
    "sn", "date", "hw_ver_str", "sw_ver_str", "rd_uid", "dac_cert", "dac_key", "pai_cert",
    "spake2_salt",
    "spake2_verifier", "vendor_name", "product_name", "part_number", "product_url",
    "product_label", "enable_key", "product_finish", "primary_color", "user",
)

# Matter ProductFinishEnum and ColorEnum (Matter Core spec 11.1.5). The reference
# script maps brass 18 / "cooper" 19 / silver 19, which is wrong: we use the spec.
PRODUCT_FINISHES: dict[str, int] = {
    "other": 0, "matte": 1, "satin": 2, "polished": 3, "rugged": 4, "fabric": 5,
}
PRODUCT_COLORS: dict[str, int] = {
    "black": 0, "navy": 1, "green": 2, "teal": 3, "maroon": 4, "purple": 5, "olive": 6,
    "gray": 7, "blue": 8, "lime": 9, "aqua": 10, "red": 11, "fuchsia": 12, "yellow": 13,
    "white": 14, "nickel": 15, "chrome": 16, "brass": 17, "copper": 18, "silver": 19, "gold": 20,
}
# Old spellings still accepted on the command line, mapped to their spec name.
COLOR_ALIASES: dict[str, str] = {"cooper": "copper"}

# The device cannot hold a partition of 64 KiB or more (size is a uint16).
DEVICE_MAX_PARTITION_SIZE = 0xFFFF
# CHIP_FACTORY_DATA_ROTATING_DEVICE_UID_MAX_LEN default.
DEVICE_RD_UID_MAX_LEN = 16
