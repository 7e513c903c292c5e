"""Tests of the harness parts that need no GPU: `python3 -m unittest discover -s python`."""
import contextlib
import io
import json
import sys
import unittest

import trace_harness as h


class GridTest(unittest.TestCase):
    def test_points_and_cross_products(self):
        self.assertEqual(h.parse_grid("1;128|4;512"), [(1, 128), (4, 512)])
        self.assertEqual(h.parse_grid("1,4;128,512"), [(1, 128), (1, 512), (4, 128), (4, 512)])
        self.assertEqual(h.parse_grid("1;128|1;128"), [(1, 128)])

    def test_bad_grids(self):
        for spec in ["", "1,128", "0;128", "1;x"]:
            with self.assertRaises(ValueError, msg=spec):
                h.parse_grid(spec)


class PlanTest(unittest.TestCase):
    points = [(1, 128), (4, 512)]

    def window(self, profile):
        blocks = h.plan(self.points, profile)
        starts = [i for i, b in enumerate(blocks) if b[3]]
        ends = [i for i, b in enumerate(blocks) if b[4]]
        return blocks, starts, ends

    def test_phase_major_order(self):
        blocks, _, _ = self.window("both")
        self.assertEqual([b[:3] for b in blocks],
                         [("prefill", 1, 128), ("prefill", 4, 512), ("decode", 1, 128), ("decode", 4, 512)])

    def test_one_window_around_the_profiled_phases(self):
        self.assertEqual(self.window("both")[1:], ([0], [3]))
        self.assertEqual(self.window("prefill")[1:], ([0], [1]))
        self.assertEqual(self.window("decode")[1:], ([2], [3]))
        self.assertEqual(self.window("none")[1:], ([], []))


class LabelAndStatsTest(unittest.TestCase):
    def test_label_follows_the_convention(self):
        self.assertEqual(h.label("decode", 4, 512, 2), "trace:decode|bsz=4|seq=512|iter=2")

    def test_summary(self):
        s = h.summarize("prefill", 1, 128, 0, [4.0, 1.0, 2.0, 3.0])
        self.assertEqual((s["iters"], s["mean_ms"], s["min_ms"], s["max_ms"]), (4, 2.5, 1.0, 4.0))
        self.assertAlmostEqual(s["p50_ms"], 2.5)
        self.assertAlmostEqual(s["p90_ms"], 3.7)
        self.assertEqual(s["samples_ms"], [4.0, 1.0, 2.0, 3.0])
        json.dumps(s)

    def test_progress_events_are_prefixed_json(self):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            h.event("block", index=1, total=4, phase="prefill")
        line = buf.getvalue().strip()
        self.assertTrue(line.startswith("TRACE "))
        self.assertEqual(json.loads(line[6:])["phase"], "prefill")


class ArgsTest(unittest.TestCase):
    def test_defaults_and_validation(self):
        a = h.parse_args(["--model-dir", "m", "--grid", "1;8", "--out", "o.jsonl"])
        self.assertEqual((a.engine, a.profile, a.iters, a.warmup), ("sglang", "none", 5, 2))
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            h.parse_args(["--model-dir", "m", "--grid", "1;8", "--out", "o", "--iters", "0"])

    def test_hf_layout_and_decode_mode(self):
        a = h.parse_args(["--engine", "hf", "--model-dir", "m", "--grid", "1;8", "--out", "o"])
        self.assertEqual((a.tp_size, a.ep_size, a.decode), (1, 1, "graph"))
        a = h.parse_args(["--engine", "hf", "--model-dir", "m", "--grid", "1;8", "--out", "o",
                          "--tp-size", "4", "--ep-size", "4", "--decode", "eager"])
        self.assertEqual((a.tp_size, a.ep_size, a.decode), (4, 4, "eager"))
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            h.parse_args(["--model-dir", "m", "--grid", "1;8", "--out", "o", "--tp-size", "0"])

    def test_static_cache_fits_prompt_token_and_capture_warmups(self):
        import trace_hf

        for seq in (1, 13, 125, 126, 128, 512, 4093):
            n = trace_hf.static_cache_len(seq)
            self.assertEqual(n % 16, 0)
            self.assertGreaterEqual(n, seq + 3)
            self.assertLess(n, seq + 3 + 16)

    def test_missing_sglang_is_a_clear_error(self):
        if "sglang" in sys.modules:
            self.skipTest("sglang is installed")
        try:
            import sglang  # noqa: F401
            self.skipTest("sglang is installed")
        except ImportError:
            pass
        with self.assertRaises(SystemExit) as cm:
            h.main(["--engine", "sglang", "--model-dir", "m", "--grid", "1;8", "--out", "/dev/null"])
        self.assertIn("SGLang is not importable", str(cm.exception.code))


if __name__ == "__main__":
    unittest.main()
