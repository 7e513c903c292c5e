"""HF transformers engine of the trace harness: random weights from `config.json`, on one
GPU or tensor/expert parallel over several, decode replayed from a CUDA graph.

One GPU: `AutoModelForCausalLM.from_config` on the GPU (bf16, random weights). Several
ranks (`tp_size > 1` in the deploy YAML): the parent picks a rendezvous port and a weights
directory; `trace_ranks.supervise` starts one process per rank; rank 0 builds the random
model once and saves it, every rank then loads it with `from_pretrained(dir,
tp_plan="auto")` (transformers' own tensor-parallel plan; `from_config` takes none), with
`DistributedConfig(enable_expert_parallel=True)` when the deploy sets `ep_size > 1`.
Collectives are NCCL; ranks wait at `torch.distributed.barrier()` before each timed step.

Decode (default `--decode graph`): the step's KV cache is a `StaticCache` filled by the
untimed set-up prefill; the first set-up of a shape captures one decode forward into a
CUDA graph (after two eager warm-up forwards on a side stream, all untimed). A timed
decode step is then: argmax of the set-up logits copied into the graph's input buffer,
and one graph replay. Only the current shape's cache and graph are kept, so memory is
bounded by one shape. `--decode eager` keeps the old path (dynamic cache, eager forward).
Prefill steps are always the eager forward with a dynamic cache, as before.

Invariants: every rank sees identical input tokens (a generator seeded per call, in the
same order on all ranks); nothing here is timed: trace_run's loop and clock time the calls
(`run_hf` and each rank call `trace_run.run`); nothing here imports the entry script.
"""
import os
import socket
import sys
import tempfile

import trace_ranks
import trace_run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_config(model_dir):
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model_dir)
    if getattr(cfg, "quantization_config", None) is not None:
        cfg.quantization_config = None  # random BF16 weights; FP8 needs a checkpoint
    return cfg


def build_random(cfg, torch):
    from transformers import AutoModelForCausalLM

    with torch.device("cuda"):
        try:
            return AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        except TypeError:  # transformers < 4.56 calls it torch_dtype
            return AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16)


def static_cache_len(seq):
    """Keys the static cache holds for a prompt of `seq`: the prompt, the decoded token and
    the two eager warm-up steps before graph capture, rounded up to 16 (SDPA's fused
    kernels want 16-aligned key lengths)."""
    return (seq + 3 + 15) // 16 * 16


class _Slot:
    """Static KV cache, input buffer and captured decode graph of one (bsz, seq)."""

    def __init__(self, engine, bsz, seq):
        torch = engine.torch
        self.shape = (bsz, seq)
        self.cache = engine.static_cache(bsz, static_cache_len(seq))
        self.prefill_pos = torch.arange(seq, device="cuda")
        self.decode_pos = torch.tensor([seq], device="cuda")
        self.ids = torch.zeros((bsz, 1), dtype=torch.long, device="cuda")
        self.graph = None
        self.logits = None


