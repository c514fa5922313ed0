"""The ``generate`` and ``partition`` jobs: validate everything, compute every output, write
nothing.

The result carries an :class:`~matter_factory_data.outputs.OutputSet`; the front end
commits it. So a bad input never leaves a file behind.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..core import validate
from ..core.model import COLOR_ALIASES, FACTORY_DATA_VERSION, PRODUCT_COLORS, PRODUCT_FINISHES
from ..errors import OPT, InputError, Message, PartitionError, Subject
from ..typed import Request

if TYPE_CHECKING:
    from ..core.profile import ProfilePolicy
    from ..files.outputs import OutputSet


class GenerateRequest(Request):
    """The inputs of ``generate``, typed (ints parsed, base64 decoded), None when not given."""

    output: Optional[str] = None
    sn: Optional[str] = None
    vendor_id: Optional[int] = None
    product_id: Optional[int] = None
    vendor_name: Optional[str] = None
    product_name: Optional[str] = None
    date: Optional[str] = None
    hw_ver: Optional[int] = None
    hw_ver_str: Optional[str] = None
    sw_ver_str: Optional[str] = None
    spake2_it: Optional[int] = None
    spake2_salt: Optional[bytes] = None
    discriminator: Optional[int] = None
    passcode: Optional[int] = None
    spake2_verifier: Optional[bytes] = None
    product_url: Optional[str] = None
    product_label: Optional[str] = None
    part_number: Optional[str] = None
    dac_cert: Optional[str] = None
    dac_key: Optional[str] = None
    pai_cert: Optional[str] = None
    dac_key_password: Optional[str] = None
    chip_cert_path: Optional[str] = None
    gen_certs: bool = False
    paa_cert: Optional[str] = None
    paa_key: Optional[str] = None
    gen_cd: bool = False
    cd_type: int = 1
    cert_declaration_cert: Optional[str] = None
    cert_declaration_key: Optional[str] = None
    rd_uid: Optional[str] = None
    generate_rd_uid: bool = False
    enable_key: Optional[str] = None
    user: Optional[str] = None
    include_passcode: bool = False
    overwrite: bool = False
    schema: Optional[str] = None
    product_finish: Optional[str] = None
    product_color: Optional[str] = None
    offset: Optional[int] = None
    size: Optional[int] = None
    generate_onboarding: bool = False
    allow_nonconformant_certs: bool = False  # the development profile's explicit spelling
    profile: str = "development"  # core.profile: development (warnings) or production
    discovery: Optional[str] = None  # names or a number; None: BLE, the reference's
    format: str = "nrf-cbor"  # formats.FORMATS; stm32-tlv: see jobs/stm32.py
    board: Optional[str] = None  # stm32-tlv: formats/stm32_boards.py
    certification_declaration: Optional[str] = None  # stm32-tlv: CD (DER) for tag 1
    dac_key_in_secure_storage: bool = False  # stm32-tlv: the key is in CKS, not in tag 5


class GenerateResult:
    """Everything ``generate`` computed; nothing is written until ``outputs.commit()``."""

    def __init__(self, outputs: OutputSet) -> None:
        self.outputs = outputs
        self.factory_data: dict = {}  # the JSON form
        self.image: Optional[bytes] = None
        self.setup_payload: Any = None
        self.warnings: list[Message] = []  # rendered by the front end
        self.summary: list[tuple[str, str]] = []


def output_prefix(output: str) -> str:
    """``-o`` is a prefix; a trailing ``.json`` is stripped (also for the overwrite check).
    Spelt as pathlib would (:func:`~..files.outputs.path_text`), without importing it."""
    from ..files.outputs import path_text

    return path_text(output[:-5] if output.endswith(".json") else output)


#: The warning of --include_passcode (every format).
PASSCODE_STORED = Message("the passcode is stored in the factory data next to the verifier; the "
                          "Matter specification (5.1.7) forbids this in production")


def generate(req: GenerateRequest, *, token_bytes: Callable[[int], bytes] = os.urandom
             ) -> GenerateResult:
    """Validate ``req`` and compute every output of ``generate``."""
    from ..files.outputs import OutputSet, parent_text
    from ..formats import nrf_cbor

    assert req.output is not None  # generate_command refuses a missing -o first
    prefix = output_prefix(req.output)
    outputs = OutputSet(overwrite=req.overwrite)
    result = GenerateResult(outputs)
    identity, partition, user, enable_key, setup = _checked_inputs(req)
    verifier = _verifier(req)
    rd_uid = _rd_uid(req, token_bytes)
    if req.chip_cert_path:
        result.warnings.append(Message("{0} is not needed: certificates are made in-process",
                                       ("chip_cert_path",)))
    attestation = _attestation(req, parent_text(prefix), outputs, identity["date"], result.warnings)
    data = _factory_data_json(req, identity, attestation, verifier, rd_uid, enable_key, user)
    result.factory_data = data
    if req.schema:
        check_schema(data, req.schema)
    device_map = nrf_cbor.json_to_device_map(data, "generated data")
    _self_check(device_map, partition, result)
    outputs.add(f"{prefix}.json", nrf_cbor.json_text(data).encode("ascii"),
                secret=True, what="factory data JSON")
    if partition is not None:
        result.image = _image_outputs(device_map, partition, prefix, outputs)
    if setup is not None:
        _onboarding_outputs(setup, prefix, outputs)
        result.setup_payload = setup
    cd = _cd_output(req, identity, parent_text(prefix), outputs) if req.gen_cd else None
    if req.include_passcode:
        result.warnings.append(PASSCODE_STORED)
    result.warnings += production_rules(req, identity["vendor_id"], attestation, enable_key,
                                        cd)
    result.summary = _summary(identity, partition, result.image, rd_uid)
    outputs.check()
    return result


# --- scalar inputs -----------------------------------------------------------

_REQUIRED_OPTIONS = ("sn", "vendor_id", "product_id", "vendor_name", "product_name", "date",
                     "hw_ver", "hw_ver_str", "spake2_it", "spake2_salt", "discriminator")


def _identity(req: GenerateRequest) -> dict:
    """The plain identity values, checked against the device limits."""
    missing = [name for name in _REQUIRED_OPTIONS if getattr(req, name) is None]
    if missing:
        raise InputError.naming("missing required option(s): "
                                + ", ".join(f"{{{i}}}" for i in range(len(missing))), *missing)
    identity = {name: getattr(req, name) for name in _REQUIRED_OPTIONS}
    identity["date"] = validate.normalize_date(req.date, Subject("date"))  # type: ignore[arg-type]
    for name in ("product_url", "product_label", "part_number", "sw_ver_str"):
        if getattr(req, name) not in (None, ""):  # empty: left out, as the reference does
            identity[name] = getattr(req, name)
    for name, value in identity.items():
        validate.require(name, value, Subject(name))
    identity["product_finish"] = enum_value(req.product_finish, PRODUCT_FINISHES, {},
                                            Subject("product_finish"))
    identity["primary_color"] = enum_value(req.product_color, PRODUCT_COLORS, COLOR_ALIASES,
                                           Subject("product_color"))
    return identity


def enum_value(value: Optional[str], table: dict, aliases: dict, option: str | Subject
               ) -> Optional[int]:
    if value is None:
        return None
    name = aliases.get(value.lower(), value.lower())
    if name not in table:
        raise InputError.at(option, f"{value!r} is not accepted (accepted: {', '.join(table)})")
    return table[name]


def partition_of(req: GenerateRequest) -> Optional[tuple[int, int]]:
    if req.offset is None and req.size is None:
        return None
    if req.offset is None or req.size is None:
        raise InputError.naming("{0} and {1} go together: give both to write .hex and .bin",
                                "offset", "size")
    return validate.require_partition(req.offset, req.size)


def user_data(text: Optional[str]) -> Optional[dict]:
    if text is None:
        return None
    from ..files.inputs import parse_json

    value = parse_json(text, Subject("user"))
    if not isinstance(value, dict):
        raise InputError.at(Subject("user"), "must be a JSON object such as "
                            f"'{{\"key\": \"value\"}}', got a {type(value).__name__}")
    return value


def _verifier(req: GenerateRequest) -> bytes:
    """The given verifier (checked against the passcode when both are given) or a derived one."""
    from ..core import spake2p

    if req.passcode is not None:
        validate.require("passcode", req.passcode, Subject("passcode"))
    if req.spake2_verifier is None:
        if req.passcode is None:
            raise InputError.naming("give {0} (to derive the SPAKE2+ verifier) or {1}",
                                    "passcode", "spake2_verifier")
        return spake2p.compute_verifier(req.passcode, req.spake2_salt, req.spake2_it)  # type: ignore[arg-type]
    problem = spake2p.verifier_problem(req.spake2_verifier)
    if problem:
        raise InputError.at(Subject("spake2_verifier"), f"the verifier {problem}")
    if req.passcode is not None:
        spake2p.check_verifier_matches(req.spake2_verifier, req.passcode, req.spake2_salt,  # type: ignore[arg-type]
                                       req.spake2_it, Subject("spake2_verifier"))  # type: ignore[arg-type]
    return req.spake2_verifier


def sized_hex(text: Optional[str], key: str, option: str | Subject) -> Optional[bytes]:
    if text is None or text == "":
        return None
    value = validate.parse_hex(text, option)
    validate.require(key, value, option)
    return value


def _rd_uid(req: GenerateRequest, token_bytes: Callable[[int], bytes]) -> Optional[bytes]:
    if req.rd_uid:
        return sized_hex(req.rd_uid, "rd_uid", Subject("rd_uid"))
    return token_bytes(16) if req.generate_rd_uid else None


def _hex_as_given(value: Optional[bytes], text: Optional[str]) -> Optional[str]:
    """The reference stores ``"hex:" + <option text>`` verbatim (case kept)."""
    if value is None:
        return None
    given = text[4:] if text and text.startswith("hex:") else text
    return "hex:" + (given if given else value.hex())


def discovery_of(text: Optional[str], where: str = "discovery") -> int:
    """``--discovery``: names or a number, as the 8-bit discovery capabilities bitmask; the
    reserved bits 6-7 are refused (core.onboarding.parse_discovery)."""
    from ..core.onboarding import DISCOVERY_DEFAULT, parse_discovery

    if text is None:
        return DISCOVERY_DEFAULT
    mask, problem = parse_discovery(text)
    if problem:
        raise InputError.at(Subject(where), problem)
    return mask  # type: ignore[return-value]


def _setup_payload(req: GenerateRequest, discovery: int):
    from ..core.onboarding import SetupPayload, validate_payload

    if req.passcode is None:
        raise InputError.naming("{0} needs {1}: the codes carry the passcode",
                                "generate_onboarding", "passcode")
    payload = SetupPayload(vendor_id=req.vendor_id, product_id=req.product_id,  # type: ignore[arg-type]
                           discriminator=req.discriminator, passcode=req.passcode,  # type: ignore[arg-type]
                           capabilities=discovery)
    validate_payload(payload)
    return payload


# --- credentials -------------------------------------------------------------

def _attestation(req: GenerateRequest, out_dir: str, outputs: OutputSet,
                 date: Optional[str] = None, warnings: Optional[list] = None):
    """The DAC, PAI and key; the Matter attestation profile is applied to all of them under
    the request's profile (core.profile: development warns, production refuses)."""
    from . import credentials

    profile: dict[str, Any] = {"date": date, "policy": profile_policy(req), "warnings": warnings}

    user_files = [o for o in ("dac_cert", "dac_key", "pai_cert") if getattr(req, o)]
    if req.gen_certs:
        if user_files:
            raise InputError(f"{OPT.gen_certs} makes new certificates; do not also give "
                             f"{', '.join('--' + o for o in user_files)}")
        return credentials.generate_attestation(
            out_dir=out_dir, outputs=outputs, paa_cert=req.paa_cert, paa_key=req.paa_key,
            vendor_id=req.vendor_id, product_id=req.product_id,  # type: ignore[arg-type]
            vendor_name=req.vendor_name, product_name=req.product_name,  # type: ignore[arg-type]
            **profile)
    if len(user_files) != 3:
        missing = [str(OPT[o]) for o in ("dac_cert", "dac_key", "pai_cert") if not getattr(req, o)]
        raise InputError(f"missing {', '.join(missing)}: give {OPT.dac_cert}, {OPT.dac_key} and "
                         f"{OPT.pai_cert} (DER files), or {OPT.gen_certs} to make a development "
                         "chain")
    return credentials.load_user_attestation(
        dac_cert=req.dac_cert, dac_key=req.dac_key, pai_cert=req.pai_cert,  # type: ignore[arg-type]
        password=req.dac_key_password, paa_cert=req.paa_cert,
        vendor_id=req.vendor_id, product_id=req.product_id, **profile)  # type: ignore[arg-type]


