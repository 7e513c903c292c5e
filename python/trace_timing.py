"""Timing, NVTX and profiler-window calls of the trace harness, behind one shim.

`CudaClock` is what real runs use: a timed region is an NVTX range and a
torch.profiler record_function around two CUDA events recorded on the current
stream; between the events lies exactly the engine call for that step (for the
SGLang engine: building the batch and ForwardBatch, the model forward with its
collectives, and sampling; for the HF engine: the model forward). The events are
read after `torch.cuda.synchronize()`, so queued GPU work is included and host
time after the end event is not. `CpuClock` does the same bookkeeping with
`time.perf_counter` and no torch; the harness uses it only under the CPU stand-in
engine (python/standin), which marks itself with `sglang.TRACE_STANDIN = True`.
"""
import contextlib
import time


class CudaClock:
    name = "cuda"

    def __init__(self):
        import torch

        self.torch = torch

    def env(self):
        t = self.torch
        return {"gpu": t.cuda.get_device_name(), "gpus": t.cuda.device_count(), "torch": t.__version__}

    def timed(self, name, fn):
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.nvtx.range_push(name)
        with torch.profiler.record_function(name):
            start.record()
            result = fn()
            end.record()
        torch.cuda.nvtx.range_pop()
        torch.cuda.synchronize()
        return result, start.elapsed_time(end)

    def untimed(self, name, fn):
        self.torch.cuda.nvtx.range_push(name)
        result = fn()
        self.torch.cuda.nvtx.range_pop()
        return result

    def synchronize(self):
        self.torch.cuda.synchronize()

    def profiler_start(self, kineto_path=None):
        """Open the profiled window: nsys's cudaProfilerApi range, and with `kineto_path` a
        torch.profiler (CPU + CUDA activities) session that `profiler_stop` exports there."""
        self.torch.cuda.profiler.start()
        if kineto_path:
            prof = self.torch.profiler
            self.kineto = prof.profile(activities=[prof.ProfilerActivity.CPU, prof.ProfilerActivity.CUDA])
            self.kineto.__enter__()
            self.kineto_path = kineto_path

    def profiler_stop(self):
        self.torch.cuda.profiler.stop()
        kineto = getattr(self, "kineto", None)
        if kineto is not None:
            kineto.__exit__(None, None, None)
            kineto.export_chrome_trace(self.kineto_path)
            self.kineto = None

    def inference_mode(self):
        return self.torch.inference_mode()

    def is_out_of_memory(self, exc):
        return isinstance(exc, self.torch.cuda.OutOfMemoryError)

    def release_memory(self):
        self.torch.cuda.empty_cache()

    def distributed_barrier(self):
        """Barrier over the engine's process group; False when there is none."""
        dist = self.torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.barrier()
            return True
        return False


class CpuClock:
    """Host clock for the CPU stand-in: same interface, no torch, no GPU."""

    name = "cpu"

    def env(self):
        return {"gpu": "cpu stand-in", "gpus": 0, "torch": None}

    def timed(self, name, fn):
        start = time.perf_counter()
        result = fn()
        return result, (time.perf_counter() - start) * 1e3

    def untimed(self, name, fn):
        return fn()

    def synchronize(self):
        pass

    def profiler_start(self, kineto_path=None):
        pass

    def profiler_stop(self):
        pass

    def inference_mode(self):
        return contextlib.nullcontext()

    def is_out_of_memory(self, exc):
        return type(exc).__name__ == "OutOfMemoryError"

    def release_memory(self):
        pass

    def distributed_barrier(self):
        return False
