"""The format registry and the interface every on-flash format implements."""

import ast
import inspect
from pathlib import Path

import pytest

from matter_factory_data.errors import InputError
from matter_factory_data.formats import FORMATS, get_format
from matter_factory_data.formats.base import ERROR, ImageFormat

PACKAGE = Path(__file__).resolve().parents[1] / "west_ext" / "matter_factory_data"
#: The interface: every public method of ImageFormat.
INTERFACE = sorted(name for name, member in inspect.getmembers(ImageFormat, inspect.isfunction)
                   if not name.startswith("_"))


def methods_called_on_formats() -> dict:
    """``{method: [module:line, ...]}`` for every ``fmt.method(...)`` call in the package (the
    commands hold the format they got from get_format in a variable named ``fmt``)."""
    called: dict = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "fmt":
                where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                called.setdefault(node.func.attr, []).append(where)
    return called


def test_the_commands_call_only_methods_of_the_interface():
    called = methods_called_on_formats()
    outside = {m: w for m, w in called.items() if m not in INTERFACE}
    assert not outside, f"format methods called but not in ImageFormat: {outside}"
    # the scan sees the commands' calls (a scan that finds nothing would pass anything)
    assert {"decode", "encode", "lint", "from_json", "model_values"} <= set(called)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_registered_format_implements_the_whole_interface(name):
    fmt = get_format(name)
    assert isinstance(fmt, ImageFormat) and fmt.name == name
    assert sorted({"decode", "encode", "from_json", "json_from_values", "json_text",
                                "lint", "model_values", "to_json"}) == INTERFACE
    for method in INTERFACE:
        assert getattr(type(fmt), method) is not getattr(ImageFormat, method), method


VALUES = {  # typed model values of one device, as generate hands them to a format
    "sn": "SN-1", "vendor_id": 0xFFF1, "product_id": 0x8006, "vendor_name": "Acme",
    "product_name": "Lamp", "hw_ver": 1, "hw_ver_str": "1.0", "spake2_it": 1000,
    "spake2_salt": b"S" * 16, "spake2_verifier": b"\x04" * 97, "discriminator": 0xF00,
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_method_works_through_the_interface(name):
    """json_from_values -> json_text -> from_json -> encode -> decode -> to_json / lint /
    model_values: the path generate, batch, show and verify take, for every format."""
    import json

    fmt = get_format(name)
    values = dict(VALUES, date="2026-01-02") if name == "nrf-cbor" else dict(VALUES)
    obj = fmt.json_from_values(values)
    text = fmt.json_text(obj)
    assert json.loads(text) == obj
    image = fmt.encode(fmt.from_json(obj, "values"))
    decoded = fmt.decode(image, "values")
    assert fmt.to_json(decoded) == obj
    model = fmt.model_values(decoded)
    for key in ("vendor_id", "product_id", "discriminator", "spake2_it"):
        assert model[key] == values[key], key
    assert bytes(model["spake2_salt"]) == values["spake2_salt"]
    problems = fmt.lint(decoded)
    assert all(hasattr(p, "severity") and hasattr(p, "message") for p in problems)


def test_nrf_cbor_round_trip_through_the_interface(golden):
    import json

    fmt = get_format("nrf-cbor")
    obj = json.loads((golden / "factory_data.json").read_text())
    image = fmt.encode(fmt.from_json(obj, "golden"))
    assert image == (golden / "factory_data.bin").read_bytes()
    decoded = fmt.decode(image, "golden")
    assert fmt.to_json(decoded) == obj
    assert not [p for p in fmt.lint(decoded, partition_size=0x1000) if p.severity == ERROR]


def test_an_unknown_format_is_refused_with_the_accepted_ones():
    with pytest.raises(InputError, match=r"--format: 'esp-nvs' is not accepted \(accepted: "):
        get_format("esp-nvs")
