# Helpers that install what the tests need. Idempotent; under CI=true a tool
# that cannot be installed fails the run rather than skipping tests.

ensure_rust_components() {
  for c in "$@"; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
      rustup component add "$c"
    fi
  done
}

# ensure_apt PACKAGE COMMAND: installs PACKAGE when COMMAND is missing.
ensure_apt() {
  local pkg=$1 cmd=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ]; then
    if [ ! -f /var/lib/apt/periodic/anysip-updated ]; then
      apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/anysip-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "missing tool: $cmd (package $pkg)" >&2
    [ "${CI:-}" = true ] && return 1
  fi
  return 0
}

# ensure_pip PACKAGE[==VERSION] COMMAND: installs the PyPI package when
# COMMAND is missing (pip of python3; on a Debian python that refuses
# system-wide installs, with --break-system-packages).
ensure_pip() {
  local pkg=$1 cmd=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if ! python3 -m pip --version >/dev/null 2>&1; then
    ensure_apt python3-pip pip3 || return 1
  fi
  python3 -m pip install -q "$pkg" >/dev/null 2>&1 ||
    python3 -m pip install -q --break-system-packages "$pkg" >/dev/null 2>&1 || true
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
  hash -r
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "missing tool: $cmd (PyPI package $pkg)" >&2
    [ "${CI:-}" = true ] && return 1
  fi
  return 0
}

# ensure_bpf_linker: the eBPF toolchain of DESIGN §9 (bpf-linker 0.10.0 on
# rustc's own LLVM), used by ebpf/loader's build script for the XDP program.
ensure_bpf_linker() {
  ensure_rust_components rust-src
  if bpf-linker --version 2>/dev/null | grep -q "0\.10\.0"; then
    return 0
  fi
  echo "== installing bpf-linker 0.10.0 (about two minutes)"
  cargo install --locked bpf-linker@0.10.0 --no-default-features --features rust-llvm-22 ||
    cargo install bpf-linker@0.10.0 --no-default-features --features rust-llvm-22
  if ! bpf-linker --version >/dev/null 2>&1; then
    echo "missing tool: bpf-linker" >&2
    [ "${CI:-}" = true ] && return 1
  fi
  return 0
}

# ensure_cargo_deb: cargo-deb (the Debian package, scripts/deb) at the
# version the package's metadata was written for.
CARGO_DEB_VERSION=3.8.0
ensure_cargo_deb() {
  if cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    return 0
  fi
  echo "== installing cargo-deb $CARGO_DEB_VERSION"
  cargo install --locked "cargo-deb@$CARGO_DEB_VERSION" ||
    cargo install "cargo-deb@$CARGO_DEB_VERSION"
  if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "missing tool: cargo-deb $CARGO_DEB_VERSION" >&2
    [ "${CI:-}" = true ] && return 1
  fi
  return 0
}

# ensure_npm_ci DIR: installs the npm packages pinned by DIR/package-lock.json
# into DIR/node_modules (npm ci), with Node and npm from apt when missing;
# again only when the lock file changed.
ensure_npm_ci() {
  local dir=$1
  ensure_apt nodejs node || return 1
  ensure_apt npm npm || return 1
  command -v npm >/dev/null 2>&1 || return 0
  local want have=""
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [ -f "$dir/node_modules/.anysip-lock" ] && have=$(cat "$dir/node_modules/.anysip-lock")
  [ "$want" = "$have" ] && return 0
  if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "$want" >"$dir/node_modules/.anysip-lock"
  else
    echo "npm ci failed in $dir" >&2
    [ "${CI:-}" = true ] && return 1
  fi
  return 0
}
