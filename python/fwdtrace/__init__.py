"""Ask a `trace` dataset from a notebook: a shipped query or your own SQL, answered as
a pyarrow Table (``.to_pandas()`` for pandas).

The answer comes from the ``trace`` binary installed beside this module (the same
engine, layout rules and queries as the command line), written as Parquet to a
temporary file and read with pyarrow; nothing here re-implements the dataset's
layout. ``pip install 'fwdtrace[notebook]'`` brings pyarrow and pandas.

    import fwdtrace
    t = fwdtrace.query("kernels-by-phase", data="results/parquet")
    df = fwdtrace.sql("SELECT category, sum(dur_ns) AS ns FROM kernels GROUP BY 1").to_pandas()
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from typing import Mapping, Optional, Sequence

__all__ = ["TraceError", "binary", "query", "sql", "queries", "run"]

_EXE = "trace.exe" if os.name == "nt" else "trace"


class TraceError(RuntimeError):
    """`trace` exited with an error; the message is what it printed."""

    def __init__(self, argv: Sequence[str], code: int, stderr: str):
        self.argv, self.code, self.stderr = list(argv), code, stderr
        super().__init__(stderr.strip() or f"{' '.join(argv)} exited with {code}")


def binary() -> str:
    """Path of the ``trace`` binary: $TRACE_BIN, else the one installed with this
    package (its environment's scripts folder, or the user scheme's), else PATH."""
    given = os.environ.get("TRACE_BIN")
    if given:
        return given
    folders = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        folders.append(sysconfig.get_path("scripts", scheme=user_scheme))
    folders.append(os.path.dirname(sys.executable))
    for folder in folders:
        candidate = os.path.join(folder, _EXE)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("trace")
    if found:
        return found
    raise FileNotFoundError(
        "the trace binary is not installed beside fwdtrace; reinstall the wheel or set TRACE_BIN"
    )


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``trace ARGS…`` and returns the finished process (stdout, stderr as text);
    raises :class:`TraceError` when it fails and ``check`` is true."""
    return _call(args, check)


def _call(args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    argv = [binary(), *map(str, args)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise TraceError(argv, done.returncode, done.stderr)
    return done


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fwdtrace.query needs pyarrow: pip install 'fwdtrace[notebook]'"
        ) from e
    return pq


def query(
    name: Optional[str] = None,
    *,
    sql: Optional[str] = None,
    data: Optional[str] = None,
    run: Optional[str] = None,
    by: Optional[str] = None,
    params: Optional[Mapping[str, object]] = None,
    queries: Optional[str] = None,
):
    """A shipped query (``name``, see :func:`queries`) or ``sql`` over the dataset at
    ``data`` ($TRACE_DATA, else results/parquet), as a ``pyarrow.Table``.

    ``run`` keeps one run; ``by`` is ``"block"`` or ``"name"`` for the queries that
    take it; ``params`` fills ``-- param:`` declarations; ``queries`` is a folder of
    your own ``.sql`` files (as ``trace query --queries``)."""
    if (name is None) == (sql is None):
        raise ValueError("give a query name or sql=..., not both")
    pq = _pyarrow_parquet()
    args = ["query"] + ([name] if name is not None else ["--sql", sql])
    if data is not None:
        args += ["--data", os.fspath(data)]
    if run is not None:
        args += ["--run", run]
    if by is not None:
        args += ["--by", by]
    if queries is not None:
        args += ["--queries", os.fspath(queries)]
    for key, value in (params or {}).items():
        args += ["--param", f"{key}={value}"]
    with tempfile.TemporaryDirectory(prefix="fwdtrace-") as tmp:
        out = os.path.join(tmp, "answer.parquet")
        _call([*args, "--format", "parquet", "--out", out])
        return pq.read_table(out)


def sql(text: str, **kwargs):
    """``query(sql=text, …)``: your own SQL over kernels, steps, runs, nvtx, memops,
    latency and model_flops."""
    return query(sql=text, **kwargs)


def queries(folder: Optional[str] = None) -> dict:
    """The shipped queries (and those in ``folder``): name → one-line description."""
    args = ["query", "--list"] + (["--queries", os.fspath(folder)] if folder else [])
    listed = {}
    for line in _call(args).stdout.splitlines():
        name, _, rest = line.partition(" ")
        if name:
            listed[name] = rest.strip()
    return listed