#: How generate names its inputs in the production rules' findings.
_GENERATE_NAMES = {"vendor_id": OPT.vendor_id, "dac_cert": "the DAC", "pai_cert": "the PAI",
                   "enable_key": OPT.enable_key, "passcode": OPT.include_passcode,
                   "paa": OPT.paa_cert, "cd": "the CD"}


def production_rules(req, vendor_id: int, attestation, enable_key: Optional[bytes],
                     cd: Optional[bytes]) -> list[Message]:
    """The production profile's rules on development and test material (core.attest:
    test vendor IDs, connectedhomeip's test roots, test CD signers, the enable key, a stored
    passcode) under the request's profile: refusals raise, nothing is reported under
    development."""
    from ..core.profile import TEST_MATERIAL_RULES

    policy = profile_policy(req)
    if not req.paa_cert and not policy.reports_any(TEST_MATERIAL_RULES):
        return []  # the findings are pure and this profile reports none of them
    from ..core.attest import production_findings

    paa = None
    if req.paa_cert:
        from ..files.inputs import read_file

        paa = read_file(req.paa_cert, OPT.paa_cert)
    values = {"vendor_id": vendor_id, "dac_cert": attestation.dac_cert,
              "pai_cert": attestation.pai_cert, "enable_key": enable_key}
    findings = production_findings(values, source="", paa=paa, cd=cd,
                                   passcode_stored=bool(req.include_passcode),
                                   names=dict(_GENERATE_NAMES))
    return policy.apply(findings)


