"""On-flash formats, each behind :class:`base.ImageFormat`, and the Intel HEX container.

``get_format(name)`` returns a format by its ``--format`` name. Importing this package is
cheap: a format's module is imported when it is asked for.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import OPT


def _nrf_cbor() -> Any:
    from .nrf_cbor import NrfCborFormat

    return NrfCborFormat


def _stm32_tlv() -> Any:
    from .stm32_tlv import Stm32TlvFormat

    return Stm32TlvFormat


#: ``--format`` name -> the loader of the implementation's class (imported when asked for).
FORMATS: dict[str, Callable[[], Any]] = {
    "nrf-cbor": _nrf_cbor,
    "stm32-tlv": _stm32_tlv,
}
#: Formats whose device rules depend on the board (``--board``).
BOARD_FORMATS = ("stm32-tlv",)
DEFAULT_FORMAT = "nrf-cbor"


def get_format(name: str = DEFAULT_FORMAT, board: str | None = None, *,
               key_in_secure_storage: bool = False):
    """The format registered as ``name`` (with ``board``'s rules where the format has
    boards; ``key_in_secure_storage``: the DAC key is in the device's secure key storage,
    not in the image); InputError naming the accepted ones otherwise."""
    from ..errors import InputError

    if name not in FORMATS:
        raise InputError(f"{OPT.format}: {name!r} is not accepted (accepted: "
                         f"{', '.join(FORMATS)})")
    implementation = FORMATS[name]()
    if name in BOARD_FORMATS:
        return implementation(board, key_in_secure_storage=key_in_secure_storage)
    if key_in_secure_storage:
        raise InputError(f"{OPT['dac-key-in-secure-storage']} applies to {OPT.format} "
                         f"{' or '.join(BOARD_FORMATS)} (the nRF image always holds the DAC "
                         "key)")
    if board is not None:
        raise InputError(f"{OPT.board} applies to {OPT.format} {' or '.join(BOARD_FORMATS)}, "
                         f"not to {OPT.format} {name}")
    return implementation()
