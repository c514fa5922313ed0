#!/usr/bin/env python3
"""The crypto floor of one factory device, for N devices in J worker processes.

Per device exactly the cryptography a batch cannot avoid, through the same library
(cryptography's OpenSSL) and nothing else: PBKDF2-HMAC-SHA256 with the 80-byte output
SPAKE2+ needs (3 SHA-256 chains) at the given iteration count, a P-256 key pair (the DAC
key), one ECDSA-with-SHA256 signature over a DAC-sized TBS (the PAI signing the DAC) and
the verifier's point multiplication (L = w1 * G). No files, no encoding.

    python bench/floor.py --count 1000 --iterations 10000 --jobs 2

Prints one JSON line: count, iterations, jobs, wall and CPU seconds (user + system of the
process and its workers), devices/s, CPU per device in ms. bench_batch.py runs it as the
"floor" tool side by side with ours and esp.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _init(iterations: int) -> None:
    global _ITERATIONS, _SIGNER
    from cryptography.hazmat.primitives.asymmetric import ec

    _ITERATIONS = iterations
    _SIGNER = ec.generate_private_key(ec.SECP256R1())  # the PAI key


def device(index: int) -> int:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt = os.urandom(32)
    ws = PBKDF2HMAC(hashes.SHA256(), 80, salt, _ITERATIONS).derive(
        (20202021 + index).to_bytes(4, "little"))
    w1 = int.from_bytes(ws[40:], "big") % P256_ORDER
    ec.derive_private_key(w1, ec.SECP256R1()).public_key()  # L = w1 * G
    key = ec.generate_private_key(ec.SECP256R1())  # the DAC key
    tbs = salt * 12  # a DAC's TBS is ~380 bytes
    _SIGNER.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return len(key.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.jobs == 1:
        _init(args.iterations)
        for index in range(args.count):
            device(index)
    else:
        with multiprocessing.get_context("fork").Pool(
                args.jobs, _init, (args.iterations,)) as pool:
            for _ in pool.imap_unordered(device, range(args.count), chunksize=4):
                pass
    wall = time.perf_counter() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(json.dumps({"count": args.count, "iterations": args.iterations, "jobs": args.jobs,
                      "wall": wall, "cpu": cpu, "rate": args.count / wall,
                      "cpu_ms_per_device": cpu / args.count * 1000}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
