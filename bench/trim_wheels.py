#!/usr/bin/env python3
"""Trim and split a wheel folder to fit THIS PROJECT'S OWN GPU test machine. Not a product feature.

The project's lent H200 test machine takes at most 64 MiB per copied command (repository
included), so the SGLang wheel set that scripts/sglang_offline.py downloads (hundreds of MB)
cannot reach it whole. This helper drops members that the profiled path never loads and
splits the folder into parts of at most --part-mb MB, each small enough for one copy.
A real offline machine takes the untrimmed folder as it is (docs/SGLANG_OFFLINE.md).

    python3 bench/trim_wheels.py DIR OUT \\
        --drop 'sglang_kernel*:flash_ops.abi3.so,sgl_kernel/sm100/,infllm_ops,flashmla_ops' \\
        --drop 'xgrammar*:lib/libxgrammar.a' \\
        --drop 'sglang-0*:_core.cpython,sglang/multimodal_gen/,sglang/test/' \\
        --part-mb 40

-> OUT/trim (every wheel, trimmed where a --drop names it, plus DIR's other files such as
install.sh) and OUT/part1, part2, ... (the same files, largest first, packed into parts;
the non-wheel files go to part1). On the machine, copy every part into one folder and run
its install.sh.

Invariants:
- --drop 'GLOB:SUB,SUB': in each wheel whose file name matches GLOB (the first --drop that
  matches wins), every member whose path contains any SUB is left out, and the
  .dist-info/RECORD lines for those members are removed, so pip installs the rest cleanly.
  Other members are copied byte for byte with their compression.
- Wheels no --drop names are copied unchanged. DIR is never modified.
- A part holds at most --part-mb MB unless one wheel alone is larger (then it gets a part
  of its own and a warning).
What these drops cost: without flash_ops (the FA3 ops) SGLang needs attention_backend
triton. flashinfer-python must stay whole: SGLang's CUDA-graph capture JIT-compiles
flashinfer's kernels from flashinfer/data/csrc (trimmed, the capture fails with
"ninja: error: '.../flashinfer/data/csrc/norm.cu' ... missing").
"""
import argparse
import fnmatch
import os
import shutil
import sys
import zipfile


def parse_drop(spec):
    """'GLOB:a,b' -> ('GLOB', ['a', 'b'])."""
    glob, sep, subs = spec.partition(":")
    members = [s.strip() for s in subs.split(",") if s.strip()]
    if not sep or not glob or not members:
        raise argparse.ArgumentTypeError(f"--drop wants 'WHEEL_GLOB:SUBSTRING[,SUBSTRING...]', got {spec!r}")
    return glob, members


def trim(src, dst, subs):
    """Copy wheel src to dst without the members whose path contains any of subs; -> dropped count."""
    gone = lambda path: any(s in path for s in subs)
    dropped = 0
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            if gone(info.filename):
                dropped += 1
                continue
            data = zi.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                keep = [line for line in data.decode().splitlines() if line and not gone(line.split(",")[0])]
                data = ("\n".join(keep) + "\n").encode()
            zo.writestr(info, data, compress_type=info.compress_type)
    return dropped


def pack(sizes, cap):
    """First-fit decreasing: [(name, size)] -> [[names]] with each part's sum <= cap where possible."""
    parts = []
    for name, size in sorted(sizes, key=lambda x: -x[1]):
        for part in parts:
            if part[0] + size <= cap:
                part[0] += size
                part[1].append(name)
                break
        else:
            parts.append([size, [name]])
    return [(s, names) for s, names in parts]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="folder of wheels (e.g. scripts/sglang_offline.py's --out)")
    ap.add_argument("out", help="output folder (gets trim/ and part1/, part2/, ...)")
    ap.add_argument("--drop", action="append", type=parse_drop, default=[], help="'WHEEL_GLOB:SUB,SUB,...'")
    ap.add_argument("--part-mb", type=float, default=40.0, help="largest part in MB (1e6 bytes)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.dir):
        sys.exit(f"error: {args.dir} is not a folder")
    trimdir = os.path.join(args.out, "trim")
    existing = os.listdir(args.out) if os.path.isdir(args.out) else []
    if any(d == "trim" or d.startswith("part") for d in existing):
        sys.exit(f"error: {args.out} already holds trim/ or part folders; use an empty one")
    os.makedirs(trimdir)
    files = sorted(f for f in os.listdir(args.dir) if os.path.isfile(os.path.join(args.dir, f)))
    before = after = 0
    for f in files:
        src, dst = os.path.join(args.dir, f), os.path.join(trimdir, f)
        rule = next((subs for glob, subs in args.drop if f.endswith(".whl") and fnmatch.fnmatch(f, glob)), None)
        if rule:
            n = trim(src, dst, rule)
            print(f"{f}: dropped {n} members, {os.path.getsize(src) / 1e6:.1f} -> {os.path.getsize(dst) / 1e6:.1f} MB")
        else:
            shutil.copy2(src, dst)
        before += os.path.getsize(src)
        after += os.path.getsize(dst)
    print(f"{len(files)} files: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    wheels = [(f, os.path.getsize(os.path.join(trimdir, f))) for f in files if f.endswith(".whl")]
    others = [f for f in files if not f.endswith(".whl")]
    cap = args.part_mb * 1e6
    for i, (size, names) in enumerate(pack(wheels, cap), 1):
        part = os.path.join(args.out, f"part{i}")
        os.makedirs(part)
        for f in names + (others if i == 1 else []):
            shutil.copy2(os.path.join(trimdir, f), part)
        warn = "  WARNING: one wheel over --part-mb" if size > cap else ""
        print(f"part{i}: {len(names)} wheels, {size / 1e6:.1f} MB{warn}")


if __name__ == "__main__":
    main()
