"""The Kubernetes API as kasugai uses it: the kinds it touches, and plain-JSON requests.

The core reads and writes the API's own JSON, so requests here skip the generated models (whose
deserialization would cost more than planning): requests go through ``ApiClient.call_api`` with
dicts, and watches stream the raw response (``_preload_content=False``) line by line.

``acting_as(user)`` gives the same client sending every request as ``user`` (impersonation):
the controller writes a DataFlow's objects as a ServiceAccount of the DataFlow's namespace, so
that RBAC and admission judge them as that namespace's own.

``RESOURCES`` is also the controller's permission list: ``PERMISSIONS`` says which verbs it uses
on which resource, and the tests hold ``manifests/rbac`` to exactly that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3 import HTTPResponse

from kasugai.core import bounded

__all__ = [
    "APPLY_PATCH",
    "FIELD_MANAGER",
    "IMPERSONATION",
    "JSON_PATCH",
    "PERMISSIONS",
    "RESOURCES",
    "WORKLOAD_PERMISSIONS",
    "KubeApi",
    "Resource",
    "error_message",
    "load_api_client",
    "service_account_user",
]

FIELD_MANAGER = "kasugai"
APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
# (connect, read) seconds of a single request; watches set their own read timeout.
REQUEST_TIMEOUT = (10.0, 60.0)
LIST_PAGE = 500


@attrs.frozen
class Resource:
    """Where a kind lives in the API."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        scope = f"/namespaces/{namespace}" if namespace else ""
        tail = f"/{name}" if name else ""
        sub = f"/{subresource}" if subresource else ""
        return f"{base}{scope}/{self.plural}{tail}{sub}"


RESOURCES: Mapping[str, Resource] = {
    r.kind: r
    for r in (
        Resource("DataFlow", "example.com", "v1", "dataflows"),
        Resource("FunctionChain", "example.com", "v1", "functionchains"),
        Resource("FunctionType", "example.com", "v1", "functiontypes"),
        Resource("ConfigMap", "", "v1", "configmaps"),
        Resource("Pod", "", "v1", "pods"),
        Resource("Service", "", "v1", "services"),
        Resource("ServiceAccount", "", "v1", "serviceaccounts"),
        Resource("Role", "rbac.authorization.k8s.io", "v1", "roles"),
        Resource("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings"),
        Resource("Event", "", "v1", "events"),
        Resource("Lease", "coordination.k8s.io", "v1", "leases"),
    )
}

# Every request the controller makes as itself, as RBAC rules: (apiGroup, resource) -> verbs. It
# reads what it watches, writes statuses and Events, and acts as the namespaces' kasugai
# ServiceAccounts for everything else (``WORKLOAD_PERMISSIONS``). Leases are only read and
# written in the controller's own namespace (a Role, not the ClusterRole).
PERMISSIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("example.com", "dataflows"): ("list", "watch"),
    ("example.com", "functionchains"): ("list", "watch"),
    ("example.com", "functiontypes"): ("list", "watch"),
    ("example.com", "dataflows/status"): ("patch",),
    ("example.com", "functionchains/status"): ("patch",),
    ("example.com", "functiontypes/status"): ("patch",),
    # Watched: ConfigMaps by name (the referenced ones) or by kasugai's label, the rest by the
    # label; ``get`` finds who holds a name kasugai wanted to create.
    ("", "configmaps"): ("get", "list", "watch"),
    ("", "pods"): ("get", "list", "watch"),
    ("", "services"): ("get", "list", "watch"),
    ("", "serviceaccounts"): ("get", "list", "watch"),
    ("rbac.authorization.k8s.io", "roles"): ("get", "list", "watch"),
    ("rbac.authorization.k8s.io", "rolebindings"): ("get", "list", "watch"),
    ("", "events"): ("create",),
}
# Impersonating the namespaces' kasugai account (and no other: resourceNames in the ClusterRole).
IMPERSONATION: tuple[str, str, str] = ("", "serviceaccounts", "impersonate")
# What a namespace's kasugai account needs for the objects kasugai writes as it.
WORKLOAD_PERMISSIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "configmaps"): ("create", "delete", "get", "list", "patch", "watch"),
    ("", "pods"): ("create", "delete", "patch"),
    # Only to grant it: each function Pod's Role lets its sidecar patch its own Pod's status.
    ("", "pods/status"): ("patch",),
    ("", "services"): ("create", "delete", "patch"),
    ("", "serviceaccounts"): ("create", "delete", "patch"),
    ("rbac.authorization.k8s.io", "roles"): ("create", "delete", "patch"),
    ("rbac.authorization.k8s.io", "rolebindings"): ("create", "delete", "patch"),
    # Owner references that block owner deletion, where OwnerReferencesPermissionEnforcement is on.
    ("example.com", "dataflows/finalizers"): ("update",),
}
LEASE_PERMISSIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("coordination.k8s.io", "leases"): ("create", "get", "update"),
}


def error_message(error: BaseException) -> str:
    """The API server's own message for a failed request (its Status), else the error's text."""
    if not isinstance(error, ApiException):
        return " ".join(str(error).split())
    message = f"{error.status} {error.reason}"
    with contextlib.suppress(ValueError, AttributeError):  # not a JSON Status object
        message = bounded.load_json(error.body or "{}").get("message") or message
    return message


