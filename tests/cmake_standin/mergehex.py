"""mergehex for the CMake stand-ins: merge Intel HEX files (later files may not overlap)."""

import sys

from intelhex import IntelHex

merged = IntelHex()
for path in sys.argv[2:]:
    merged.merge(IntelHex(path), overlap="error")
merged.write_hex_file(sys.argv[1])
