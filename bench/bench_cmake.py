#!/usr/bin/env python3
"""Benchmark: the Zephyr module's CMake in the stand-in project (tests/cmake_standin).

Measures, as the median of N fresh build directories:
  * configure time of the stand-in without the module (-DWITH_MODULE=OFF) and with it
    (the difference is the module's cost, mostly the `build-step --check-only` process),
    wall clock and CPU (user + system of cmake and every process it waited for); target:
    at most 60 ms CPU over a configure without the module;
  * the first build (factory data generation + merged.hex);
  * a no-op rebuild: time of `ninja`, and whether it ran anything (target: zero work).

    python bench/bench_cmake.py [--runs 5]

Python's byte-code caches: the figures are for the default (caches next to the sources, so
PYTHONDONTWRITEBYTECODE is removed from the environment of the runs). With
PYTHONDONTWRITEBYTECODE set, the module puts them in the build directory instead; the last
line gives that case: a reconfigure of one build directory (the first configure of a fresh
directory compiles the package once).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDIN = HERE.parent / "tests" / "cmake_standin"
PM_STATIC = HERE.parent / "tests" / "data" / "layout" / "nrf52840_pm_static.yml"
CONFIG = """\
CONFIG_SOC="nrf52840"
CONFIG_CHIP_FACTORY_DATA=y
CONFIG_CHIP_FACTORY_DATA_BUILD=y
CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE=y
CONFIG_CHIP_FACTORY_DATA_GENERATE_ONBOARDING_CODES=y
CONFIG_CHIP_ROTATING_DEVICE_ID=y
CONFIG_CHIP_DEVICE_GENERATE_ROTATING_DEVICE_UID=y
"""


CPU_TARGET_MS = 60.0
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MAKEFLAGS")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed(cmd: list[str]) -> tuple[float, str, float]:
    """Wall ms, output, CPU ms (the command and all its waited-for descendants)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    elapsed = (time.perf_counter() - start) * 1000
    cpu = _children_cpu() - cpu
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr, cpu


def one_run(root: Path, with_module: bool) -> dict:
    app, build = root / "app", root / "build"
    app.mkdir()
    shutil.copy(PM_STATIC, app / "pm_static.yml")
    (build / "zephyr").mkdir(parents=True)
    (build / "zephyr" / ".config").write_text(CONFIG)
    configure, _, configure_cpu = timed(["cmake", "-G", "Ninja", "-S", str(STANDIN),
                          "-B", str(build),
                          f"-DAPP_DIR={app}", f"-DPYTHON_EXECUTABLE={sys.executable}",
                          f"-DWITH_MODULE={'ON' if with_module else 'OFF'}",
                          "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000"])
    first, _, _ = timed(["ninja", "-C", str(build)])
    noop, out, _ = timed(["ninja", "-C", str(build)])
    return {"configure": configure, "configure_cpu": configure_cpu, "build": first,
            "noop": noop, "noop_work": "no work to do" not in out}


def dont_write_reconfigure() -> float:
    """CPU of a second configure of one build directory with PYTHONDONTWRITEBYTECODE=1."""
    global ENV
    saved, ENV = ENV, dict(ENV, PYTHONDONTWRITEBYTECODE="1")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            one_run(root, True)
            build, app = root / "build", root / "app"
            times = [timed(["cmake", "-S", str(STANDIN), "-B", str(build), "--fresh",
                            f"-DAPP_DIR={app}", f"-DPYTHON_EXECUTABLE={sys.executable}",
                            "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000"])[2]
                     for _ in range(3)]
        return statistics.median(times)
    finally:
        ENV = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (shutil.which("cmake") and shutil.which("ninja")):
        sys.exit("cmake and ninja are needed")
    results: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.runs):
        for with_module in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                results[with_module].append(one_run(Path(tmp), with_module))
    keys = ("configure", "configure_cpu", "build", "noop")
    med = {m: {k: statistics.median(r[k] for r in rs) for k in keys}
           for m, rs in results.items()}
    print(f"runs: {args.runs} (median, ms)")
    print(f"configure without module: {med[False]['configure']:7.1f} wall "
          f"{med[False]['configure_cpu']:7.1f} CPU")
    print(f"configure with module:    {med[True]['configure']:7.1f} wall "
          f"{med[True]['configure_cpu']:7.1f} CPU")
    cpu = med[True]['configure_cpu'] - med[False]['configure_cpu']
    print(f"module's configure cost:  {med[True]['configure'] - med[False]['configure']:7.1f} "
          f"wall {cpu:7.1f} CPU (target <= {CPU_TARGET_MS:.0f} ms CPU: "
          f"{'met' if cpu <= CPU_TARGET_MS else 'MISSED'})")
    print(f"first build with module:  {med[True]['build']:7.1f}")
    print(f"no-op rebuild:            {med[True]['noop']:7.1f}")
    work = any(r["noop_work"] for r in results[True])
    again = dont_write_reconfigure()
    print(f"PYTHONDONTWRITEBYTECODE=1, reconfigure: {again:7.1f} CPU, module's cost "
          f"{again - med[False]['configure_cpu']:.1f} (caches in the build directory)")
    print(f"no-op rebuild ran work:   {'YES (target missed)' if work else 'no (target met)'}")
    return 1 if work or cpu > CPU_TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
