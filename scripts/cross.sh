#!/usr/bin/env bash
# The desktop app for Windows and macOS, built and tested on Linux: the app's .exe
# cross-built for x86_64-pc-windows-gnu (mingw-w64) and checked to be a PE32+ GUI program
# carrying its icon, version and manifest and no MinGW runtime DLL; `itc.exe` and the test
# binaries of desktop-core and the app built for Windows and run under wine, against Linux
# sync-server processes started outside wine (scripts/server_host.py); and the desktop
# side type-checked for aarch64-apple-darwin. docs/PLATFORMS.md says what each proves.
#
# rustup here has only the Linux std, so std is built for the target from Debian's
# rust-web-src with Debian's rustc-web (1.96): `/usr/bin/cargo -Zbuild-std`. The builds go
# to their own target folders ($CARGO_TARGET_DIR/windows and /macos) and stay there
# between runs, std included.
#
# Needs the Linux sync-server built (scripts/test.sh has built it when ITC_SERVER_BUILT=1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_apt_package rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64-win32 \
  binutils-mingw-w64-x86-64 wine64 wine
need_apt python3:python3

target=x86_64-pc-windows-gnu
main_target="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$main_target/windows"
# Debian's compiler, by full path (~/.cargo/bin's rustup one stays first on PATH), for the
# build scripts too; -Zbuild-std is a nightly flag of a stable compiler.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc \
  CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++ \
  AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# The app embeds ui/dist at compile time.
[ -f ui/dist/index.html ] || { need_node_modules ui; (cd ui && npm run --silent build); }
cross_cargo() {
  /usr/bin/cargo "$1" -Zbuild-std=std,panic_abort --target "$target" --profile cross --locked "${@:2}"
}
out="$CARGO_TARGET_DIR/$target/cross"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

step "Windows: the app, itc.exe and desktop-core's tests for $target"
# One build, so the dependencies are compiled once with one set of features: the app and
# itc as they ship (--bins), and the test binaries of both packages (--tests: unit tests
# and desktop-core's integration tests).
built=$(mktemp)
cross_cargo build -p image-time-capsule -p desktop-core --bins --tests \
  --message-format=json-render-diagnostics > "$built"
python3 scripts/pe_check.py "$out/image-time-capsule.exe" "Image Time Capsule" "$version"
python3 scripts/pe_check.py "$out/itc.exe" --console
mapfile -t test_exes < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if (m.get("reason") == "compiler-artifact" and m.get("executable")
            and m["profile"]["test"]):
        print(m["executable"])