def profile_policy(req) -> ProfilePolicy:
    """The request's :class:`~matter_factory_data.core.profile.ProfilePolicy` (its
    ``profile`` and ``allow_nonconformant_certs``; production with the latter is refused)."""
    from ..core.profile import policy

    return policy(req.profile, allow_nonconformant_certs=req.allow_nonconformant_certs)


def _cd_output(req: GenerateRequest, identity: dict, out_dir: str, outputs: OutputSet) -> bytes:
    from . import credentials

    if not 0 <= req.cd_type <= 2:
        raise InputError(f"{OPT.cd_type}: {req.cd_type} is not accepted (accepted: 0 development, "
                         "1 provisional, 2 official)")
    der = credentials.certification_declaration(
        out_dir=out_dir, outputs=outputs, vendor_id=identity["vendor_id"],
        product_id=identity["product_id"], cd_type=req.cd_type,
        signer_cert=req.cert_declaration_cert, signer_key=req.cert_declaration_key)
    outputs.add(os.path.join(out_dir, "CD.der"), der, what="Certification Declaration")
    return der


# --- assembling --------------------------------------------------------------

def _factory_data_json(req: GenerateRequest, identity: dict, attestation, verifier: bytes,
                       rd_uid: Optional[bytes], enable_key: Optional[bytes],
                       user: Optional[dict]) -> dict:
    """The JSON form, in the reference order; empty values are left out as the reference does."""
    from ..formats import nrf_cbor

    return nrf_cbor.factory_data_json({
        **identity,
        "version": FACTORY_DATA_VERSION,
        "dac_cert": attestation.dac_cert,
        "dac_key": attestation.dac_key,
        "pai_cert": attestation.pai_cert,
        "passcode": req.passcode if req.include_passcode else None,
        "spake2_verifier": verifier,
        "rd_uid": _hex_as_given(rd_uid, req.rd_uid),
        "enable_key": _hex_as_given(enable_key, req.enable_key),
        "user": user,
    })


