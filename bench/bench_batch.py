#!/usr/bin/env python3
"""Benchmark: `matter-factory-data batch` against esp-matter-mfg-tool, N devices, DAC + QR PNG each.

Both tools make N devices from the same test PAI (VID 0xFFF1, PID 0x8000): a DAC signed by the
PAI, passcode, discriminator, SPAKE2+ verifier at the given iteration count, a partition image
and a QR code PNG per device. For each (N, iterations) configuration the runs alternate (ours,
esp, ours, esp, ...), each a fresh process writing into a fresh output directory. Printed per
tool: best/median wall time and devices/s, CPU time, peak memory of the whole process tree
(sum of the RSS of the process and its descendants, sampled from /proc) and of the largest
single process; then the ratios ours/esp and ours/floor per configuration (the floor:
bench/floor.py, the cryptography of N devices and nothing else), ours' CPU per device beyond
the floor's, peak memory against N, and whether the targets of issue #17 are met (2-core
machines): <= 0.5 ms CPU per device beyond the floor, >= 85 % of the floor's devices/s at
10 000 iterations, >= 2000 devices/s at 1000, >= 5x esp at both, summed RSS < 80 MiB and
flat (within 5 %) in N.

esp-matter-mfg-tool is a benchmark-only dependency: it is installed into its own virtualenv
(bench/.venv-esp, from bench/requirements-bench.txt) on first use, never into the environment
that runs this script; --esp-tool points to an existing installation instead. Run this script
with the Python of the environment where matter-factory-data is installed (it makes the test
PAA/PAI with the package's own library). Outputs go to /dev/shm by default (creating a file
in /tmp costs 0.3-1.2 ms on these machines, more than a device's cryptography); --workdir DIR
measures a real file system instead. Each output directory is deleted after its count check.

    python bench/bench_batch.py --svg --verify      # N=1000 at 10000 and 1000 iterations, R=3
    python bench/bench_batch.py --memory-1m         # also the memory series at N=1000000
    python bench/bench_batch.py --counts 50 --repeat 1 --only esp
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-bench.txt"
ESP_VENV = HERE / ".venv-esp"
ESP_PACKAGE = "esp-matter-mfg-tool"
VENDOR_ID, PRODUCT_ID = 0xFFF1, 0x8000
DISCRIMINATORS = 4096  # beyond that our batch must be told that devices share them

# Targets of issue #17, for the 2-core machines of this project.
SPEED_TARGETS = {1000: 2000.0}  # iterations -> devices/s (ours, median)
FLOOR_SHARE_TARGETS = {10000: 0.85}  # iterations -> ours/floor devices/s (medians)
RATIO_TARGETS = {10000: 5.0, 1000: 5.0}  # iterations -> ours/esp devices/s (medians, same run)
OVERHEAD_TARGET_MS = 0.5  # CPU per device beyond the floor's
MEMORY_LIMIT_MIB = 80.0  # peak tree RSS of ours, at every N of the memory series
MEMORY_FLAT = 0.05  # the largest and smallest N of the series within 5 %
MEMORY_ITERATIONS = 1000  # the memory series runs at this iteration count
MEMORY_COUNTS = (10000,)
MEMORY_1M = 1000000
STARTUP_COUNT = 2  # N of the start-up runs (subtracted for the marginal per-device cost)

# Measure the tools as installed: pip writes byte-code caches at install time. With
# PYTHONDONTWRITEBYTECODE (set on these machines) every run would recompile every module.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


# --------------------------------------------------------------------------- the two tools


@dataclass(frozen=True)
class Creds:
    pai_cert: Path
    pai_key: Path


def ours_command() -> list[str]:
    """matter-factory-data of the environment running this script."""
    script = Path(sys.executable).with_name("matter-factory-data")
    if script.is_file():
        return [str(script)]
    found = shutil.which("matter-factory-data")
    return [found] if found else [sys.executable, "-m", "matter_factory_data"]


def ours_argv(tool: list[str], out: Path, count: int, iterations: int, creds: Creds,
              jobs: int, qr: str = "png") -> list[str]:
    """The one place that spells our batch command."""
    return tool + [
        "batch", "-o", str(out), "--count", str(count), "--defaults",
        "--vendor_id", f"0x{VENDOR_ID:04X}", "--product_id", f"0x{PRODUCT_ID:04X}",
        "--pai_cert", str(creds.pai_cert), "--pai_key", str(creds.pai_key),
        "--spake2_it", str(iterations), "--qr", qr, "--jobs", str(jobs)] + (
        ["--allow_shared_discriminators"] if count > DISCRIMINATORS else [])


def floor_argv(out: Path, count: int, iterations: int, creds: Creds, jobs: int) -> list[str]:
    """bench/floor.py: the cryptography of N devices and nothing else."""
    del out, creds
    return [sys.executable, str(HERE / "floor.py"), "--count", str(count), "--iterations",
            str(iterations), "--jobs", str(jobs)]


def esp_argv(tool: Path, out: Path, count: int, iterations: int, creds: Creds,
             jobs: int) -> list[str]:
    """esp-matter-mfg-tool: DAC from the PAI, NVS image and QR PNG per device (its defaults)."""
    del jobs  # single process; it has no option for parallelism
    return [str(tool), "--pai", "-c", str(creds.pai_cert), "-k", str(creds.pai_key),
            "--iteration-count", str(iterations), "-n", str(count),
            "-v", f"0x{VENDOR_ID:04X}", "-p", f"0x{PRODUCT_ID:04X}",
            "--log-level", "error", "--outdir", str(out)]


def count_files(top: Path, accept: Callable[[str], bool]) -> int:
    return sum(1 for _, _, names in os.walk(top) for name in names if accept(name))


def csv_rows(path: Path) -> int:
    with path.open(newline="") as stream:
        return max(sum(1 for _ in csv.reader(stream)) - 1, 0)


def ours_outputs(out: Path) -> dict[str, int]:
    """Our layout: OUT/manifest.csv (header + one row per device) and per device
    OUT/devices/NNNNNN/factory_data.bin and qr.png (counted in any sub-directory)."""
    manifest = out / "manifest.csv"
    return {"images": count_files(out, lambda n: n == "factory_data.bin"),
            "qr": count_files(out, lambda n: n.endswith((".png", ".svg"))),
            "manifest_rows": csv_rows(manifest) if manifest.is_file() else -1}


def manifest_only(out: Path) -> dict[str, int]:
    """Memory runs whose device directories are deleted as they are made: the manifest."""
    manifest = out / "manifest.csv"
    return {"manifest_rows": csv_rows(manifest) if manifest.is_file() else -1}


def esp_outputs(out: Path) -> dict[str, int]:
    """esp layout: OUT/fff1_8000/<uuid>/<uuid>-partition.bin, <uuid>-qrcode.png, and
    OUT/fff1_8000/summary-<date>.csv (header + one row per device)."""
    summaries = list(out.glob("*/summary-*.csv"))
    return {"images": count_files(out, lambda n: n.endswith("-partition.bin")),
            "qr_png": count_files(out, lambda n: n.endswith("-qrcode.png")),
            "manifest_rows": sum(csv_rows(s) for s in summaries) if summaries else -1}


@dataclass
class Tool:
    name: str
    argv: Callable[[Path, int, int, Creds, int], list[str]]
    outputs: Callable[[Path], dict[str, int]]
    version: str
    reap: bool = False  # delete finished device directories during the run (memory at 1M)


# --------------------------------------------------------------------------- esp installation


def esp_python(tool: Path) -> str | None:
    """The interpreter of a console script, from its shebang line."""
    try:
        first = tool.read_bytes().split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return None
    return first[2:].strip().split()[0] if first.startswith("#!") else None


def ensure_esp_venv(venv: Path) -> Path:
    """bench/.venv-esp with requirements-bench.txt installed; made or updated when needed."""
    tool = venv / "bin" / "esp-matter-mfg-tool"
    stamp = venv / "requirements-bench.installed"
    wanted = REQUIREMENTS.read_text()
    if tool.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return tool
    print(f"Installing {ESP_PACKAGE} into {venv} (benchmark only) ...", file=sys.stderr)
    if not (venv / "bin" / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=CHILD_ENV)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                   check=True, env=CHILD_ENV)
    if not tool.is_file():
        sys.exit(f"error: pip installed {REQUIREMENTS.name} but {tool} does not exist")
    stamp.write_text(wanted)
    return tool


def esp_version(tool: Path) -> str:
    python = esp_python(tool)
    if python is None:
        return "unknown"
    done = subprocess.run(
        [python, "-c", f"import importlib.metadata as m; print(m.version({ESP_PACKAGE!r}))"],
        capture_output=True, text=True, env=CHILD_ENV)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def esp_tool(args: argparse.Namespace) -> Tool:
    path = Path(args.esp_tool) if args.esp_tool else ensure_esp_venv(Path(args.esp_venv))
    if not os.access(path, os.X_OK):
        sys.exit(f"error: {path} is not an executable esp-matter-mfg-tool")
    return Tool("esp", lambda *a: esp_argv(path, *a), esp_outputs, esp_version(path))


def floor_tool() -> Tool:
    import cryptography

    return Tool("floor", floor_argv, lambda out: {}, f"cryptography {cryptography.__version__}")


def ours_tool() -> Tool | None:
    """Our tool, or None (with a message) while it has no `batch` command."""
    tool = ours_command()
    probe = subprocess.run(tool + ["batch", "--help"], capture_output=True, text=True,
                           env=CHILD_ENV)
    if probe.returncode != 0:
        print(f"NOTE: `{' '.join(tool)} batch` is not available (exit {probe.returncode}): "
              "measuring esp-matter-mfg-tool only; the targets are NOT checked.",
              file=sys.stderr)
        return None
    version = subprocess.run(tool + ["--version"], capture_output=True, text=True,
                             env=CHILD_ENV).stdout.strip().rsplit(" ", 1)[-1]
    return Tool("ours", lambda *a: ours_argv(tool, *a), ours_outputs, version or "unknown")


def ours_variants(ours: Tool) -> dict[str, Tool]:
    """ours with SVG QR codes; ours with no QR code and its device directories deleted as
    they are made (the memory series: 1,000,000 devices would need ~20 GB of tmpfs)."""
    tool = ours_command()
    return {"ours-svg": Tool("ours-svg", lambda *a: ours_argv(tool, *a, qr="svg"), ours_outputs,
                             ours.version),
            "ours-lean": Tool("ours-lean", lambda *a: ours_argv(tool, *a, qr="none"),
                              manifest_only, ours.version, reap=True)}


def make_creds(workdir: Path) -> Creds:
    """A test PAA and a PAI (VID 0xFFF1, no PID) made with our own library, as PEM."""
    try:
        from matter_factory_data.core import certs
    except ImportError:
        sys.exit("error: matter_factory_data is not importable; run this script with the Python "
                 "of the environment where it is installed (e.g. .venv/bin/python)")
    import datetime

    # Valid from before the manufacturing date batch --defaults uses (2022): a PAI valid from
    # "now" would make every DAC start after its device was made, which batch refuses.
    since = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    paa_key, pai_key = certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Bench PAA", vendor_id=VENDOR_ID,
                         not_before=since)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Bench PAI", vendor_id=VENDOR_ID, not_before=since)
    creds = Creds(workdir / "pai_cert.pem", workdir / "pai_key.pem")
    creds.pai_cert.write_bytes(certs.cert_pem(pai))
    creds.pai_key.write_bytes(certs.key_pem(pai_key))
    (workdir / "paa_cert.pem").write_bytes(certs.cert_pem(paa))
    return creds


# --------------------------------------------------------------------------- measurement


def _read(path: str) -> str | None:
    try:
        with open(path) as stream:
            return stream.read()
    except OSError:  # the process has gone
        return None


class TreeSampler(threading.Thread):
    """Peak memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop = threading.Event()
        self.parents: dict[int, int] = {}  # pid -> ppid, read once per pid
        self.peak_rss = self.peak_pss = self.peak_root = self.peak_procs = self.samples = 0

    def _parent(self, pid: int) -> int:
        if pid not in self.parents:
            stat = _read(f"/proc/{pid}/stat")
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            self.parents[pid] = int(stat.rsplit(")", 1)[1].split()[1]) if stat else -1
        return self.parents[pid]

    def tree(self) -> list[int]:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        members = {self.root}
        grew = True
        while grew:
            grew = False
            for pid in pids:
                if pid not in members and self._parent(pid) in members:
                    members.add(pid)
                    grew = True
        return sorted(members)

    def sample(self) -> None:
        rss = pss = procs = 0
        for pid in self.tree():
            statm = _read(f"/proc/{pid}/statm")
            if not statm:
                continue
            procs += 1
            rss += int(statm.split()[1]) * PAGE
            if pid == self.root:
                self.peak_root = max(self.peak_root, int(statm.split()[1]) * PAGE)
            rollup = _read(f"/proc/{pid}/smaps_rollup") or ""
            for line in rollup.splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                    break
        self.samples += 1
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, procs)

    def run(self) -> None:
        self.sample()
        while not self.stop.wait(self.interval):
            self.sample()


