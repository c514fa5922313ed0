"""Attestation credentials for ``generate``: load the user's files, or make a development chain.

Reads files (so it is not part of the pure core) but never writes: new files are
added to the caller's :class:`~matter_factory_data.outputs.OutputSet`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional

from ..errors import OPT, CredentialError, InputError
from ..files.inputs import read_file
from ..files.outputs import OutputSet

if TYPE_CHECKING:  # imported where a directory is used: not on the user-files path
    import os
    from pathlib import Path

DEV_PAA_CERT = "PAA_cert.der"
DEV_PAA_KEY = "PAA_key.der"
DEV_CD_SIGNER_CERT = "CD_signing_cert.der"
DEV_CD_SIGNER_KEY = "CD_signing_key.der"


class Attestation(NamedTuple):
    """What goes into the factory data: DER certificates and the raw DAC key."""

    dac_cert: bytes
    pai_cert: bytes
    dac_key: bytes  # raw 32-byte scalar



def load_user_attestation(*, dac_cert: str, dac_key: str, pai_cert: str,
                          password: Optional[str], paa_cert: Optional[str],
                          vendor_id: int, product_id: int, date: Optional[str] = None,
                          policy=None, warnings: Optional[list] = None) -> Attestation:
    """Load the given DER/PEM files and check that they are consistent.

    Uses :mod:`.core.certview` only: no ``cryptography.x509`` (or serialization,
    unless the key is encrypted) is imported on this path.
    """
    from ..core import certview

    dac = certview.parse_certificate(read_file(dac_cert, OPT.dac_cert),
                                     source=f"{OPT.dac_cert} {dac_cert}")
    pai = certview.parse_certificate(read_file(pai_cert, OPT.pai_cert),
                                     source=f"{OPT.pai_cert} {pai_cert}")
    key = certview.parse_private_key(read_file(dac_key, OPT.dac_key),
                                     source=f"{OPT.dac_key} {dac_key}",
                                     password=password.encode("utf-8") if password else None)
    paa = None
    if paa_cert:
        paa = certview.parse_certificate(read_file(paa_cert, OPT.paa_cert),
                                         source=f"{OPT.paa_cert} {paa_cert}")
    sources = {"dac": f"{OPT.dac_cert} {dac_cert}", "pai": f"{OPT.pai_cert} {pai_cert}",
               "paa": f"{OPT.paa_cert} {paa_cert}"}
    certview.check_key_matches_certificate(key, dac, key_source=f"{OPT.dac_key} {dac_key}",
                                           cert_source=f"{OPT.dac_cert} {dac_cert}")
    certview.check_attestation_chain(dac=dac, pai=pai, paa=paa, vendor_id=vendor_id,
                                     product_id=product_id,
                                     sources=sources)
    _apply_profile(dac, pai, paa, date, sources, policy, warnings)
    return Attestation(dac.der, pai.der, key)


def _apply_profile(dac, pai, paa, date: Optional[str], sources: dict, policy,
                   warnings: Optional[list]) -> None:
    """The attestation profile's rules under ``policy`` (core.profile; None: development):
    refusals raise, the rest become warnings."""
    from ..core import attestation_profile
    from ..core.profile import ProfilePolicy

    violations = attestation_profile.chain_violations(dac=dac, pai=pai, paa=paa, date=date,
                                                      sources=sources)
    accepted = attestation_profile.enforce(violations, policy or ProfilePolicy())
    if warnings is not None:
        warnings.extend(accepted)


def load_signer(cert_path: str, key_path: str, cert_option: str, key_option: str):
    """A CA certificate and its key given by the user (PAA, PAI, or CD signer). The key is a
    file (a ``cryptography`` key is returned) or a ``pkcs11:`` URI (a token signer is
    returned, whose key never leaves the token)."""
    from ..core import certs
    from ..core.signer import is_pkcs11_uri

    cert = certs.load_certificate(read_file(cert_path, cert_option),
                                  source=f"{cert_option} {cert_path}")
    if is_pkcs11_uri(key_path):
        from .pkcs11_signer import open_token_signer

        return cert, open_token_signer(key_path, key_option, cert)
    key = certs.load_private_key(read_file(key_path, key_option), source=f"{key_option} {key_path}")
    certs.check_key_matches_certificate(key, cert, key_source=f"{key_option} {key_path}",
                                        cert_source=f"{cert_option} {cert_path}")
    return cert, key


def _start_of(date: Optional[str]):
    """Midnight UTC of the manufacturing date ``YYYY-MM-DD`` (None without one)."""
    import datetime as dt

    if not date:
        return None
    return dt.datetime(int(date[:4]), int(date[5:7]), int(date[8:10]), tzinfo=dt.timezone.utc)


def development_paa(out_dir: str | os.PathLike[str], outputs: OutputSet, not_before=None):
    """The development PAA of ``out_dir``: reused if present, else made and added to outputs."""
    from pathlib import Path

    from ..core import certs

    out_dir = Path(out_dir)

    cert_path, key_path = out_dir / DEV_PAA_CERT, out_dir / DEV_PAA_KEY
    if cert_path.exists() or key_path.exists():
        if not (cert_path.exists() and key_path.exists()):
            raise CredentialError(f"{out_dir}: found only one of {DEV_PAA_CERT} and "
                                  f"{DEV_PAA_KEY}; restore the other or remove both")
        return load_signer(str(cert_path), str(key_path), "development PAA", "development PAA key")
    key = certs.new_key()
    cert = certs.make_paa(key=key, common_name="Matter Development PAA (matter-factory-data)",
                          not_before=not_before)
    outputs.add(cert_path, certs.cert_der(cert), what="development PAA certificate")
    outputs.add(key_path, certs.key_der(key), secret=True, what="development PAA key")
    return cert, key


def generate_attestation(*, out_dir: str | os.PathLike[str], outputs: OutputSet,
                         paa_cert: Optional[str],
                         paa_key: Optional[str], vendor_id: int, product_id: int,
                         vendor_name: str, product_name: str, date: Optional[str] = None,
                         policy=None, warnings: Optional[list] = None) -> Attestation:
    """Make PAI + DAC (``--gen_certs``), signed by the given PAA or the development PAA.
    Both are valid from the manufacturing date on (the profile wants the DAC valid then)."""
    from pathlib import Path

    from ..core import certs, certview

    out_dir = Path(out_dir)

    if bool(paa_cert) != bool(paa_key):
        raise InputError(f"{OPT.paa_cert} and {OPT.paa_key} go together: give both or neither")
    if paa_cert and paa_key:
        paa, paa_private = load_signer(paa_cert, paa_key, str(OPT.paa_cert), str(OPT.paa_key))
    else:
        paa, paa_private = development_paa(out_dir, outputs, not_before=_start_of(date))
    pai_key, dac_key = certs.new_key(), certs.new_key()
    start = _start_of(date)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_private,
                         common_name=certs.common_name(f"{vendor_name} PAI 0x{vendor_id:04X}"),
                         vendor_id=vendor_id, not_before=start)
    dac = certs.make_dac(key=dac_key, issuer_cert=pai, issuer_key=pai_key,
                         common_name=certs.common_name(
                             f"{product_name} DAC 0x{vendor_id:04X}/0x{product_id:04X}"),
                         vendor_id=vendor_id, product_id=product_id, not_before=start)
    views = [certview.parse_certificate(certs.cert_der(c), source=s, profile=False)
             for c, s in ((dac, "the new DAC"), (pai, "the new PAI"),
                          (paa, f"{OPT.paa_cert} {paa_cert}" if paa_cert else
                           "the development PAA"))]
    dac_view, pai_view, paa_view = views
    _apply_profile(dac_view, pai_view, paa_view, date, {"dac": "the new DAC", "pai": "the new PAI",
                                  "paa": f"{OPT.paa_cert} {paa_cert}" if paa_cert else
                                  f"the development PAA ({out_dir / DEV_PAA_CERT})"},
                   policy, warnings)
    _add_pair(outputs, out_dir, "PAI", pai, pai_key)
    _add_pair(outputs, out_dir, "DAC", dac, dac_key)
    return Attestation(certs.cert_der(dac), certs.cert_der(pai), certs.raw_private_scalar(dac_key))


def _add_pair(outputs: OutputSet, out_dir: Path, name: str, cert, key) -> None:
    """The reference writes ``<NAME>_cert`` / ``<NAME>_key`` as .der and .pem."""
    from ..core import certs

    outputs.add(out_dir / f"{name}_cert.der", certs.cert_der(cert), what=f"{name} certificate")
    outputs.add(out_dir / f"{name}_cert.pem", certs.cert_pem(cert), what=f"{name} certificate")
    outputs.add(out_dir / f"{name}_key.der", certs.key_der(key), secret=True, what=f"{name} key")
    outputs.add(out_dir / f"{name}_key.pem", certs.key_pem(key), secret=True, what=f"{name} key")


def certification_declaration(*, out_dir: str | os.PathLike[str], outputs: OutputSet,
                              vendor_id: int,
                              product_id: int, cd_type: int, signer_cert: Optional[str],
                              signer_key: Optional[str]) -> bytes:
    """``CD.der``: a CMS-signed Certification Declaration for this VID/PID."""
    from pathlib import Path

    from ..core import cd

    out_dir = Path(out_dir)

    if bool(signer_cert) != bool(signer_key):
        raise InputError(f"{OPT.cert_declaration_cert} and {OPT.cert_declaration_key} go together: "
                         "give both or neither")
    if signer_cert and signer_key:
        cert, key = load_signer(signer_cert, signer_key, str(OPT.cert_declaration_cert),
                                str(OPT.cert_declaration_key))
    else:
        cert, key = _development_cd_signer(out_dir, outputs)
    declaration = cd.CertificationDeclaration(
        vendor_id=vendor_id, product_ids=(product_id,), certification_type=cd_type,
        certificate_id="FFFFFFFFFFFFFFFFFFF")
    declaration.validate()
    return cd.sign(declaration, signing_key=key, signing_cert=cert)


def _development_cd_signer(out_dir: Path, outputs: OutputSet):
    from ..core import cd, certs

    cert_path, key_path = out_dir / DEV_CD_SIGNER_CERT, out_dir / DEV_CD_SIGNER_KEY
    if cert_path.exists() and key_path.exists():
        return load_signer(str(cert_path), str(key_path), "development CD signer",
                           "development CD signer key")
    cert, key = cd.make_dev_signer()
    outputs.add(cert_path, certs.cert_der(cert), what="development CD signing certificate")
    outputs.add(key_path, certs.key_der(key), secret=True, what="development CD signing key")
    return cert, key