def check_schema(data: dict, schema_path: str) -> None:
    """``-s/--schema``: validate the JSON like the reference (Draft 2020-12, no format checker)."""
    from ..files.inputs import parse_json, read_file

    schema = parse_json(read_file(schema_path, OPT.schema), f"{OPT.schema} {schema_path}")
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InputError(f"{OPT.schema} {schema_path}: {where}: {error.message}")


def _self_check(device_map: dict, partition: Optional[tuple[int, int]],
                result: GenerateResult) -> None:
    """Lint the generated data as the device would read it; errors here are bugs or bad inputs."""
    from ..formats import nrf_cbor

    size = partition[1] if partition else None
    for problem in nrf_cbor.lint(device_map, partition_size=size):
        if problem.severity == nrf_cbor.ERROR and problem.key:
            raise InputError(f"generated data: {problem}")
        if problem.key != "passcode":  # the passcode warning is given once, below
            result.warnings.append(Message(str(problem)))


def _image_outputs(device_map: dict, partition: tuple[int, int], prefix: str,
                   outputs: OutputSet) -> bytes:
    from ..formats import hexfile

    image = checked_image(device_map, partition)
    offset = partition[0]
    outputs.add(f"{prefix}.hex", hexfile.to_hex_text(offset, image).encode("ascii"),
                secret=True, what="factory data image (Intel HEX)")
    outputs.add(f"{prefix}.bin", image, secret=True, what="factory data image (binary)")
    return image