class Reaper(threading.Thread):
    """Deletes the finished device directories of a run while it runs (not the ones still
    under a temporary name), so that a 1,000,000-device memory run fits in tmpfs. Runs in
    this process: its CPU is not counted in the tool's."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.devices = out / "devices"
        self.stop = threading.Event()
        self.start()

    def sweep(self) -> None:
        try:
            names = os.listdir(self.devices)
        except OSError:
            return
        for name in names:
            if name.isdigit():
                shutil.rmtree(self.devices / name, ignore_errors=True)

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.sweep()

    def finish(self) -> None:
        self.stop.set()
        self.join()
        self.sweep()


def cpu_busy() -> tuple[float, float]:
    """Busy (not idle/iowait, not steal) and steal seconds of all CPUs since boot."""
    fields = [int(x) for x in (_read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


@dataclass
class Run:
    config: str
    tool: str
    count: int
    iterations: int
    index: int
    wall: float
    cpu: float
    peak_tree_rss: int
    peak_tree_pss: int
    max_proc_rss: int
    peak_main_rss: int  # the process started (our batch's main process, not its workers)
    peak_procs: int
    samples: int
    others_cores: float  # CPU used by other processes during the run, in cores
    steal_cores: float
    load_before: float
    outputs: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.wall


def run_once(tool: Tool, argv: list[str], out: Path, log: Path, sample_s: float) -> dict:
    """Run argv to completion; wall, CPU and memory of its process tree."""
    load = float((_read("/proc/loadavg") or "0").split()[0])
    busy0, steal0 = cpu_busy()
    with log.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=CHILD_ENV,
                                cwd=out.parent, start_new_session=True)
        sampler = TreeSampler(proc.pid, sample_s)
        sampler.start()
        reaper = Reaper(out) if tool.reap else None
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        sampler.join()
        if reaper is not None:
            reaper.finish()
    busy1, steal1 = cpu_busy()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        sys.exit(f"error: {tool.name} exited with status {proc.returncode}:\n  "
                 f"{' '.join(argv)}\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "peak_tree_rss": sampler.peak_rss,
            "peak_tree_pss": sampler.peak_pss, "max_proc_rss": usage.ru_maxrss * 1024,
            "peak_main_rss": sampler.peak_root,
            "peak_procs": sampler.peak_procs, "samples": sampler.samples,
            "others_cores": max(busy1 - busy0 - cpu, 0.0) / wall,
            "steal_cores": (steal1 - steal0) / wall, "load_before": load}


def check_outputs(tool: Tool, out: Path, count: int) -> dict[str, int]:
    found = tool.outputs(out)
    wrong = {k: v for k, v in found.items() if v != count}
    if wrong:
        sys.exit(f"error: {tool.name} was asked for {count} devices but produced {wrong} "
                 f"(expected {count} of each) in {out}")
    return found


VERIFY_RUNS: list = []  # verify DIR after each run of ours (--verify)


def measure(tool: Tool, work: Path, creds: Creds, count: int, iterations: int, index: int,
            args: argparse.Namespace) -> Run:
    out = work / f"{tool.name}-n{count}-it{iterations}-{index}"
    figures = run_once(tool, tool.argv(out, count, iterations, creds, args.jobs), out,
                       out.with_suffix(".log"), args.sample_ms / 1000)
    found = check_outputs(tool, out, count)
    run = Run(config=f"N={count} it={iterations}", tool=tool.name, count=count,
              iterations=iterations, index=index, outputs=found, **figures)
    if tool.name == "ours" and args.verify:  # verify DIR on what ours just made
        checked = run_once(tool, ours_command() + ["verify", str(out), "--jobs", str(args.jobs)],
                           out, out.with_suffix(".verify.log"), args.sample_ms / 1000)
        VERIFY_RUNS.append(Run(config=run.config, tool="verify", count=count,
                               iterations=iterations, index=index, **checked))
        print(f"  {run.config:18} verify #{index}: {checked['wall']:8.2f} s  "
              f"{count / checked['wall']:8.1f} dev/s  CPU {checked['cpu']:.2f} s",
              file=sys.stderr, flush=True)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    print(f"  {run.config:18} {tool.name:4} #{index}: {run.wall:8.2f} s  {run.rate:8.1f} dev/s  "
          f"tree RSS {run.peak_tree_rss / MIB:6.1f} MiB  others {run.others_cores:.2f} cores",
          file=sys.stderr, flush=True)
    return run


# --------------------------------------------------------------------------- report


def summarise(runs: list[Run]) -> dict:
    walls = [r.wall for r in runs]
    return {"runs": len(runs), "best_wall": min(walls), "median_wall": statistics.median(walls),
            "best_rate": max(r.rate for r in runs),
            "median_rate": statistics.median(r.rate for r in runs),
            "median_cpu": statistics.median(r.cpu for r in runs),
            "peak_tree_rss": max(r.peak_tree_rss for r in runs),
            "peak_tree_pss": max(r.peak_tree_pss for r in runs),
            "max_proc_rss": max(r.max_proc_rss for r in runs),
            "median_others": statistics.median(r.others_cores for r in runs),
            "median_steal": statistics.median(r.steal_cores for r in runs)}


def group(runs: list[Run]) -> dict[tuple[int, int], dict[str, list[Run]]]:
    grouped: dict[tuple[int, int], dict[str, list[Run]]] = {}
    for run in runs:
        grouped.setdefault((run.count, run.iterations), {}).setdefault(run.tool, []).append(run)
    return grouped


def print_table(grouped: dict[tuple[int, int], dict[str, list[Run]]]) -> None:
    print(f"{'config':18} {'tool':4} {'runs':>4} {'best wall':>10} {'med wall':>10} "
          f"{'best dev/s':>10} {'med dev/s':>10} {'med cpu':>9} {'tree RSS':>9} "
          f"{'tree PSS':>9} {'max proc':>9} {'others':>6}")
    for (count, iterations), tools in grouped.items():
        for name, runs in tools.items():
            s = summarise(runs)
            print(f"{f'N={count} it={iterations}':18} {name:4} {s['runs']:4} "
                  f"{s['best_wall']:8.2f} s {s['median_wall']:8.2f} s {s['best_rate']:10.1f} "
                  f"{s['median_rate']:10.1f} {s['median_cpu']:7.2f} s "
                  f"{s['peak_tree_rss'] / MIB:5.1f} MiB {s['peak_tree_pss'] / MIB:5.1f} MiB "
                  f"{s['max_proc_rss'] / MIB:5.1f} MiB {s['median_others']:6.2f}")
    print("(tree RSS/PSS: peak sum over the process and its descendants, sampled; max proc: "
          "largest single process, kernel high-water mark; others: CPU cores used by other "
          "processes during the run, median)")


def ratios(grouped: dict[tuple[int, int], dict[str, list[Run]]],
           startup: dict[str, float]) -> dict[str, dict]:
    """Per configuration: ours/esp and ours/floor devices/s (medians and bests), and ours'
    CPU per device beyond the floor's (whole runs, and without each tool's start-up)."""
    result = {}
    for (count, iterations), tools in grouped.items():
        if "ours" not in tools:
            continue
        ours = summarise(tools["ours"])
        entry: dict = {"iterations": iterations, "count": count}
        if "esp" in tools:
            esp = summarise(tools["esp"])
            entry.update(median=ours["median_rate"] / esp["median_rate"],
                         best=ours["best_rate"] / esp["best_rate"],
                         esp_cpu_ms=esp["median_cpu"] / count * 1000)
        if "floor" in tools:
            floor = summarise(tools["floor"])
            entry.update(
                floor_share=ours["median_rate"] / floor["median_rate"],
                floor_share_best=ours["best_rate"] / floor["best_rate"],
                floor_rate=floor["median_rate"],
                floor_cpu_ms=floor["median_cpu"] / count * 1000,
                ours_cpu_ms=ours["median_cpu"] / count * 1000,
                overhead_ms=(ours["median_cpu"] - floor["median_cpu"]) / count * 1000)
            if "ours" in startup and "floor" in startup:
                entry["marginal_overhead_ms"] = (
                    (ours["median_cpu"] - startup["ours"])
                    - (floor["median_cpu"] - startup["floor"])) / (count - STARTUP_COUNT) * 1000
        if "verify" in tools:
            checked = summarise(tools["verify"])
            entry.update(verify_rate=checked["median_rate"],
                         verify_cpu_ms=checked["median_cpu"] / count * 1000,
                         verify_to_batch_cpu=checked["median_cpu"] / ours["median_cpu"])
        if "ours-svg" in tools and "floor" in tools:
            svg = summarise(tools["ours-svg"])
            entry["svg_overhead_ms"] = (svg["median_cpu"] - summarise(tools["floor"])[
                "median_cpu"]) / count * 1000
            entry["svg_floor_share"] = svg["median_rate"] / summarise(tools["floor"])[
                "median_rate"]
        result[f"N={count} it={iterations}"] = entry
    for config, r in result.items():
        parts = []
        if "median" in r:
            parts.append(f"ours/esp median {r['median']:5.2f}x best {r['best']:5.2f}x")
        if "floor_share" in r:
            parts.append(f"ours/floor median {r['floor_share']:5.1%} best "
                         f"{r['floor_share_best']:5.1%}")
            parts.append(f"CPU/device ours {r['ours_cpu_ms']:.3f} floor {r['floor_cpu_ms']:.3f}"
                         f" beyond floor {r['overhead_ms']:.3f} ms")
        if "marginal_overhead_ms" in r:
            parts.append(f"without start-up {r['marginal_overhead_ms']:.3f} ms")
        if "verify_cpu_ms" in r:
            parts.append(f"verify DIR {r['verify_rate']:.0f} dev/s, CPU/device "
                         f"{r['verify_cpu_ms']:.3f} ms = {r['verify_to_batch_cpu']:.2f}x batch's")
        if "svg_overhead_ms" in r:
            parts.append(f"svg: beyond floor {r['svg_overhead_ms']:.3f} ms, ours-svg/floor "
                         f"{r['svg_floor_share']:5.1%}")
        print(f"{config:18} " + "; ".join(parts))
    return result


def memory_series(grouped: dict[tuple[int, int], dict[str, list[Run]]]) -> dict[int, int]:
    runs = {count: tools["ours-lean"] for (count, iterations), tools in sorted(grouped.items())
            if iterations == MEMORY_ITERATIONS and "ours-lean" in tools}
    series = {count: max(r.peak_tree_rss for r in rs) for count, rs in runs.items()}
    if series:
        print("ours (--qr none, device directories deleted as made), peak tree RSS against N "
              "(it=1000): " + ", ".join(
            f"N={n}: {series[n] / MIB:.1f} MiB (PSS {max(r.peak_tree_pss for r in rs) / MIB:.1f},"
            f" main process {max(r.peak_main_rss for r in rs) / MIB:.1f})"
            for n, rs in runs.items()))
        if len(series) > 1:
            (n0, m0), (n1, m1) = min(series.items()), max(series.items())
            print(f"  growth {(m1 - m0) / 1024 / ((n1 - n0) / 1000):+.1f} KiB per 1000 devices")
    return series


def check_targets(grouped: dict[tuple[int, int], dict[str, list[Run]]],
                  ratio: dict[str, dict], memory: dict[int, int], speed_counts: list[int]) -> bool:
    ok = True

    def verdict(what: str, value: float, target: float, met: bool, unit: str) -> None:
        nonlocal ok
        ok &= met
        print(f"target {what:44} {value:8.3f} {unit:6} (target {target:g}) "
              f"{'met' if met else 'MISSED'}")

    for (count, iterations), tools in grouped.items():
        if iterations in SPEED_TARGETS and "ours" in tools and count in speed_counts:
            rate = summarise(tools["ours"])["median_rate"]
            target = SPEED_TARGETS[iterations]
            verdict(f"ours N={count} it={iterations} median", rate, target, rate >= target,
                    "dev/s")
    for config, r in ratio.items():
        if "median" in r and r["iterations"] in RATIO_TARGETS:
            target = RATIO_TARGETS[r["iterations"]]
            verdict(f"ours/esp {config} median", r["median"], target, r["median"] >= target,
                    "x")
        if "floor_share" in r and r["iterations"] in FLOOR_SHARE_TARGETS:
            target = FLOOR_SHARE_TARGETS[r["iterations"]]
            verdict(f"ours/floor {config} median", r["floor_share"], target,
                    r["floor_share"] >= target, "")
        if "overhead_ms" in r:
            value = r.get("marginal_overhead_ms", r["overhead_ms"])
            verdict(f"CPU beyond floor {config}", value, OVERHEAD_TARGET_MS,
                    value <= OVERHEAD_TARGET_MS, "ms")
        if "svg_overhead_ms" in r:
            verdict(f"CPU beyond floor, svg, {config}", r["svg_overhead_ms"],
                    OVERHEAD_TARGET_MS, r["svg_overhead_ms"] <= OVERHEAD_TARGET_MS, "ms")
    for count, rss in memory.items():
        verdict(f"ours peak tree RSS N={count}", rss / MIB, MEMORY_LIMIT_MIB,
                rss / MIB < MEMORY_LIMIT_MIB, "MiB")
    if len(memory) > 1:
        low, high = min(memory.values()), max(memory.values())
        verdict("peak tree RSS, largest N / smallest N - 1", high / low - 1, MEMORY_FLAT,
                high / low - 1 <= MEMORY_FLAT, "")
    return ok


# --------------------------------------------------------------------------- main


def default_workdir() -> str | None:
    """tmpfs when there is one: creating a file in /tmp costs ~1 ms on these machines, more
    than the rest of a device's work; the system's temporary directory otherwise."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def file_create_us(directory: Path, files: int = 200) -> float:
    """Mean cost of creating and writing a small file in ``directory``, in microseconds."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=directory))
    try:
        start = time.perf_counter()
        for i in range(files):
            (probe / f"f{i}").write_bytes(b"x" * 1024)
        return (time.perf_counter() - start) / files * 1e6
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def pbkdf2_ms() -> float:
    """Machine speed now: hashlib PBKDF2-HMAC-SHA256 at 10 000 iterations, as esp uses it
    (6.91 ms per verifier in reference/peers-and-formats.md section 7), best of 3 x 10."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(10):
            hashlib.pbkdf2_hmac("sha256", b"\x15\xa3\x34\x01", b"S" * 32, 10000, 80)
        best = min(best, (time.perf_counter() - start) * 100)
    return best


def cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--counts", type=int_list, default=[1000],
                        help="device counts N of the speed runs, comma-separated (default 1000)")
    parser.add_argument("--iterations", type=int_list, default=[10000, 1000],
                        help="SPAKE2+ iteration counts, comma-separated (default 10000,1000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each tool per configuration, alternating (default 3)")
    parser.add_argument("--only", choices=("ours", "esp"),
                        help="run one tool only (ours: with the floor unless --no-floor)")
    parser.add_argument("--no-floor", action="store_true",
                        help="do not run the crypto floor (bench/floor.py) side by side")
    parser.add_argument("--verify", action="store_true",
                        help="run `verify DIR --jobs J` on each output of ours (tool 'verify')")
    parser.add_argument("--svg", action="store_true",
                        help="also run ours with SVG QR codes in the rotation")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes of our batch (default: all cores)")
    parser.add_argument("--memory-counts", type=int_list, default=list(MEMORY_COUNTS),
                        help="N of the memory series, ours with --qr none and its device "
                             "directories deleted as made, at 1000 iterations (default "
                             "10000; empty to skip)")
    parser.add_argument("--memory-1m", action="store_true",
                        help=f"add N={MEMORY_1M} to the memory series (10-20 minutes)")
    parser.add_argument("--esp-tool", metavar="PATH",
                        help="an installed esp-matter-mfg-tool executable (default: bench/"
                             ".venv-esp, made from requirements-bench.txt on first use)")
    parser.add_argument("--esp-venv", default=str(ESP_VENV), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", metavar="DIR", default=default_workdir(),
                        help="parent of the temporary output directories (default: /dev/shm, "
                             "so that the figures measure the tools rather than the disk)")
    parser.add_argument("--keep", action="store_true", help="keep the output directories")
    parser.add_argument("--json", metavar="FILE", help="save the raw results as JSON")
    parser.add_argument("--sample-ms", type=float, default=25.0,
                        help="memory sampling interval (default 25 ms)")
    args = parser.parse_args()
    if args.repeat < 1 or args.jobs < 1 or not args.iterations:
        parser.error("--repeat and --jobs must be >= 1 and --iterations not empty")
    if args.memory_1m:
        args.memory_counts.append(MEMORY_1M)
    return args


