#!/usr/bin/env bash
# Installs mscc on a fresh Debian 12 machine: the system packages it needs (GStreamer RTSP server,
# PyGObject, ffmpeg), then a virtual environment in .venv with the project and its dev tools.
# Safe to run again: packages already present are not reinstalled, the venv is reused.
# --train also installs the training extra (ultralytics, torch) for mscc train / export.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# Debian packages. The camera simulator serves RTSP through GStreamer's RTSP server, reached through
# PyGObject (python3-gi); that is why the venv is built on the system Python with its site packages.
# Chromium is driven by Playwright in the browser tests (Playwright never downloads a browser here);
# the MQTT tests start a private Mosquitto broker.
apt_packages=(
  python3 python3-venv python3-dev python3-gi
  gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  ffmpeg
  chromium fonts-noto-cjk
  mosquitto
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "==> Debian packages already present"
fi

python=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv on $($python --version) with system site packages"
  "$python" -m venv --system-site-packages .venv
fi
extras=dev
if [ "${1:-}" = "--train" ]; then
  # Training and the ultralytics backend: torch 2.14.1 / torchvision 0.29.1 (a ~6 GB CUDA build that runs
  # on the CPU) come from this machine's local wheel store; the pipeline itself never needs them.
  extras=dev,train
fi
echo "==> installing mscc[$extras] into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extras]"
echo "==> done. Start the demo with: .venv/bin/mscc demo"