def checked_image(device_map: dict, partition: tuple[int, int]) -> bytes:
    """``CBOR || 0x00``, refused when it does not fit the partition (terminator counted)."""
    from ..formats import nrf_cbor

    image = nrf_cbor.encode_image(device_map)
    offset, size = partition
    if len(image) > size:
        raise PartitionError.naming(
            f"the factory data needs {len(image)} bytes ({len(image) - 1} bytes of CBOR + 1 "
            f"terminating byte) but the partition at 0x{offset:x} is only {size} bytes "
            f"({{0}} 0x{size:x}); enlarge the factory_data partition or drop optional keys",
            "size")
    return image


def _onboarding_outputs(setup, prefix: str, outputs: OutputSet) -> None:
    from ..core import onboarding, qrimage

    outputs.add(f"{prefix}.txt", onboarding.onboarding_text(setup).encode("ascii"),
                secret=True, what="onboarding codes")
    outputs.add(f"{prefix}.png", qrimage.qr_png(onboarding.qr_code(setup)),
                secret=True, what="QR code image")


def _summary(identity: dict, partition: Optional[tuple[int, int]], image: Optional[bytes],
             rd_uid: Optional[bytes]) -> list[tuple[str, str]]:
    rows = [
        ("serial number", identity["sn"]),
        ("vendor / product", f"0x{identity['vendor_id']:04X} / 0x{identity['product_id']:04X}"),
        ("discriminator", f"{identity['discriminator']} (0x{identity['discriminator']:03X})"),
    ]
    if rd_uid is not None:
        rows.append(("rotating device UID", rd_uid.hex()))
    if partition is not None and image is not None:
        offset, size = partition
        rows.append(("image", f"{len(image)} of {size} bytes at 0x{offset:x}"))
    return rows


# --- partition ---------------------------------------------------------------

class PartitionResult:
    def __init__(self, outputs: OutputSet, image: bytes, problems: list,
                 warnings: Optional[list] = None) -> None:
        self.outputs, self.image, self.problems = outputs, image, problems
        self.warnings: list[Message] = warnings or []  # what the profile accepted


