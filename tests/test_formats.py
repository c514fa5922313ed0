"""The format registry and the interface every on-flash format implements."""

import pytest

from matter_factory_data.errors import InputError
from matter_factory_data.formats import FORMATS, get_format
from matter_factory_data.formats.base import ERROR, ImageFormat


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_registered_format_implements_the_interface(name):
    fmt = get_format(name)
    assert isinstance(fmt, ImageFormat) and fmt.name == name
    for method in ("from_json", "to_json", "encode", "decode", "lint"):
        assert getattr(type(fmt), method) is not getattr(ImageFormat, method), method


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
