"""Module ranges: one NVTX range (and one profiler annotation) per `nn.Module` forward.

`trace ingest` attributes each kernel to the innermost module range open on its launching
thread when it was launched — or, for a kernel replayed from a CUDA graph, when its graph
node was captured — so kernels are categorised by the module that launched them (MoE
block, attention, MLP, norm, …) before their names are looked at.

Contract with the ingest side (`src/attribute/modules.rs`): the range text is
`module:<qualified name>:<ClassName>`, e.g. `module:model.layers.7.mlp:Qwen3MoeSparseMoeBlock`;
the root model's qualified name is empty (`module::Qwen3MoeForCausalLM`). Ranges nest as
the forwards do, on the thread that runs them. The same text is a torch.profiler
`record_function` annotation, so Kineto traces carry it as `user_annotation` events.

Invariants: hooks exist only between `install` and `remove` (the harness installs them
for the profiled window alone, so unprofiled runs pay nothing); a forward that raises
still pops its range (post-hooks are registered with `always_call=True`, and `remove`
closes whatever is still open), so ranges never leak across steps.
"""


def range_text(qualified_name, module):
    return f"module:{qualified_name}:{type(module).__name__}"


class ModuleRanges:
    """Forward pre/post hooks on every submodule of `model` that push and pop its range."""

    def __init__(self, model, torch, annotate=True):
        self.model, self.torch, self.annotate = model, torch, annotate
        self.handles = []
        self.open = []  # (nvtx pushed, record_function context or None), innermost last
        self.calls = 0

    def install(self):
        if self.handles:
            return self
        for name, module in self.model.named_modules():
            text = range_text(name, module)
            self.handles.append(module.register_forward_pre_hook(self._enter(text)))
            self.handles.append(module.register_forward_hook(self._leave, always_call=True))
        return self

    def _enter(self, text):
        def hook(_module, _inputs):
            self.calls += 1
            self.torch.cuda.nvtx.range_push(text)
            ctx = None
            if self.annotate:
                ctx = self.torch.profiler.record_function(text)
                ctx.__enter__()
            self.open.append(ctx)

        return hook

    def _leave(self, _module, _inputs, _output):
        if not self.open:
            return
        ctx = self.open.pop()
        if ctx is not None:
            ctx.__exit__(None, None, None)
        self.torch.cuda.nvtx.range_pop()

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []
        while self.open:
            self._leave(None, None, None)


def model_of(engine):
    """The `nn.Module` an engine runs, or None (the CPU stand-in has none)."""
    model = getattr(engine, "model", None)
    if model is None:
        runner = getattr(engine, "runner", None)
        model = getattr(getattr(runner, "model_runner", runner), "model", None)
    return model if hasattr(model, "named_modules") else None
