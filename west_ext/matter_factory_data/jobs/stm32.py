"""``generate`` and ``partition`` for ``--format stm32-tlv`` (ST's X-CUBE-MATTER image).

The same inputs and checks as the nRF pipeline (identity, verifier, credentials, codes:
the helpers of :mod:`.pipeline`), then ST's records instead of the CBOR map:

* ``PREFIX.json`` in ST's JSON form (genFactoryData reads it), ``PREFIX.bin`` (always: the
  image is position independent) and ``PREFIX.hex`` at the board's address (``--board``) or
  at ``--offset``;
* tag 1 (Certification Declaration) from ``--certification_declaration FILE`` or
  ``--gen_cd``; tag 6 (the DAC
  public key) derived from the DAC key; on WBA65 the key records 5 and 6 are left out (the
  provider signs with the key in PSA ITS);
* fields ST has no tag for (product URL, label, part number, finish, color, user data) are
  not stored, with a warning; the manufacturing date is not stored (ST's providers do not
  read tag 26).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from ..errors import OPT, InputError, Message, PartitionError, Subject
from ..files.outputs import OutputSet, parent_text
from ..formats import get_format
from ..formats.base import ERROR
from . import pipeline
from .pipeline import GenerateRequest, GenerateResult

#: The option that says the DAC key is in the device's secure key storage (no tag 5).
KEY_STORAGE = OPT["dac-key-in-secure-storage"]
#: generate options the STM32 image has no tag for.
UNTAGGED = ("product_url", "product_label", "part_number", "product_finish", "product_color",
            "user")


def region_of(req, board) -> Optional[tuple[int, int]]:
    """(address, size): ``--offset/--size``, else the board's region, else None."""
    if req.offset is None and req.size is None:
        return (board.address, board.size) if board else None
    offset, size = pipeline.partition_of(req)  # type: ignore[misc]
    if board is not None and not (board.address <= offset and
                                  offset + size <= board.address + board.size):
        raise InputError.naming(
            f"{{0}} 0x{offset:x} / {{1}} 0x{size:x} lie outside the {board.title} factory data "
            f"region 0x{board.address:08X}..0x{board.address + board.size - 1:08X}; drop them "
            "to use the board's region", "offset", "size")
    return offset, size


def generate_stm32(req: GenerateRequest, *, token_bytes: Callable[[int], bytes] = os.urandom
                   ) -> GenerateResult:
    fmt = get_format(req.format, req.board,
                     key_in_secure_storage=req.dac_key_in_secure_storage)
    if fmt.name != "stm32-tlv":
        raise InputError.naming(f"{{0}} and {{1}} apply to {OPT.format} stm32-tlv", "board",
                                "certification_declaration")
    board = fmt.board
    assert req.output is not None  # generate_command refuses a missing -o first
    prefix = pipeline.output_prefix(req.output)
    outputs = OutputSet(overwrite=req.overwrite)
    result = GenerateResult(outputs)
    identity, _, _, enable_key, setup = pipeline._checked_inputs(req)  # as for nRF
    region = region_of(req, board)
    verifier = pipeline._verifier(req)
    rd_uid = pipeline._rd_uid(req, token_bytes)
    result.warnings += _untagged_warnings(req)
    attestation = pipeline._attestation(req, parent_text(prefix), outputs, identity.get("date"),
                                        result.warnings)
    cd = _certification_declaration(req, identity, parent_text(prefix), outputs)
    check_cd_covers(cd, identity, attestation)
    values = {key: identity[key] for key in ("sn", "vendor_id", "product_id", "vendor_name",
                                             "product_name", "hw_ver", "hw_ver_str",
                                             "spake2_it", "spake2_salt", "discriminator")}
    values.update(cd=cd, dac_cert=attestation.dac_cert, pai_cert=attestation.pai_cert,
                  spake2_verifier=verifier, rd_uid=rd_uid, enable_key=enable_key,
                  passcode=req.passcode if req.include_passcode else None)
    values.update(_key_records(attestation.dac_key, board, result,
                               req.dac_key_in_secure_storage))
    data = fmt.json_from_values(values)
    result.factory_data = data
    device_map = fmt.from_json(data, "generated data")
    _self_check(fmt, device_map, region, result)
    image = fmt.encode(device_map)
    outputs.add(Path(f"{prefix}.json"), fmt.json_text(data).encode("utf-8"), secret=True,
                what="factory data JSON (ST's form)")
    outputs.add(Path(f"{prefix}.bin"), image, secret=True, what="factory data image (binary)")
    if region is not None:
        from ..formats import hexfile

        outputs.add(Path(f"{prefix}.hex"), hexfile.to_hex_text(region[0], image).encode("ascii"),
                    secret=True, what="factory data image (Intel HEX)")
    result.image = image
    if setup is not None:
        pipeline._onboarding_outputs(setup, prefix, outputs)
        result.setup_payload = setup
    if req.include_passcode:
        result.warnings.append(pipeline.PASSCODE_STORED)
    result.warnings += pipeline.production_rules(req, identity["vendor_id"], attestation,
                                                 enable_key, cd)
    result.summary = pipeline._summary(identity, region, image, rd_uid)
    if board is not None:
        result.summary.append(("board", f"{board.title} ({OPT.board} {board.name})"))
    outputs.check()
    return result


