"""The public half of an Ed25519 private key (RFC 8032, section 5.1.5), in
plain Python: enough for check_manifests.py to see that a key Secret in a
render belongs with the trust file next to it, without a crypto library.
Public keys only; nothing here signs or verifies (and nothing here needs to
be constant-time: the keys it reads are development keys in the repository).
"""

from __future__ import annotations

import base64
import hashlib
import re

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

# An Ed25519 private key in DER (RFC 8410, RFC 5958): a prefix, the 32-byte
# seed and, in version 2 (what `gateway credentials init` writes), the public
# key ([1], a BIT STRING without unused bits).
_PKCS8_V1 = bytes.fromhex("302e020100300506032b657004220420")
_PKCS8_V2 = bytes.fromhex("3051020101300506032b657004220420")
_PKCS8_V2_PUBLIC = bytes.fromhex("812100")
_PEM = re.compile(r"-----BEGIN PRIVATE KEY-----\s*(.*?)\s*-----END PRIVATE KEY-----", re.S)


def _recover_x(y: int, sign: int) -> int:
    xx = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    x = pow(xx, (_P + 3) // 8, _P)
    if (x * x - xx) % _P:
        x = x * _SQRT_M1 % _P
    if x & 1 != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
# Extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z.
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _add(p: tuple, q: tuple) -> tuple:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, p: tuple) -> tuple:
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte private key (seed)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 private key is 32 bytes")
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    x, y, z, _ = _mul(a, _G)
    zinv = pow(z, _P - 2, _P)
    x, y = x * zinv % _P, y * zinv % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def pem_seed(pem: str) -> bytes:
    """The seed of a PKCS#8 PEM Ed25519 private key (what `gateway
    credentials init` and `openssl genpkey -algorithm ed25519` write)."""
    m = _PEM.search(pem)
    if not m:
        raise ValueError("not a PEM private key")
    der = base64.b64decode("".join(m.group(1).split()))
    if len(der) == len(_PKCS8_V1) + 32 and der.startswith(_PKCS8_V1):
        return der[len(_PKCS8_V1):]
    v2 = len(_PKCS8_V2)
    if len(der) == v2 + 32 + len(_PKCS8_V2_PUBLIC) + 32 and der.startswith(_PKCS8_V2) \
            and der[v2 + 32:v2 + 32 + len(_PKCS8_V2_PUBLIC)] == _PKCS8_V2_PUBLIC:
        seed = der[v2:v2 + 32]
        if der[-32:] != public_key(seed):
            raise ValueError("its public key is not the private key's")
        return seed
    raise ValueError("not an Ed25519 PKCS#8 private key")


def pem_public_key(pem: str) -> str:
    """The public key of a PKCS#8 PEM Ed25519 private key, as the trust file
    writes it (64 lower-case hex digits)."""
    return public_key(pem_seed(pem)).hex()
