"""Option spelling and parsing compatible with the reference scripts (argparse prefixes,
int(x, 0))."""

import argparse

import pytest

from matter_factory_data.cli import app as cli

# The long options of the reference generator (nrf-connect.md §1).
REFERENCE_GENERATE = [
    "schema", "output", "verbose", "include_passcode", "overwrite", "sn", "vendor_id",
    "product_id", "vendor_name", "product_name", "date", "hw_ver", "hw_ver_str", "spake2_it",
    "spake2_salt", "discriminator", "product_url", "product_label", "part_number",
    "chip_cert_path", "gen_certs", "dac_cert", "pai_cert", "dac_key", "dac_key_password",
    "generate_rd_uid", "rd_uid", "enable_key", "passcode", "spake2_verifier", "user", "gen_cd",
    "cd_type", "paa_cert", "paa_key", "generate_onboarding", "product_finish", "product_color",
    "offset", "size",
]


def resolution(options, prefix):
    """What argparse does with ``--prefix`` given these long options (exact match wins)."""
    if prefix in options:
        return prefix
    matches = [o for o in options if o.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def our_generate_options():
    parser = cli.Parser(prog="x")
    cli.add_generate_arguments(parser)
    return [s[2:] for a in parser._actions for s in a.option_strings if s.startswith("--")]


def test_every_reference_option_exists():
    assert set(REFERENCE_GENERATE) <= set(our_generate_options())


def parser_resolution(parser, prefix):
    """What our parser makes of ``--prefix`` (None: an error, e.g. ambiguous)."""
    try:
        resolved = parser.resolve_long_options([f"--{prefix}"])
    except SystemExit:
        return None
    return resolved[0][2:]


@pytest.mark.parametrize("separator", ["_", "-"])
def test_every_reference_prefix_resolves_as_in_the_reference(separator, capsys):
    """Our extra options must not make any prefix ambiguous that worked with the reference,
    in either spelling of the separator; prefixes ambiguous there stay ambiguous."""
    parser = cli.Parser(prog="x")
    cli.add_generate_arguments(parser)
    for option in REFERENCE_GENERATE:
        for length in range(1, len(option) + 1):
            prefix = option[:length]
            expected = resolution(REFERENCE_GENERATE, prefix)
            if expected is not None:
                assert parser_resolution(parser, prefix.replace("_", separator)) == expected, \
                    prefix
            elif not any(o.startswith(prefix) and o != prefix for o in our_generate_options()
                         if o not in REFERENCE_GENERATE):
                assert parser_resolution(parser, prefix.replace("_", separator)) is None, prefix


@pytest.mark.parametrize("prefix, dest", [("--out", "output"), ("--disc", "discriminator"),
                                          ("--include", "include_passcode"),
                                          ("--spake2_v", "spake2_verifier"),
                                          ("--generate_o", "generate_onboarding")])
def test_prefix_abbreviations_parse(prefix, dest):
    parser = cli.build_parser()
    value = {"output": "x", "discriminator": "5", "spake2_verifier": "AAAA"}.get(dest)
    args = parser.parse_args(["generate", prefix] + ([value] if value else []))
    assert getattr(args, dest) not in (None, False)


@pytest.mark.parametrize("text, value", [("0x10", 16), ("0o10", 8), ("0b10", 2), ("10", 10),
                                         ("1_000", 1000), ("-1", -1)])
def test_any_int_is_int_x_0(text, value):
    assert cli.any_int(text) == value


@pytest.mark.parametrize("text", ["010", "0x", "ten", ""])
def test_any_int_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli.any_int(text)


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.code == 0
    for name in ("generate", "partition", "show", "verify", "codes"):
        assert name in result.out


def test_help_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = ("import sys; from matter_factory_data.cli import main\n"
            "try: main(['generate', '--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('cryptography', 'cbor2', 'intelhex', 'qrcode', 'jsonschema', "
            "'west', 'yaml') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in run.stderr, run.stderr


@pytest.fixture
def cli_run(request):
    return request.getfixturevalue("cli")


def test_only_the_chosen_command_parser_is_built_but_all_are_listed(cli_run):
    parser = cli_module().build_parser(["codes"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == ["codes"]
    everything = cli_module().build_parser([])
    sub = next(a for a in everything._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(cli_module().COMMANDS)
    result = cli_run("generat")  # a typo still gets the list of commands
    assert result.code == 2 and "invalid choice: 'generat'" in result.err and "codes" in result.err


def cli_module():
    return cli