def _untagged_warnings(req) -> list:
    given = [name for name in UNTAGGED if getattr(req, name) not in (None, "")]
    if not given:
        return []
    return [Message("not stored: the STM32 image has no tag for "
                    + ", ".join(f"{{{i}}}" for i in range(len(given))), given)]


def _certification_declaration(req, identity: dict, out_dir: str, outputs: OutputSet
                               ) -> Optional[bytes]:
    if req.certification_declaration and req.gen_cd:
        raise InputError.naming("give {0} (a CD file) or {1} (make one), not both",
                                "certification_declaration", "gen_cd")
    if req.gen_cd:
        return pipeline._cd_output(req, identity, out_dir, outputs)
    if req.certification_declaration:
        from ..files.inputs import read_file

        path = req.certification_declaration
        der = read_file(path, OPT.certification_declaration)
        if not der.startswith(b"\x30"):
            raise InputError.at(Subject("certification_declaration"),
                                f"{path} is not a DER Certification Declaration (it does not "
                                "start with a SEQUENCE)")
        return der
    raise InputError.naming("the STM32 device reads the Certification Declaration from the "
                            "factory data: give {0} FILE (DER) or {1}",
                            "certification_declaration", "gen_cd")


def check_cd_covers(cd: Optional[bytes], identity: dict, attestation) -> None:
    """The CD as a commissioner reads it (core.attest.cd_device_problems): readable,
    format_version 1, for this vendor ID, this product ID in its list, the DAC and PAI as its
    vendor ID/product IDs or its dac_origin. A device with another product's CD fails
    attestation: refused under every profile."""
    from ..core import certview
    from ..core.attest import cd_device_problems

    if cd is None or not getattr(attestation, "dac_cert", None):
        return
    dac, pai = (certview.parse_certificate(bytes(der), source=name, profile=False)
                for der, name in ((attestation.dac_cert, "the DAC"),
                                  (attestation.pai_cert, "the PAI")))
    problems = cd_device_problems(cd, vendor_id=identity["vendor_id"],
                                  product_id=identity["product_id"], dac=dac, pai=pai,
                                  source="the CD")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError.at(Subject("certification_declaration"),
                            f"{problems[0]}{more}; a commissioner refuses a device "
                            "whose CD does not cover it")


def _key_records(dac_key: bytes, board, result: GenerateResult,
                 key_in_secure_storage: bool = False) -> dict:
    """Tags 5 and 6: the DAC key and its public point; not on WBA65 (PSA ITS); only the
    public point when the key is said to be in the secure key storage (CKS)."""
    from ..core import certs

    if board is not None and 5 in board.unread:
        result.warnings.append(Message(
            f"the DAC key is not written to the image: on {board.title} the provider signs "
            "with the key in PSA ITS (uid 0x1FFF0001); import it with the provisioning "
            "firmware"))
        return {}
    key = certs.private_key_from_scalar(dac_key, source="dac_key")
    if key_in_secure_storage:
        result.warnings.append(Message(
            f"the DAC private key is not written to the image ({KEY_STORAGE}): load it into "
            "the device's secure key storage (CKS) yourself"))
        return {"dac_pub_key": certs.public_key_bytes(key)}
    return {"dac_key": dac_key, "dac_pub_key": certs.public_key_bytes(key)}


