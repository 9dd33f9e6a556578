"""Where the sidecar's Kubernetes API server is, and the credentials it presents there.

Importing any module of the official client imports all of its API models (half a second and
44 MiB, more than the rest of the sidecar), so the two usual cases are read here, the way
client-go reads them:

* in a Pod: ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT``, with the service
  account's ``token`` and ``ca.crt`` from /var/run/secrets/kubernetes.io/serviceaccount (the
  token is read again for every request: the kubelet rotates it);
* a kubeconfig whose current context has a cluster with a ``server`` (and its CA, as a file or
  as data) and a user with a ``token`` or a ``tokenFile`` (read again for every request).

Any other kubeconfig (client certificates, exec plugins, auth providers, several files in
``KUBECONFIG``) is loaded by the official client, the right tool for those, at the cost of its
import.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kasugai.core import bounded

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_STATIC_CLUSTER = frozenset({"server", "certificate-authority", "certificate-authority-data"})
_STATIC_USER = frozenset({"token", "tokenFile"})

Authorization = Callable[[], str | None]  # the Authorization header for the next request


class AccessError(Exception):
    """The API server cannot be reached as configured; the message says what to fix."""


@attrs.frozen
class Access:
    server: str  # https://host:port, without a trailing slash
    tls: ssl.SSLContext
    authorization: Authorization


def load_access(kubeconfig: str | None) -> Access:
    """From ``kubeconfig`` when given, else from the Pod's service account."""
    return from_kubeconfig(kubeconfig) if kubeconfig else in_cluster()


def in_cluster(
    directory: Path = SERVICE_ACCOUNT_DIR, environ: Mapping[str, str] = os.environ
) -> Access:
    host = environ.get("KUBERNETES_SERVICE_HOST")
    port = environ.get("KUBERNETES_SERVICE_PORT")
    if not (host and port):
        raise AccessError(
            "not in a Pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset) and "
            "no kubeconfig given: use --kubeconfig FILE or set KUBECONFIG"
        )
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        tls = _tls(cafile=str(directory / "ca.crt"))
    except (OSError, ssl.SSLError) as err:
        raise AccessError(f"the service account's CA {directory / 'ca.crt'}: {err}") from err
    return Access(f"https://{host}:{port}", tls, _bearer_from_file(directory / "token"))


def from_kubeconfig(path: str) -> Access:
    if os.pathsep in path:  # several files to merge
        return _by_the_official_client(path)
    try:
        document = bounded.load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeError, bounded.ParseError) as err:
        raise AccessError(f"kubeconfig {path}: {err}") from err
    found = _static_context(document)
    if found is None:
        return _by_the_official_client(path)
    cluster, user = found
    where = Path(path).parent  # relative paths in a kubeconfig are relative to its folder
    try:
        tls = _tls(
            cafile=str(where / cluster["certificate-authority"])
            if "certificate-authority" in cluster
            else None,
            cadata=base64.b64decode(cluster["certificate-authority-data"], validate=True).decode()
            if "certificate-authority-data" in cluster
            else None,
        )
    except (OSError, ssl.SSLError, ValueError, binascii.Error) as err:
        raise AccessError(f"kubeconfig {path}: the cluster's certificate authority: {err}") from err
    if "token" in user:
        bearer = f"Bearer {user['token']}"
        authorization: Authorization = lambda: bearer  # noqa: E731
    else:
        authorization = _bearer_from_file(where / user["tokenFile"])
    return Access(str(cluster["server"]).rstrip("/"), tls, authorization)


def _named(document: dict[str, Any], section: str, name: Any) -> Any:
    entries = document.get(section)
    if not isinstance(entries, list):
        return None
    return next(
        (e.get(section[:-1]) for e in entries if isinstance(e, dict) and e.get("name") == name),
        None,
    )


def _static_context(document: Any) -> tuple[dict[str, str], dict[str, str]] | None:
    """The current context's cluster and user when both are of the kinds read here."""
    if not isinstance(document, dict):
        return None
    context = _named(document, "contexts", document.get("current-context"))
    if not isinstance(context, dict):
        return None
    cluster = _named(document, "clusters", context.get("cluster"))
    user = _named(document, "users", context.get("user"))
    if not (isinstance(cluster, dict) and isinstance(user, dict)):
        return None
    if not ("server" in cluster and set(cluster) <= _STATIC_CLUSTER):
        return None
    if len(user) != 1 or not set(user) <= _STATIC_USER:
        return None
    if not all(isinstance(v, str) and v for v in [*cluster.values(), *user.values()]):
        return None
    if not cluster["server"].startswith("https://"):
        return None
    return cluster, user


def _by_the_official_client(path: str) -> Access:
    from kubernetes import client, config  # only for these kubeconfigs: a costly import

    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=path, client_configuration=configuration)
    except config.ConfigException as err:
        raise AccessError(f"kubeconfig {path}: {err}") from err
    for setting in ("proxy", "tls_server_name"):
        if getattr(configuration, setting, None):
            raise AccessError(
                f"kubeconfig {path}: the sidecar does not support {setting.replace('_', '-')} "
                "in a cluster entry: reach the API server directly"
            )
    try:
        tls = _tls(
            cafile=configuration.ssl_ca_cert,
            certfile=configuration.cert_file,
            keyfile=configuration.key_file,
            verify=configuration.verify_ssl,
        )
    except (OSError, ssl.SSLError) as err:
        raise AccessError(f"kubeconfig {path}: TLS settings: {err}") from err

    def authorization() -> str | None:  # runs the exec plugin again when its token expired
        bearer = configuration.auth_settings().get("BearerToken")
        return str(bearer["value"]) if bearer else None

    return Access(str(configuration.host).rstrip("/"), tls, authorization)


def _tls(
    *,
    cafile: str | None = None,
    cadata: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client context trusting ``cafile``/``cadata`` (else the system's CAs)."""
    context = ssl.create_default_context(cafile=cafile, cadata=cadata)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _bearer_from_file(path: Path) -> Authorization:
    def read() -> str:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as err:
            raise AccessError(f"token file {path}: {err}") from err
        if not token:
            raise AccessError(f"token file {path} is empty")
        return f"Bearer {token}"

    return read
