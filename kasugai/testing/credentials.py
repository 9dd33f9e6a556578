"""Credentials for a throw-away API server: a CA, a serving certificate, a service-account key,
an admin token; for a tier with a node, also tokens for its components and a client certificate
the apiserver shows to the kubelet.

Made in-process with ``cryptography`` at every start, so nothing secret is checked in and
clients verify the server's certificate for real (no ``insecure-skip-tls-verify``).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ADMIN_USER = "kasugai-admin"
ADMIN_GROUP = "system:masters"  # bound to cluster-admin by the apiserver's bootstrap policy
_PEM = serialization.Encoding.PEM


@attrs.frozen
class ClusterCredentials:
    """Paths of the files the apiserver reads, and the admin's bearer token."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    token_file: Path
    admin_token: str
    user_tokens: Mapping[str, str] = attrs.field(factory=dict)  # user name -> bearer token
    kubelet_client_cert: Path | None = None  # the apiserver's identity towards kubelets
    kubelet_client_key: Path | None = None


def write_credentials(
    directory: Path,
    host: str,
    *,
    alt_names: Sequence[str] = (),
    users: Mapping[str, Sequence[str]] | None = None,
    kubelet_client: bool = False,
) -> ClusterCredentials:
    """Write a fresh CA, a certificate for ``host`` (an IP) signed by it, a service-account
    signing key and a token file with one admin, all private to this run.

    ``alt_names`` (IPs or DNS names) are further names of the serving certificate, ``users``
    (name -> groups) further token users, and ``kubelet_client`` adds a client certificate in
    ``system:masters`` for the apiserver to show kubelets."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _rsa_key()
    ca_cert = _certificate("kasugai-test-ca", ca_key, ca_key, None, is_ca=True)
    serving_key = _rsa_key()
    serving_cert = _certificate(
        "kasugai-test-apiserver",
        serving_key,
        ca_key,
        ca_cert,
        is_ca=False,
        names=[host, *alt_names],
    )
    admin_token = secrets.token_urlsafe(32)
    user_tokens = {user: secrets.token_urlsafe(32) for user in users or {}}

    creds = ClusterCredentials(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "service-account.key",
        token_file=directory / "tokens.csv",
        admin_token=admin_token,
        user_tokens=user_tokens,
    )
    _write_private(creds.ca_cert, ca_cert.public_bytes(_PEM))
    _write_private(creds.serving_cert, serving_cert.public_bytes(_PEM))
    _write_private(creds.serving_key, _pem(serving_key))
    _write_private(creds.service_account_key, _pem(_rsa_key()))
    # Static token file format: token,user,uid,"group1,group2"
    lines = [f'{admin_token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n']
    for user, groups in (users or {}).items():
        lines.append(f'{user_tokens[user]},{user},{user},"{",".join(groups)}"\n')
    _write_private(creds.token_file, "".join(lines).encode())
    if kubelet_client:
        client_key = _rsa_key()
        client_cert = _certificate(
            "kube-apiserver-kubelet-client",
            client_key,
            ca_key,
            ca_cert,
            is_ca=False,
            organization=ADMIN_GROUP,
        )
        cert_path = directory / "apiserver-kubelet-client.crt"
        key_path = directory / "apiserver-kubelet-client.key"
        _write_private(cert_path, client_cert.public_bytes(_PEM))
        _write_private(key_path, _pem(client_key))
        creds = attrs.evolve(creds, kubelet_client_cert=cert_path, kubelet_client_key=key_path)
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
    names: Sequence[str] = (),
    organization: str | None = None,
) -> x509.Certificate:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:  # the group a client certificate's user is in
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(attributes)
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
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)
