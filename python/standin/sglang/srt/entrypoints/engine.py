"""Stand-in for SGLang's engine environment set-up."""
import os

from sglang import record


def _set_envs_and_config(server_args):
    os.environ.setdefault("NCCL_CUMEM_ENABLE", "0")
    os.environ["CUDA_DEVICE_MAX_CONNECTIONS"] = "8"
    record("_set_envs_and_config")