def load_api_client(kubeconfig: str | None) -> client.ApiClient:
    """A client from ``kubeconfig`` when given, else from the Pod's service account."""
    configuration = client.Configuration()
    try:
        if kubeconfig:
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as error:
        where = kubeconfig or "no kubeconfig given (--kubeconfig, $KUBECONFIG) and not in a Pod"
        raise config.ConfigException(f"{where}: {error}") from error
    return client.ApiClient(configuration)


def service_account_user(namespace: str, name: str) -> str:
    """The user name a ServiceAccount authenticates as."""
    return f"system:serviceaccount:{namespace}:{name}"


class KubeApi:
    """JSON requests against one API server, with the client's auth and TLS settings."""

    def __init__(self, api_client: client.ApiClient, impersonate: str = "") -> None:
        self.client = api_client
        self.impersonate = impersonate

    def acting_as(self, user: str) -> KubeApi:
        """The same connection, every request sent as ``user`` (``Impersonate-User``)."""
        return KubeApi(self.client, impersonate=user)

    def _headers(self, body: Any, content_type: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.impersonate:
            headers["Impersonate-User"] = self.impersonate
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """The decoded JSON answer; ``ApiException`` for any status but 2xx."""
        serialized = self.client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=self._headers(body, content_type),
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.client.call_api(*serialized, _request_timeout=REQUEST_TIMEOUT)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        data = response.data
        return bounded.load_api_json(data, bounded.API) if data else {}

    def watch(
        self,
        kind: str,
        namespace: str | None,
        query: Sequence[tuple[str, str]],
        timeout: tuple[float, float],
    ) -> HTTPResponse:
        """A watch request's streaming response (JSON lines); ``ApiException`` if refused."""
        serialized = self.client.param_serialize(
            method="GET",
            resource_path=RESOURCES[kind].path(namespace),
            query_params=[("watch", "true"), *query],
            header_params=self._headers(None, ""),
            auth_settings=["BearerToken"],
        )
        answer = self.client.call_api(*serialized, _request_timeout=timeout)
        response: HTTPResponse = answer.response
        if not 200 <= response.status <= 299:
            answer.read()
            raise ApiException.from_response(http_resp=answer, body=None, data=None)
        return response

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", RESOURCES[kind].path(namespace, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[dict[str, Any]], str]:
        """Every object (page by page) and the list's resourceVersion, to watch from.

        List items carry no ``kind``/``apiVersion``; they are filled in here.
        """
        resource = RESOURCES[kind]
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", str(LIST_PAGE))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if token:
                query.append(("continue", token))
            page = self.request("GET", resource.path(namespace), query=query)
            for item in page.get("items") or []:
                item["kind"] = kind
                item["apiVersion"] = resource.api_version
                items.append(item)
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    def apply(
        self,
        body: Mapping[str, Any],
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Server-Side Apply, taking over fields another manager set (``force``)."""
        meta = body["metadata"]
        resource = RESOURCES[str(body["kind"])]
        query = [("fieldManager", field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        path = resource.path(meta.get("namespace"), meta["name"], subresource)
        return self.request("PATCH", path, query=query, body=body, content_type=APPLY_PATCH)

    def patch(
        self,
        kind: str,
        namespace: str,
        name: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902): what Server-Side Apply cannot do, such as removing fields
        kasugai co-owns or list items another manager owns."""
        query = [("fieldManager", FIELD_MANAGER)]
        if dry_run:
            query.append(("dryRun", "All"))
        path = RESOURCES[kind].path(namespace, name)
        body = list(operations)
        return self.request("PATCH", path, query=query, body=body, content_type=JSON_PATCH)

    def delete(
        self, kind: str, namespace: str, name: str, *, uid: str = "", dry_run: bool = False
    ) -> dict[str, Any]:
        """Delete (background propagation); with ``uid``, only that incarnation of the name."""
        options: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        if dry_run:
            options["dryRun"] = ["All"]
        return self.request("DELETE", RESOURCES[kind].path(namespace, name), body=options)

    def create(
        self,
        body: Mapping[str, Any],
        *,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """POST: fails with 409 AlreadyExists when the name is taken, whoever took it."""
        path = RESOURCES[str(body["kind"])].path(body["metadata"].get("namespace"))
        query = [("fieldManager", field_manager)]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request("POST", path, query=query, body=body)

    def may_read(self, kind: str, namespace: str, name: str = "") -> tuple[bool, str]:
        """Whether this client (as whoever it acts as) may get ``name``, or list the kind in
        ``namespace`` when no name is given; and the API server's reason when not."""
        path = RESOURCES[kind].path(namespace, name or None)
        try:
            self.request("GET", path, query=[] if name else [("limit", "1")])
        except ApiException as error:
            if error.status == 404:
                return True, ""  # allowed to look, and nothing is there
            if error.status in (401, 403):
                return False, error_message(error)
            raise
        return True, ""

    def replace(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT: fails with 409 when ``metadata.resourceVersion`` is not the current one."""
        meta = body["metadata"]
        path = RESOURCES[str(body["kind"])].path(meta.get("namespace"), meta["name"])
        return self.request("PUT", path, body=body)