def stored_chain_profile(values: dict, policy, source: str) -> list[Message]:
    """The attestation profile over the DAC and PAI an image or JSON holds (``values`` by
    model key: ``dac_cert``, ``pai_cert`` as DER, ``date``), the DAC on its manufacturing
    date, under ``policy``: refusals raise, the rest are returned as warnings. Certificates
    that cannot be read are left to the device lint."""
    from ..core import attestation_profile, certview
    from ..errors import FactoryDataError

    try:
        dac, pai = (certview.parse_certificate(values[k], source=f"{source} {k}",
                                               profile=False)
                    for k in ("dac_cert", "pai_cert"))
    except (KeyError, TypeError, FactoryDataError):
        return []
    date = values.get("date")
    if isinstance(date, (bytes, bytearray)):
        date = bytes(date).decode("ascii", "replace")
    violations: list = attestation_profile.chain_violations(
        dac=dac, pai=pai, date=date if isinstance(date, str) else None,
        sources={"dac": f"{source} dac_cert", "pai": f"{source} pai_cert"})
    from ..core.attest import production_findings

    violations += production_findings(values, source=source)
    return attestation_profile.enforce(violations, policy)


def partition(*, input_path: str, output: str, offset: int, size: int,
              overwrite: bool = False, policy=None) -> PartitionResult:
    """The reference partition script: JSON file -> ``<output>.hex`` and ``<output>.bin``."""
    from ..files.inputs import parse_json, read_file
    from ..formats import hexfile, nrf_cbor

    validate.require_partition(offset, size)
    obj = parse_json(read_file(input_path, OPT.input), f"{OPT.input} {input_path}")
    device_map = nrf_cbor.json_to_device_map(obj, f"{OPT.input} {input_path}")
    image = checked_image(device_map, (offset, size))
    from ..core.profile import ProfilePolicy

    warnings = stored_chain_profile(nrf_cbor.NrfCborFormat().model_values(device_map),
                                    policy or ProfilePolicy(),
                                    f"{OPT.input} {input_path}")
    from ..files.outputs import OutputSet

    outputs = OutputSet(overwrite=overwrite)
    outputs.add(f"{output}.hex", hexfile.to_hex_text(offset, image).encode("ascii"),
                secret=True, what="factory data image (Intel HEX)")
    outputs.add(f"{output}.bin", image, secret=True, what="factory data image (binary)")
    outputs.check()
    problems = nrf_cbor.lint(device_map, partition_size=size)
    return PartitionResult(outputs=outputs, image=image, problems=problems, warnings=warnings)


def _checked_inputs(req: GenerateRequest) -> tuple:
    """The plain inputs, each checked against the device limits: (identity, partition, user
    data, enable key, setup payload or None). Shared by :func:`generate` and
    :func:`check_request`, so the configure-time check cannot drift from the build."""
    profile_policy(req)  # a profile that is not one, or production with its contradiction
    identity = _identity(req)
    partition = partition_of(req)
    user = user_data(req.user)
    enable_key = sized_hex(req.enable_key, "enable_key", Subject("enable_key"))
    if req.passcode is not None:  # named as an input before the codes carry it
        validate.require("passcode", req.passcode, Subject("passcode"))
    discovery = discovery_of(req.discovery)
    if req.discovery is not None and not req.generate_onboarding:
        raise InputError.naming("{0} is what the QR code says: give {1} too", "discovery",
                                "generate_onboarding")
    setup = _setup_payload(req, discovery) if req.generate_onboarding else None
    return identity, partition, user, enable_key, setup


def check_request(req: GenerateRequest) -> None:
    """What ``generate`` validates before it makes anything, and no more: the values against
    the device limits, the partition, the codes' inputs. No certificates, no SPAKE2+ verifier,
    no QR code (the build step's configure-time check)."""
    _checked_inputs(req)
    if req.passcode is None and req.spake2_verifier is None:
        raise InputError.naming("give {0} (to derive the SPAKE2+ verifier) or {1}",
                                "passcode", "spake2_verifier")
    if req.spake2_verifier is not None:
        from ..core import spake2p

        problem = spake2p.verifier_problem(req.spake2_verifier)
        if problem:
            raise InputError.at(Subject("spake2_verifier"), f"the verifier {problem}")
    if req.rd_uid:
        sized_hex(req.rd_uid, "rd_uid", Subject("rd_uid"))
