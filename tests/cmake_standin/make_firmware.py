"""Fake firmware for the CMake stand-in: 4 KiB of a known pattern at 0x0, as Intel HEX."""

import sys

from intelhex import IntelHex

image = IntelHex()
image.frombytes(bytes(i % 251 for i in range(0x1000)), offset=0)
image.write_hex_file(sys.argv[1])
