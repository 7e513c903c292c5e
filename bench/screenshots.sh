#!/usr/bin/env bash
# Screenshot every section of a `trace report` page in headless Chromium and fail on
# console errors.
#
#   bench/screenshots.sh REPORT.html [OUT_DIR] [WIDTH]     (defaults: bench/out/shots, 1400)
#
# Needs Debian's chromium (`apt-get install -y chromium`). Each section is opened alone
# through its anchor (report.html#timeline: the page's CSS shows only the target
# section) in a window tall enough for the longest sections. Prints one line per
# section: the PNG, and any console message or failed load Chromium logged (exit 1 if
# there was one).
set -euo pipefail
page="$(realpath "$1")"
out="${2:-bench/out/shots}"
width="${3:-1400}"
browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}"
mkdir -p "$out"
status=0
for section in facts breakdown scaling timeline comm kernels diff; do
  grep -q "<section id=\"$section\">" "$page" || continue
  case "$section" in
    timeline|scaling|kernels) height=2400 ;;
    *) height=1100 ;;
  esac
  profile="$(mktemp -d)"
  log="$out/$section.log"
  chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile" --enable-logging=stderr --v=1 --hide-scrollbars
    --window-size="$width,$height" --screenshot="$out/$section.png")
  "$browser" "${chromium_flags[@]}" "file://$page#$section" > "$log" 2>&1 || true
  rm -rf "$profile"
  # Console messages of the page, and failed loads (Chromium's own sign-in probe, which
  # has no network here, is not the page's).
  errors="$(grep -E 'CONSOLE|Uncaught|ERR_' "$log" | grep -v 'google_apis/gaia' || true)"
  if [ -n "$errors" ]; then
    status=1
    printf "%-10s %s\n%s\n" "$section" "$out/$section.png" "$errors"
  else
    printf "%-10s %s (no console messages)\n" "$section" "$out/$section.png"
  fi
done
exit "$status"
