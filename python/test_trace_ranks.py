"""Rank orchestration of the SGLang path, run for real on the CPU stand-in (python/standin).

Each test runs the harness script as `trace capture` does, with the stand-in on
PYTHONPATH and its call recording on, and checks what the stand-in received.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import trace_ranks
import trace_sglang

HERE = os.path.dirname(os.path.abspath(__file__))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def started(stdout):
    """The rank pids the harness announced (`TRACE {"event": "ranks", ...}`)."""
    events = [json.loads(line[6:]) for line in stdout.splitlines() if line.startswith("TRACE ")]
    (ranks,) = [e for e in events if e["event"] == "ranks"]
    return ranks["pids"]


class StandInRun(unittest.TestCase):
    def harness(self, flags, grid="1;8", env=None, timeout_s=None, harness_args=()):
        self.dir = tempfile.mkdtemp(prefix="trace-ranks-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        with open(os.path.join(self.dir, "flags.json"), "w") as f:
            json.dump(["--model-path", "m", "--load-format", "dummy"] + flags, f)
        full_env = {**os.environ, "PYTHONPATH": os.path.join(HERE, "standin"), "TRACE_STANDIN_RECORD": self.dir,
                    **(env or {})}
        argv = [sys.executable, os.path.join(HERE, "trace_harness.py"), "--engine", "sglang", "--model-dir", "m",
                "--grid", grid, "--warmup", "1", "--iters", "2", "--out", os.path.join(self.dir, "latency.jsonl"),
                "--server-args-file", os.path.join(self.dir, "flags.json")]
        if timeout_s:
            argv += ["--rank-timeout", str(timeout_s)]
        argv += list(harness_args)
        return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=120)

    def calls(self, name=None):
        path = os.path.join(self.dir, "calls.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            rows = [json.loads(line) for line in f]
        return [r for r in rows if name is None or r["call"] == name]

    def latency(self):
        with open(os.path.join(self.dir, "latency.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_one_port_args_for_all_ranks_and_parent_setup_once(self):
        run = self.harness(["--tp-size", "2"])
        self.assertEqual(run.returncode, 0, run.stderr)
        (init,) = self.calls("PortArgs.init_new")
        loads = self.calls("load_model")
        self.assertEqual(sorted(c["tp_rank"] for c in loads), [0, 1])
        self.assertEqual({c["nccl_port"] for c in loads}, {init["nccl_port"]})
        self.assertTrue(all(c["pid"] != init["pid"] for c in loads), "ranks run in their own processes")
        for once in ("ServerArgs.resolve_once", "_set_envs_and_config"):
            self.assertEqual([c["pid"] for c in self.calls(once)], [init["pid"]], once)
        self.assertEqual({c["cuda_device_max_connections"] for c in loads}, {"8"}, "SGLang's env set-up reaches ranks")
        self.assertEqual(sorted((c["world_rank"], c["gpu_id"]) for c in self.calls("publish")), [(0, 0), (1, 1)])
        self.assertEqual(len(self.calls("_init_process_global_configs")), 2)
        rows = self.latency()
        self.assertEqual(sorted((r["phase"], r["rank"]) for r in rows),
                         [("decode", 0), ("decode", 1), ("prefill", 0), ("prefill", 1)])
        self.assertTrue(all(r["iters"] == 2 and r["mean_ms"] > 0 for r in rows), rows)
        self.assertIn('"event": "done"', run.stdout)

    def test_profiled_runs_capture_the_decode_graphs_again_inside_the_window(self):
        run = self.harness(["--tp-size", "2"], harness_args=["--profile", "both"])
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(sorted(c["gpu_id"] for c in self.calls("init_decode_cuda_graph")), [0, 1])
        self.assertIn('"event": "graphs"', run.stdout)
        unprofiled = self.harness([])
        self.assertEqual(unprofiled.returncode, 0, unprofiled.stderr)
        self.assertEqual(self.calls("init_decode_cuda_graph"), [], "no profile, no second capture")
        graphs_off = self.harness(["--disable-cuda-graph"], harness_args=["--profile", "both"])
        self.assertEqual(graphs_off.returncode, 0, graphs_off.stderr)
        self.assertEqual(self.calls("init_decode_cuda_graph"), [], "graphs off, nothing to capture")

    def test_gpu_ids_are_per_node(self):
        run = self.harness(["--tp-size", "4", "--nnodes", "2", "--node-rank", "1", "--dist-init-addr", "10.0.0.1:5000"])
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(sorted((c["tp_rank"], c["gpu_id"]) for c in self.calls("load_model")), [(2, 0), (3, 1)])
        self.assertEqual(sorted(r["rank"] for r in self.latency()), [2, 2, 3, 3])

    def test_a_failed_rank_stops_its_siblings(self):
        run = self.harness(["--tp-size", "3"], env={"TRACE_STANDIN_FAIL": "1", "TRACE_STANDIN_HANG": "2"})
        self.assertEqual(run.returncode, 1)
        self.assertIn("rank 1 (GPU 1) exited with code 1", run.stderr)
        self.assertIn("stand-in: rank 1 failed to load the model", run.stderr, "the log tail of the failed rank")
        pids = started(run.stdout)
        self.assertEqual(len(pids), 3)
        self.assertFalse(any(alive(p) for p in pids), "no rank left running")

    def test_the_rank_timeout_is_honoured(self):
        run = self.harness(["--tp-size", "2"], env={"TRACE_STANDIN_HANG": "0"}, timeout_s=3)
        self.assertEqual(run.returncode, 1)
        self.assertIn("rank 0 (GPU 0) still running after the 3 s rank timeout", run.stderr)
        pids = started(run.stdout)
        self.assertEqual(len(pids), 2)
        self.assertFalse(any(alive(p) for p in pids), "no rank left running")

    def test_a_rank_that_finished_but_does_not_exit_is_stopped_and_the_run_succeeds(self):
        run = self.harness(["--tp-size", "2"], env={"TRACE_STANDIN_HANG_AT_EXIT": "1",
                                                     "TRACE_RANK_EXIT_GRACE_S": "1"}, timeout_s=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("rank(s) [1] finished their work but had not exited 1 s later", run.stdout)
        pids = started(run.stdout)
        self.assertFalse(any(alive(p) for p in pids), "no rank left running")
        self.assertEqual(sorted({r["rank"] for r in self.latency()}), [0, 1])
        self.assertFalse([f for f in os.listdir(self.dir) if f.endswith(".finished")], "markers removed")

    def test_an_out_of_memory_point_is_skipped_with_a_message(self):
        run = self.harness([], grid="1,4;8", env={"TRACE_STANDIN_OOM": "4"})
        self.assertEqual(run.returncode, 0, run.stderr)
        rows = self.latency()
        skipped = sorted((r["phase"], r["bsz"]) for r in rows if "skipped" in r)
        self.assertEqual(skipped, [("decode", 4), ("prefill", 4)])
        self.assertEqual(sorted((r["phase"], r["bsz"]) for r in rows if "skipped" not in r),
                         [("decode", 1), ("prefill", 1)])
        self.assertIn('"event": "skip"', run.stdout)

    def test_a_flag_the_version_lacks_is_a_parse_error(self):
        run = self.harness(["--disable-piecewise-cuda-graph"])
        self.assertEqual(run.returncode, 1)
        self.assertIn("SGLang 0.5.23 rejected the server arguments", run.stderr)
        self.assertIn("--disable-piecewise-cuda-graph", run.stderr)

    def test_a_version_without_its_own_facts_is_refused_naming_the_known_ones(self):
        for version in ("0.4.9", "0.5.9.post3", "0.6.0"):
            run = self.harness([], env={"TRACE_STANDIN_VERSION": version})
            self.assertEqual(run.returncode, 1)
            self.assertIn(f"SGLang {version} has no shipped API facts (supported: 0.4.10.post2 .. 0.5.23, "
                          "43 releases: 0.4.10.post2, 0.5.1,", run.stderr)
            self.assertEqual(self.calls("load_model"), [], "refused before any rank starts")


class PlacementTest(unittest.TestCase):
    def test_local_ranks(self):
        self.assertEqual(trace_ranks.local_ranks(8, 1, 0), [(r, r) for r in range(8)])
        self.assertEqual(trace_ranks.local_ranks(16, 2, 1), [(8 + i, i) for i in range(8)])
        for bad in [(6, 4, 0), (8, 2, 2)]:
            with self.assertRaises(trace_ranks.RankFailure):
                trace_ranks.local_ranks(*bad)

    def test_facts_for_versions(self):
        api = trace_sglang.load_api()
        self.assertEqual(trace_sglang.facts_for("0.5.23", api)["bench_module"], "sglang.benchmark.one_batch")
        self.assertEqual(trace_sglang.facts_for("0.5.12.post1", api)["version"], "0.5.12.post1")
        self.assertEqual(trace_sglang.facts_for("0.4.10.post2", api)["load_model"],
                         ["server_args", "port_args", "tp_rank"])
        # 0.5.17: three config calls with server_args, no publish, the decode graph re-captured
        # by init_decode_cuda_graph, the ModelRunner kept in the wrapper's torch_runner.
        f17 = trace_sglang.facts_for("0.5.17", api)
        self.assertEqual([(s["name"], s["args"]) for s in f17["rank_setup"]],
                         [("initialize_moe_config", 1), ("initialize_fp8_gemm_config", 1),
                          ("initialize_fp4_gemm_config", 1)])
        self.assertEqual((f17["graph_init"], f17["runner_wrapper"]["runner_attr"], f17["parent_setup"]),
                         ("init_decode_cuda_graph", "torch_runner", ["_set_envs_and_config"]))
        self.assertIn("tp_size", f17["flags"])
        for version in ("0.6.0", "0.5.9.post3"):
            with self.assertRaises(trace_sglang.HarnessError):
                trace_sglang.facts_for(version, api)


if __name__ == "__main__":
    unittest.main()
