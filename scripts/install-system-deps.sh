#!/usr/bin/env bash
# Installs the Debian packages DataInsight needs, only when they are missing.
#   python  the venv module (python3-venv), before the virtual environment is made
#   run     pango (WeasyPrint lays out PDF reports with it); chromium is installed where
#           possible for the charts of PDF exports, and its absence is not an error
#   test    pango, chromium and chromium-driver (browser tests), poppler-utils (PDF checks),
#           postgresql (the tests run on it as well as on SQLite), mariadb-server (tests
#           connect to it as a MySQL source), libreoffice-impress (a test opens the
#           PowerPoint export with it), redis-server (the cluster tests' broker and
#           shared cache, scripts/with-redis.sh)
set -euo pipefail
what=${1:-test}

have() { command -v "$1" >/dev/null 2>&1; }

# WeasyPrint (PDF reports) loads Pango through ctypes: check for the shared libraries.
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
pango_missing() {
  local out=()
  have_lib libpango-1.0.so.0 || out+=(libpango-1.0-0)
  have_lib libpangoft2-1.0.so.0 || out+=(libpangoft2-1.0-0)
  echo "${out[@]}"
}

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
    pango=$(pango_missing)
    if [ -n "$pango" ]; then
      # shellcheck disable=SC2086 # one word per package
      apt_install $pango || echo "Could not install $pango; PDF export will not work until it is installed."
    fi
    if ! have chromium && ! have chromium-browser && ! have google-chrome; then
      apt_install chromium || echo "Could not install chromium; PDF export will say what to install."
    fi
    ;;
  test)
    missing=()
    for lib in $(pango_missing); do missing+=("$lib"); done
    have chromium || missing+=(chromium)
    have chromedriver || missing+=(chromium-driver)
    have pdftoppm || missing+=(poppler-utils)
    # The storage, HTTP and integration tests run on PostgreSQL too (scripts/with-postgres.sh).
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    # Database connections are tested against MySQL's kin (issue 16).
    [ -x /usr/sbin/mariadbd ] || have mariadbd || missing+=(mariadb-server)
    # PowerPoint exports are opened and printed by LibreOffice in a test (issue 17).
    have soffice || missing+=(libreoffice-impress)
    # Background jobs on Celery workers through Redis (issue 14, scripts/with-redis.sh).
    have redis-server || missing+=(redis-server)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    ;;
  *) echo "usage: $0 python|run|test" >&2; exit 2 ;;
esac
