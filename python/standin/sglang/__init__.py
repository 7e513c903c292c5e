"""CPU stand-in for SGLang (see python/standin/README.md): no torch, no GPU."""
import json
import os

__version__ = os.environ.get("TRACE_STANDIN_VERSION", "0.5.23")
TRACE_STANDIN = True


def record(call, **fields):
    """Appends one call to $TRACE_STANDIN_RECORD/calls.jsonl (if set)."""
    folder = os.environ.get("TRACE_STANDIN_RECORD")
    if folder:
        with open(os.path.join(folder, "calls.jsonl"), "a") as f:
            f.write(json.dumps({"call": call, "pid": os.getpid(), **fields}, default=str) + "\n")