def plan(args: argparse.Namespace, tools: dict[str, Tool]) -> list[tuple[str, int, int, int]]:
    """(tool, N, iterations, index) in run order: alternating within each configuration."""
    order = []
    for count in args.counts:
        for iterations in args.iterations:
            for index in range(args.repeat):
                order += [(name, count, iterations, index)
                          for name in ("ours", "ours-svg", "esp", "floor") if name in tools]
    if "ours-lean" in tools:
        for count in args.memory_counts:
            order.append(("ours-lean", count, MEMORY_ITERATIONS, 0))
    return order


def startup_cpu(tools: dict[str, Tool], work: Path, creds: Creds, args) -> dict[str, float]:
    """Median CPU of ours and the floor making STARTUP_COUNT devices: their start-up."""
    result = {}
    for name in ("ours", "floor"):
        if name in tools:
            cpus = []
            for index in range(3):
                out = work / f"startup-{name}-{index}"
                cpus.append(run_once(tools[name], tools[name].argv(
                    out, STARTUP_COUNT, MEMORY_ITERATIONS, creds, args.jobs), out,
                    out.with_suffix(".log"), 0.05)["cpu"])
                shutil.rmtree(out, ignore_errors=True)
            result[name] = statistics.median(cpus)
    if result:
        print("start-up CPU (N=2): " + ", ".join(f"{k} {v * 1000:.0f} ms"
                                                 for k, v in result.items()), flush=True)
    return result


