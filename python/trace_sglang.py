"""The SGLang engine of the trace harness, for every supported SGLang release.

What differs between releases (where `load_model` lives, its parameters, the
runner wrapper, the set-up calls of the parent and of each rank, the flag set)
comes from `sglang_api.json`, generated from the released sources by
scripts/sglang_api.py and checked against them in CI; nothing here guesses.

Parent: parse the flags with the installed ServerArgs parser (a rejected flag is
an error naming the version), `resolve_once()` where the release has it, the
environment set-up SGLang's engine does (`_set_envs_and_config`: NCCL_CUMEM_ENABLE,
NCCL_NVLS_ENABLE, CUDA_DEVICE_MAX_CONNECTIONS, ...), then one `PortArgs.init_new`.
The same ServerArgs and PortArgs objects go to every rank (trace_ranks.supervise).
Rank: the per-rank set-up `latency_test` makes before `load_model` (e.g. `publish`
and `_init_process_global_configs` in 0.5.23), then `load_model` with this node's
GPU id. The harness feeds token ids, so `load_model`'s tokenizer load is replaced
by a no-op: model_conf/ needs only config.json.
"""
import argparse
import contextlib
import importlib
import io
import json
import os
import re

API_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sglang_api.json")


class HarnessError(RuntimeError):
    """A user-facing failure: the message says what to fix."""


def version_key(version):
    """`0.4.10.post2` -> (0, 4, 10, 2); pre-release tags sort before the release."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?", str(version))
    if not m:
        raise HarnessError(f"cannot read the SGLang version {version!r}")
    return tuple(int(g or 0) for g in m.groups())


def load_api(path=API_FILE):
    with open(path) as f:
        return json.load(f)


def facts_for(version, api):
    """(facts, note): the shipped facts of `version`, or of the newest shipped release before it."""
    lo, hi = api["supported"][0], api["supported"][-1]
    key = version_key(version)
    if not version_key(lo) <= key <= version_key(hi):
        raise HarnessError(f"SGLang {version} is outside the supported range {lo} .. {hi}; "
                           f"install a release in that range")
    best = max((v for v in api["versions"] if version_key(v) <= key), key=version_key)
    note = None if best == version else f"SGLang {version} is not shipped; using the API facts of {best}"
    return api["versions"][best], note


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
    bench._set_envs_and_config(server_args)
    return server_args, PortArgs.init_new(server_args)


LAYERWISE_FLAG = "enable_layerwise_nvtx_marker"


def with_layerwise_markers(flags, facts, args):
    """Module ranges on an SGLang run: the release's own layer-wise NVTX markers (one range
    per module forward, registered at model load so CUDA-graph capture sees them) when it
    has them and the run is profiled; releases without them get the harness's hooks."""
    cli = "--" + LAYERWISE_FLAG.replace("_", "-")
    wanted = getattr(args, "module_ranges", "off") == "on" and getattr(args, "profile", "none") != "none"
    if wanted and LAYERWISE_FLAG in facts["flags"] and cli not in flags:
        return [*flags, cli]
    return flags


def rank_setup(bench, facts, server_args, gpu_id, tp_rank):
    """The per-rank calls `latency_test` makes before `load_model`, in its order."""
    for step in facts["rank_setup"]:
        fn = getattr(bench, step["name"])
        if step["name"] == "publish":
            from sglang.srt.runtime_context import SpawnRanks, spawn_world_rank

            world_rank = spawn_world_rank(server_args, tp_rank=tp_rank, pp_rank=0)
            fn(server_args, role="scheduler", ranks=SpawnRanks(world_rank=world_rank, gpu_id=gpu_id))
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
    import trace_harness as h

    clock = h.make_clock()
    engine = SGLangEngine(facts, server_args, port_args, ctx.gpu_id, ctx.rank)
    out = args.out if ctx.local_rank == 0 else f"{args.out}.rank{ctx.rank}"

    def barrier():
        if not clock.distributed_barrier():
            ctx.wait_barrier()  # no timeout of its own: the supervisor's rank timeout ends a hang

    h.run(engine, points, args, out, clock, barrier)
    import trace_ranks

    trace_ranks.mark_finished(ctx)
