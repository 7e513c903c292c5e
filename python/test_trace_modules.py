"""Module-range hooks (trace_modules) and SGLang's layer-wise markers, without torch: a
stand-in module tree with PyTorch's hook signatures and a recording torch shim."""
import unittest

import trace_modules as tm
import trace_sglang


class Handle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        self.hooks.remove(self.hook)


class Module:
    """PyTorch's hook protocol: pre-hooks, then the body, then post-hooks (also on error
    when registered with always_call=True)."""

    def __init__(self, children=(), fail=False):
        self.children, self.fail = dict(children), fail
        self.pre, self.post = [], []

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def register_forward_pre_hook(self, hook):
        self.pre.append(hook)
        return Handle(self.pre, hook)

    def register_forward_hook(self, hook, always_call=False):
        assert always_call, "a forward that raises must still pop its range"
        self.post.append(hook)
        return Handle(self.post, hook)

    def __call__(self):
        for hook in self.pre:
            hook(self, ())
        try:
            for child in self.children.values():
                child()
            if self.fail:
                raise RuntimeError("boom")
        finally:
            for hook in self.post:
                hook(self, (), None)


class Attention(Module):
    pass


class Qwen3MoeSparseMoeBlock(Module):
    pass


class Model(Module):
    pass


class Recorder:
    """torch.cuda.nvtx and torch.profiler.record_function, recording what they see."""

    def __init__(self):
        self.log = []
        rec = self

        class Nvtx:
            @staticmethod
            def range_push(text):
                rec.log.append(("push", text))

            @staticmethod
            def range_pop():
                rec.log.append(("pop",))

        class RecordFunction:
            def __init__(self, text):
                self.text = text

            def __enter__(self):
                rec.log.append(("enter", self.text))

            def __exit__(self, *exc):
                rec.log.append(("exit", self.text))

        self.cuda = type("cuda", (), {"nvtx": Nvtx})
        self.profiler = type("profiler", (), {"record_function": RecordFunction})


def tree(fail=False):
    layer = Module({"self_attn": Attention(), "mlp": Qwen3MoeSparseMoeBlock(fail=fail)})
    return Model({"layers": Module({"0": layer})})


class ModuleRangesTest(unittest.TestCase):
    def test_nested_ranges_named_by_path_and_class(self):
        torch, model = Recorder(), tree()
        ranges = tm.ModuleRanges(model, torch, annotate=False).install()
        model()
        pushed = [e[1] for e in torch.log if e[0] == "push"]
        self.assertEqual(pushed, ["module::Model", "module:layers:Module", "module:layers.0:Module",
                                  "module:layers.0.self_attn:Attention",
                                  "module:layers.0.mlp:Qwen3MoeSparseMoeBlock"])
        self.assertEqual(sum(e[0] == "pop" for e in torch.log), 5)
        self.assertEqual(ranges.calls, 5)
        # nesting: the attention range is closed before the MoE block's opens
        kinds = [e[0] for e in torch.log]
        self.assertEqual(kinds, ["push", "push", "push", "push", "pop", "push", "pop", "pop", "pop", "pop"])

    def test_profiler_annotations_match_the_nvtx_text(self):
        torch, model = Recorder(), tree()
        tm.ModuleRanges(model, torch).install()
        model()
        entered = [e[1] for e in torch.log if e[0] == "enter"]
        self.assertEqual(entered, [e[1] for e in torch.log if e[0] == "push"])
        self.assertEqual(sorted(entered), sorted(e[1] for e in torch.log if e[0] == "exit"))

    def test_a_failing_forward_still_pops_and_remove_unhooks(self):
        torch, model = Recorder(), tree(fail=True)
        ranges = tm.ModuleRanges(model, torch, annotate=False).install()
        with self.assertRaises(RuntimeError):
            model()
        self.assertEqual(sum(e[0] == "push" for e in torch.log), sum(e[0] == "pop" for e in torch.log))
        ranges.remove()
        torch.log.clear()
        tree()()  # a fresh tree is untouched
        model.children["layers"].children["0"].children["mlp"].fail = False
        model()
        self.assertEqual(torch.log, [], "hooks removed")

    def test_model_of_engines(self):
        model = tree()
        self.assertIs(tm.model_of(type("E", (), {"model": model})()), model)
        runner = type("R", (), {"model": model})()
        self.assertIs(tm.model_of(type("S", (), {"runner": runner})()), model)
        self.assertIsNone(tm.model_of(object()))


class LayerwiseMarkerTest(unittest.TestCase):
    facts_new = {"version": "0.5.23", "flags": ["tp_size", "enable_layerwise_nvtx_marker"]}
    facts_old = {"version": "0.5.4", "flags": ["tp_size"]}

    def args(self, profile="both", module_ranges="engine"):
        return type("A", (), {"profile": profile, "module_ranges": module_ranges})()

    def test_engine_markers_when_asked_profiled_and_the_release_has_them(self):
        flag = "--enable-layerwise-nvtx-marker"
        self.assertEqual(trace_sglang.with_layerwise_markers(["--tp-size", "2"], self.facts_new, self.args()),
                         (["--tp-size", "2", flag], None))
        self.assertEqual(trace_sglang.with_layerwise_markers([flag], self.facts_new, self.args()), ([flag], None))

    def test_hooks_otherwise(self):
        for facts, args in [(self.facts_new, self.args(module_ranges="on")), (self.facts_new, self.args(profile="none")),
                            (self.facts_new, self.args(module_ranges="off"))]:
            self.assertEqual(trace_sglang.with_layerwise_markers([], facts, args), ([], None))
        flags, note = trace_sglang.with_layerwise_markers([], self.facts_old, self.args())
        self.assertEqual(flags, [])
        self.assertIn("SGLang 0.5.4 has no --enable-layerwise-nvtx-marker; module ranges come from the harness's hooks",
                      note)


if __name__ == "__main__":
    unittest.main()
