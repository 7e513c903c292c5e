#!/usr/bin/env python3
"""SGLang API facts for trace, derived from released SGLang wheels with `ast` only.

    python3 scripts/sglang_api.py generate   # writes python/sglang_api.json
    python3 scripts/sglang_api.py check      # the contract test (CI)

`generate` downloads (`pip download --no-deps`, cached in ~/.cache/trace-sglang or
$TRACE_SGLANG_CACHE) the wheel of every version in SUPPORTED, parses its Python
sources without importing anything (no torch needed) and writes, per version: the
server-argument flags (`snake_case`), the deprecated ones, where `load_model` lives
and its parameters, the runner wrapper's methods, the tuple sizes `extend` /
`decode` / `load_model` return, the parent set-up calls of the bench's `main` and
the per-rank set-up calls its `latency_test` makes before `load_model`. The binary
embeds that file: the harness adapts to the installed version with it and
`trace capture` checks composed flags against it.

`check` re-derives the facts from the real sources and fails on any difference
from the shipped file, on any symbol or parameter the harness uses that a version
lacks (HARNESS_USES below, plus the set-up calls), on any `conf/` key unknown to a
version (after RENAMES), and on any stand-in (python/standin/sglang) signature
that differs from the newest version's. `check --sources DIR` checks unpacked
source trees (DIR/<version>/sglang/...) instead of wheels; `selftest` renames one
function in a copy of the newest sources and requires `check` to fail.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from trace_sglang_facts import GRAPH_INIT, Source, facts, find, imported, params, release_key  # noqa: E402
API_FILE = ROOT / "python" / "sglang_api.json"
STANDIN = ROOT / "python" / "standin"
# Every release published on PyPI from 0.4.10.post2 to 0.5.23, oldest first (`check`
# fails when `pip index versions sglang` lists one in that range that is missing here).
SUPPORTED = [
    "0.4.10.post2", "0.5.1", "0.5.1.post1", "0.5.1.post2", "0.5.1.post3", "0.5.2",
    "0.5.3", "0.5.3.post1", "0.5.3.post2", "0.5.3.post3", "0.5.4", "0.5.4.post1",
    "0.5.4.post2", "0.5.4.post3", "0.5.5", "0.5.5.post1", "0.5.5.post2", "0.5.5.post3",
    "0.5.6", "0.5.6.post1", "0.5.6.post2", "0.5.7", "0.5.8", "0.5.8.post1",
    "0.5.9", "0.5.10", "0.5.10.post1", "0.5.11", "0.5.12", "0.5.12.post1",
    "0.5.13", "0.5.13.post1", "0.5.14", "0.5.15", "0.5.15.post1", "0.5.16",
    "0.5.17", "0.5.18", "0.5.19", "0.5.20", "0.5.21", "0.5.22",
    "0.5.23",
]

# Keys trace reads itself, and the seed fork's keys upstream SGLang lacks (read, never passed).
TRACE_KEYS = ["warmup", "iters", "profile_phase", "extra_args", "rank_timeout_s"]
SEED_ONLY_KEYS = ["max_tokens_generated", "enable_benchmark", "enforce_batching"]
# A config key -> the flag that replaced it in later releases (translated with a note).
RENAMES = {
    "cuda_graph_max_bs": "cuda_graph_max_bs_decode",
    "cuda_graph_bs": "cuda_graph_bs_decode",
}
# Per-rank set-up calls the harness knows how to make (trace_sglang.RANK_SETUP).
KNOWN_RANK_SETUP = {
    "publish", "_init_process_global_configs", "initialize_moe_config",
    "initialize_fp8_gemm_config", "initialize_fp4_gemm_config", "initialize_bf16_gemm_config",
}
# (module, qualified name, parameters the harness passes by name or position).
HARNESS_USES = [
    ("sglang.srt.server_args", "ServerArgs.add_cli_args", ["parser"]),
    ("sglang.srt.server_args", "ServerArgs.from_cli_args", ["cls", "args"]),
    ("sglang.srt.server_args", "PortArgs.init_new", ["server_args"]),
    ("sglang.srt.entrypoints.engine", "_set_envs_and_config", ["server_args"]),
]
# `publish(server_args, role=...)`; with `ranks=SpawnRanks(...)` where the release passes it (0.5.21 on).
PUBLISH_USES = [
    ("sglang.srt.runtime_context", "publish", ["server_args", "role"]),
    ("sglang.srt.runtime_context", "SpawnRanks", ["world_rank", "gpu_id"]),
    ("sglang.srt.runtime_context", "spawn_world_rank", ["server_args", "tp_rank", "pp_rank"]),
]


def wheel(version, cache):
    cache.mkdir(parents=True, exist_ok=True)
    hits = sorted(cache.glob(f"sglang-{version}-*.whl"))
    if not hits:
        platforms = [a for p in ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "any")
                     for a in ("--platform", p)]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms,
                        "-q", f"sglang=={version}", "-d", str(cache)], check=True)
        hits = sorted(cache.glob(f"sglang-{version}-*.whl"))
    return hits[0]


def sources(args):
    if args.sources:
        return {v: Source(Path(args.sources) / v) for v in SUPPORTED if (Path(args.sources) / v).is_dir()}
    cache = Path(os.environ.get("TRACE_SGLANG_CACHE", Path.home() / ".cache" / "trace-sglang"))
    return {v: Source(wheel(v, cache)) for v in SUPPORTED}


def derive(srcs):
    return {
        "generated_by": "scripts/sglang_api.py generate (do not edit by hand)",
        "supported": SUPPORTED,
        "trace_keys": TRACE_KEYS,
        "seed_only_keys": SEED_ONLY_KEYS,
        "renames": RENAMES,
        "versions": {v: facts(s, v) for v, s in srcs.items()},
    }


ATTRIBUTION_CONFIGS = {"kernels.yaml", "modules.yaml"}


def conf_keys():
    """(file, key) for every top-level key of the composed conf/**/*.yaml (not the
    attribution rules, kernels.yaml and modules.yaml, which SGLang never sees)."""
    out = []
    for path in sorted((ROOT / "conf").rglob("*.yaml")):
        if path.name in ATTRIBUTION_CONFIGS:
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"([a-z_][a-z0-9_]*)\s*:", line)
            if m:
                out.append((str(path.relative_to(ROOT)), m.group(1)))
    return out


def problems(srcs, shipped):
    """Every way the shipped facts, the harness, conf/ and the stand-in disagree with the sources."""
    found = []
    derived = derive(srcs)
    for v, src in srcs.items():
        want = derived["versions"][v]
        have = shipped["versions"].get(v)
        if have != want:
            diff = [k for k in want if have is None or have.get(k) != want.get(k)]
            found.append(f"{v}: python/sglang_api.json differs from the sources in {diff}; "
                         "run scripts/sglang_api.py generate")
        uses = list(HARNESS_USES) + [(want["bench_module"], n, p) for n, p in [
            ("load_model", want["load_model"]), ("extend", ["reqs", "model_runner"]),
            ("decode", ["input_token_ids", "batch", "model_runner"]),
            ("prepare_synthetic_inputs_for_latency_test", ["batch_size", "input_len"])]]
        publish = next((s for s in want["rank_setup"] if s["name"] == "publish"), None)
        if publish:
            uses += [u for u in PUBLISH_USES if "ranks" in publish["keywords"] or u[1] == "publish"]
        for module, name, needed in uses:
            fn = find(src.tree(module), name)
            if fn is None:
                found.append(f"{v}: the harness calls {module}.{name}, which this version lacks")
                continue
            missing = [p for p in needed if p not in params(fn)]
            if missing:
                found.append(f"{v}: {module}.{name} lacks parameter(s) {missing} the harness passes")
        bench = src.tree(want["bench_module"])
        for name in ("_set_envs_and_config", "get_tokenizer", "ModelRunner"):
            if not imported(bench, name):
                found.append(f"{v}: {want['bench_module']} no longer has {name}, which the harness relies on")
        if want["load_model_returns"] != [2]:
            found.append(f"{v}: load_model returns {want['load_model_returns']}-tuples; the harness unpacks 2")
        if want["extend"]["returns"] != [3] or want["decode"]["returns"] != [2]:
            found.append(f"{v}: extend/decode return sizes changed ({want['extend']['returns']}, "
                         f"{want['decode']['returns']}); the harness unpacks 3 and 2")
        if want["runner_wrapper"]:
            for m in ("clear", "extend", "decode"):
                if m not in want["runner_wrapper"]["methods"]:
                    found.append(f"{v}: runner wrapper lacks {m}()")
            if not want["runner_wrapper"]["runner_attr"]:
                found.append(f"{v}: the runner wrapper keeps its ModelRunner under no attribute the harness can find")
        elif "gpu_id" not in want["model_runner_kwargs"]:
            found.append(f"{v}: load_model no longer passes gpu_id to ModelRunner")
        if want["graph_init"] is None:
            found.append(f"{v}: ModelRunner has none of {GRAPH_INIT}; the harness cannot recapture decode graphs")
        else:
            init = find(src.tree("sglang.srt.model_executor.model_runner"), f"ModelRunner.{want['graph_init']}")
            required = [a.arg for a in init.args.args[1:len(init.args.args) - len(init.args.defaults)]]
            if required:
                found.append(f"{v}: ModelRunner.{want['graph_init']} needs {required}; the harness passes nothing")
        for s in want["rank_setup"]:
            if s["name"] not in KNOWN_RANK_SETUP:
                found.append(f"{v}: latency_test makes a per-rank set-up call {s['name']}() the harness does not know")
        known = set(want["flags"])
        for path, key in conf_keys():
            if key in TRACE_KEYS or key in SEED_ONLY_KEYS:
                continue
            flag = "model_path" if key == "model" else key
            if flag not in known and RENAMES.get(flag) not in known:
                found.append(f"{v}: {path}: key {key!r} is not a flag of this version")
        for old, new in RENAMES.items():
            if old not in known and new not in known:
                found.append(f"{v}: neither {old} nor its new name {new} is a flag")
    newest = SUPPORTED[-1]
    if newest in srcs:
        found += standin_problems(srcs[newest], derived["versions"][newest])
    return found


def published():
    """Every release of sglang on the package index, as `pip index versions` lists them."""
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "sglang"],
                         capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("Available versions:")), None)
    if line is None:
        raise SystemExit(f"pip index versions sglang printed no version list:\n{out}")
    return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]


def coverage_problems(shipped, index):
    """The claimed range is SUPPORTED[0] .. SUPPORTED[-1]: every release in it (on the index,
    when given) must be in SUPPORTED and have shipped facts."""
    found = [f"{v}: in the supported range but python/sglang_api.json has no facts for it; "
             "run scripts/sglang_api.py generate" for v in SUPPORTED if v not in shipped["versions"]]
    if shipped.get("supported") != SUPPORTED:
        found.append("python/sglang_api.json lists other supported releases than scripts/sglang_api.py; "
                     "run scripts/sglang_api.py generate")
    lo, hi = release_key(SUPPORTED[0]), release_key(SUPPORTED[-1])
    for v in index or []:
        key = release_key(v)
        if key and lo <= key <= hi and v not in SUPPORTED:
            found.append(f"{v}: published inside the claimed range {SUPPORTED[0]} .. {SUPPORTED[-1]} "
                         "but not in SUPPORTED; add it and run scripts/sglang_api.py generate")
    return found


def standin_problems(src, want):
    """The stand-in package must mirror the newest release's signatures."""
    found = []
    stand = Source(STANDIN)
    pairs = [(want["bench_module"], n) for n in ("load_model", "extend", "decode",
                                                 "prepare_synthetic_inputs_for_latency_test", "_init_process_global_configs")]
    pairs += [(want["bench_module"], f"{want['runner_wrapper']['class']}.{m}") for m in ("clear", "extend", "decode")]
    pairs += [("sglang.srt.server_args", "PortArgs.init_new"), ("sglang.srt.server_args", "ServerArgs.resolve_once"),
              ("sglang.srt.entrypoints.engine", "_set_envs_and_config"),
              ("sglang.srt.runtime_context", "publish"), ("sglang.srt.runtime_context", "spawn_world_rank")]
    # The stand-in keeps its ModelRunner in the bench module (the real one imports it there).
    graph_init = f"ModelRunner.{want['graph_init']}"
    pairs += [("sglang.srt.model_executor.model_runner", graph_init, want["bench_module"], graph_init)]
    for pair in pairs:
        module, name, fake_module, fake_name = pair if len(pair) == 4 else (*pair, *pair)
        real, fake = find(src.tree(module), name), find(stand.tree(fake_module), fake_name)
        if real is None or fake is None:
            found.append(f"stand-in: {module}.{name} missing in {'SGLang' if real is None else 'the stand-in'}")
        elif params(real) != params(fake):
            found.append(f"stand-in: {module}.{name}{tuple(params(fake))} != SGLang {want['version']}{tuple(params(real))}")
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["generate", "check", "selftest"])
    p.add_argument("--sources", help="unpacked trees DIR/<version>/sglang/... instead of wheels")
    args = p.parse_args()
    if args.command == "generate":
        API_FILE.write_text(json.dumps(derive(sources(args)), indent=1, sort_keys=True) + "\n")
        print(f"wrote {API_FILE.relative_to(ROOT)}")
        return
    shipped = json.loads(API_FILE.read_text())
    if args.command == "check":
        srcs = sources(args)
        missing = [v for v in SUPPORTED if v not in srcs]
        errors = problems(srcs, shipped) + [f"{v}: no sources" for v in missing]
        errors += coverage_problems(shipped, None if args.sources else published())
        for e in errors:
            print("contract:", e, file=sys.stderr)
        if errors:
            sys.exit(f"SGLang contract: {len(errors)} problem(s)")
        print(f"SGLang contract holds for {', '.join(srcs)}")
        return
    # selftest: a copy of the newest release with one function the harness calls renamed.
    newest = SUPPORTED[-1]
    src = Source(wheel(newest, Path(os.environ.get("TRACE_SGLANG_CACHE", Path.home() / ".cache" / "trace-sglang"))))
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / newest
        for name in src.names():
            if name.startswith("sglang/"):
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                (tree / name).write_bytes(src.zip.read(name))
        engine = tree / "sglang/srt/entrypoints/engine.py"
        engine.write_text(engine.read_text().replace("def _set_envs_and_config(", "def _set_envs_and_config_v2("))
        errors = problems({newest: Source(tree)}, shipped)
    wanted = [e for e in errors if "_set_envs_and_config" in e]
    print("\n".join(f"selftest saw: {e}" for e in errors))
    if not wanted:
        sys.exit("selftest: renaming _set_envs_and_config did not fail the contract")
    # A release with no shipped facts, and one published in the range but not listed.
    gap = SUPPORTED[len(SUPPORTED) // 2]
    thinned = {**shipped, "versions": {v: f for v, f in shipped["versions"].items() if v != gap}}
    errors = coverage_problems(thinned, SUPPORTED + ["0.5.9.post9"])
    print("\n".join(f"selftest saw: {e}" for e in errors))
    if not any(e.startswith(f"{gap}:") for e in errors) or not any(e.startswith("0.5.9.post9:") for e in errors):
        sys.exit("selftest: a release without facts, or one missing from SUPPORTED, did not fail the contract")
    # The harness's own cross-check: the installed sources of 0.5.17 agree with its shipped
    # facts, and one per-rank set-up call removed from them is named.
    import trace_sglang

    src = Source(wheel("0.5.17", Path(os.environ.get("TRACE_SGLANG_CACHE", Path.home() / ".cache" / "trace-sglang"))))
    with tempfile.TemporaryDirectory() as tmp:
        for name in src.names():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_bytes(src.zip.read(name))
        clean = trace_sglang.source_problems(tmp, "0.5.17", shipped["versions"]["0.5.17"])
        bench = Path(tmp) / "sglang/benchmark/one_batch.py"
        bench.write_text(bench.read_text().replace("    initialize_fp4_gemm_config(server_args)\n", "", 1))
        patched = trace_sglang.source_problems(tmp, "0.5.17", shipped["versions"]["0.5.17"])
    print("\n".join(f"selftest saw (patched 0.5.17 install): {e}" for e in patched))
    if clean or not any(e.startswith("rank_setup:") for e in patched):
        sys.exit(f"selftest: the harness's installed-source check is wrong (clean: {clean}, patched: {patched})")
    print("selftest ok: the contract fails when the harness calls a symbol the version lacks, "
          "when a release has no facts, and when a published release in the range is not listed; "
          "the harness refuses an installed SGLang whose sources differ from its release's facts")


if __name__ == "__main__":
    main()
