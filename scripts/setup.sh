#!/usr/bin/env bash
# Installs everything kasugai needs on a fresh machine of this kind (Debian, root, Python 3.11):
# Debian packages (GStreamer for the video chain; podman, buildah and mmdebstrap for the container
# images; containerd, runc, CNI plugins, iptables, a C compiler and busybox for the node test
# tier; headless Chromium for the live page's browser test), then a virtualenv in .venv with
# kasugai and its dev extras installed editable. Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-plugins-base-apps  # gst-discoverer-1.0: the video tests check the MP4 with it
  procps iproute2
  # The node test tier (tests/node): containers with runc (crun fails on hybrid cgroups), CNI
  # bridge/host-local/loopback/portmap, kube-proxy's iptables, gcc + static libc for the pause
  # image, a static busybox for the test image. containerd is started by the tests, not here.
  containerd runc containernetworking-plugins iptables gcc libc6-dev busybox-static
  # Container images (scripts/build-images.sh, tests/images): podman with runc (crun fails on
  # this hybrid cgroup hierarchy), buildah, mmdebstrap for a Debian base without a registry, and
  # containerd, whose ctr imports the exported archives.
  podman buildah mmdebstrap
  # The live page's browser test and scripts/screenshot_page.py: headless Chromium and the
  # chromedriver Selenium drives (from Debian: nothing is downloaded at test time).
  chromium chromium-driver
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Another apt run on the machine holds dpkg's lock for a while: wait for it, not fail.
  lock_wait=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${lock_wait[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock_wait[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.kasugai-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "setup: installing kasugai and its dev dependencies into .venv"
  # pip's build backend is chatty even with -q; keep its output for when something fails.
  log=.venv/pip-install.log
  # requirements.lock pins what the tests ran with (`make lock` refreshes it).
  if ! { .venv/bin/python -m pip install -q --upgrade -c requirements.lock pip &&
         .venv/bin/python -m pip install -q -c requirements.lock -e '.[dev]'; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: pip install failed (log above, also in $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
