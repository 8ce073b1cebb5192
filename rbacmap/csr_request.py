"""The subject a CertificateSigningRequest asks for: the user (CN) and groups (O) of its certificate.

Only the public PKCS#10 request is read, never a key. A request that cannot be decoded gives
no subject rather than an import error: the CSR is still recorded.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestedSubject:
    common_name: str | None
    organizations: tuple[str, ...]


def requested_subject(request_b64: object) -> RequestedSubject | None:
    """Decode spec.request (base64 of a PEM CSR); None when absent or undecodable."""
    if not isinstance(request_b64, str) or not request_b64:
        return None
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover - cryptography ships with the test and cloud extras
        return None
    try:
        pem = base64.b64decode(request_b64, validate=False)
        csr = x509.load_pem_x509_csr(pem)
    except (ValueError, binascii.Error):
        return None
    names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return RequestedSubject(names[0] if names else None, orgs)
