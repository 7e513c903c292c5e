"""Stand-in ServerArgs / PortArgs: the 0.5.23 flag set, values kept as parsed."""
import json
import os
import random

from sglang import record

_API = os.path.join(os.path.dirname(__file__), "..", "..", "..", "sglang_api.json")
_INTS = {"tp_size", "ep_size", "dp_size", "pp_size", "nnodes", "node_rank", "cuda_graph_max_bs_decode"}


def _flags():
    with open(_API) as f:
        return json.load(f)["versions"]["0.5.23"]["flags"]


class ServerArgs:
    tp_size = 1
    nnodes = 1
    node_rank = 0

    @staticmethod
    def add_cli_args(parser):
        for flag in _flags():
            parser.add_argument("--" + flag.replace("_", "-"), dest=flag, nargs="*", default=None)

    @classmethod
    def from_cli_args(cls, args):
        self = cls()
        for key, value in vars(args).items():
            if value is None:
                continue
            if value == []:
                value = True
            elif len(value) == 1:
                value = int(value[0]) if key in _INTS else value[0]
            setattr(self, key, value)
        record("ServerArgs.from_cli_args", fields=sorted(k for k, v in vars(args).items() if v is not None))
        return self

    def resolve_once(self) -> None:
        self._resolution_finished = True
        record("ServerArgs.resolve_once")


class PortArgs:
    def __init__(self, nccl_port):
        self.nccl_port = nccl_port

    @staticmethod
    def init_new(server_args, dp_rank=None, worker_ports=None):
        port = random.randint(20000, 60000)
        record("PortArgs.init_new", nccl_port=port)
        return PortArgs(port)
