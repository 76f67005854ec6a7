# Helpers shared by the .ci scripts. Source it; it defines functions only.

# as_root CMD...: run CMD as root, through sudo when we are not root.
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "need root or sudo to run: $*" >&2
    return 1
  fi
}

# _have NAME: whether what the Debian package NAME provides is already here.
# Checks look for the thing we use, not for dpkg records, so tools installed
# some other way (a Node tarball, a Go image's gcc) count too.
_have() {
  case $1 in
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    chromium) [[ -x ${TILL_TEST_CHROMIUM:-/usr/bin/chromium} ]] ;;
    nodejs) command -v node >/dev/null ;;
    gcc) command -v gcc >/dev/null || command -v cc >/dev/null ;;
    *) command -v "$1" >/dev/null ;; # npm, make, git
  esac
}

# ensure_packages NAME...: apt-get install the ones that are missing. Runs
# apt-get update only when something must be installed, so a machine that
# has everything does no network I/O here.
ensure_packages() {
  local missing=() name
  for name in "$@"; do
    if ! _have "$name"; then
      missing+=("$name")
      # go test -race needs cgo; gcc alone cannot link without libc headers.
      [[ $name == gcc ]] && missing+=(libc6-dev)
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "already installed: $*"
    return 0
  fi
  echo "installing with apt: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" || return
}

# now_ms: wall clock in milliseconds (bash 5's EPOCHREALTIME, no subprocess).
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((10#$t / 1000))
}

# fmt_ms MS: "12.3s".
fmt_ms() {
  printf '%d.%ds' $(($1 / 1000)) $((($1 % 1000) / 100))
}