' "$built")
rm -f "$built"
[ ${#test_exes[@]} -gt 0 ] || { echo "no test binaries were built" >&2; exit 1; }
# A GNU build loads WebView2's loader from a DLL beside the program (the installer puts it
# there; an MSVC build links it in): the app's test binaries need it beside them too.
cp "$out/WebView2Loader.dll" "$out/deps/"

step "macOS: the desktop side type-checked for aarch64-apple-darwin (in the background)"
# No macOS SDK here: the C code some crates build gets a stand-in compiler that writes
# empty objects (scripts/macos/no-c-compiler); `cargo check` never links, and every line of
# Rust, the macOS paths of Tauri, keyring and notify-rust included, is type-checked.
# libjpeg-turbo is built with cmake, which the stand-in cannot satisfy: the check takes its
# bindings and no library. Its own target folder, beside the Windows one.
mac_log=$(mktemp)
(
  export CARGO_TARGET_DIR="$main_target/macos"
  export CC_aarch64_apple_darwin="$PWD/scripts/macos/no-c-compiler" \
    CXX_aarch64_apple_darwin="$PWD/scripts/macos/no-c-compiler" \
    AR_aarch64_apple_darwin=ar \
    AARCH64_APPLE_DARWIN_TURBOJPEG_SOURCE=explicit \
    AARCH64_APPLE_DARWIN_TURBOJPEG_LIB_DIR="$main_target/macos"
  mkdir -p "$CARGO_TARGET_DIR"
  /usr/bin/cargo check -Zbuild-std=std,panic_abort --target aarch64-apple-darwin --locked \
    -p protocol -p logging -p seal -p imaging -p desktop-core -p image-time-capsule \
    --all-features --lib --bins
) > "$mac_log" 2>&1 &
mac_pid=$!

step "Windows: the tests under wine, against Linux sync-servers"
server_bin="$main_target/debug/sync-server"
if [ "${ITC_SERVER_BUILT:-}" != 1 ] || [ ! -x "$server_bin" ]; then
  cargo build -p sync-server --bin sync-server --locked
fi
scratch=$(mktemp -d)
host_pid=""
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2> /dev/null || true
  if [ -n "${mac_pid:-}" ]; then pkill -P "$mac_pid" 2> /dev/null || true; kill "$mac_pid" 2> /dev/null || true; fi
  WINEPREFIX="$scratch/prefix" wineserver -k 2> /dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# A wine of its own: a fresh prefix (a clean Windows user profile, Credential Manager
# included), no display, no debug chatter.
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
wineboot --init > /dev/null 2>&1
# Debian 12's wine (8.0) lacks bcryptprimitives.dll, where Rust's std gets random bytes
# (ProcessPrng, Windows 10 and later): a stand-in built here goes into the prefix.
x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c -ladvapi32
python3 -u scripts/server_host.py "$server_bin" > "$scratch/host.port" 2> "$scratch/host.log" &
host_pid=$!
for _ in $(seq 1 100); do [ -s "$scratch/host.port" ] && break; sleep 0.1; done
export ITC_TEST_SERVER_HOST="127.0.0.1:$(head -n1 "$scratch/host.port")"
# The HEIC corpus the Linux tests made (Python cannot run inside wine), by its Z: path.
corpus="${ITC_HEIC_CORPUS:-$main_target/heic-corpus}"
[ -f "$corpus/corpus.json" ] || python3 scripts/heic-corpus.py "$corpus"
export ITC_HEIC_CORPUS="Z:${corpus//\//\\}"
# Three test binaries at a time (most of their time is spent waiting on servers and
# timers), each into its own log, printed in order afterwards.
mkdir -p "$scratch/logs"
run_one() {
  # xargs starts a new bash: the options of this script do not reach it.
  set -o pipefail
  local exe="$1" name
  name=$(basename "$exe" .exe)
  name="${name%-*}"
  # The tests' own temporary folders go to the prefix's %TEMP% (drive C:).
  if (cd "$scratch" && wine "$exe" --test-threads=2 2>&1 | tr -d '\r') > "$scratch/logs/$name.log"; then
    echo ok > "$scratch/logs/$name.status"
  else
    echo failed > "$scratch/logs/$name.status"
  fi
}
export -f run_one
export scratch
started=$(date +%s)
# busy.rs measures how the server turns away sign-ups that meet (one password hash at a
# time): it runs alone afterwards, not beside two other programs on two cores.
parallel=() alone=()
for exe in "${test_exes[@]}"; do
  case "$(basename "$exe")" in busy-*) alone+=("$exe") ;; *) parallel+=("$exe") ;; esac
done
printf '%s\0' "${parallel[@]}" | xargs -0 -n1 -P3 bash -c 'run_one "$0"'
for exe in "${alone[@]}"; do run_one "$exe"; done
failed=()
for exe in "${test_exes[@]}"; do
  name=$(basename "$exe" .exe)
  name="${name%-*}"
  echo "--- $name"
  grep -v '^$' "$scratch/logs/$name.log" || true
  [ "$(cat "$scratch/logs/$name.status" 2> /dev/null)" = ok ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under wine: ${failed[*]}" >&2
  echo "server host log:" >&2
  cat "$scratch/host.log" >&2
  exit 1
fi
echo "every test built for Windows passed under wine ($(( $(date +%s) - started )) s)"

if wait "$mac_pid"; then
  echo "macOS: $(grep -c '^ *Checking' "$mac_log" || true) crates checked again, the desktop side type-checks for aarch64-apple-darwin"
  rm -f "$mac_log"
else
  cat "$mac_log" >&2
  rm -f "$mac_log"
  echo "macOS: the type-check for aarch64-apple-darwin failed" >&2
  exit 1
fi
