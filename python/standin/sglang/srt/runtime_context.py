"""Stand-in for SGLang 0.5.23's per-process runtime context."""
from sglang import record


class SpawnRanks:
    world_rank: int
    dp_rank: int = None
    gpu_id: int = None

    def __init__(self, world_rank, dp_rank=None, gpu_id=None):
        self.world_rank, self.dp_rank, self.gpu_id = world_rank, dp_rank, gpu_id


def spawn_world_rank(server_args, *, tp_rank: int, pp_rank: int) -> int:
    return tp_rank


def publish(server_args, *, role: str, hf_config=None, ranks=None):
    record("publish", role=role, world_rank=ranks.world_rank, gpu_id=ranks.gpu_id)
