"""`west factory-data` loaded by west itself from a temporary workspace, run in-process."""

import subprocess
import sys

import pytest
from conftest import REPO_ROOT, golden_args


@pytest.fixture
def workspace(west_workspace):
    return west_workspace


def test_west_lists_the_extension(workspace, west):
    code, out, _ = west("help")
    assert code == 0
    assert "factory-data" in out


def test_west_generate_reproduces_golden(workspace, west, golden):
    code, out, err = west("factory-data", "generate",
                          *golden_args(golden, workspace / "out" / "fd"))
    assert code == 0, err
    assert (workspace / "out" / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()
    assert "image:" in out


def test_west_reports_bad_input_as_one_error_line(workspace, west, golden):
    args = golden_args(golden, workspace / "out" / "fd")
    args[args.index("--discriminator") + 1] = "5000"
    code, out, err = west("factory-data", "generate", *args)
    assert code == 2
    assert "discriminator 5000 is out of range (accepted: 0..4095)" in err
    assert "Traceback" not in err
    assert not (workspace / "out").exists()


def test_west_generate_under_the_profiles(workspace, west, golden):
    """The documented example: a warning naming the rule under the default profile (exit 0),
    refused under --profile production (exit 2, nothing written)."""
    code, _, err = west("factory-data", "generate", *golden_args(golden, workspace / "dev" / "fd"))
    assert code == 0 and "rule 'dac-valid-at-manufacturing-date'" in err, err
    code, _, err = west("factory-data", "generate", *golden_args(golden, workspace / "prod" / "fd"),
                        "--profile", "production")
    assert code == 2 and "refused by --profile=production" in err, err
    assert not (workspace / "prod").exists()


def test_west_show_and_codes(workspace, west, golden):
    code, out, _ = west("factory-data", "show", golden / "factory_data.bin", "--json",
                          "--show-secrets")
    assert code == 0 and out.strip() == (golden / "factory_data.json").read_text()
    code, out, _ = west("factory-data", "codes", "--vendor_id", "0xFFF1", "--product_id", "0x8006",
                        "--discriminator", "0xF00", "--passcode", "20202021")
    assert code == 0 and "MT:8IXS142C00KA0648G00" in out


def test_shim_imports_without_installation():
    """The shim named in west-commands.yml works from a bare checkout: here the package's
    editable install (a .pth hook) is invisible, only west's site-packages are on the path."""
    import sysconfig

    site_packages = sysconfig.get_paths()["purelib"]
    code = ("import importlib.util, sys\n"
            f"sys.path.append({site_packages!r})\n"
            "assert importlib.util.find_spec('matter_factory_data') is None\n"
            f"spec = importlib.util.spec_from_file_location('shim', {str(REPO_ROOT)!r} + "
            "'/west_ext/factory_data_cmd.py')\n"
            "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
            "print(mod.FactoryData().name)")
    run = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "factory-data", run.stderr


def test_west_batch_json_keeps_stdout_for_the_events(workspace, west):
    import json

    code, out, err = west("factory-data", "batch", "-o", workspace / "lot", "--count", "2",
                          "--defaults", "--spake2_it", "1000", "--qr", "none", "--json")
    assert code == 0, err
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert events.count("device_claimed") == 2
    assert "made 2 devices" in err  # west's info line went to stderr
