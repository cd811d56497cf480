#!/usr/bin/env bash
# Installs the Debian packages DataInsight needs, only when they are missing.
#   python  the venv module (python3-venv), before the virtual environment is made
#   run     nothing is required to serve yet; chromium is installed where possible for
#           later PDF export, and its absence is not an error
#   test    chromium and chromium-driver (browser tests), poppler-utils (PDF checks)
set -euo pipefail
what=${1:-test}

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then sudo="sudo"; else
      echo "Please install these Debian packages as root: $*" >&2
      return 1
    fi
  fi
  if ! have apt-get; then
    echo "No apt-get here; please install: $*" >&2
    return 1
  fi
  echo "Installing Debian packages: $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

case "$what" in
  python)
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_install python3-venv
    fi
    ;;
  run)
    if ! have chromium && ! have chromium-browser && ! have google-chrome; then
      apt_install chromium || echo "Could not install chromium; PDF export will say what to install."
    fi
    ;;
  test)
    missing=()
    have chromium || missing+=(chromium)
    have chromedriver || missing+=(chromium-driver)
    have pdftoppm || missing+=(poppler-utils)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    ;;
  *) echo "usage: $0 python|run|test" >&2; exit 2 ;;
esac
