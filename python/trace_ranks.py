"""Rank orchestration for the trace harness: start one process per local rank,
supervise them, and end all of them when one fails or hangs. Engine-agnostic.

The parent builds everything shared (for SGLang: one ServerArgs and one PortArgs,
as `bench_one_batch` does) and passes the same objects to every rank. Rank r of
node n runs on GPU `r % per_node` (`per_node = world // nnodes`), so node 1 of a
2x8 run uses devices 0-7, not 8-15. Each rank writes its output to its own log
(`<log_prefix>.rank<r>.log`); the first local rank also gets the harness's
progress stream (the parent's stdout).

Invariants: `supervise` returns only when every rank has exited; when one rank
exits non-zero or the deadline passes, the others are terminated (SIGTERM, then
SIGKILL after a grace period) and `RankFailure` names the rank, what happened and
the tail of its log. Ranks wait at a shared barrier (`RankContext.barrier`) before
each timed region when the engine has no process group of its own.
"""
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass

GRACE_S = 5.0
# Seconds a rank that has finished its work may take to exit before it is stopped
# (NCCL teardown was seen to hang after all work was done); TRACE_RANK_EXIT_GRACE_S overrides.
EXIT_GRACE_S = 20.0


class RankFailure(RuntimeError):
    """A rank died, hung past the deadline, or could not start."""


@dataclass
class RankContext:
    rank: int          # global rank (tp_rank)
    local_rank: int    # index on this node
    gpu_id: int        # device index on this node
    world: int         # ranks over all nodes
    log_path: str
    progress: bool     # this rank writes the progress stream
    barrier: object    # a multiprocessing Barrier over the local ranks

    def wait_barrier(self, timeout_s=None):
        if self.barrier is not None:
            self.barrier.wait(timeout_s)


def local_ranks(world, nnodes, node_rank):
    """[(tp_rank, gpu_id)] of this node: contiguous ranks, GPU ids from 0 on every node."""
    if world < 1 or nnodes < 1 or world % nnodes:
        raise RankFailure(f"{world} rank(s) do not split evenly over {nnodes} node(s)")
    if not 0 <= node_rank < nnodes:
        raise RankFailure(f"node rank {node_rank} is outside 0..{nnodes - 1}")
    per_node = world // nnodes
    return [(r, r % per_node) for r in range(node_rank * per_node, (node_rank + 1) * per_node)]


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(no log: {e})"


def finished_path(ctx):
    return f"{ctx.log_path}.finished"


def mark_finished(ctx):
    """Called by a rank once its results are written: from then on it only has to exit."""
    with open(finished_path(ctx), "w"):
        pass


def _rank_entry(target, ctx, args):
    """Child side: route output to the rank's log, then run the target."""
    progress_fd = os.dup(1) if ctx.progress else None
    log = os.open(ctx.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if progress_fd is not None:
        os.environ["TRACE_PROGRESS_FD"] = str(progress_fd)
    target(ctx, *args)


def supervise(target, args, world, nnodes=1, node_rank=0, log_prefix="harness", timeout_s=3600.0,
              poll_s=0.1, on_started=None):
    """Runs `target(ctx, *args)` in one process per local rank and waits for all of them.

    `target` must be importable (ranks are spawned, never forked, as SGLang requires).
    Raises RankFailure on the first failure or at the deadline, after stopping the rest.
    """
    spawn = mp.get_context("spawn")
    placement = local_ranks(world, nnodes, node_rank)
    barrier = spawn.Barrier(len(placement))
    procs = []
    try:
        for local, (rank, gpu) in enumerate(placement):
            ctx = RankContext(rank, local, gpu, world, f"{log_prefix}.rank{rank}.log", local == 0, barrier)
            proc = spawn.Process(target=_rank_entry, args=(target, ctx, args), name=f"trace-rank{rank}")
            proc.start()
            procs.append((ctx, proc))
        if on_started:
            on_started([p.pid for _, p in procs])
        deadline = time.monotonic() + timeout_s
        exit_grace = float(os.environ.get("TRACE_RANK_EXIT_GRACE_S", EXIT_GRACE_S))
        all_finished_at = None
        while True:
            failed = [(c, p) for c, p in procs if p.exitcode not in (None, 0)]
            if failed:
                ctx, proc = failed[0]
                raise RankFailure(f"rank {ctx.rank} (GPU {ctx.gpu_id}) exited with code {proc.exitcode}; "
                                  f"last lines of {ctx.log_path}:\n{tail(ctx.log_path)}")
            if all(p.exitcode == 0 for _, p in procs):
                return [c for c, _ in procs]
            if all_finished_at is None and all(os.path.exists(finished_path(c)) for c, _ in procs):
                all_finished_at = time.monotonic()
            if all_finished_at is not None and time.monotonic() - all_finished_at > exit_grace:
                hung = [c.rank for c, p in procs if p.exitcode is None]
                print(f"trace harness: rank(s) {hung} finished their work but had not exited "
                      f"{exit_grace:g} s later; stopping them", flush=True)
                return [c for c, _ in procs]
            if time.monotonic() > deadline:
                ctx, _ = next((c, p) for c, p in procs if p.exitcode is None)
                raise RankFailure(f"rank {ctx.rank} (GPU {ctx.gpu_id}) still running after the "
                                  f"{timeout_s:g} s rank timeout (rank_timeout_s); last lines of "
                                  f"{ctx.log_path}:\n{tail(ctx.log_path)}")
            time.sleep(poll_s)
    finally:
        stop(procs)


def stop(procs):
    """Terminates every rank still alive (SIGTERM, then SIGKILL) and reaps them all."""
    alive = [p for _, p in procs if p.is_alive()]
    for p in alive:
        p.terminate()
    end = time.monotonic() + GRACE_S
    for p in alive:
        p.join(max(0.0, end - time.monotonic()))
    for p in alive:
        if p.is_alive():
            p.kill()
            p.join()
    for _, p in procs:
        p.join()


def collect(out, ranks):
    """Appends the other local ranks' result lines to `out`, then echoes and removes
    every rank's log (progress lines excepted, which went to the progress stream)."""
    with open(out, "a") as merged:
        for ctx in ranks:
            part = f"{out}.rank{ctx.rank}"
            if ctx.local_rank and os.path.exists(part):
                with open(part) as f:
                    merged.write(f.read())
                os.remove(part)
    for ctx in ranks:
        if os.path.exists(finished_path(ctx)):
            os.remove(finished_path(ctx))
        with open(ctx.log_path, errors="replace") as f:
            for line in f:
                if not line.startswith("TRACE "):
                    print(f"[rank {ctx.rank}] {line}", end="")
        os.remove(ctx.log_path)
