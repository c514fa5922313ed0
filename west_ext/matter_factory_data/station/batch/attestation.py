"""The series' PAI and its key (given, kept from an earlier run, or made from a PAA), and
the one shared Certification Declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ...core import series
from ...errors import OPT, CredentialError, InputError
from .layout import PAI_CERT, PAI_KEY


def pai_and_key(args, out_dir: Path, common: dict, not_before,
                warnings: Optional[list] = None):
    """The PAI and its key: given, reused from DIR, or made here from a PAA. A given PAI or
    PAA is checked under the request's profile (core.profile); what it accepts is appended
    to ``warnings``."""
    from ...core import certs
    from ...jobs.credentials import load_signer

    if (args.pai_cert is not None) != (args.pai_key is not None):
        raise InputError(f"{OPT.pai_cert} and {OPT.pai_key} go together: give both")
    if args.pai_cert is not None:
        if args.paa_key:
            raise InputError(f"give {OPT.pai_cert}/{OPT.pai_key} (sign DACs with that PAI, checked "
                             f"against {OPT.paa_cert} when given) or {OPT.paa_cert}/{OPT.paa_key} "
                             "(make a PAI), not both")
        cert, key = load_signer(args.pai_cert, args.pai_key, str(OPT.pai_cert), str(OPT.pai_key))
        _check_pai(cert, common, f"{OPT.pai_cert} {args.pai_cert}", args.paa_cert)
        _check_profile(args, cert, f"{OPT.pai_cert} {args.pai_cert}", not_before, warnings)
        return cert, key, [(PAI_CERT, certs.cert_der(cert), False)]
    kept_cert, kept_key = out_dir / PAI_CERT, out_dir / PAI_KEY
    if kept_cert.is_file() and kept_key.is_file():  # made by an earlier run of the series
        cert, key = load_signer(str(kept_cert), str(kept_key), "the series' PAI",
                                "the series' PAI key")
        return cert, key, []
    if bool(args.paa_cert) != bool(args.paa_key):
        raise InputError(f"{OPT.paa_cert} and {OPT.paa_key} go together (to make the PAI), or give "
                         f"{OPT.pai_cert} and {OPT.pai_key}")
    if args.paa_cert:
        paa, paa_key = load_signer(args.paa_cert, args.paa_key, str(OPT.paa_cert), str(OPT.paa_key))
        _check_profile(args, paa, f"{OPT.paa_cert} {args.paa_cert}", not_before, warnings,
                       role="paa")
        extra = []
    elif args.defaults:
        paa, paa_key, extra = _development_paa(out_dir, args.seed, not_before)
    else:
        raise InputError(f"give {OPT.pai_cert} and {OPT.pai_key} (the PAI that signs the DACs), "
                         f"or {OPT.paa_cert} and {OPT.paa_key} (to make the PAI), or "
                         f"{OPT.defaults} for a development chain")
    seed = args.seed
    key = certs.new_key(_seeded(seed, "pai key"))
    cert = certs.make_pai(
        key=key, issuer_cert=paa, issuer_key=paa_key,
        common_name=certs.common_name(f"{common['vendor_name']} PAI 0x{common['vendor_id']:04X}"),
        vendor_id=common["vendor_id"], serial=_seeded_serial(seed, "pai serial"),
        not_before=not_before, deterministic=seed is not None)
    return cert, key, extra + [(PAI_CERT, certs.cert_der(cert), False),
                                     (PAI_KEY, certs.key_der(key), True)]


def _check_profile(args, cert, source: str, not_before, warnings: Optional[list],
                   role: str = "pai") -> None:
    """The Matter attestation profile for a given PAI (or PAA): its format, and valid when
    the DACs are issued (from the manufacturing date), under the request's profile."""
    from ...core import attestation_profile, certs, certview
    from ...jobs.pipeline import profile_policy

    view = certview.parse_certificate(certs.cert_der(cert), source=source, profile=False)
    violations = attestation_profile.format_violations(view, role, source)
    stamp = not_before.strftime("%Y%m%d%H%M%S") if not_before is not None else None
    if stamp and not view.not_before <= stamp <= view.not_after:
        violations.append(attestation_profile.Violation(
            "issuer-valid-at-dac-issuance", source,
            f"the {role.upper()} is not valid on the manufacturing date "
            f"{not_before:%Y-%m-%d} when the "
            "DACs are issued"))
    accepted = attestation_profile.enforce(violations, profile_policy(args))
    if warnings is not None:
        warnings.extend(accepted)


def _development_paa(out_dir: Path, seed: Optional[str], not_before):
    from ...core import certs
    from ...jobs.credentials import DEV_PAA_CERT, DEV_PAA_KEY, load_signer

    cert_path, key_path = out_dir / DEV_PAA_CERT, out_dir / DEV_PAA_KEY
    if cert_path.is_file() and key_path.is_file():
        cert, key = load_signer(str(cert_path), str(key_path), "development PAA",
                                "development PAA key")
        return cert, key, []
    key = certs.new_key(_seeded(seed, "paa key"))
    cert = certs.make_paa(key=key, common_name="Matter Development PAA (matter-factory-data)",
                          serial=_seeded_serial(seed, "paa serial"),
                          not_before=not_before, deterministic=seed is not None)
    return cert, key, [(DEV_PAA_CERT, certs.cert_der(cert), False),
                       (DEV_PAA_KEY, certs.key_der(key), True)]


def _seeded(seed: Optional[str], purpose: str) -> Optional[bytes]:
    return None if seed is None else series.Randomness(seed).bytes(0, purpose, 32)


def _seeded_serial(seed: Optional[str], purpose: str) -> Optional[int]:
    if seed is None:
        return None
    return int.from_bytes(series.Randomness(seed).bytes(0, purpose, 19), "big") | (1 << 150)


def _check_pai(cert, common: dict, source: str, paa_path: Optional[str]) -> None:
    from ...core import certs

    vendor_id, product_id = certs.matter_ids(cert, source=source)
    if vendor_id is not None and vendor_id != common["vendor_id"]:
        raise CredentialError(f"{source}: the PAI is for vendor ID 0x{vendor_id:04X}, not "
                              f"{OPT.vendor_id} 0x{common['vendor_id']:04X}")
    if product_id is not None and product_id != common["product_id"]:
        raise CredentialError(f"{source}: the PAI is for product ID 0x{product_id:04X}, not "
                              f"{OPT.product_id} 0x{common['product_id']:04X}")
    if paa_path:
        from ...files.inputs import read_file

        paa = certs.load_certificate(read_file(paa_path, OPT.paa_cert),
                                     source=f"{OPT.paa_cert} {paa_path}")
        certs.check_issued_by(cert, paa, child_source=source,
                              issuer_source=f"{OPT.paa_cert} {paa_path}")


def certification_declaration_files(args, out_dir: Path, common: dict) -> list:
    from ...files.outputs import OutputSet
    from ...jobs.credentials import certification_declaration

    if (out_dir / "CD.der").is_file():
        return []
    collected = OutputSet()
    der = certification_declaration(
        out_dir=out_dir, outputs=collected, vendor_id=common["vendor_id"],
        product_id=common["product_id"], cd_type=args.cd_type,
        signer_cert=args.cert_declaration_cert, signer_key=args.cert_declaration_key)
    return [(f.path.name, f.data, f.secret) for f in collected.files] + [("CD.der", der, False)]


def dac_common_name(common: dict) -> str:
    from ...core import certs

    return certs.common_name(
        f"{common['product_name']} DAC 0x{common['vendor_id']:04X}/0x{common['product_id']:04X}")
