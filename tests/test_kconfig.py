"""The module's Kconfig: parses cleanly, keeps the reference's names/types/defaults, one menu."""

import base64

import kconfiglib
import pytest
from conftest import REPO_ROOT

from matter_factory_data.jobs.commands import DEVELOPMENT_DEFAULTS


@pytest.fixture
def kconf(monkeypatch):
    monkeypatch.setenv("srctree", str(REPO_ROOT))
    kconf = kconfiglib.Kconfig(str(REPO_ROOT / "kconfig" / "Kconfig"), warn_to_stderr=False)
    return kconf


def test_parses_without_warnings(kconf):
    assert kconf.warnings == []


# (symbol, type, default) from connectedhomeip's Kconfig (shared/reference/nrf-connect.md §11)
REFERENCE = [
    ("CHIP_FACTORY_DATA_BUILD", kconfiglib.BOOL, "n"),
    ("CHIP_FACTORY_DATA_VERSION", kconfiglib.INT, "1"),
    ("CHIP_DEVICE_VENDOR_ID", kconfiglib.INT, "65521"),
    ("CHIP_DEVICE_PRODUCT_ID", kconfiglib.INT, "32768"),
    ("CHIP_DEVICE_VENDOR_NAME", kconfiglib.STRING, "Nordic Semiconductor ASA"),
    ("CHIP_DEVICE_PRODUCT_NAME", kconfiglib.STRING, "not-specified"),
    ("CHIP_DEVICE_HARDWARE_VERSION", kconfiglib.INT, "0"),
    ("CHIP_DEVICE_HARDWARE_VERSION_STRING", kconfiglib.STRING, "prerelease"),
    ("CHIP_DEVICE_MANUFACTURING_DATE", kconfiglib.STRING, "2022-01-01"),
    ("CHIP_DEVICE_SERIAL_NUMBER", kconfiglib.STRING, "11223344556677889900"),
    ("CHIP_DEVICE_DISCRIMINATOR", kconfiglib.HEX, "0xF00"),
    ("CHIP_DEVICE_SPAKE2_PASSCODE", kconfiglib.INT, "20202021"),
    ("CHIP_DEVICE_SPAKE2_IT", kconfiglib.INT, "1000"),
    ("CHIP_DEVICE_SPAKE2_SALT", kconfiglib.STRING, "U1BBS0UyUCBLZXkgU2FsdA=="),
    ("CHIP_DEVICE_ENABLE_KEY", kconfiglib.STRING, "00112233445566778899AABBCCDDEEFF"),
    ("CHIP_DEVICE_PRODUCT_FINISH", kconfiglib.STRING, "other"),
    ("CHIP_ROTATING_DEVICE_ID", kconfiglib.BOOL, "n"),
]


