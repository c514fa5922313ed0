"""The one interface every on-flash format implements, and the findings it reports.

A format turns the factory data *model* (a mapping of field keys to typed values: ints,
bytes, text; the JSON form's keys) into the bytes the device reads, reads such bytes back,
and lints them the way the device's own reader would take them. Formats register in
:mod:`matter_factory_data.formats` by name (``--format``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

ERROR = "error"  # the device rejects or misreads the data
WARNING = "warning"  # the device accepts it, but it is unwise or not what was meant


class Problem:
    """One finding of a lint (a plain class: a NamedTuple costs start-up time)."""

    __slots__ = ("severity", "key", "message")

    def __init__(self, severity: str, key: str, message: str) -> None:
        self.severity, self.key, self.message = severity, key, message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.severity, self.key, self.message) == \
            (other.severity, other.key, other.message)

    def __hash__(self) -> int:
        return hash((self.severity, self.key, self.message))

    def __repr__(self) -> str:
        return f"Problem({self.severity!r}, {self.key!r}, {self.message!r})"

    def __str__(self) -> str:
        where = f"key {self.key!r}: " if self.key else ""
        return f"{where}{self.message}"


class ImageFormat:
    """What a format provides. ``device_map`` is the format's decoded view: for nRF the CBOR
    map as decoded (bytes for bstr, str for tstr), for STM32 the records by name."""

    #: The ``--format`` name.
    name = ""

    def from_json(self, obj: Mapping[str, Any], source: str) -> dict:
        """The device map of a JSON form (the reference generator's JSON for nRF)."""
        raise NotImplementedError

    def to_json(self, device_map: Mapping[Any, Any]) -> dict:
        """The JSON form of a device map (for ``show``)."""
        raise NotImplementedError

    def encode(self, device_map: Mapping[Any, Any]) -> bytes:
        """The bytes written at the partition's start."""
        raise NotImplementedError

    def decode(self, image: bytes, source: str) -> dict:
        """The device map of an image; raises InputError when it cannot be read at all."""
        raise NotImplementedError

    def lint(self, device_map: Mapping[Any, Any], *,
             partition_size: Optional[int] = None) -> list:
        """:class:`Problem` list: ERROR where the device rejects or misreads the data."""
        raise NotImplementedError

    def json_from_values(self, values: Mapping[str, Any]) -> dict:
        """The JSON form of typed model values (``generate``, ``batch``)."""
        raise NotImplementedError

    def json_text(self, obj: Mapping[str, Any]) -> str:
        """The JSON file's text, as the format's reference tool writes it."""
        raise NotImplementedError

    def model_values(self, device_map: Mapping[Any, Any]) -> dict:
        """The device map keyed by model keys (ints, bytes), for ``verify``."""
        raise NotImplementedError
