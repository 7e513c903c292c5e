"""The pure parts of scripts/sglang_offline.py: freeze parsing, report parsing, what to ship.

No network and no pip: every input is written out here.
    python3 -m unittest discover -s python -p 'test_sglang_offline.py'
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import sglang_offline as so  # noqa: E402

FREEZE = """\
# a comment
torch==2.11.0+cu130
triton==3.6.0
numpy==2.5.2
huggingface_hub==1.33.0
-e git+https://example.com/x.git@abc#egg=editable_pkg
mylib @ file:///build/mylib-0.1-py3-none-any.whl
weird===1.0
PyYAML==6.0.3

## !! Could not determine repository location
"""


def item(name, version, requires=(), requested=False, extras=None):
    d = {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}, "requested": requested}
    if extras:
        d["requested_extras"] = extras
    return d


class FreezeTest(unittest.TestCase):
    def test_pins_and_notes(self):
        pins, notes = so.parse_freeze(FREEZE)
        self.assertEqual(pins, {"torch": "2.11.0+cu130", "triton": "3.6.0", "numpy": "2.5.2",
                                "huggingface-hub": "1.33.0", "pyyaml": "6.0.3"})
        self.assertEqual(len(notes), 3)
        self.assertTrue(any("-e git+" in n for n in notes))
        self.assertTrue(any("@ file://" in n for n in notes))
        self.assertTrue(any("weird===1.0" in n for n in notes))

    def test_constraints_drop_local_versions_and_relaxed(self):
        pins, _ = so.parse_freeze(FREEZE)
        lines = so.constraint_lines(pins, relaxed={"numpy"})
        self.assertIn("torch==2.11.0", lines)
        self.assertNotIn("torch==2.11.0+cu130", lines)
        self.assertFalse(any(line.startswith("numpy") for line in lines))
        self.assertIn("huggingface-hub==1.33.0", lines)

    def test_empty_freeze(self):
        self.assertEqual(so.parse_freeze(""), ({}, []))

    def test_keep_patterns(self):
        self.assertTrue(so.kept("torch", so.KEEP))
        self.assertTrue(so.kept("nvidia_cublas", so.KEEP))
        self.assertFalse(so.kept("transformers", so.KEEP))
        self.assertTrue(so.kept("transformers", "*"))


class SelectTest(unittest.TestCase):
    def setUp(self):
        self.report = {"install": [
            item("sglang", "0.5.17", ["torch==2.11.0", "transformers==5.12.1", "numpy",
                                      "pytest; extra == 'test'", "uvicorn[standard]"], requested=True),
            item("torch", "2.11.0", ["nvidia-cublas==13.1.0.3; platform_system == 'Linux'", "sympy"]),
            item("nvidia-cublas", "13.1.0.3"),
            item("sympy", "1.14.0", ["mpmath"]),
            item("mpmath", "1.3.0"),
            item("transformers", "5.12.1", ["tokenizers<0.23", "numpy"]),
            item("tokenizers", "0.22.2"),
            item("numpy", "2.5.2"),
            item("pytest", "9.1.1"),
            item("uvicorn", "0.55.0", ["h11", "uvloop; extra == 'standard'", "watchfiles; extra == 'dev'"]),
            item("h11", "0.16.0"),
            item("uvloop", "0.23.0"),
            item("watchfiles", "1.3.0"),
        ]}
        self.have = {"torch": "2.11.0+cu130", "numpy": "2.5.2", "transformers": "5.17.0", "h11": "0.16.0"}

    def test_parse_report(self):
        resolved, edges, roots = so.parse_report(self.report)
        self.assertEqual(roots, ["sglang"])
        self.assertEqual(resolved["nvidia-cublas"], ("nvidia-cublas", "13.1.0.3"))
        self.assertNotIn("pytest", edges["sglang"])            # extra nobody asked for
        self.assertIn("uvloop", edges["uvicorn"])              # asked for by uvicorn[standard]
        self.assertNotIn("watchfiles", edges["uvicorn"])

    def test_present_not_shipped_and_walk_stops_there(self):
        resolved, edges, roots = so.parse_report(self.report)
        ship, present = so.select_downloads(resolved, self.have, edges, roots)
        names = [n for n, _ in ship]
        self.assertEqual(names, ["sglang", "tokenizers", "transformers", "uvicorn", "uvloop"])
        self.assertEqual([n for n, _ in present], ["h11", "numpy", "torch"])
        # torch is present, so its CUDA libraries and sympy stay behind; pytest, watchfiles unreached
        for n in ("nvidia-cublas", "sympy", "mpmath", "pytest", "watchfiles"):
            self.assertNotIn(n, names)

    def test_local_version_matches_public(self):
        resolved = {"torch": ("torch", "2.11.0")}
        self.assertEqual(so.select_downloads(resolved, {"torch": "2.11.0+cu130"}), ([], [("torch", "2.11.0")]))
        self.assertEqual(so.select_downloads(resolved, {"torch": "2.10.0"}), ([("torch", "2.11.0")], []))

    def test_without_graph_everything_missing_is_shipped(self):
        resolved, _, _ = so.parse_report(self.report)
        ship, present = so.select_downloads(resolved, self.have)
        self.assertEqual(len(ship) + len(present), len(resolved))
        self.assertIn(("nvidia-cublas", "13.1.0.3"), ship)


class ConflictTest(unittest.TestCase):
    def test_constraint_conflict(self):
        out = """Collecting sglang==0.5.23
ERROR: Cannot install sglang==0.5.23 because these package versions have conflicting dependencies.

The conflict is caused by:
    sglang 0.5.23 depends on torch==2.14.1
    The user requested (constraint) torch==2.11.0

To fix this you could try to:
1. loosen the range of package versions you've specified
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/
"""
        names, lines = so.conflict_summary(out)
        self.assertEqual(names, {"torch"})
        self.assertIn("sglang 0.5.23 depends on torch==2.14.1", lines)
        self.assertNotIn("Collecting sglang==0.5.23", lines)

    def test_no_matching_distribution(self):
        names, _ = so.conflict_summary("ERROR: No matching distribution found for foo_bar==1.0\n")
        self.assertEqual(names, {"foo-bar"})

    def test_ladder(self):
        plats = so.ladder("aarch64", "2.28")
        self.assertEqual(plats[0], "manylinux_2_28_aarch64")
        self.assertIn("manylinux_2_17_aarch64", plats)
        self.assertEqual(plats[-2:], ["manylinux2014_aarch64", "any"])


if __name__ == "__main__":
    unittest.main()
