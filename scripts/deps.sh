# Installs the Debian packages Loom builds against, when they are missing.
# Sourced by scripts/test.sh (and later scripts); not run on its own.

# libdnnl-dev: oneDNN 2.x for the oneDNN CPU backend (LOOM_WITH_ONEDNN, ON in scripts/test.sh).
LOOM_DEBIAN_PACKAGES=(cmake g++ make libfmt-dev libgtest-dev googletest libdnnl-dev)

loom_install_deps() {
  local missing=()
  local pkg
  for pkg in "${LOOM_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" ||
      { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
  else
    echo "Loom needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}
