#!/usr/bin/env python3
"""Differential check of our strict lint against the REAL device parser.

The device parser (connectedhomeip's FactoryDataParser.c with zcbor, built for the host) is
not part of this repository; point this script at a build of it that prints one JSON line
per image (``PARSER [--pad-to N] IMAGE`` -> ``{"ok": ..., "<field>": ...}``, the interface
of the harness described in bench/README.md). For each mutated image (tests/mutations.py):

* the device's verdict: rejected, or accepted with its fields (integers, byte spans);
* ours: ``show``'s reading (formats/nrf_cbor.read_image + lint_image), ERROR or not.

An image is a **disagreement** when our lint has no ERROR but the device rejects it or reads
a field differently from our reading. That must never happen ("as strict as the device,
never less"). Images we flag although the device reads them as we do are counted as
*stricter*, by the first error's kind.

    python bench/differential.py --parser /path/to/devparse --count 20000 [--pad-to 4096]
        [--canonical-parser /path/to/devparse-canonical] [--seed 1] [--jobs 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "west_ext"))

INT_FIELDS = ("version", "vendor_id", "product_id", "hw_ver", "spake2_it", "discriminator",
              "passcode", "product_finish", "primary_color")
SPANS = {"sn": "sn", "vendor_name": "vendor_name", "product_name": "product_name",
         "part_number": "part_number", "product_url": "product_url",
         "product_label": "product_label", "hw_ver_str": "hw_ver_str", "sw_ver_str": "sw_ver_str",
         "rd_uid": "rd_uid", "dac_cert": "dac_cert", "dac_key": "dac_priv_key",
         "pai_cert": "pai_cert", "spake2_salt": "spake2_salt",
         "spake2_verifier": "spake2_verifier", "enable_key": "enable_key"}
INT_BITS = {"version": 16, "vendor_id": 16, "product_id": 16, "hw_ver": 16,
            "discriminator": 16, "spake2_it": 32, "passcode": 32, "product_finish": 8,
            "primary_color": 8}


def device(parser: str, image: bytes, pad_to) -> dict:
    argv = [parser] + (["--pad-to", str(pad_to)] if pad_to else []) + ["-"]
    out = subprocess.run(argv, input=image, capture_output=True)
    if out.returncode < 0:  # the parser crashed (a signal): the device would not read it
        return {"ok": False, "crashed": -out.returncode}
    if out.returncode != 0:
        raise RuntimeError(f"{parser} failed: {out.stderr.decode(errors='replace')}")
    return json.loads(out.stdout)


def ours(image: bytes, partition_size):
    """(has_error, first error or None, our reading as {field: value} or None)."""
    from matter_factory_data.errors import InputError
    from matter_factory_data.formats import nrf_cbor

    try:
        reading = nrf_cbor.read_image(image, "image")
    except InputError as exc:
        return True, str(exc), None
    problems = nrf_cbor.lint_image(reading, partition_size=partition_size)
    errors = [p for p in problems if p.severity == nrf_cbor.ERROR]
    view = {}
    for entry in reading.entries:
        if isinstance(entry.key, str) and entry.key in INT_FIELDS + tuple(SPANS) + ("date", "user"):
            scan = entry.value_scan
            view[entry.key] = (entry.value, image[scan.node.offset:scan.end])
    return bool(errors), (str(errors[0]) if errors else None), view


def same_reading(dev: dict, view: dict) -> list:
    """Fields the device reads differently from our reading (empty: the same)."""
    diffs = []
    for field in INT_FIELDS:
        mine = view.get(field, (None,))[0]
        expected = mine if isinstance(mine, int) and not isinstance(mine, bool) else 0
        if field in view and not isinstance(mine, int) or dev.get(field, 0) != expected:
            diffs.append(field)
    for field, dev_name in SPANS.items():
        if dev_name not in dev and field == "sw_ver_str":
            continue  # a parser without sw_ver_str skips the key
        mine = view.get(field, (None,))[0]
        theirs = dev.get(dev_name)
        if (theirs is None) != (mine is None) or \
                (mine is not None
                 and (not isinstance(mine, bytes) or bytes.fromhex(theirs) != mine)):
            diffs.append(field)
    date = view.get("date", (None,))[0]
    if isinstance(date, bytes) and re.fullmatch(rb"\d{4}-\d{2}-\d{2}", date):
        y, m, d = int(date[:4]), int(date[5:7]), int(date[8:])
        if (dev.get("date_year"), dev.get("date_month"), dev.get("date_day")) != (y, m, d):
            diffs.append("date")
    elif date is not None or dev.get("date_year"):
        diffs.append("date")
    raw_user = view.get("user", (None, None))[1]
    if (dev.get("user") is None) != (raw_user is None) or \
            (raw_user is not None and bytes.fromhex(dev["user"]) != raw_user):
        diffs.append("user")
    return diffs


def kind_of(message: str) -> str:
    """A short class of a first error, for the report."""
    rules = [("CANONICAL", "canonical builds only (non-minimal head, indefinite map/array)"),
             ("8-byte argument", "8-byte integer/length (the 32-bit device rejects it; the "
                                 "64-bit host harness does not)"),
             ("mandatory key is missing", "mandatory key missing"),
             ("appears twice", "duplicate key"),
             ("reads this key as", "key aliases a known key"),
             ("not a text string: the device stops", "key not a plain text string (the "
                                                     "device stops reading there)"),
             ("cut off or malformed", "map cut short or malformed (the device reads the "
                                      "entries before it)"),
             ("after the map", "entry count smaller than the entries"),
             ("control character", "control character in a text value"),
             ("unknown key", "unknown key"), ("is not valid UTF-8", "invalid UTF-8 text"),
             ("out of range", "value out of range"), ("long (accepted", "length out of range"),
             ("not a real calendar date", "calendar date"), ("forbidden", "forbidden passcode"),
             ("the verifier", "verifier not a curve point"), ("version", "version != 1"),
             ("user", "user data"), ("chunked", "chunked string")]
    for fragment, label in rules:
        if fragment in message:
            return label
    return re.sub(r"\d+", "N", message)[:70]


def check(args) -> dict:
    image, parser, canonical, pad_to, partition_size = args
    has_error, first, view = ours(image, partition_size)
    result = {"has_error": has_error, "first": first}
    for name, binary in (("default", parser), ("canonical", canonical)):
        if not binary:
            continue
        dev = device(binary, image, pad_to)
        diffs = None if not dev["ok"] or view is None else same_reading(dev, view)
        if dev.get("crashed"):
            verdict = f"crashes(signal {dev['crashed']})"
        elif not dev["ok"]:
            verdict = "rejects"
        elif diffs:
            verdict = "misreads " + ",".join(diffs)
        else:
            verdict = "reads the same"
        result[name] = verdict
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parser", default=os.environ.get("MFD_DEVPARSE"), required=False)
    ap.add_argument("--canonical-parser", default=None)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pad-to", type=lambda x: int(x, 0), default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", type=int, default=5, help="disagreements to print in full")
    args = ap.parse_args(argv)
    if not args.parser:
        ap.error("give --parser or set MFD_DEVPARSE")
    from mutations import mutated_images

    started = time.time()
    partition_size = args.pad_to
    work = ((image, args.parser, args.canonical_parser, args.pad_to, partition_size)
            for image in mutated_images(args.seed, args.count))
    totals: dict = collections.Counter()
    stricter: dict = {"default": collections.Counter(), "canonical": collections.Counter()}
    disagreements = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for index, result in enumerate(pool.map(check, work, chunksize=64)):
            for name in ("default", "canonical"):
                verdict = result.get(name)
                if verdict is None:
                    continue
                totals[(name, result["has_error"], verdict.split(" ")[0])] += 1
                if not result["has_error"] and verdict != "reads the same":
                    disagreements.append((index, name, verdict))
                if result["has_error"] and verdict == "reads the same":
                    stricter[name][kind_of(result["first"])] += 1
    elapsed = time.time() - started
    print(f"{args.count} mutated images (seed {args.seed}, pad_to {args.pad_to}), "
          f"{elapsed:.0f} s")
    for name in ("default", "canonical"):
        rows = {k: v for k, v in totals.items() if k[0] == name}
        if not rows:
            continue
        print(f"\n[{name} parser]")
        for (_, flagged, verdict), n in sorted(rows.items()):
            print(f"  ours {'ERROR' if flagged else 'clean'} / device {verdict:8}: {n}")
        print("  flagged by us, read the same by the device (stricter), by first error:")
        for kind, n in stricter[name].most_common():
            print(f"    {n:6}  {kind}")
    print(f"\ndisagreements (our lint clean, device rejects or misreads): {len(disagreements)}")
    images = list(mutated_images(args.seed, args.count)) if disagreements else []
    for index, name, verdict in disagreements[:args.show]:
        print(f"  #{index} [{name}] {verdict}: {images[index].hex()}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
