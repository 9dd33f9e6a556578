"""OCI image archives written from files on this machine, so that a test tier needs no registry.

:func:`write_image_archive` packs files into one uncompressed layer and writes an OCI image
layout as a tar (``oci-layout``, ``index.json``, ``blobs/sha256/...``), the format that
``ctr images import`` reads. The index names the image with containerd's own annotation, so the
import needs no ``--base-name``. Every tar entry has owner 0 and time 0: the same files give the
same image digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_CONTAINERD_NAME = "io.containerd.image.name"
_REF_NAME = "org.opencontainers.image.ref.name"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def write_image_archive(
    archive: Path,
    reference: str,
    *,
    files: Mapping[str, Path],
    links: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
) -> str:
    """Write an image named ``reference`` (``host/name:tag``) whose one layer holds ``files``
    (path in the image -> file here, mode kept) and symbolic ``links`` (path -> target).
    Returns the manifest's digest."""
    if ":" not in reference.rsplit("/", 1)[-1]:
        raise ValueError(f"image reference {reference!r} needs a tag, e.g. {reference}:1")
    layer = _layer(files, links or {})
    run: dict[str, object] = {"Env": [f"PATH={_PATH}"]}
    if entrypoint:
        run["Entrypoint"] = list(entrypoint)
    if cmd:
        run["Cmd"] = list(cmd)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": run,
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": _OCI_MANIFEST,
            "config": _descriptor(_OCI_CONFIG, config),
            "layers": [_descriptor(_OCI_LAYER, layer)],
        }
    )
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                **_descriptor(_OCI_MANIFEST, manifest),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    _CONTAINERD_NAME: reference,
                    _REF_NAME: reference.rsplit(":", 1)[1],
                },
            }
        ],
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _json(index))
        for blob in (layer, config, manifest):
            _add_bytes(tar, f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}", blob)
    partial.replace(archive)  # a reader never sees half an archive
    return _digest(manifest)


def _layer(files: Mapping[str, Path], links: Mapping[str, str]) -> bytes:
    """The layer tar: parent folders first, then files and links, in a stable order."""
    paths = {_relative(p) for p in [*files, *links]}
    folders = sorted({str(parent) for p in paths for parent in PurePosixPath(p).parents} - {"."})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in folders:
            tar.addfile(_info(folder, tarfile.DIRTYPE, 0o755))
        for path, source in sorted(files.items()):
            data = source.read_bytes()
            info = _info(_relative(path), tarfile.REGTYPE, source.stat().st_mode & 0o7777)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(links.items()):
            info = _info(_relative(path), tarfile.SYMTYPE, 0o777)
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def _relative(path: str) -> str:
    relative = PurePosixPath(path.lstrip("/"))
    if not path.startswith("/") or ".." in relative.parts or not relative.parts:
        raise ValueError(f"image path {path!r} must be absolute, without '..'")
    return str(relative)


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _info(name, tarfile.REGTYPE, 0o644)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _digest(blob: bytes) -> str:
    return f"sha256:{hashlib.sha256(blob).hexdigest()}"


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _digest(blob), "size": len(blob)}
