"""Errors name the input they are about, and each front end says it in its own words:
``--vendor_name`` on the command line, ``CONFIG_CHIP_DEVICE_VENDOR_NAME="..."`` in a build,
``--fields FILE: key 'vendor_id'`` for a JSON file of batch values."""

import json

import pytest
from test_build_dir_commands import DOTCONFIG, make_build, step_argv

from matter_factory_data.errors import InputError, Message, PartitionError, Subject

LONG_NAME = "V" * 33


def one_error_line(result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    return lines[0]


# --- the objects ------------------------------------------------------------------------

def test_a_subject_is_rendered_by_the_vocabulary_given():
    error = InputError.at(Subject("vendor_id"), "70000 is out of range {not a field}")
    assert str(error) == "--vendor_id: 70000 is out of range {not a field}"
    assert error.subjects == ("vendor_id",)
    assert error.render(lambda n: f"CONFIG_{n.upper()}") == \
        "CONFIG_VENDOR_ID: 70000 is out of range {not a field}"


def test_an_attached_vocabulary_is_what_str_gives():
    error = PartitionError.naming("{0} and {1} go together", "offset", "size")
    assert str(error) == "--offset and --size go together"
    error.in_vocabulary(lambda n: n.upper())
    assert str(error) == "OFFSET and SIZE go together"


def test_plain_text_is_kept_verbatim():
    assert str(InputError("a {brace} and --an option")) == "a {brace} and --an option"
    assert Message.at("--input x.json", "key 'y': bad").render() == "--input x.json: key 'y': bad"


# --- the command line -------------------------------------------------------------------

def test_cli_names_the_option(cli, tmp_path):
    result = cli("generate", "--defaults", "--vendor_name", LONG_NAME, "-o", tmp_path / "fd")
    assert result.code == 2
    assert one_error_line(result) == \
        "error: --vendor_name: vendor name is 33 bytes long (accepted: 1..32 bytes)"


# --- the build step ---------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    (f'CONFIG_CHIP_DEVICE_VENDOR_NAME="{LONG_NAME}"',
     f'CONFIG_CHIP_DEVICE_VENDOR_NAME="{LONG_NAME}": vendor name is 33 bytes long '
     "(accepted: 1..32 bytes)"),
    ('CONFIG_CHIP_DEVICE_MANUFACTURING_DATE="2022-02-30"',
     'CONFIG_CHIP_DEVICE_MANUFACTURING_DATE="2022-02-30": \'2022-02-30\' is not a real '
     "calendar date"),
    ('CONFIG_CHIP_DEVICE_PRODUCT_FINISH="shiny"',
     'CONFIG_CHIP_DEVICE_PRODUCT_FINISH="shiny": \'shiny\' is not accepted'),
    ('CONFIG_CHIP_DEVICE_ENABLE_KEY="0011"',
     'CONFIG_CHIP_DEVICE_ENABLE_KEY="0011": test event trigger enable key is 2 bytes long'),
])
def test_build_step_names_the_kconfig_symbol(cli, tmp_path, line, expected):
    _, app = make_build(tmp_path / "build", config=DOTCONFIG + line + "\n")
    result = cli("build-step", *step_argv(app))
    assert result.code == 2, result
    message = one_error_line(result)
    assert message.startswith("error: " + expected), message
    assert "--" not in message.split(":")[0]


def test_build_step_names_the_layout_source_when_the_data_does_not_fit():
    from matter_factory_data.formats import nrf_cbor
    from matter_factory_data.jobs.pipeline import checked_image
    from matter_factory_data.zephyr.build_step import Kconfig, kconfig_vocabulary
    from matter_factory_data.zephyr.partition_sources import Source

    device_map = nrf_cbor.json_to_device_map({"version": 1, "sn": "X" * 32}, "test")
    with pytest.raises(PartitionError) as caught:
        checked_image(device_map, (0xFB000, 16))
    assert "(--size 0x10)" in str(caught.value)
    source = Source("app/pm_static.yml", 0xFB000, 16, None)
    rendered = caught.value.render(kconfig_vocabulary(Kconfig({}), source))
    assert "(app/pm_static.yml 0x10)" in rendered and "--size" not in rendered, rendered


# --- batch: --fields and options ----------------------------------------------------------

def test_batch_names_the_json_key_of_fields(cli, tmp_path):
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({"vendor_id": 70000, "vendor_name": "Acme"}))
    out = tmp_path / "lot"
    result = cli("batch", "--defaults", "-o", out, "--count", "2", "--fields", fields)
    assert result.code == 2, result
    assert one_error_line(result) == (
        f"error: --fields {fields}: key 'vendor_id': vendor ID 70000 is out of range "
        "(accepted: 0..65524)")
    assert not out.exists()


def test_batch_option_wins_over_fields_and_is_named_as_option(cli, tmp_path):
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({"vendor_name": "Acme"}))
    result = cli("batch", "--defaults", "-o", tmp_path / "lot", "--count", "2",
                 "--fields", fields, "--vendor_name", LONG_NAME)
    assert result.code == 2
    assert one_error_line(result).startswith("error: --vendor_name: vendor name is 33 bytes")


def test_calendar_dates_agree_with_datetime():
    """core.validate checks dates without importing datetime; it must agree with it."""
    import datetime

    from matter_factory_data.core.validate import is_calendar_date

    for year in (1, 4, 1900, 2000, 2023, 2024, 2100, 9999):
        for month in range(0, 14):
            for day in range(0, 33):
                try:
                    datetime.date(year, month, day)
                    expected = True
                except ValueError:
                    expected = False
                assert is_calendar_date(year, month, day) == expected, (year, month, day)
    assert not is_calendar_date(0, 1, 1) and not is_calendar_date(10000, 1, 1)


@pytest.mark.parametrize("value, expected", [
    ("123456789", "error: CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE: out of range (accepted: "
                  "1..99999998); fix it in prj.conf"),
    ("12x", "error: CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE: not an integer; fix it in prj.conf"),
])
def test_build_step_names_the_passcode_symbol_without_its_value(cli, tmp_path, value, expected):
    """The passcode is a secret: a build step message names its symbol, never its value."""
    _, app = make_build(tmp_path / "build",
                        config=DOTCONFIG + f"CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE={value}\n")
    result = cli("build-step", *step_argv(app))
    assert result.code == 2, result
    assert one_error_line(result) == expected
    assert value not in result.err + result.out
