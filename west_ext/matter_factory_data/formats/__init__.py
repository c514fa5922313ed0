"""On-flash formats, each behind :class:`base.ImageFormat`, and the Intel HEX container.

``get_format(name)`` returns a format by its ``--format`` name. Importing this package is
cheap: a format's module is imported when it is asked for.
"""

from __future__ import annotations

from importlib import import_module

#: ``--format`` name -> (module, class) of the implementation.
FORMATS = {
    "nrf-cbor": ("nrf_cbor", "NrfCborFormat"),
    "stm32-tlv": ("stm32_tlv", "Stm32TlvFormat"),
}
#: Formats whose device rules depend on the board (``--board``).
BOARD_FORMATS = ("stm32-tlv",)
DEFAULT_FORMAT = "nrf-cbor"


def get_format(name: str = DEFAULT_FORMAT, board: str | None = None):
    """The format registered as ``name`` (with ``board``'s rules where the format has
    boards); InputError naming the accepted ones otherwise."""
    from ..errors import InputError

    if name not in FORMATS:
        raise InputError(f"--format: {name!r} is not accepted (accepted: "
                         f"{', '.join(FORMATS)})")
    module, cls = FORMATS[name]
    implementation = getattr(import_module(f"{__name__}.{module}"), cls)
    if name in BOARD_FORMATS:
        return implementation(board)
    if board is not None:
        raise InputError(f"--board applies to --format {' or '.join(BOARD_FORMATS)}, not to "
                         f"--format {name}")
    return implementation()
