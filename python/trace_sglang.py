"""The SGLang engine of the trace harness, for every supported SGLang release.

What differs between releases (where `load_model` lives, its parameters, the
runner wrapper, the set-up calls of the parent and of each rank, the method that
captures the decode CUDA graphs, the flag set) comes from `sglang_api.json`,
generated from the released sources by scripts/sglang_api.py and checked against
them in CI. A release runs only with its own facts: one without shipped facts is
refused naming the releases known to work, and before anything runs the facts are
derived again from the installed SGLang's own sources (`trace_sglang_facts`, `ast`
only) and must equal the shipped ones (a patched or mislabelled install is refused,
naming what differs). Nothing here guesses.

Parent (`run_sglang`, called by the entry script): check the installed release, parse
the flags with the installed ServerArgs parser (a rejected flag is an error naming the
version), `resolve_once()` where the release has it, the environment set-up SGLang's
engine does (`_set_envs_and_config`: NCCL_CUMEM_ENABLE, NCCL_NVLS_ENABLE,
CUDA_DEVICE_MAX_CONNECTIONS, ...), then one `PortArgs.init_new`.
The same ServerArgs and PortArgs objects go to every rank (trace_ranks.supervise), and
the ranks' results are merged into --out (trace_ranks.collect).
Rank: the per-rank set-up `latency_test` makes before `load_model` (e.g. `publish`
and `_init_process_global_configs` in 0.5.23; `initialize_moe_config` and the fp8 /
fp4 GEMM configs in 0.5.8 to 0.5.18), then `load_model` with this node's GPU id. The
harness feeds token ids, so `load_model`'s tokenizer load is replaced by a no-op:
model_conf/ needs only config.json.
Graphs: SGLang captures its decode CUDA graphs while loading the model, before the
profiled window; `capture_graphs` captures them again inside it (untimed, with the
module ranges open), so the report holds each graph node's capture and `trace ingest`
gives replayed kernels the module that launched them at capture.
Each rank runs trace_run's loop (`rank_main`); nothing here imports the entry script.
"""
import argparse
import contextlib
import importlib
import io
import json
import os
import sys

import trace_ranks
import trace_run

API_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sglang_api.json")


class HarnessError(RuntimeError):
    """A user-facing failure: the message says what to fix."""


def load_api(path=API_FILE):
    with open(path) as f:
        return json.load(f)


def facts_for(version, api):
    """The shipped facts of exactly `version`; any other version is refused."""
    facts = api["versions"].get(str(version).strip())
    if facts is None:
        known = api["supported"]
        raise HarnessError(f"SGLang {version} has no shipped API facts (supported: {known[0]} .. {known[-1]}, "
                           f"{len(known)} releases: {', '.join(known)}); install one of them")
    return facts


def installed_facts_problems(version, facts):
    """Differences between the shipped facts and those derived from the installed
    SGLang's sources (empty when they agree, or when the sources cannot be read, e.g.
    the CPU stand-in, which the contract test checks instead)."""
    import sglang

    if getattr(sglang, "TRACE_STANDIN", False):
        return []
    return source_problems(os.path.dirname(os.path.dirname(os.path.abspath(sglang.__file__))), version, facts)


def source_problems(root, version, facts):
    """Differences between `facts` and those derived from the SGLang sources under `root`
    (the folder holding `sglang/`)."""
    import trace_sglang_facts as derive

    try:
        have = derive.facts(derive.Source(root), version)
    except (OSError, SyntaxError, SystemExit, AttributeError) as e:
        return [f"could not read the installed SGLang's sources under {root}: {e}"]
    return [f"{key}: shipped {facts.get(key)!r:.120} but the installed sources say {have.get(key)!r:.120}"
            for key in sorted(set(have) | set(facts)) if have.get(key) != facts.get(key)]


def parse_server_args(flags, version):
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog=f"SGLang {version} server arguments")
    ServerArgs.add_cli_args(parser)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = parser.parse_args(flags)
    except SystemExit:
        last = err.getvalue().strip().splitlines()[-1:] or ["(no message)"]
        raise HarnessError(f"SGLang {version} rejected the server arguments: {last[0]}") from None
    return ServerArgs.from_cli_args(ns)


def prepare(flags, facts, version):
    """Parent-side set-up: (server_args, port_args), built once for all ranks."""
    from sglang.srt.server_args import PortArgs

    bench = importlib.import_module(facts["bench_module"])
    server_args = parse_server_args(flags, version)
    if "resolve_once" in facts["parent_setup"]:
        server_args.resolve_once()
    if "_set_envs_and_config" in facts["parent_setup"]:
        bench._set_envs_and_config(server_args)
    return server_args, PortArgs.init_new(server_args)


LAYERWISE_FLAG = "enable_layerwise_nvtx_marker"


def with_layerwise_markers(flags, facts, args):
    """(flags, note): with `--module-ranges engine` on a profiled run, the release's own
    layer-wise NVTX markers (one range per module forward, path without class, registered
    at model load) where it has them; otherwise the harness's hooks give the ranges."""
    cli = "--" + LAYERWISE_FLAG.replace("_", "-")
    wanted = getattr(args, "module_ranges", "off") == "engine" and getattr(args, "profile", "none") != "none"
    if not wanted or cli in flags:
        return flags, None
    if LAYERWISE_FLAG not in facts["flags"]:
        return flags, (f"SGLang {facts['version']} has no {cli}; module ranges come from the harness's hooks")
    return [*flags, cli], None