class HFEngine:
    """transformers model with random weights: one GPU, or one tensor-parallel rank."""

    def __init__(self, model_dir, rank=0, gpu_id=0, world=1, weights_dir=None, expert_parallel=False,
                 decode="graph"):
        import torch

        self.torch = torch
        torch.cuda.set_device(gpu_id)
        cfg = load_config(model_dir)
        if world == 1:
            model = build_random(cfg, torch)
        else:
            model = self._load_sharded(cfg, weights_dir, expert_parallel)
        self.model = model.eval()
        # What transformers chose (sdpa, eager, flash_attention_2): the run's backend.
        self.attention = getattr(model.config, "_attn_implementation", None)
        self.config = model.config
        self.vocab = min(int(cfg.vocab_size), 32000)
        self.rank = rank
        self.decode_mode = decode
        self.slot = None
        self.calls = 0

    def _load_sharded(self, cfg, weights_dir, expert_parallel):
        torch = self.torch
        import torch.distributed as dist
        from transformers import AutoModelForCausalLM

        if dist.get_rank() == 0:
            model = build_random(cfg, torch)
            model.save_pretrained(weights_dir)
            del model
            torch.cuda.empty_cache()
        dist.barrier()
        kwargs = {"dtype": torch.bfloat16}
        if expert_parallel:  # transformers takes the TP plan inside the config then, not beside it
            from transformers.distributed import DistributedConfig

            kwargs["distributed_config"] = DistributedConfig(tp_plan="auto", enable_expert_parallel=True)
        else:
            kwargs["tp_plan"] = "auto"
        return AutoModelForCausalLM.from_pretrained(weights_dir, **kwargs)

    def static_cache(self, bsz, max_len):
        from transformers import StaticCache

        try:
            return StaticCache(config=self.config, max_cache_len=max_len)
        except TypeError:  # transformers 4.x wants the batch, device and dtype up front
            return StaticCache(config=self.config, max_batch_size=bsz, max_cache_len=max_len,
                               device="cuda", dtype=self.torch.bfloat16)

    def inputs(self, bsz, seq):
        self.calls += 1
        gen = self.torch.Generator(device="cuda")
        gen.manual_seed(self.calls)
        return self.torch.randint(0, self.vocab, (bsz, seq), device="cuda", generator=gen)

    def prefill(self, ids):
        return self.model(ids, use_cache=True)

    def prefill_for_decode(self, ids):
        """Untimed set-up of a decode step: fill the shape's static cache (graph mode)."""
        if self.decode_mode == "eager":
            return self.prefill(ids)
        bsz, seq = ids.shape
        if self.slot is None or self.slot.shape != (bsz, seq):
            self.slot = None
            self.torch.cuda.empty_cache()
            self.slot = _Slot(self, bsz, seq)
        slot = self.slot
        if slot.graph is None:
            self._capture(slot, self._fill(slot, ids))
        return (slot, self._fill(slot, ids))

    def _fill(self, slot, ids):
        # transformers 5 static layers write at a device-side counter that every forward (and
        # graph replay) advances: rewind it so the prompt lands at 0..seq-1 and the decoded
        # token at seq, where the captured graph's cache_position and mask expect it.
        slot.cache.reset()
        return self.model(ids, past_key_values=slot.cache, use_cache=True, cache_position=slot.prefill_pos)

    def _capture(self, slot, out):
        torch = self.torch
        slot.ids.copy_(out.logits[:, -1:].argmax(-1))

        def step():
            return self.model(slot.ids, past_key_values=slot.cache, use_cache=True,
                              cache_position=slot.decode_pos).logits

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            slot.logits = step()
        slot.graph = graph

    def decode(self, state):
        if isinstance(state, tuple):  # graph mode: state came from prefill_for_decode
            slot, out = state
            slot.ids.copy_(out.logits[:, -1:].argmax(-1))
            slot.graph.replay()
            return slot.logits
        nxt = state.logits[:, -1:].argmax(-1)
        return self.model(nxt, past_key_values=state.past_key_values, use_cache=True)

    def reset(self):
        pass


def rank_main(ctx, model_dir, weights_dir, port, expert_parallel, points, args):
    """One tensor-parallel rank (run by trace_ranks.supervise in its own process)."""
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(ctx.rank),
                      WORLD_SIZE=str(ctx.world), LOCAL_RANK=str(ctx.local_rank),
                      LOCAL_WORLD_SIZE=str(ctx.world))
    torch.cuda.set_device(ctx.gpu_id)
    dist.init_process_group("nccl", device_id=torch.device("cuda", ctx.gpu_id))
    try:
        engine = HFEngine(model_dir, ctx.rank, ctx.gpu_id, ctx.world, weights_dir, expert_parallel,
                          args.decode)
        clock = trace_run.make_clock()
        out = args.out if ctx.local_rank == 0 else f"{args.out}.rank{ctx.rank}"
        trace_run.run(engine, points, args, out, clock, clock.distributed_barrier)
        trace_ranks.mark_finished(ctx)
    finally:  # a teardown that hangs (seen with NCCL under nsys) is ended by the supervisor
        dist.destroy_process_group()


def run_ranks(args, points, world, expert_parallel):
    """Parent of the HF ranks (one node): shared port and weights directory, supervision."""
    weights_dir = tempfile.mkdtemp(prefix="trace-hf-weights-")
    try:
        return trace_ranks.supervise(rank_main, (args.model_dir, weights_dir, free_port(), expert_parallel,
                                                 points, args),
                                     world, 1, 0, log_prefix=args.out, timeout_s=args.rank_timeout)
    finally:
        import shutil

        shutil.rmtree(weights_dir, ignore_errors=True)


def run_hf(args, points):
    """The hf engine: one GPU in this process, or `--tp-size` ranks under supervision."""
    if args.tp_size <= 1:
        engine = HFEngine(args.model_dir, decode=args.decode)
        trace_run.run(engine, points, args, args.out, trace_run.make_clock())
        return
    trace_run.event("hf", tp_size=args.tp_size, ep_size=args.ep_size, decode=args.decode)
    try:
        ranks = run_ranks(args, points, args.tp_size, args.ep_size > 1)
    except trace_ranks.RankFailure as e:
        sys.exit(f"trace harness: {e}")
    trace_ranks.collect(args.out, ranks)
