"""SPAKE2+ verifier (Matter spec 3.10; connectedhomeip scripts/tools/spake2p).

ws = PBKDF2-HMAC-SHA256(passcode as uint32 LE, salt, iterations, 80 bytes);
w0 = ws[0:40] mod n, w1 = ws[40:80] mod n; verifier = w0 (32 B) || w1*G (65 B, uncompressed).
"""

from __future__ import annotations

from ..errors import InputError, Subject

# Order of the NIST P-256 group.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
VERIFIER_LENGTH = 97
_WS_HALF = 40  # 32 bytes of the curve plus 8 bytes to make the reduction uniform


def compute_w0_w1(passcode: int, salt: bytes, iterations: int) -> tuple[int, int]:
    """The two SPAKE2+ scalars derived from the passcode."""
    # cryptography's PBKDF2 (its own OpenSSL) runs about twice as fast as hashlib's here,
    # and PBKDF2 is most of the cost of a device in a batch.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    ws = PBKDF2HMAC(hashes.SHA256(), 2 * _WS_HALF, salt, iterations).derive(
        passcode.to_bytes(4, "little"))
    w0 = int.from_bytes(ws[:_WS_HALF], "big") % P256_ORDER
    w1 = int.from_bytes(ws[_WS_HALF:], "big") % P256_ORDER
    return w0, w1


#: What a verifier is derived from: the limits of the Matter specification (5.1.1.6, 3.10),
#: checked before any work (PBKDF2 with 2**31 iterations would run for hours or fail).
ITERATIONS = (1000, 100000)
SALT_LENGTH = (16, 32)
PASSCODE = (1, 99999998)


def derivation_problem(passcode: object, salt: object, iterations: object) -> str | None:
    """Why a verifier cannot be derived from these values (None: it can)."""
    for name, value, (low, high) in (("passcode", passcode, PASSCODE),
                                     ("spake2_it", iterations, ITERATIONS)):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} is not an integer"
        if not low <= value <= high:
            return f"{name} {'(hidden)' if name == 'passcode' else value} is out of range " \
                   f"(accepted: {low}..{high})"
    if not isinstance(salt, (bytes, bytearray)):
        return "spake2_salt is not a byte string"
    if not SALT_LENGTH[0] <= len(salt) <= SALT_LENGTH[1]:
        return f"spake2_salt is {len(salt)} bytes (accepted: 16..32)"
    return None


def compute_verifier(passcode: int, salt: bytes, iterations: int) -> bytes:
    """The 97-byte verifier stored as ``spake2_verifier``; ValueError (before any work)
    when the values are outside the specification's limits."""
    from cryptography.hazmat.primitives.asymmetric import ec

    problem = derivation_problem(passcode, salt, iterations)
    if problem:
        raise ValueError(f"cannot derive a SPAKE2+ verifier: {problem}")

    w0, w1 = compute_w0_w1(passcode, salt, iterations)
    # Uncompressed point 04 || X || Y from the numbers: avoids importing the
    # serialization package (~10 ms of start-up) just for public_bytes().
    numbers = ec.derive_private_key(w1, ec.SECP256R1()).public_key().public_numbers()
    return w0.to_bytes(32, "big") + b"\x04" + numbers.x.to_bytes(32, "big") + \
        numbers.y.to_bytes(32, "big")


def verifier_problem(verifier: bytes) -> str | None:
    """Structural check: length 97, w0 < n, L a valid point on P-256."""
    if len(verifier) != VERIFIER_LENGTH:
        return f"is {len(verifier)} bytes long (accepted: exactly {VERIFIER_LENGTH} bytes)"
    if int.from_bytes(verifier[:32], "big") >= P256_ORDER:
        return "has a w0 that is not reduced modulo the P-256 order"
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), verifier[32:])
    except ValueError:
        return "has an L that is not a point on the P-256 curve"
    return None


def check_verifier_matches(verifier: bytes, passcode: int, salt: bytes, iterations: int,
                           where: str | Subject) -> None:
    """Raise InputError if ``verifier`` was not derived from passcode/salt/iterations."""
    if compute_verifier(passcode, salt, iterations) != verifier:
        raise InputError.at(where, "the SPAKE2+ verifier does not match the passcode, salt and "
                                   "iteration count (give only the passcode to derive it, or "
                                   "the verifier that belongs to them)")
