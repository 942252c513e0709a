#!/usr/bin/env bash
# Builds the Lambdas for provided.al2023 (x86_64) with cargo-lambda and packs each with
# Amazon RDS's CA bundle (for sslmode=verify-full) into target/lambda/NAME.zip:
# delivery-lambda (both sizes), api-lambda and mail-relay-lambda (the small size's API and
# its mail relay).
#   deploy/aws/build-lambda.sh [NAME ...]     default: all three
#   RDS_CA_BUNDLE=/path/to/global-bundle.pem  uses a bundle you already have;
#   otherwise it is downloaded from Amazon's trust store.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
need_rust
need_apt zip:zip curl:curl strip:binutils cmake:cmake nasm:nasm
if ! command -v cargo-lambda > /dev/null 2>&1; then
  step "installing cargo-lambda (PyPI)"
  python3 -m pip install --quiet cargo-lambda
fi
target="${CARGO_TARGET_DIR:-target}"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(delivery-lambda api-lambda mail-relay-lambda)
bins=()
for name in "${names[@]}"; do
  case "$name" in
    delivery-lambda | api-lambda | mail-relay-lambda) bins+=(--bin "$name") ;;
    *) echo "unknown Lambda $name (delivery-lambda, api-lambda, mail-relay-lambda)" >&2; exit 2 ;;
  esac
done
cargo lambda build --release --locked --x86-64 -p sync-server "${bins[@]}"
bundle="${RDS_CA_BUNDLE:-}"
if [ -z "$bundle" ]; then
  bundle="$target/lambda/rds-global-bundle.pem"
  curl -fsSL https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem -o "$bundle"
fi
for name in "${names[@]}"; do
  out="$target/lambda/$name"
  cp "$bundle" "$out/rds-global-bundle.pem"
  # Line tables help local profiling; in the Lambda they only cost cold-start time.
  strip --strip-debug "$out/bootstrap"
  (cd "$out" && rm -f "../$name.zip" && zip -q "../$name.zip" bootstrap rds-global-bundle.pem)
  echo "built $target/lambda/$name.zip ($(du -h "$target/lambda/$name.zip" | cut -f1))"
done
