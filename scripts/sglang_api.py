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
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_FILE = ROOT / "python" / "sglang_api.json"
STANDIN = ROOT / "python" / "standin"
SUPPORTED = ["0.4.10.post2", "0.5.10", "0.5.23"]

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
# Calls in latency_test before load_model that are not model set-up.
NOT_SETUP = {"configure_logger", "set_gpu_proc_affinity", "get_bool_env_var", "print", "resolving_view"}
# (module, qualified name, parameters the harness passes by name or position).
HARNESS_USES = [
    ("sglang.srt.server_args", "ServerArgs.add_cli_args", ["parser"]),
    ("sglang.srt.server_args", "ServerArgs.from_cli_args", ["cls", "args"]),
    ("sglang.srt.server_args", "PortArgs.init_new", ["server_args"]),
    ("sglang.srt.entrypoints.engine", "_set_envs_and_config", ["server_args"]),
]
PUBLISH_USES = [
    ("sglang.srt.runtime_context", "publish", ["server_args", "role", "ranks"]),
    ("sglang.srt.runtime_context", "SpawnRanks", ["world_rank", "gpu_id"]),
    ("sglang.srt.runtime_context", "spawn_world_rank", ["server_args", "tp_rank", "pp_rank"]),
]


class Source:
    """The `.py` files of one SGLang release (a wheel or an unpacked tree)."""

    def __init__(self, path):
        self.path = Path(path)
        self.zip = zipfile.ZipFile(self.path) if self.path.is_file() else None
        self._trees = {}

    def names(self):
        if self.zip:
            return [n for n in self.zip.namelist() if n.endswith(".py")]
        return [str(p.relative_to(self.path)) for p in self.path.rglob("*.py")]

    def text(self, module):
        rel = module.replace(".", "/") + ".py"
        try:
            if self.zip:
                return self.zip.read(rel).decode()
            return (self.path / rel).read_text()
        except (KeyError, FileNotFoundError):
            return None

    def tree(self, module):
        if module not in self._trees:
            text = self.text(module)
            self._trees[module] = ast.parse(text) if text is not None else None
        return self._trees[module]


def find(tree, qualname):
    """The def/class node `A.b` in a module tree, else None."""
    nodes = tree.body if tree else []
    node = None
    for part in qualname.split("."):
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            return None
        nodes = node.body
    return node


def params(fn):
    """Parameter names of a def (a class: its fields, annotated assignments)."""
    if isinstance(fn, ast.ClassDef):
        return [n.target.id for n in fn.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    a = fn.args
    return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]


def imported(tree, name):
    """Whether a module defines or imports `name` at top level."""
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name:
            return True
        if isinstance(n, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in n.names):
            return True
    return False


def returned_sizes(fn):
    """Sizes of the tuples a def returns (0 for a non-tuple)."""
    return sorted({len(r.value.elts) if isinstance(r.value, ast.Tuple) else 0
                   for r in ast.walk(fn) if isinstance(r, ast.Return) and r.value is not None})


def call_name(call):
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def bench_module(src):
    for module in ("sglang.benchmark.one_batch", "sglang.bench_one_batch"):
        if find(src.tree(module), "load_model"):
            return module
    raise SystemExit(f"{src.path}: no load_model in sglang.benchmark.one_batch or sglang.bench_one_batch")


def flags(src):
    """(flags, deprecated): every `--flag` ServerArgs.add_cli_args registers, snake_case."""
    tree = src.tree("sglang.srt.server_args")
    add = find(tree, "ServerArgs.add_cli_args")
    found, deprecated = set(), set()
    for call in ast.walk(add):
        if isinstance(call, ast.Call) and call_name(call) == "add_argument":
            names = [a.value[2:].replace("-", "_") for a in call.args
                     if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--")]
            found.update(names)
            action = next((k.value for k in call.keywords if k.arg == "action"), None)
            if isinstance(action, ast.Name) and action.id.startswith("Deprecated"):
                deprecated.update(names)
    if any(isinstance(c, ast.Call) and call_name(c) == "add_cli_args_from_dataclass" for c in ast.walk(add)):
        # Newer releases assemble ServerArgs from namespaces in arg_groups/fields/.
        for name in src.names():
            if re.match(r"sglang/srt/arg_groups/fields/[a-z_]+\.py$", name):
                for cls in ast.parse(src.text(name[:-3].replace("/", "."))).body:
                    if isinstance(cls, ast.ClassDef):
                        for n in cls.body:
                            if (isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
                                    and not n.target.id.startswith("_")
                                    and "no_cli=True" not in ast.unparse(n.annotation)):
                                found.add(n.target.id)
    return sorted(found), sorted(deprecated)


def facts(src, version):
    module = bench_module(src)
    tree = src.tree(module)
    load = find(tree, "load_model")
    wrapper = None
    for n in ast.walk(load):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.endswith("BenchRunner") \
                and "Torch" in n.func.id:
            cls = find(tree, n.func.id)
            wrapper = {"class": n.func.id, "methods": {m.name: params(m)[1:] for m in cls.body
                                                        if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")}}
    calls_in_load = {call_name(c) for c in ast.walk(load) if isinstance(c, ast.Call)}
    runner_kwargs = sorted({k.arg for c in ast.walk(load) if isinstance(c, ast.Call) and call_name(c) in ("ModelRunner", "dict")
                            for k in c.keywords if k.arg})
    latency = find(tree, "latency_test")
    setup = []
    for stmt in latency.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            name = call_name(stmt.value)
            if name and name not in NOT_SETUP and not any(name == s["name"] for s in setup):
                fn = find(tree, name)
                setup.append({"name": name, "args": len(stmt.value.args), "defined_here": fn is not None})
        if any(isinstance(c, ast.Call) and call_name(c) == "load_model" for c in ast.walk(stmt)):
            break
    main = find(tree, "main")
    parent = [n for n in ("resolve_once", "_set_envs_and_config")
              if any(isinstance(c, ast.Call) and call_name(c) == n for c in ast.walk(main))]
    flag_list, deprecated = flags(src)
    return {
        "version": version,
        "bench_module": module,
        "load_model": params(load),
        "load_model_returns": returned_sizes(load),
        "load_model_loads_tokenizer": "get_tokenizer" in calls_in_load,
        "model_runner_kwargs": runner_kwargs,
        "runner_wrapper": wrapper,
        "extend": {"params": params(find(tree, "extend")), "returns": returned_sizes(find(tree, "extend"))},
        "decode": {"params": params(find(tree, "decode")), "returns": returned_sizes(find(tree, "decode"))},
        "prepare_inputs": params(find(tree, "prepare_synthetic_inputs_for_latency_test")),
        "parent_setup": parent,
        "rank_setup": setup,
        "flags": flag_list,
        "deprecated_flags": deprecated,
    }


def wheel(version, cache):
    cache.mkdir(parents=True, exist_ok=True)
    hits = sorted(cache.glob(f"sglang-{version}-*.whl"))
    if not hits:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_34_x86_64",
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
        if any(s["name"] == "publish" for s in want["rank_setup"]):
            uses += PUBLISH_USES
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
        elif "gpu_id" not in want["model_runner_kwargs"]:
            found.append(f"{v}: load_model no longer passes gpu_id to ModelRunner")
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
    for module, name in pairs:
        real, fake = find(src.tree(module), name), find(stand.tree(module), name)
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
    print("selftest ok: the contract fails when the harness calls a symbol the version lacks")


if __name__ == "__main__":
    main()
