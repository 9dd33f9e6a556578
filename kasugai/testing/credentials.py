"""Credentials for a throw-away API server: a CA, a serving certificate, a service-account key,
an admin token.

Made in-process with ``cryptography`` at every start, so nothing secret is checked in and
clients verify the server's certificate for real (no ``insecure-skip-tls-verify``).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ADMIN_USER = "kasugai-admin"
ADMIN_GROUP = "system:masters"  # bound to cluster-admin by the apiserver's bootstrap policy


@attrs.frozen
class ClusterCredentials:
    """Paths of the files the apiserver reads, and the admin's bearer token."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    token_file: Path
    admin_token: str


def write_credentials(directory: Path, host: str) -> ClusterCredentials:
    """Write a fresh CA, a certificate for ``host`` (an IP) signed by it, a service-account
    signing key and a token file with one admin, all private to this run."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _rsa_key()
    ca_cert = _certificate("kasugai-test-ca", ca_key, ca_key, None, is_ca=True)
    serving_key = _rsa_key()
    serving_cert = _certificate(
        "kasugai-test-apiserver", serving_key, ca_key, ca_cert, is_ca=False, ip=host
    )
    admin_token = secrets.token_urlsafe(32)

    creds = ClusterCredentials(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "service-account.key",
        token_file=directory / "tokens.csv",
        admin_token=admin_token,
    )
    _write_private(creds.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(creds.serving_cert, serving_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(creds.serving_key, _pem(serving_key))
    _write_private(creds.service_account_key, _pem(_rsa_key()))
    # Static token file format: token,user,uid,"group1,group2"
    admin_line = f'{admin_token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n'
    _write_private(creds.token_file, admin_line.encode())
    return creds


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _certificate(
    common_name: str,
    key: rsa.RSAPrivateKey,
    issuer_key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    *,
    is_ca: bool,
    ip: str | None = None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        # Key identifiers: strict verifiers (Python 3.13's default flags) insist on them.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)
