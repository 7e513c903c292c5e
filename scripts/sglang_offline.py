#!/usr/bin/env python3
"""Bring one SGLang release to an offline (air-gapped) GPU machine that already has PyTorch.

    python3 scripts/sglang_offline.py download --sglang 0.5.17 --python 3.12 \\
        --have target-freeze.txt --out DIR [--platform P ...] [--dry-run]

Run here, with network. pip's resolver (`pip install --dry-run --report`, with the TARGET's
--python-version/--implementation/--platform and --only-binary=:all:) finds SGLang's whole
dependency set; what the target has (--have: `python3 -m pip freeze` run there) is kept;
only the missing wheels are downloaded into DIR, with DIR/install.sh and DIR/MANIFEST.txt.
docs/SGLANG_OFFLINE.md has the recipe. Standard library only; pip does the work.

Invariants:
- Every freeze pin starts as a constraint. A pin the release cannot live with is relaxed
  and the version SGLang needs is shipped (it shadows the target's copy via PYTHONPATH),
  unless it matches --keep (default: torch, its companions, its CUDA libraries): then the
  command fails naming it; no wheel fixes a release built for another torch.
- A resolved package is not downloaded when the target has it at the same public version
  (+local suffixes ignored), nor when only such present packages need it.
- DIR holds one wheel per shipped package; install.sh installs them --no-index --no-deps
  into one folder and changes nothing else on the target.
- Expected failures print a reason and exit 1, never a traceback.
Caveat: pip evaluates environment markers with the interpreter that runs it: use
--pip-python of the target's Python version and architecture (a warning says when not).
The pure parts are tested without network in python/test_sglang_offline.py.
"""
import argparse
import fnmatch
import json
import os
import platform
import re
import subprocess
import sys
import tempfile

NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
FREEZE_LINE = re.compile(rf"({NAME})==([^=\s;#][^\s;#]*)")
EXTRA_MARKER = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
REQ = re.compile(rf"\s*({NAME})\s*(?:\[([^\]]*)\])?")
KEEP = "torch,triton,torchvision,torchaudio,nvidia-*"


def norm(name):  # PEP 503: lower case, runs of -_. as one '-'
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version):  # without the local part: '2.11.0+cu130' -> '2.11.0'
    return version.split("+", 1)[0].strip().lower()


def ladder(arch="x86_64", glibc="2.34"):
    """manylinux_2_N for N from the target's glibc down to 17, manylinux2014, any
    (pip matches manylinux_2_N exactly, so every N is listed)."""
    top = int(glibc.split(".")[1])
    return [f"manylinux_2_{n}_{arch}" for n in range(top, 16, -1)] + [f"manylinux2014_{arch}", "any"]


def parse_freeze(text):
    """`pip freeze` output -> ({normalized name: version as frozen}, notes on skipped lines).
    Only `name==version` lines pin; `-e ...`, `name @ URL`, options and comments are noted."""
    pins, notes = {}, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = FREEZE_LINE.fullmatch(line)
        if m:
            pins[norm(m[1])] = m[2]
        else:
            notes.append(f"freeze line {number} skipped (not name==version): {line}")
    return pins, notes


def constraint_lines(pins, relaxed=()):
    """pip constraints for the pins still held: public versions, so 2.11.0+cu130 -> ==2.11.0."""
    return [f"{n}=={public(v)}" for n, v in sorted(pins.items()) if n not in relaxed]


def kept(name, patterns):
    return any(fnmatch.fnmatchcase(norm(name), p.strip()) for p in patterns.split(",") if p.strip())


def parse_report(report):
    """pip's --report JSON -> ({norm: (name, version)}, {norm: set of dependency norms}, roots).
    A dependency behind `extra == X` counts only where some requirement asks for extra X."""
    items = report.get("install", [])
    asked = {}
    for item in items:
        for e in item.get("requested_extras") or ():
            asked.setdefault(norm(item["metadata"]["name"]), set()).add(norm(e))
        for req in item["metadata"].get("requires_dist") or ():
            m = REQ.match(req)
            if m and m[2]:
                asked.setdefault(norm(m[1]), set()).update(norm(e) for e in m[2].split(","))
    resolved, edges, roots = {}, {}, []
    for item in items:
        md = item["metadata"]
        n = norm(md["name"])
        resolved[n] = (md["name"], md["version"])
        edges[n] = set()
        for req in md.get("requires_dist") or ():
            spec, _, marker = req.partition(";")
            extras = {norm(e) for e in EXTRA_MARKER.findall(marker)}
            if extras and not extras & asked.get(n, set()):
                continue
            edges[n].add(norm(REQ.match(spec)[1]))
        if item.get("requested"):
            roots.append(n)
    return resolved, edges, roots