def _self_check(fmt, device_map, region, result: GenerateResult) -> None:
    size = region[1] if region else None
    for problem in fmt.lint(device_map, partition_size=size):
        if problem.severity == ERROR:
            cls = InputError if problem.key else PartitionError
            raise cls(f"generated data: {problem}")
        if problem.key != "SPAKE2_SETUP_PASSCODE":  # said once, by generate
            result.warnings.append(Message(str(problem)))


# --- partition -------------------------------------------------------------------------

def load_input(path: str, fmt):
    """ST's JSON (``.json``) or ST's binary (anything else) as records."""
    from ..files.inputs import read_file
    from ..formats import stm32_tlv

    raw = read_file(path, OPT.input)
    if Path(path).suffix.lower() == ".json":
        return stm32_tlv.load_json_text(raw, f"{OPT.input} {path}")
    return fmt.decode(raw, f"{OPT.input} {path}")


def partition_stm32(*, input_path: str, output: str, offset: Optional[int],
                    size: Optional[int], board: Optional[str], strict: bool,
                    overwrite: bool = False, policy=None, key_in_secure_storage: bool = False
                    ) -> pipeline.PartitionResult:
    """ST's JSON or binary -> ``<output>.bin`` (+ ``.hex`` when an address is known).

    Unreadable records (empty, over 602 bytes, truncated), an image without the end
    marker and records genFactoryData would drop (unknown tags) are always refused; with
    ``strict`` every device error is."""
    from ..formats import hexfile
    from ..formats.stm32_tlv import BY_NAME

    fmt = get_format("stm32-tlv", board, key_in_secure_storage=key_in_secure_storage)
    region = region_of(_Region(offset, size), fmt.board)
    records = load_input(input_path, fmt)
    problems = fmt.lint(records, partition_size=region[1] if region else None)
    unreadable = set(map(id, getattr(records, "findings", [])))
    unreadable |= {id(p) for p in problems if not p.key}  # size
    refused = [p for p in problems if p.severity == ERROR and
               (strict or id(p) in unreadable or _hides_records(p, records))]
    unknown = [k for k in records if k not in BY_NAME]
    if unknown:
        raise InputError(f"{OPT.input} {input_path}: record {unknown[0]} has an unknown tag; "
                         "genFactoryData would drop it (remove it from the image)")
    if refused:
        more = f" (and {len(refused) - 1} more; see `show`)" if len(refused) > 1 else ""
        raise InputError(f"{OPT.input} {input_path}: {refused[0]}{more}")
    from ..core.profile import ProfilePolicy

    warnings = pipeline.stored_chain_profile(fmt.model_values(records),
                                             policy or ProfilePolicy(),
                                             f"{OPT.input} {input_path}")
    image = fmt.encode(records)
    outputs = OutputSet(overwrite=overwrite)
    outputs.add(Path(f"{output}.bin"), image, secret=True, what="factory data image (binary)")
    if region is not None:
        outputs.add(Path(f"{output}.hex"), hexfile.to_hex_text(region[0], image).encode("ascii"),
                    secret=True, what="factory data image (Intel HEX)")
    outputs.check()
    return pipeline.PartitionResult(outputs=outputs, image=image,
                                    problems=[p for p in problems if p not in refused],
                                    warnings=warnings)


def _hides_records(problem, records) -> bool:
    """A record the device reader stops at (length 0 or over 602)."""
    from ..formats.stm32_tlv import MAX_RECORD, tag_number

    return any(r.tag == tag_number(problem.key) and not 0 < r.declared <= MAX_RECORD
               for r in records.records)


class _Region:
    def __init__(self, offset: Optional[int], size: Optional[int]) -> None:
        self.offset, self.size = offset, size
