"""Tests of the entry script (arguments, the missing-SGLang error) and the hf engine's
static-cache sizing, without a GPU: `python3 -m unittest discover -s python`. The run
loop's tests are in test_trace_run.py."""
import contextlib
import importlib
import io
import sys
import unittest

import trace_harness as h


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
            importlib.import_module("sglang")
            self.skipTest("sglang is installed")
        except ImportError:
            pass
        with self.assertRaises(SystemExit) as cm:
            h.main(["--engine", "sglang", "--model-dir", "m", "--grid", "1;8", "--out", "/dev/null"])
        self.assertIn("SGLang is not importable", str(cm.exception.code))


if __name__ == "__main__":
    unittest.main()