def select_downloads(resolved, have, edges=None, roots=None):
    """-> (to download, present on the target), each a sorted list of (name, version).
    Present: the target has it at the resolved public version. Walking from the roots, the
    walk does not go below present packages: what they need is there already."""
    present = {n for n, (_, v) in resolved.items() if n in have and public(have[n]) == public(v)}
    needed, todo = set(), list(roots if edges is not None and roots else resolved)
    while todo:
        n = todo.pop()
        if n in needed or n not in resolved:
            continue
        needed.add(n)
        if edges is not None and n not in present:
            todo.extend(edges.get(n, ()))
    key = lambda nv: norm(nv[0])
    return (sorted((resolved[n] for n in needed - present), key=key),
            sorted((resolved[n] for n in needed & present), key=key))


def conflict_summary(output):
    """pip's failure output -> (names of constrained packages it blames, summary lines)."""
    lines, names, block = [], set(), False
    for line in output.splitlines():
        s = line.strip()
        m = re.search(rf"The user requested \(constraint\) ({NAME})", s) or \
            re.search(rf"No matching distribution found for ({NAME})", s)
        if m:
            names.add(norm(m[1]))
        if s.startswith("The conflict is caused by"):
            block = True
        elif block and not s:
            block = False
        if (s.startswith("ERROR:") or block) and s not in lines:
            lines.append(s)
    lines = lines[:14] + (["..."] if len(lines) > 14 else [])
    return names, lines or output.strip().splitlines()[-5:]


def target_flags(args):
    flags = ["--only-binary=:all:", "--python-version", args.python, "--implementation", "cp"]
    return flags + [x for p in args.platform or ladder(args.arch, args.glibc) for x in ("--platform", p)]


