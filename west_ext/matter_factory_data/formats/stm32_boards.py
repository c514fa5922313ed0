"""The STM32 boards of X-CUBE-MATTER and what their factory data reader imposes.

Facts from ST's X-CUBE-MATTER-Extension v1.4.1 (the device readers ``stm32_factorydata.c``,
the providers ``FactoryDataProvider.cpp`` and the ``STM_Provisioning`` firmware):

* WB5MM-DK: external QSPI NOR, 0x901C0000..0x901CFFFF (64 KiB), programmed through an
  external loader; the DAC public key record is read in every mode, and every shipped WB
  application signs with the private key of tag 5 (only firmware that keeps the key in the
  secure key storage, CKS, does without it); the hardware version string is a compile-time
  default. Its provisioning firmware completes an image in a 16 KiB
  RAM copy (DAC 493 B, PAI 463 B, public key 65 B, private key 32 B appended at the end
  marker, then ``AC AC AC AC FF FF FF FF``) and writes only those 16 KiB back.
* WBA65: internal flash, 0x081EC000..0x081FAFFF (61 440 bytes, memory-mapped); the DAC key
  lives in PSA ITS (uid 0x1FFF0001), so the key records are not read.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..errors import OPT, InputError

#: The provisioning firmware edits this much of the region in RAM (FACTORYDATA_Write).
PROVISIONING_LIMIT = 16 * 1024
#: What the WB provisioning firmware appends: 8-byte headers + DAC, PAI, public key,
#: private key (its compiled-in sizes) + ``AC AC AC AC FF FF FF FF``.
PROVISIONING_APPENDED = (8 + 493) + (8 + 463) + (8 + 65) + (8 + 32) + 8
#: Tags neither ST provider reads (FIRMWARE_INFORMATION, MANUFACTURING_DATE,
#: ROTATING_DEVICE_ID, TAG_ID_ENABLE_KEY): "unsupported".
UNSUPPORTED = {2: "ST's providers do not support it", 26: "ST's providers do not support it",
               29: "ST's providers do not support it", 41: "ST's providers do not support it"}


class Board(NamedTuple):
    name: str
    title: str
    address: int  # start of the factory data region
    size: int  # bytes the device reader scans
    external: bool  # external flash: CubeProgrammer needs the external loader
    external_loader: Optional[str]  # the .stldr file name in CubeProgrammer's ExternalLoader/
    required: frozenset  # tags that must be present (besides the common ones)
    unread: dict  # tag -> why this board does not read it
    completes_provisioning: bool  # its STM_Provisioning firmware appends tags 3, 4, 6, 5


#: Tags every ST provider needs for commissioning and attestation.
COMMON_REQUIRED = frozenset({1, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 25, 27})

BOARDS = {
    "wb5mm-dk": Board(
        name="wb5mm-dk", title="STM32WB5MM-DK", address=0x901C0000, size=0x10000,
        external=True, external_loader="S25FL128S_STM32WB5MM-DK.stldr",
        required=frozenset({5, 6}),  # every shipped WB application reads the key (tag 5)
        unread={**UNSUPPORTED, 28: "the STM32WB provider uses a compile-time hardware "
                                   "version string"},
        completes_provisioning=True),
    "wba65": Board(
        name="wba65", title="STM32WBA65", address=0x081EC000, size=0x081FB000 - 0x081EC000,
        external=False, external_loader=None, required=frozenset(),
        unread={**UNSUPPORTED,
                5: "the STM32WBA provider signs with the key in PSA ITS (uid 0x1FFF0001); a "
                   "key stored here is unused (import it with the provisioning firmware)",
                6: "the STM32WBA provider does not read it (the key is in PSA ITS)",
                28: "the STM32WBA provider does not read it"},
        completes_provisioning=False),
}


def get_board(name: Optional[str]) -> Optional[Board]:
    """The board named ``name`` (None for None); InputError naming the accepted ones."""
    if name is None:
        return None
    board = BOARDS.get(name.lower())
    if board is None:
        raise InputError(f"{OPT.board}: {name!r} is not accepted (accepted: {', '.join(BOARDS)})")
    return board
