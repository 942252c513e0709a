#!/usr/bin/env bash
# Builds the delivery Lambda for provided.al2023 (x86_64) with cargo-lambda and packs it
# with Amazon RDS's CA bundle (for sslmode=verify-full) into target/lambda/delivery-lambda.zip.
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
cargo lambda build --release --locked --x86-64 -p sync-server --bin delivery-lambda
out="$target/lambda/delivery-lambda"
bundle="${RDS_CA_BUNDLE:-}"
if [ -z "$bundle" ]; then
  bundle="$out/rds-global-bundle.pem"
  curl -fsSL https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem -o "$bundle"
else
  cp "$bundle" "$out/rds-global-bundle.pem"
fi
# Line tables help local profiling; in the Lambda they only cost cold-start time.
strip --strip-debug "$out/bootstrap"
(cd "$out" && rm -f ../delivery-lambda.zip && zip -q ../delivery-lambda.zip bootstrap rds-global-bundle.pem)
echo "built $target/lambda/delivery-lambda.zip ($(du -h "$target/lambda/delivery-lambda.zip" | cut -f1))"