def main() -> int:
    args = parse_args()
    tools: dict[str, Tool] = {}
    if args.only != "esp":
        ours = ours_tool()
        if ours is not None:
            tools["ours"] = ours
            variants = ours_variants(ours)
            if args.svg:
                tools["ours-svg"] = variants["ours-svg"]
            if args.memory_counts:
                tools["ours-lean"] = variants["ours-lean"]
        elif args.only == "ours":
            return 1
    if args.only != "ours":
        tools["esp"] = esp_tool(args)
    if not args.no_floor and args.only != "esp":
        tools["floor"] = floor_tool()
    load = (_read("/proc/loadavg") or "?").split()[:3]
    print(f"CPU: {cpu_model()}", flush=True)
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{' '.join(load)}, PBKDF2 10000 it {pbkdf2_ms():.2f} ms; "
          + ", ".join(f"{t.name} {t.version}" for t in tools.values()), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=args.workdir))
    print(f"outputs in {work.parent} ({file_create_us(work):.0f} us per small file created)",
          flush=True)
    try:
        creds = make_creds(work)
        for tool in tools.values():  # warm-up: page cache, byte-code; not recorded
            run_once(tool, tool.argv(work / f"warm-{tool.name}", 2, 1000, creds, args.jobs),
                     work / f"warm-{tool.name}", work / f"warm-{tool.name}.log", 0.05)
        startup = startup_cpu(tools, work, creds, args)
        runs = [measure(tools[name], work, creds, count, iterations, index, args)
                for name, count, iterations, index in plan(args, tools)]
    finally:
        if args.keep:
            print(f"outputs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    grouped = group(runs + VERIFY_RUNS)
    print_table(grouped)
    ratio = ratios(grouped, startup)
    memory = memory_series(grouped)
    ok = check_targets(grouped, ratio, memory, args.counts) if "ours" in tools else False
    if "ours" not in tools:
        print("targets NOT checked: our batch was not measured")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "python": platform.python_version(), "cores": os.cpu_count(),
            "versions": {t.name: t.version for t in tools.values()},
            "argv": {t.name: t.argv(Path("OUT"), 0, 0, creds, args.jobs) for t in tools.values()},
            "cpu": cpu_model(), "startup_cpu": startup,
            "runs": [asdict(r) | {"rate": r.rate} for r in runs], "ratios": ratio,
            "memory": memory, "targets_met": ok}, indent=2))
    return 0 if ok or args.only == "esp" else 1


if __name__ == "__main__":
    sys.exit(main())