def rank_setup(bench, facts, server_args, gpu_id, tp_rank):
    """The per-rank calls `latency_test` makes before `load_model`, in its order, with
    the release's arguments (`initialize_moe_config(server_args)` before 0.5.19, no
    arguments after; `publish(..., ranks=SpawnRanks(...))` from 0.5.21)."""
    for step in facts["rank_setup"]:
        fn = getattr(bench, step["name"])
        if step["name"] == "publish":
            kwargs = {"role": "scheduler"}
            if "ranks" in step.get("keywords", []):
                from sglang.srt.runtime_context import SpawnRanks, spawn_world_rank

                world_rank = spawn_world_rank(server_args, tp_rank=tp_rank, pp_rank=0)
                kwargs["ranks"] = SpawnRanks(world_rank=world_rank, gpu_id=gpu_id)
            fn(server_args, **kwargs)
        elif step["args"] == 1:
            fn(server_args)
        else:
            fn()


class SGLangEngine:
    """SGLang's ModelRunner, loaded and driven the way its one-batch benchmark does."""

    def __init__(self, facts, server_args, port_args, gpu_id, tp_rank):
        bench = importlib.import_module(facts["bench_module"])
        bench.get_tokenizer = lambda *args, **kwargs: None  # token ids only; no tokenizer files needed
        rank_setup(bench, facts, server_args, gpu_id, tp_rank)
        if "gpu_id" in facts["load_model"]:
            runner, _ = bench.load_model(server_args, port_args, gpu_id, tp_rank)
        else:
            # Releases whose load_model takes no GPU id use gpu_id=tp_rank; fix it per node.
            model_runner = bench.ModelRunner
            bench.ModelRunner = lambda **kwargs: model_runner(**{**kwargs, "gpu_id": gpu_id})
            runner, _ = bench.load_model(server_args, port_args, tp_rank)
        self.bench, self.runner, self.rank = bench, runner, tp_rank
        self.emits_module_ranges = bool(getattr(server_args, LAYERWISE_FLAG, False))
        self.wrapped = facts["runner_wrapper"] is not None
        self.model_runner = getattr(runner, facts["runner_wrapper"]["runner_attr"]) if self.wrapped else runner
        self.model = getattr(self.model_runner, "model", None)
        self.graph_init = facts.get("graph_init")
        self.graphs_on = not getattr(server_args, "disable_cuda_graph", False)

    def capture_graphs(self):
        """Capture the decode CUDA graphs again (the release's `graph_init` method), so
        the capture falls inside the profiled window; False when graphs are off."""
        if not (self.graphs_on and self.graph_init):
            return False
        getattr(self.model_runner, self.graph_init)()
        return True

    def inputs(self, bsz, seq):
        return self.bench.prepare_synthetic_inputs_for_latency_test(bsz, seq)

    def prefill(self, reqs):
        if self.wrapped:
            next_ids, _, batch = self.runner.extend(reqs)
        else:
            next_ids, _, batch = self.bench.extend(reqs, self.runner)
        return next_ids, batch

    def decode(self, state):
        next_ids, batch = state
        if self.wrapped:
            out, _ = self.runner.decode(next_ids, batch)
        else:
            out, _ = self.bench.decode(next_ids, batch, self.runner)
        return out, batch

    def reset(self):
        if self.wrapped:
            self.runner.clear()
        else:
            self.runner.req_to_token_pool.clear()
            self.runner.token_to_kv_pool_allocator.clear()


def rank_main(ctx, facts, server_args, port_args, points, args):
    """One rank (run by trace_ranks.supervise in its own process)."""
    clock = trace_run.make_clock()
    engine = SGLangEngine(facts, server_args, port_args, ctx.gpu_id, ctx.rank)
    out = args.out if ctx.local_rank == 0 else f"{args.out}.rank{ctx.rank}"

    def barrier():
        if not clock.distributed_barrier():
            ctx.wait_barrier()  # no timeout of its own: the supervisor's rank timeout ends a hang

    trace_run.run(engine, points, args, out, clock, barrier)
    trace_ranks.mark_finished(ctx)


def run_sglang(args, points):
    """Parent of the SGLang ranks: version check, shared set-up, supervision, merge."""
    try:
        import sglang
    except ImportError as e:
        sys.exit(f"trace harness: SGLang is not importable ({e}); install it (pip install sglang) "
                 "or use --engine hf")
    version = getattr(sglang, "__version__", "unknown")
    try:
        facts = facts_for(version, load_api())
        differ = installed_facts_problems(version, facts)
        if differ:
            raise HarnessError(
                f"the installed SGLang {version} ({os.path.dirname(sglang.__file__)}) does not match the "
                f"released {version} that trace knows: " + "; ".join(differ[:4]))
        trace_run.event("sglang", version=version, api=facts["version"], module=facts["bench_module"],
                        graph_init=facts.get("graph_init"), standin=bool(getattr(sglang, "TRACE_STANDIN", False)))
        flags = json.load(open(args.server_args_file)) if args.server_args_file else []
        flags, note = with_layerwise_markers(flags, facts, args)
        if note:
            print(f"trace harness: {note}", flush=True)
        server_args, port_args = prepare(flags, facts, version)
    except HarnessError as e:
        sys.exit(f"trace harness: {e}")
    world = int(server_args.tp_size)
    nnodes, node = int(getattr(server_args, "nnodes", 1) or 1), int(getattr(server_args, "node_rank", 0) or 0)
    try:
        ranks = trace_ranks.supervise(rank_main, (facts, server_args, port_args, points, args),
                                      world, nnodes, node, log_prefix=args.out, timeout_s=args.rank_timeout,
                                      on_started=lambda pids: trace_run.event("ranks", pids=pids))
    except trace_ranks.RankFailure as e:
        sys.exit(f"trace harness: {e}")
    trace_ranks.collect(args.out, ranks)
