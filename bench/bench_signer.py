#!/usr/bin/env python3
"""Benchmark: `batch` with the PAI key in a file against the same key in a SoftHSM2 token.

Side by side in one run, alternating fresh processes (file, token, file, token, ...): N
devices at the given SPAKE2+ iterations, `--qr none`, outputs in /dev/shm. Printed: median
wall time and devices/s per configuration, and the ratio token/file. Also the raw signing
rate of the token in one process (what signing every DAC in the parent would be capped at).

    python bench/bench_signer.py                   # N=1000, 1000 iterations, 5 runs each, jobs 2
    python bench/bench_signer.py --count 200 --repeat 1

Needs softhsm2 (apt-get install softhsm2) and python-pkcs11 (pip install -e '.[hsm]').
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from cryptography import x509
    from softhsm import PIN, Token

    from matter_factory_data.core import certs

    base = Path(tempfile.mkdtemp(prefix="bench-signer-", dir="/dev/shm"
                                 if os.path.isdir("/dev/shm") else None))
    try:
        token = Token(base / "hsm")
        since = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        paa_key, pai_key = certs.new_key(), certs.new_key()
        paa = certs.make_paa(key=paa_key, common_name="Bench PAA", not_before=since)
        pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                             common_name="Bench PAI", vendor_id=0xFFF1, not_before=since)
        (base / "pai.der").write_bytes(certs.cert_der(pai))
        (base / "pai_key.der").write_bytes(certs.key_der(pai_key))
        token.import_key(pai_key, "pai-key")
        keys = {"file": str(base / "pai_key.der"), "token": token.uri("pai-key")}
        times: dict = {name: [] for name in keys}
        for run in range(args.repeat):
            for name, key in keys.items():
                out = base / f"{name}-{run}"
                argv = [sys.executable, "-m", "matter_factory_data", "batch", "-o", str(out),
                        "--count", str(args.count), "--jobs", str(args.jobs), "--defaults",
                        "--spake2_it", str(args.iterations), "--qr", "none", "--vendor_id",
                        "0xFFF1", "--product_id", "0x8000", "--pai_cert", str(base / "pai.der"),
                        "--pai_key", key]
                started = time.perf_counter()
                done = subprocess.run(argv, env=token.env, capture_output=True, text=True)
                elapsed = time.perf_counter() - started
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    return 1
                rows = (out / "manifest.csv").read_text().count("\n") - 1
                assert rows == args.count, rows
                if name == "token":  # every DAC verifies against the PAI
                    from matter_factory_data.formats import nrf_cbor

                    first = next((out / "devices").iterdir())
                    data = nrf_cbor.decode_image(next(first.glob("*.bin")).read_bytes())
                    x509.load_der_x509_certificate(bytes(data["dac_cert"])) \
                        .verify_directly_issued_by(pai)
                times[name].append(elapsed)
                shutil.rmtree(out)
        print(f"load average {os.getloadavg()[0]:.2f}; N={args.count}, "
              f"{args.iterations} iterations, --jobs {args.jobs}, {args.repeat} runs each")
        medians = {}
        for name, values in times.items():
            medians[name] = statistics.median(values)
            print(f"  {name:5}: median {medians[name]:.2f} s = "
                  f"{args.count / medians[name]:.0f} devices/s (best "
                  f"{args.count / min(values):.0f})")
        print(f"  ratio token/file devices/s: {medians['file'] / medians['token']:.2f}")

        os.environ["SOFTHSM2_CONF"] = str(token.conf)
        os.environ["MFD_PKCS11_PIN"] = PIN
        from matter_factory_data.jobs.pkcs11_signer import open_token_signer

        signer = open_token_signer(token.uri("pai-key", pin=False), "bench", pai)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2.0:
            signer.sign(b"x" * 300)
            count += 1
        print(f"  token signing in one process: {count / (time.perf_counter() - started):.0f} "
              "signatures/s")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
