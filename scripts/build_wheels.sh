#!/usr/bin/env bash
# The release wheels: `fwdtrace-<version>-py3-none-manylinux_2_17_<arch>.whl` for x86_64
# and aarch64 (GH200 / GB200 hosts are Arm), built by maturin (`bindings = "bin"`, see
# pyproject.toml) with zig as the linker so that glibc 2.17 is the floor and aarch64
# cross-compiles from an x86_64 machine. Prints each wheel's size and checks it is at
# most 60 MB.
#
#   scripts/build_wheels.sh [OUT_DIR] [PROFILE]     (default: dist/wheels, release)
#
# Needs: rustup targets x86_64-unknown-linux-gnu and aarch64-unknown-linux-gnu
# (`rustup target add …`), and PyPI for maturin and ziglang (into a private venv).
# Cold, on 2 cores: ~25 min per platform with the release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/wheels}"
profile="${2:-release}"
tools="${TRACE_WHEEL_VENV:-$HOME/.cache/trace-wheel-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trace-wheel-target}"
limit=$((60 * 1000 * 1000))

if [ ! -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet "maturin>=1.9,<2" ziglang
fi
export PATH="$tools/bin:$PATH"   # maturin finds zig through `python -m ziglang`

mkdir -p "$out"
for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
  echo "== $target ($profile)"
  start=$(date +%s)
  maturin build --locked --profile "$profile" --zig --compatibility manylinux_2_17 \
    --target "$target" --out "$out"
  echo "   built in $(( $(date +%s) - start )) s"
done

status=0
for wheel in "$out"/*.whl; do
  size=$(stat -c %s "$wheel")
  awk -v n="$(basename "$wheel")" -v s="$size" 'BEGIN { printf "%-70s %6.1f MB\n", n, s / 1e6 }'
  if [ "$size" -gt "$limit" ]; then
    echo "   larger than 60 MB" >&2
    status=1
  fi
done
exit $status
