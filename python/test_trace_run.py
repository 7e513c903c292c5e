"""Tests of the shared run loop's parts that need no GPU (trace_run) and of the harness's
import graph: `python3 -m unittest discover -s python`."""
import ast
import contextlib
import glob
import io
import json
import os
import unittest

import trace_run as tr

HERE = os.path.dirname(os.path.abspath(__file__))


class GridTest(unittest.TestCase):
    def test_points_and_cross_products(self):
        self.assertEqual(tr.parse_grid("1;128|4;512"), [(1, 128), (4, 512)])
        self.assertEqual(tr.parse_grid("1,4;128,512"), [(1, 128), (1, 512), (4, 128), (4, 512)])
        self.assertEqual(tr.parse_grid("1;128|1;128"), [(1, 128)])

    def test_bad_grids(self):
        for spec in ["", "1,128", "0;128", "1;x"]:
            with self.assertRaises(ValueError, msg=spec):
                tr.parse_grid(spec)


class PlanTest(unittest.TestCase):
    points = [(1, 128), (4, 512)]

    def window(self, profile):
        blocks = tr.plan(self.points, profile)
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
        self.assertEqual(tr.label("decode", 4, 512, 2), "trace:decode|bsz=4|seq=512|iter=2")

    def test_summary(self):
        s = tr.summarize("prefill", 1, 128, 0, [4.0, 1.0, 2.0, 3.0])
        self.assertEqual((s["iters"], s["mean_ms"], s["min_ms"], s["max_ms"]), (4, 2.5, 1.0, 4.0))
        self.assertAlmostEqual(s["p50_ms"], 2.5)
        self.assertAlmostEqual(s["p90_ms"], 3.7)
        self.assertEqual(s["samples_ms"], [4.0, 1.0, 2.0, 3.0])
        json.dumps(s)

    def test_progress_events_are_prefixed_json(self):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            tr.event("block", index=1, total=4, phase="prefill")
        line = buf.getvalue().strip()
        self.assertTrue(line.startswith("TRACE "))
        self.assertEqual(json.loads(line[6:])["phase"], "prefill")


def harness_imports():
    """{module: {trace_* modules it imports, at any depth of its body}} over python/trace_*.py."""
    graph = {}
    for path in glob.glob(os.path.join(HERE, "trace_*.py")):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        graph[os.path.basename(path)[:-3]] = {n.split(".")[0] for n in names if n.startswith("trace_")}
    return graph


class ImportGraphTest(unittest.TestCase):
    def test_only_the_entry_script_is_never_imported_and_there_is_no_cycle(self):
        graph = harness_imports()
        self.assertIn("trace_run", graph)
        self.assertEqual([m for m, deps in graph.items() if "trace_harness" in deps], [],
                         "modules import trace_run, never the entry script")
        done, stack = set(), []

        def visit(module):
            self.assertNotIn(module, stack, f"import cycle: {' -> '.join(stack + [module])}")
            if module in done:
                return
            stack.append(module)
            for dep in sorted(graph.get(module, ())):
                visit(dep)
            stack.pop()
            done.add(module)

        for module in sorted(graph):
            visit(module)


if __name__ == "__main__":
    unittest.main()
