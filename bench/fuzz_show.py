#!/usr/bin/env python3
"""Long fuzz run of the image decoder and ``show``: N mutated images (tests/mutations.py,
plus some random byte strings), each through ``show``'s command body exactly as the CLI
runs it (summary, then --json --strict with secrets), and every N-th through ``verify``'s
checks.

The only expected exception is an InputError (one line: the file is not CBOR at all);
anything else is an *unexpected exception* and is reported with the image (hex).

    python bench/fuzz_show.py --count 1000000 --jobs 2 [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "west_ext"))


def run_slice(task):
    """Fuzz ``count`` images from ``seed``; (outcomes, unexpected [(repr, hex)])."""
    seed, count, directory, verify_every = task
    from mutations import base_images, mutate

    from matter_factory_data.errors import FactoryDataError, InputError
    from matter_factory_data.formats import images
    from matter_factory_data.jobs.show import ShowRequest, show_command
    from matter_factory_data.jobs.verification import Expectations, verify
    from matter_factory_data.ui import UI

    rng = random.Random(seed)
    bases = base_images()
    path = os.path.join(directory, f"fuzz-{seed}.bin")
    outcomes: collections.Counter = collections.Counter()
    unexpected = []
    for number in range(count):
        outcomes["images"] += 1
        if rng.random() < 0.05:
            image = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        else:
            image = mutate(rng.choice(bases), rng)
        with open(path, "wb") as stream:
            stream.write(image)
        _compare_lint_canonical(image, outcomes, unexpected)
        try:
            ui = UI(out=io.StringIO(), err=io.StringIO())
            codes = (show_command(ShowRequest(file=path, size=0x1000), ui),
                     show_command(ShowRequest(file=path, json=True, strict=True,
                                              show_secrets=True), ui))
            outcomes[f"show: exit {codes[0]} (summary), {codes[1]} (--json --strict)"] += 1
        except InputError as exc:
            outcomes["show: InputError, one line" if "\n" not in str(exc)
                     else "show: InputError over several lines"] += 1
        except Exception as exc:  # noqa: BLE001  (what this run looks for)
            outcomes["UNEXPECTED in show: " + type(exc).__name__] += 1
            if len(unexpected) < 5:
                unexpected.append((repr(exc), image.hex()))
        if number % verify_every:
            continue
        try:
            loaded = images.load(path)
            checks = verify(loaded.device_map, Expectations(), reading=loaded.reading)
            outcomes["verify: " + ("passes" if all(c.ok for c in checks) else "fails")] += 1
        except InputError as exc:
            outcomes["verify: InputError, one line" if "\n" not in str(exc)
                     else "verify: InputError over several lines"] += 1
        except FactoryDataError as exc:  # expected types, but show should not raise them
            outcomes[type(exc).__name__] += 1
        except Exception as exc:  # noqa: BLE001  (what this run looks for)
            outcomes["UNEXPECTED in verify: " + type(exc).__name__] += 1
            if len(unexpected) < 5:
                unexpected.append((repr(exc), image.hex()))
    os.unlink(path)
    return outcomes, unexpected


def _compare_lint_canonical(image: bytes, outcomes, unexpected: list) -> None:
    """verify DIR's shortcut (nrf_cbor.lint_canonical) against the item-level reading."""
    from matter_factory_data.errors import InputError
    from matter_factory_data.formats import nrf_cbor

    fast = nrf_cbor.lint_canonical(image)
    if fast is None:
        return
    try:
        reading = nrf_cbor.read_image(image, "image")
        same = (fast[0] == nrf_cbor.map_of_reading(reading, "image")
                and fast[1] == nrf_cbor.lint_image(reading))
    except InputError:
        same = False
    outcomes["lint_canonical: " + ("same as the item-level reading" if same else
                                   "UNEXPECTED difference")] += 1
    if not same and len(unexpected) < 5:
        unexpected.append(("lint_canonical differs", image.hex()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slice", type=int, default=5000, help="images per task")
    ap.add_argument("--verify-every", type=int, default=10,
                    help="also run verify's checks on every N-th image (they sign and verify)")
    args = ap.parse_args(argv)
    started = time.time()
    tasks, left, index = [], args.count, 0
    directory = tempfile.mkdtemp(prefix="mfd-fuzz-")
    while left > 0:
        tasks.append((args.seed * 1_000_003 + index, min(args.slice, left), directory,
                      args.verify_every))
        left -= args.slice
        index += 1
    totals: collections.Counter = collections.Counter()
    unexpected = []
    done = 0
    with ProcessPoolExecutor(args.jobs) as pool:
        for outcomes, bad in pool.map(run_slice, tasks):
            totals.update(outcomes)
            unexpected += bad
            done += outcomes["images"]
            print(f"\r{done} images, {time.time() - started:.0f} s", end="", file=sys.stderr)
    os.rmdir(directory)
    elapsed = time.time() - started
    print(file=sys.stderr)
    print(f"{done} images (seed {args.seed}) in {elapsed:.0f} s "
          f"({done / max(elapsed, 1e-9):.0f} images/s, {args.jobs} processes)")
    for outcome, n in sorted(totals.items()):
        print(f"  {outcome:32} {n}")
    flagged = sum(n for k, n in totals.items() if "UNEXPECTED" in k)
    print(f"unexpected exceptions: {flagged}")
    for text, image in unexpected[:10]:
        print(f"  {text}: {image}")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
