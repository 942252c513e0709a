# Shared helpers of the set-up scripts: each installs what it needs only when it is missing.

step() { printf '\n==> %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
# need_apt CMD:PACKAGE ... installs PACKAGE when CMD is not on PATH.
need_apt() {
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" > /dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
}

# Debian packages without a command to look for: need_apt_package PKG...
need_apt_package() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" > /dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
}

need_rust() {
  if ! command -v cargo > /dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
  fi
  command -v cargo > /dev/null 2>&1 || {
    echo "Rust is needed: install it with rustup (https://rustup.rs) and run this again." >&2
    exit 1
  }
  rustup component add rustfmt clippy > /dev/null 2>&1 || true
}

# need_cargo_tool BINARY "INSTALL ARGS"
need_cargo_tool() {
  command -v "$1" > /dev/null 2>&1 && return 0
  step "cargo install $2"
  # shellcheck disable=SC2086
  cargo install $2
}

need_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  if ls /etc/postgresql > /dev/null 2>&1; then
    step "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL is not reachable at 127.0.0.1:5432 (set ITC_TEST_POSTGRES_URL)." >&2
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# need_python_module MODULE PIP_PACKAGE DEBIAN_PACKAGE
need_python_module() {
  python3 -c "import $1" > /dev/null 2>&1 && return 0
  step "installing $2 (Python)"
  python3 -m pip install --quiet "$2" 2> /dev/null \
    || python3 -m pip install --quiet --break-system-packages "$2" 2> /dev/null \
    || need_apt "__none__:$3"
  python3 -c "import $1"
}

# real_photos DIR: fills DIR with real photographs Debian packages (KDE Plasma's wallpapers,
# 4 to 15 megapixels, some progressive) plus lossless progressive copies of some of them
# (jpegtran), so about 40 % are progressive.
real_photos() {
  local dir="$1" f src set_name
  need_apt_package plasma-workspace-wallpapers
  need_apt jpegtran:libjpeg-turbo-progs
  mkdir -p "$dir"
  find /usr/share/wallpapers -type f -name '*.jpg' -size +250k | while read -r f; do
    set_name=$(echo "$f" | cut -d/ -f5)
    cp "$f" "$dir/$set_name-$(basename "$f")"
  done
  rm -f "$dir"/*-720x1440.jpg
  for f in BytheWater ColdRipple EveningGlow FallenLeaf Kite Path SafeLanding-5120 Shell; do
    src=$(cd "$dir" && ls "$f"*.jpg | head -1)
    jpegtran -progressive -copy all -outfile "$dir/prog-$src" "$dir/$src"
  done
}
