"""On-flash formats, each behind :class:`base.ImageFormat`, and the Intel HEX container.

``get_format(name)`` returns a format by its ``--format`` name. Importing this package is
cheap: a format's module is imported when it is asked for.
"""

from __future__ import annotations

from importlib import import_module

#: ``--format`` name -> (module, class) of the implementation.
FORMATS = {
    "nrf-cbor": ("nrf_cbor", "NrfCborFormat"),
}
DEFAULT_FORMAT = "nrf-cbor"


def get_format(name: str = DEFAULT_FORMAT):
    """The format registered as ``name``; InputError naming the accepted ones otherwise."""
    from ..errors import InputError

    if name not in FORMATS:
        raise InputError(f"--format: {name!r} is not accepted (accepted: "
                         f"{', '.join(FORMATS)})")
    module, cls = FORMATS[name]
    return getattr(import_module(f"{__name__}.{module}"), cls)()