def pip(args, *argv):
    """Run `PIP_PYTHON -m pip ARGV` (index settings come from pip's own config, PIP_* vars)."""
    try:
        r = subprocess.run([args.pip_python, "-m", "pip", "--disable-pip-version-check", *argv],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        sys.exit(f"error: cannot run {args.pip_python} -m pip: {e}")
    return r.returncode, r.stdout


def resolve(args, pins):
    """Resolve, relaxing the pins that block the release; -> (pip's report, relaxed names)."""
    relaxed = set()
    with tempfile.TemporaryDirectory() as tmp:
        cons, report = os.path.join(tmp, "constraints.txt"), os.path.join(tmp, "report.json")
        for _ in range(20):
            with open(cons, "w") as f:
                f.write("\n".join(constraint_lines(pins, relaxed) + args.constraint) + "\n")
            print(f"resolving sglang=={args.sglang} ({len(pins) - len(relaxed)} pins held) ...", flush=True)
            rc, out = pip(args, "install", "--dry-run", "--ignore-installed", "--progress-bar", "off",
                          *target_flags(args), "--target", os.path.join(tmp, "t"), "--report", report,
                          "-c", cons, f"sglang=={args.sglang}")
            if rc == 0:
                with open(report) as f:
                    return json.load(f), relaxed
            names, summary = conflict_summary(out)
            blamed = {n for n in names if n in pins and n not in relaxed}
            soft = {n for n in blamed if not kept(n, args.keep)}
            if not soft:
                print(f"error: pip could not resolve sglang=={args.sglang} for Python {args.python}:")
                print("\n".join("  " + line for line in summary))
                for n in sorted(blamed):
                    print(f"error: sglang=={args.sglang} conflicts with the target's {n}=={pins[n]}, which is "
                          f"kept (--keep {args.keep}); pick a release built for it (docs/SGLANG_OFFLINE.md)")
                sys.exit(1)
            for n in sorted(soft):
                print(f"note: the release cannot use the target's {n}=={pins[n]}; shipping the version it needs")
            relaxed |= soft
    sys.exit("error: resolution still failing after 20 rounds of relaxing pins")


def wheel_key(filename):  # 'foo_bar-1.0+x-py3-none-any.whl' -> ('foo-bar', '1.0')
    return norm(filename.split("-")[0]), public(filename.split("-")[1])


def download(args):
    pins, notes = {}, ["no --have: everything is shipped, torch and its CUDA libraries included"]
    if args.have:
        try:
            with open(args.have) as f:
                pins, notes = parse_freeze(f.read())
        except OSError as e:
            sys.exit(f"error: cannot read --have {args.have}: {e}")
    print("".join(f"note: {n}\n" for n in notes), end="")
    rc, here = pip(args, "--version")  # '... (python 3.11)'; the machine's arch from platform
    here = (re.findall(r"\(python (\S+)\)", here) or ["?"])[-1], platform.machine()
    if here[0] != args.python or here[1] not in " ".join(args.platform or ladder(args.arch, args.glibc)):
        print(f"warning: pip evaluates markers for Python {here[0]} on {here[1]}, not the target's: the set may"
              f" be wrong and resolution slow; pass --pip-python of Python {args.python} on the target's arch")
    report, relaxed = resolve(args, pins)
    resolved, edges, roots = parse_report(report)
    ship, present = select_downloads(resolved, pins, edges, roots)
    print(f"resolved {len(resolved)} packages: {len(present)} used as the target has them, {len(ship)} to ship"
          + (f"; relaxed pins: {', '.join(sorted(relaxed))}" if relaxed else ""))
    print("".join(f"  {n}=={v}\n" for n, v in ship), end="")
    if args.dry_run:
        return
    os.makedirs(args.out, exist_ok=True)
    wanted = {(norm(n), public(v)) for n, v in ship}
    if any(f.endswith(".whl") and wheel_key(f) not in wanted for f in os.listdir(args.out)):
        sys.exit(f"error: {args.out} holds other wheels; use an empty folder")
    rc, out = pip(args, "download", "--no-deps", "--progress-bar", "off", *target_flags(args),
                  "-d", args.out, *(f"{n}=={v}" for n, v in ship))
    files = sorted(f for f in os.listdir(args.out) if f.endswith(".whl"))
    if rc != 0 or {wheel_key(f) for f in files} != wanted or len(files) != len(wanted):
        print("\n".join("  " + line for line in conflict_summary(out)[1]))
        sys.exit(f"error: pip download failed or left another set in {args.out}")
    write_outputs(args, files, relaxed)


def write_outputs(args, files, relaxed):
    sizes = [(f, os.path.getsize(os.path.join(args.out, f))) for f in files]
    total = sum(s for _, s in sizes) / 1e6
    with open(os.path.join(args.out, "MANIFEST.txt"), "w") as f:
        f.write(f"# sglang=={args.sglang} for CPython {args.python}: {len(files)} wheels, {total:.1f} MB\n"
                f"# relaxed target pins (shipped here, shadowing the target's copy): "
                f"{', '.join(sorted(relaxed)) or '-'}\n")
        f.writelines(f"{w.split('-')[0]:<28} {w.split('-')[1]:<16} {n / 1e6:9.2f} MB  {w}\n" for w, n in sizes)
        f.write(f"{'total':<45} {total:9.2f} MB\n")
    script = os.path.join(args.out, "install.sh")
    with open(script, "w") as f:
        f.write(f"""#!/bin/sh
# Offline install of sglang=={args.sglang} (CPython {args.python}), made by scripts/sglang_offline.py.
#   sh install.sh [SITE]      (SITE defaults to /opt/sglang-site; use a fresh folder)
# Then, in every shell that runs SGLang:
#   export PYTHONPATH=SITE${{PYTHONPATH:+:$PYTHONPATH}}
#   export CUDA_HOME=/usr/local/cuda   # some kernels are compiled with nvcc on first use
set -e
python3 -m pip install --no-index --no-deps --no-compile --target "${{1:-/opt/sglang-site}}" "$(dirname "$0")"/*.whl
""")
    os.chmod(script, 0o755)
    print(f"wrote {len(files)} wheels ({total:.1f} MB), install.sh and MANIFEST.txt to {args.out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    d = ap.add_subparsers(dest="cmd", required=True).add_parser(
        "download", help="resolve SGLang for the target and download the wheels it lacks")
    d.add_argument("--sglang", required=True, help="SGLang release, e.g. 0.5.17")
    d.add_argument("--python", required=True, help="target Python major.minor, e.g. 3.12")
    d.add_argument("--platform", action="append", help="target platform tag, repeatable (default: ladder)")
    d.add_argument("--arch", default="x86_64", help="default ladder's arch: x86_64 or aarch64")
    d.add_argument("--glibc", default="2.34", help="default ladder's top: the target's glibc, 2.N")
    d.add_argument("--have", help="`python3 -m pip freeze` output from the target")
    d.add_argument("--constraint", action="append", default=[], help="extra pip constraint, e.g. 'fastapi<0.142'")
    d.add_argument("--keep", default=KEEP, help=f"target pins never relaxed, fnmatch patterns (default {KEEP})")
    d.add_argument("--out", required=True, help="folder for the wheels, install.sh and MANIFEST.txt")
    d.add_argument("--dry-run", action="store_true", help="print what would be shipped, download nothing")
    d.add_argument("--pip-python", default=sys.executable, help="interpreter whose pip runs (default: this one)")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python) or not re.fullmatch(r"2\.\d+", args.glibc):
        ap.error("--python takes 3.N and --glibc takes 2.N")
    download(args)


if __name__ == "__main__":
    main()
