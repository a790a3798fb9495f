# Installs the Debian packages Loom builds against, when they are missing.
# Sourced by scripts/test.sh (and later scripts); not run on its own.

# libdnnl-dev: oneDNN 2.x for the oneDNN CPU backend (LOOM_WITH_ONEDNN, ON in scripts/test.sh).
# ocl-icd-opencl-dev: Debian's dnnl-config.cmake calls find_package(OpenCL REQUIRED)
# (its oneDNN is built with the OpenCL runtime), but the OpenCL headers and
# loader are only a Recommends of libdnnl-dev, which --no-install-recommends skips.
LOOM_DEBIAN_PACKAGES=(cmake g++ make libfmt-dev libgtest-dev googletest libdnnl-dev ocl-icd-opencl-dev)

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
