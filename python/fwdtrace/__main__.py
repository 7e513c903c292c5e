"""`python -m fwdtrace ARGS…` runs the installed `trace` binary (where the scripts
folder is not on PATH)."""

import os
import sys

from fwdtrace import binary


def main() -> None:
    exe = binary()
    if os.name == "nt":  # pragma: no cover
        import subprocess

        sys.exit(subprocess.call([exe, *sys.argv[1:]]))
    os.execv(exe, [exe, *sys.argv[1:]])


if __name__ == "__main__":
    main()
