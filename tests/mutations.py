"""Mutated nRF factory data images, for the fuzz tests, bench/fuzz_show.py and the
differential check against the device parser (bench/differential.py).

Deterministic: ``mutated_images(seed)`` yields the same images for the same seed. The
mutations aim at what decides how zcbor reads the map: heads (argument width, definite or
chunked length), keys (prefixes, NULs, other types), item counts, tags, simple values,
nesting, truncation and stray bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "data" / "golden" / "factory_data.bin"

KNOWN = ("version", "sn", "vendor_id", "product_id", "vendor_name", "product_name",
         "product_label", "product_url", "part_number", "date", "hw_ver", "hw_ver_str",
         "sw_ver_str", "dac_cert", "dac_key", "pai_cert", "passcode", "spake2_it",
         "spake2_salt", "spake2_verifier", "discriminator", "rd_uid", "enable_key",
         "product_finish", "primary_color", "user")


def head(major: int, n: int, width: int = -1) -> bytes:
    """A head with argument ``n``; ``width`` forces 0/1/2/4/8 argument bytes."""
    if width < 0:
        width = 0 if n < 24 else 1 if n < 0x100 else 2 if n < 0x10000 else \
            4 if n < 0x100000000 else 8
    if width == 0:
        return bytes([major << 5 | n])
    info = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | info]) + n.to_bytes(width, "big")


def bstr(b: bytes, width: int = -1) -> bytes:
    return head(2, len(b), width) + b


def tstr(s, width: int = -1) -> bytes:
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    return head(3, len(b), width) + b


def split_items(data: bytes):
    """(map head bytes, [(key bytes, value bytes)], trailer) of a well-formed image."""
    from matter_factory_data.formats.cbor_items import read_head, scan

    top = read_head(data, 0, len(data))
    pos, pairs = top.end, []
    for _ in range(top.argument):
        key = scan(data, pos)
        value = scan(data, key.end)
        pairs.append((data[pos:key.end], data[key.end:value.end]))
        pos = value.end
    return data[:top.end], pairs, data[pos:]


def base_images() -> list:
    """The golden image and variants with every optional key, user data and sw_ver_str."""
    import cbor2

    golden = GOLDEN.read_bytes()
    full = cbor2.loads(golden[:-1])
    extra = dict(full)
    extra.update({"product_label": b"Lamp", "product_url": b"https://example.com",
                  "part_number": b"PN-1", "sw_ver_str": b"1.0.0", "rd_uid": bytes(range(16)),
                  "enable_key": bytes(16), "product_finish": 2, "primary_color": 11,
                  "user": {"name": "x", "n": -5, "nested": {"a": [1, 2, {"b": "c"}]}}})
    reordered = dict(sorted(full.items()))
    return [golden, cbor2.dumps(extra) + b"\0", cbor2.dumps(reordered) + b"\0"]


# --- items to put in place of values and keys ---------------------------------

def odd_items(rng: random.Random) -> list:
    return [
        b"\xf7", b"\xf6", b"\xf5", b"\xf4", b"\xf0", b"\xf8\x20", b"\xf8\xff",
        b"\xf9\x3c\x00", b"\xfa\x3f\x80\x00\x00", b"\xfb" + struct.pack(">d", 1.5),
        b"\x20", b"\x3a\x7f\xff\xff\xff", b"\x1b" + (2 ** 40).to_bytes(8, "big"),
        b"\xc2\x49\x01" + bytes(8), b"\xc3\x41\x01", b"\xd8\x1c\x81\xd8\x1d\x00",
        b"\xc1\x1a\x51\x4b\x67\xb0", b"\xd8\x25\x42\x61\x61", b"\xd8\x23\x61\x28",
        b"\xdb" + bytes(7) + b"\x01\x01", b"\x80", b"\xa0", b"\x9f\x01\xff", b"\xbf\xff",
        b"\x5f\x41\x61\x41\x62\xff", b"\x7f\x61\x61\xff", b"\x40", b"\x60",
        b"\x81" * rng.randint(1, 80) + b"\x01",
        b"\xa1\x61\x61" * rng.randint(1, 80) + b"\x01",
        b"\xa1\x64user" + b"\xa2\x61k\x61v\x61n\x20",
        bytes([rng.randrange(256)]),
    ]


def mutate_value(value: bytes, rng: random.Random) -> bytes:
    from matter_factory_data.formats.cbor_items import CborError, read_head

    try:
        h = read_head(value, 0, len(value))
    except CborError:  # already damaged by an earlier mutation
        return value
    choice = rng.randrange(9)
    if choice == 0 and h.major in (0, 1, 2, 3, 4, 5):  # wider head than needed
        width = rng.choice([1, 2, 4, 8])
        if h.argument is not None and h.argument < (1 << (8 * width)):
            return head(h.major, h.argument, width) + value[h.end:]
    if choice == 1 and h.major in (2, 3) and h.argument:  # chunked string
        body = value[h.end:]
        cut = rng.randint(0, len(body))
        return bytes([h.major << 5 | 31]) + head(h.major, cut) + body[:cut] + \
            head(h.major, len(body) - cut) + body[cut:] + b"\xff"
    if choice == 2 and h.major == 2:  # text instead of bytes
        return bytes([0x60 | (value[0] & 0x1F)]) + value[1:]
    if choice == 3:  # a tag in front
        return head(6, rng.choice([0, 2, 24, 55799, 2 ** 32 + 1])) + value
    if choice == 4 and h.major == 0:  # another integer
        n = rng.choice([0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32,
                        2 ** 64 - 1, rng.randrange(2 ** 20)])
        return head(0, n, rng.choice([-1, -1, 4, 8]) if n < 2 ** 32 else -1)
    if choice == 5:
        return rng.choice(odd_items(rng))
    if choice == 6 and h.major == 2:  # another length
        body = value[h.end:]
        n = rng.choice([0, 1, len(body) - 1, len(body) + 1, 10, 16, 32, 97, 600, 601])
        body = (body * (n // max(len(body), 1) + 1))[:max(n, 0)]
        return bstr(body)
    if choice == 7 and h.major == 2:  # text values: odd bytes inside
        body = bytearray(value[h.end:])
        if body:
            body[rng.randrange(len(body))] = rng.choice([0, 10, 0x1b, 0xff, 0x80, 0x2d, 0x30])
        return bstr(bytes(body))
    return value


def mutate_key(key: bytes, rng: random.Random) -> bytes:
    from matter_factory_data.formats.cbor_items import CborError, read_head

    try:
        h = read_head(key, 0, len(key))
    except CborError:
        return key
    name = key[h.end:]
    choice = rng.randrange(10)
    if choice == 0:
        return tstr(name[:rng.randint(0, len(name))])  # prefix, maybe empty
    if choice == 1:
        return tstr(name + b"\0" + rng.choice([b"", b"x", b"\0"]))
    if choice == 2:
        return bstr(name)
    if choice == 3:
        return head(0, rng.randrange(30))
    if choice == 4:
        return b"\x7f" + tstr(name) + b"\xff"
    if choice == 5:
        return tstr(name, rng.choice([1, 2, 4, 8]))
    if choice == 6:
        return tstr(rng.choice(KNOWN))
    if choice == 7:
        return tstr(name + rng.choice([b"x", b"_", b"s"]))
    if choice == 8:
        return head(6, 0) + key
    return tstr(bytes(rng.randrange(256) for _ in range(rng.randint(0, 6))))


def mutate(image: bytes, rng: random.Random) -> bytes:
    """One structured or byte-level mutation (sometimes two) of a well-formed image."""
    _, pairs, trailer = split_items(image)
    pairs = list(pairs)
    top_mode: tuple = ("minimal",)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        choice = rng.randrange(12)
        i = rng.randrange(len(pairs)) if pairs else 0
        if choice <= 2 and pairs:
            pairs[i] = (pairs[i][0], mutate_value(pairs[i][1], rng))
        elif choice <= 4 and pairs:
            pairs[i] = (mutate_key(pairs[i][0], rng), pairs[i][1])
        elif choice == 5 and pairs:
            pairs.insert(rng.randrange(len(pairs) + 1), pairs[i])  # duplicate
        elif choice == 6 and pairs:
            del pairs[i]
        elif choice == 7:
            pairs.insert(rng.randrange(len(pairs) + 1),
                         (tstr(rng.choice(KNOWN + ("colour", "x", ""))),
                          rng.choice(odd_items(rng))))
        elif choice == 8:
            top_mode = rng.choice([("width", rng.choice([1, 2, 4, 8])),
                                   ("delta", rng.choice([-2, -1, 1, 2])), ("indefinite",)])
        else:
            break
    entries = b"".join(k + v for k, v in pairs)
    if top_mode[0] == "indefinite":
        body = b"\xbf" + entries + b"\xff"
    elif top_mode[0] == "width":
        body = head(5, len(pairs), top_mode[1]) + entries
    elif top_mode[0] == "delta":
        body = head(5, max(len(pairs) + top_mode[1], 0)) + entries
    else:
        body = head(5, len(pairs)) + entries
    data = bytearray(body + (trailer if rng.random() < 0.9 else b""))
    if rng.random() < 0.35:  # byte-level damage
        data = byte_mutation(data, rng)
    return bytes(data)


def byte_mutation(data: bytearray, rng: random.Random) -> bytearray:
    if not data:
        return data
    choice = rng.randrange(5)
    pos = rng.randrange(len(data))
    if choice == 0:
        data[pos] = rng.randrange(256)
    elif choice == 1:
        data[pos] = rng.choice([0x00, 0xff, 0x1b, 0x5f, 0x7f, 0xbf, 0xc0, 0xf7, 0x18, 0x9f])
    elif choice == 2:
        del data[pos:pos + rng.randint(1, 8)]
    elif choice == 3:
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    else:
        del data[pos:]
    return data


def mutated_images(seed: int = 0, count: int = 1000) -> Iterator[bytes]:
    rng = random.Random(seed)
    bases = base_images()
    for _ in range(count):
        yield mutate(rng.choice(bases), rng)
