"""Stand-in for sglang.benchmark.one_batch (0.5.23): records calls, sleeps instead of computing."""
import os
import time

from sglang import record
from sglang.srt.entrypoints.engine import _set_envs_and_config  # noqa: F401 - the harness reaches it here
from sglang.srt.runtime_context import publish  # noqa: F401
from sglang.srt.server_args import PortArgs, ServerArgs  # noqa: F401


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError."""


def _rank_is(var, rank):
    return os.environ.get(var, "") == str(rank)


def _init_process_global_configs() -> None:
    record("_init_process_global_configs")


def get_tokenizer(*args, **kwargs):
    raise RuntimeError("stand-in: no tokenizer files (the harness must not load a tokenizer)")


class ModelRunner:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.live = 0

    def init_decode_cuda_graph(self):
        record("init_decode_cuda_graph", gpu_id=self.kwargs.get("gpu_id"))


def load_model(server_args, port_args, gpu_id, tp_rank):
    record("load_model", nccl_port=port_args.nccl_port, gpu_id=gpu_id, tp_rank=tp_rank,
           cuda_device_max_connections=os.environ.get("CUDA_DEVICE_MAX_CONNECTIONS"))
    if _rank_is("TRACE_STANDIN_FAIL", tp_rank):
        raise RuntimeError(f"stand-in: rank {tp_rank} failed to load the model")
    if _rank_is("TRACE_STANDIN_HANG", tp_rank):
        time.sleep(3600)
    if _rank_is("TRACE_STANDIN_HANG_AT_EXIT", tp_rank):
        # A non-daemon thread that never ends keeps the finished rank from exiting, as a
        # stuck NCCL teardown does.
        import threading

        threading.Thread(target=time.sleep, args=(3600,), name="stand-in-teardown").start()
    runner = ModelRunner(gpu_id=gpu_id, nccl_port=port_args.nccl_port, server_args=server_args)
    tokenizer = get_tokenizer(getattr(server_args, "tokenizer_path", None))
    return _TorchBenchRunner(runner), tokenizer


def prepare_synthetic_inputs_for_latency_test(batch_size, input_len, custom_inputs=None):
    return [[i % 10000] * input_len for i in range(batch_size)]


def extend(reqs, model_runner):
    if os.environ.get("TRACE_STANDIN_OOM") == str(len(reqs)):
        raise OutOfMemoryError(f"stand-in: out of memory for batch {len(reqs)}")
    time.sleep(1e-4 * len(reqs))
    model_runner.live += len(reqs)
    return [0] * len(reqs), None, {"bsz": len(reqs), "seq": len(reqs[0])}


def decode(input_token_ids, batch, model_runner):
    time.sleep(5e-5 * len(input_token_ids))
    return [0] * len(input_token_ids), None


class _TorchBenchRunner:
    def __init__(self, model_runner):
        self.torch_runner = model_runner

    def clear(self):
        self.torch_runner.live = 0

    def extend(self, reqs):
        return extend(reqs, self.torch_runner)

    def decode(self, next_token_ids, batch):
        return decode(next_token_ids, batch, self.torch_runner)

    def cleanup(self, batch):
        pass

    def synchronize(self):
        pass

    def max_batch_size(self, input_len, output_len):
        return 1 << 20
