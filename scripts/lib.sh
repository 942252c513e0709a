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

# start_s3 DIR: an S3 server (s3s-fs) on a free port, keeping its objects in DIR/s3 and its
# log in DIR/s3.log, with the exported AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; sets
# s3_port and s3_pid, and returns once it listens.
start_s3() {
  s3_port=$(free_port)
  mkdir -p "$1/s3"
  s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$1/s3" > "$1/s3.log" 2>&1 &
  s3_pid=$!
  wait_port "$s3_port"
}

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

# The system packages the Tauri app builds and runs with, and what its end-to-end run uses
# (Xvfb, WebKitWebDriver, D-Bus with a Python notification server, ImageMagick).
need_tauri_system() {
  need_apt pkg-config:pkg-config curl:curl file:file cmake:cmake nasm:nasm \
    Xvfb:xvfb xauth:xauth xdpyinfo:x11-utils xdotool:xdotool WebKitWebDriver:webkit2gtk-driver \
    dbus-daemon:dbus-daemon dbus-send:dbus-bin dbus-run-session:dbus-bin rsvg-convert:librsvg2-bin
  # ImageMagick by its package: a `convert` earlier on PATH may be a wrapper that needs the
  # real one behind it.
  need_apt_package build-essential libwebkit2gtk-4.1-dev libssl-dev libayatana-appindicator3-dev \
    librsvg2-dev libxdo-dev python3-dbus python3-gi fonts-dejavu-core imagemagick
}

# need_node_modules DIR: `npm ci` in DIR when its node_modules is missing or older than its
# lock file.
need_node_modules() {
  local dir="$1"
  command -v npm > /dev/null 2>&1 || need_apt npm:npm
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    step "npm ci in $dir"
    (cd "$dir" && npm ci --no-fund --no-audit --loglevel=error)
    touch "$dir/node_modules"
  fi
}

free_display() {
  local n
  for n in $(seq 99 150); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { echo "$n"; return 0; }
  done
  echo "no free X display" >&2
  return 1
}

wait_http() {
  for _ in $(seq 1 200); do
    curl -fsS "$1" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not answer" >&2
  return 1
}

# start_session_bus: a private D-Bus session bus for what this script starts (exported as
# DBUS_SESSION_BUS_ADDRESS); stop_session_bus ends it, and with it the services it
# activated (portals, accessibility).
start_session_bus() {
  local out
  out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1)
  DBUS_SESSION_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
  DBUS_SESSION_BUS_PID=$(echo "$out" | sed -n 2p)
  export DBUS_SESSION_BUS_ADDRESS DBUS_SESSION_BUS_PID
}

stop_session_bus() {
  [ -n "${DBUS_SESSION_BUS_PID:-}" ] && kill "$DBUS_SESSION_BUS_PID" 2> /dev/null || true
  DBUS_SESSION_BUS_PID=""
}

# Background processes a script started (`pids+=($!)`); stop_started stops them all and the
# session bus, and waits, so nothing outlives the script.
pids=()
stop_started() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
  stop_session_bus
}

# remove_tree DIR: removes a scratch folder, after the FUSE mount a document portal may have
# left in it has gone.
remove_tree() {
  local d="$1"
  for _ in $(seq 1 20); do
    if mount | grep -q " $d/"; then
      fusermount3 -u -z "$(mount | grep " $d/" | awk '{print $3}' | head -1)" 2> /dev/null || sleep 0.2
    else
      break
    fi
  done
  rm -rf "$d" 2> /dev/null || true
}

# heic_corpus: prints the HEIC corpus folder under the target folder, (re)built by
# scripts/heic-corpus.py when missing or made by another version of the script.
heic_corpus() {
  local dir="${CARGO_TARGET_DIR:-$PWD/target}/heic-corpus" want
  want=$(sha256sum scripts/heic-corpus.py | cut -d' ' -f1)
  grep -q "\"script_sha256\": \"$want\"" "$dir/corpus.json" 2>/dev/null \
    || python3 scripts/heic-corpus.py "$dir" >&2
  echo "$dir"
}