@pytest.mark.parametrize("name, kind, default", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_reference_symbols(kconf, name, kind, default):
    sym = kconf.syms[name]
    assert sym.type == kind
    assert sym.str_value == default


def test_build_options_appear_with_factory_data_build(kconf):
    assert kconf.syms["CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE"].str_value == "n"
    kconf.syms["CHIP_FACTORY_DATA_BUILD"].set_value("y")
    assert kconf.syms["CHIP_FACTORY_DATA"].str_value == "y"
    for name in ("CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE",
                 "CHIP_FACTORY_DATA_GENERATE_ONBOARDING_CODES",
                 "CHIP_FACTORY_DATA_GENERATE_SPAKE2_VERIFIER",
                 "CHIP_FACTORY_DATA_USE_DEFAULT_CERTS",
                 "CHIP_FACTORY_DATA_WRITE_PROTECT"):
        assert kconf.syms[name].str_value == "y", name
    assert kconf.syms["CHIP_FACTORY_DATA_GENERATE_CD"].str_value == "n"
    assert kconf.syms["CHIP_FACTORY_DATA_ROTATING_DEVICE_UID_MAX_LEN"].str_value == "16"


def test_ranges_refuse_out_of_range_values(kconf):
    passcode = kconf.syms["CHIP_DEVICE_SPAKE2_PASSCODE"]
    passcode.set_value("123456789")
    assert passcode.str_value == "20202021"  # kconfiglib ignores a value outside the range
    discriminator = kconf.syms["CHIP_DEVICE_DISCRIMINATOR"]
    discriminator.set_value("0x1000")
    assert discriminator.str_value == "0xF00"


def test_every_symbol_is_in_one_menu(kconf):
    menus = [node for node in kconf.node_iter() if node.item == kconfiglib.MENU]
    assert [m.prompt[0] for m in menus] == ["Matter factory data"]
    for sym in kconf.unique_defined_syms:
        assert _inside(sym.nodes[0], menus[0]), sym.name


def _inside(node, menu):
    while node is not None:
        if node is menu:
            return True
        node = node.parent
    return False


def test_every_prompted_symbol_has_help(kconf):
    for sym in kconf.unique_defined_syms:
        node = sym.nodes[0]
        if node.prompt and sym.name not in ("CHIP_DEVICE_HARDWARE_VERSION",
                                            "CHIP_DEVICE_SPAKE2_IT"):
            assert node.help, f"{sym.name} has no help text"


def test_kconfig_defaults_equal_the_cli_development_defaults(kconf):
    syms = kconf.syms
    assert int(syms["CHIP_DEVICE_VENDOR_ID"].str_value) == DEVELOPMENT_DEFAULTS["vendor_id"]
    assert int(syms["CHIP_DEVICE_PRODUCT_ID"].str_value) == DEVELOPMENT_DEFAULTS["product_id"]
    assert syms["CHIP_DEVICE_SERIAL_NUMBER"].str_value == DEVELOPMENT_DEFAULTS["sn"]
    assert int(syms["CHIP_DEVICE_DISCRIMINATOR"].str_value, 16) == \
        DEVELOPMENT_DEFAULTS["discriminator"]
    assert int(syms["CHIP_DEVICE_SPAKE2_PASSCODE"].str_value) == DEVELOPMENT_DEFAULTS["passcode"]
    assert base64.b64decode(syms["CHIP_DEVICE_SPAKE2_SALT"].str_value) == \
        DEVELOPMENT_DEFAULTS["spake2_salt"]
    assert syms["CHIP_DEVICE_ENABLE_KEY"].str_value == DEVELOPMENT_DEFAULTS["enable_key"]
    assert syms["CHIP_DEVICE_MANUFACTURING_DATE"].str_value == DEVELOPMENT_DEFAULTS["date"]


def test_default_test_verifier_belongs_to_the_default_passcode(kconf):
    from matter_factory_data.core.spake2p import compute_verifier

    syms = kconf.syms
    verifier = base64.b64decode(syms["CHIP_DEVICE_SPAKE2_TEST_VERIFIER"].str_value)
    assert verifier == compute_verifier(int(syms["CHIP_DEVICE_SPAKE2_PASSCODE"].str_value),
                                        base64.b64decode(syms["CHIP_DEVICE_SPAKE2_SALT"].str_value),
                                        int(syms["CHIP_DEVICE_SPAKE2_IT"].str_value))


def test_build_step_defaults_and_ranges_equal_the_kconfig(kconf):
    """build_step keeps its own table of defaults and ranges; it must not drift from Kconfig."""
    from matter_factory_data.zephyr.build_step import RANGES, SYMBOLS

    for symbol, (_, default, kind) in SYMBOLS.items():
        sym = kconf.syms[symbol[len("CONFIG_"):]]
        if kind == "bool":
            assert sym.type == kconfiglib.BOOL, symbol
            continue
        declared = next((str(d[0].str_value) for d in sym.defaults), "")
        if kind == "hex":
            assert int(declared, 16) == int(default, 16), symbol
        else:
            assert declared == default, symbol
    for symbol, (low, high) in RANGES.items():
        sym = kconf.syms[symbol[len("CONFIG_"):]]
        (low_node, high_node, *_), = sym.ranges
        assert (int(low_node.str_value, 0), int(high_node.str_value, 0)) == (low, high), symbol
