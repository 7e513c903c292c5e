"""The notebook module `fwdtrace` against the real `trace` binary and pyarrow.

Finding the binary is tested everywhere; the queries need a binary ($TRACE_BIN, else
the one installed beside the module) and pyarrow, and are skipped without them unless
FWDTRACE_REQUIRE=1, which `.ci/run` sets in the venv it installs the wheel into.
"""

import csv
import io
import os
import stat
import subprocess
import sysconfig
import tempfile
import unittest
from unittest import mock

import fwdtrace

REQUIRED = os.environ.get("FWDTRACE_REQUIRE") == "1"


class FindingTheBinary(unittest.TestCase):
    def test_trace_bin_wins(self):
        with mock.patch.dict(os.environ, {"TRACE_BIN": "/opt/x/trace"}):
            self.assertEqual(fwdtrace.binary(), "/opt/x/trace")

    def test_the_one_installed_beside_the_module(self):
        with tempfile.TemporaryDirectory() as scripts:
            exe = os.path.join(scripts, "trace")
            with open(exe, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(exe, os.stat(exe).st_mode | stat.S_IXUSR)
            env = {k: v for k, v in os.environ.items() if k != "TRACE_BIN"}
            with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(
                sysconfig, "get_path", return_value=scripts
            ):
                self.assertEqual(fwdtrace.binary(), exe)


def _ready():
    try:
        import pyarrow  # noqa: F401

        exe = fwdtrace.binary()
    except (ImportError, FileNotFoundError) as e:
        return None, str(e)
    return exe, None


class AgainstTheBinary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.exe, why = _ready()
        if cls.exe is None:
            if REQUIRED:
                raise AssertionError(f"FWDTRACE_REQUIRE=1 but {why}")
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "parquet")
        subprocess.run(
            [cls.exe, "demo", "--out", cls.data],
            cwd=cls.tmp.name,
            check=True,
            capture_output=True,
        )

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cli_csv(self, *args):
        out = subprocess.run(
            [self.exe, "query", *args, "--data", self.data, "--format", "csv"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return list(csv.reader(io.StringIO(out)))

    def test_a_shipped_query_equals_the_command_line(self):
        table = fwdtrace.query("kernels-by-phase", data=self.data)
        rows = self.cli_csv("kernels-by-phase")
        self.assertEqual(table.column_names, rows[0])
        self.assertEqual(table.num_rows, len(rows) - 1)
        self.assertGreater(table.num_rows, 10)
        runs = set(table.column("run").to_pylist())
        self.assertEqual(runs, {"mini", "tp2"})

    def test_run_params_and_by(self):
        top = fwdtrace.query("top-kernels", data=self.data, run="mini", params={"top": 3})
        self.assertEqual(top.num_rows, 3)
        by_name = fwdtrace.query("categories-by-shape", data=self.data, by="name")
        self.assertEqual(by_name.num_rows, len(self.cli_csv("categories-by-shape", "--by", "name")) - 1)

    def test_own_sql(self):
        n = fwdtrace.sql("SELECT count(*) AS n FROM kernels", data=self.data)
        self.assertEqual(n.column("n").to_pylist(), [int(self.cli_csv("--sql", "SELECT count(*) AS n FROM kernels")[1][0])])

    def test_errors_carry_what_trace_said(self):
        with self.assertRaises(fwdtrace.TraceError) as caught:
            fwdtrace.query("no-such-query", data=self.data)
        self.assertIn("no query named", str(caught.exception))
        with self.assertRaises(ValueError):
            fwdtrace.query("runs", sql="SELECT 1")

    def test_queries_lists_the_shipped_ones(self):
        listed = fwdtrace.queries()
        self.assertIn("kernels-by-phase", listed)
        self.assertTrue(all(listed.values()), listed)


if __name__ == "__main__":
    unittest.main()
