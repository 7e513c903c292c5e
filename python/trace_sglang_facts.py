"""SGLang API facts derived from a release's Python sources with `ast` alone.

Shared by `scripts/sglang_api.py` (which derives them from every released wheel into
`python/sglang_api.json`) and the capture harness (which derives them from the SGLang
it is about to run and requires them to equal the shipped facts of that release, so no
release ever runs with another's facts). Nothing here imports SGLang or torch.

Facts per release: the server-argument flags (`snake_case`, three registration forms
across releases) and the deprecated ones; the bench module holding `load_model`, its
parameters and what it returns; the runner wrapper and the attribute holding its
ModelRunner; `extend` / `decode`; the parent set-up calls of the bench's `main`; the
per-rank set-up calls `latency_test` makes before `load_model` (with their positional
argument count and keywords); and the ModelRunner method that (re)captures the decode
CUDA graphs.
"""
import ast
import re
import zipfile
from pathlib import Path

# Calls in latency_test before load_model that are not model set-up.
NOT_SETUP = {"configure_logger", "set_gpu_proc_affinity", "get_bool_env_var", "print", "resolving_view"}
# ModelRunner methods that (re)capture the decode CUDA graphs, newest first; the harness
# calls the release's one inside the profiled window so the capture is in the report.
GRAPH_INIT = ["init_decode_cuda_graph", "init_device_graphs", "init_cuda_graphs"]


def release_key(version):
    """`0.4.10.post2` -> (0, 4, 10, 2) for a release number; None for anything else
    (a pre-release, a local build)."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?$", version)
    return tuple(int(g or 0) for g in m.groups()) if m else None


class Source:
    """The `.py` files of one SGLang release (a wheel or an unpacked tree)."""

    def __init__(self, path):
        self.path = Path(path)
        self.zip = zipfile.ZipFile(self.path) if self.path.is_file() else None
        self._trees = {}

    def names(self, under="sglang"):
        """Paths of the `.py` files below `under` (`sglang/srt/arg_groups/fields`)."""
        if self.zip:
            return [n for n in self.zip.namelist() if n.startswith(under + "/") and n.endswith(".py")]
        return [str(p.relative_to(self.path)) for p in (self.path / under).rglob("*.py")]

    def text(self, module):
        rel = module.replace(".", "/") + ".py"
        try:
            if self.zip:
                return self.zip.read(rel).decode()
            return (self.path / rel).read_text()
        except (KeyError, FileNotFoundError):
            return None

    def tree(self, module):
        if module not in self._trees:
            text = self.text(module)
            self._trees[module] = ast.parse(text) if text is not None else None
        return self._trees[module]


def find(tree, qualname):
    """The def/class node `A.b` in a module tree, else None."""
    nodes = tree.body if tree else []
    node = None
    for part in qualname.split("."):
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            return None
        nodes = node.body
    return node


def params(fn):
    """Parameter names of a def (a class: its fields, annotated assignments)."""
    if isinstance(fn, ast.ClassDef):
        return [n.target.id for n in fn.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    a = fn.args
    return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]


def imported(tree, name):
    """Whether a module defines or imports `name` at top level."""
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name:
            return True
        if isinstance(n, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in n.names):
            return True
    return False


def returned_sizes(fn):
    """Sizes of the tuples a def returns (0 for a non-tuple)."""
    return sorted({len(r.value.elts) if isinstance(r.value, ast.Tuple) else 0
                   for r in ast.walk(fn) if isinstance(r, ast.Return) and r.value is not None})


def call_name(call):
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def bench_module(src):
    for module in ("sglang.benchmark.one_batch", "sglang.bench_one_batch"):
        if find(src.tree(module), "load_model"):
            return module
    raise SystemExit(f"{src.path}: no load_model in sglang.benchmark.one_batch or sglang.bench_one_batch")


def flags(src):
    """(flags, deprecated): every `--flag` ServerArgs.add_cli_args registers, snake_case.

    Three forms across releases: explicit `parser.add_argument("--x", ...)` calls;
    annotated `ServerArgs` fields (`x: A[T, "help"]` or `A[T, Arg(...)]`, 0.5.14 on)
    read by `add_cli_args_from_dataclass`; and field classes under
    `sglang/srt/arg_groups/fields/` (0.5.20 on). A field whose `Arg` says `no_cli=True`
    is no flag; `cli_name=` and `aliases=` name more."""
    tree = src.tree("sglang.srt.server_args")
    add = find(tree, "ServerArgs.add_cli_args")
    found, deprecated = set(), set()
    for call in ast.walk(add):
        if isinstance(call, ast.Call) and call_name(call) == "add_argument":
            names = [a.value[2:].replace("-", "_") for a in call.args
                     if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--")]
            found.update(names)
            if is_deprecated_action(call):
                deprecated.update(names)
    if any(isinstance(c, ast.Call) and call_name(c) == "add_cli_args_from_dataclass" for c in ast.walk(add)):
        classes = [find(tree, "ServerArgs")]
        for name in src.names("sglang/srt/arg_groups/fields"):
            if re.match(r"sglang/srt/arg_groups/fields/[a-z_]+\.py$", name):
                classes += [c for c in ast.parse(src.text(name[:-3].replace("/", "."))).body
                            if isinstance(c, ast.ClassDef)]
        for cls in classes:
            for field in cls.body:
                names, is_deprecated = dataclass_flag(field)
                found.update(names)
                if is_deprecated:
                    deprecated.update(names)
    return sorted(found), sorted(deprecated)


def is_deprecated_action(call):
    action = next((k.value for k in call.keywords if k.arg == "action"), None)
    return isinstance(action, ast.Name) and action.id.startswith("Deprecated")


def dataclass_flag(field):
    """(flag names, deprecated) of one annotated dataclass field, as
    sglang/srt/arg_groups/arg_utils.py `add_cli_args_from_dataclass` registers it:
    only `A[T, "help", ...]` / `A[T, Arg(...), ...]` fields, not `Arg(no_cli=True)`."""
    if not (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
            and not field.target.id.startswith("_") and isinstance(field.annotation, ast.Subscript)):
        return [], False
    head = field.annotation.value
    if not (isinstance(head, ast.Name) and head.id in ("A", "Annotated")):
        return [], False
    parts = field.annotation.slice.elts if isinstance(field.annotation.slice, ast.Tuple) else []
    helps = [p for p in parts[1:] if isinstance(p, ast.Constant) and isinstance(p.value, str)]
    args = [p for p in parts[1:] if isinstance(p, ast.Call) and call_name(p) == "Arg"]
    if not helps and not args:
        return [], False
    keywords = {k.arg: k.value for a in args for k in a.keywords}
    no_cli = keywords.get("no_cli")
    if isinstance(no_cli, ast.Constant) and no_cli.value is True:
        return [], False
    cli = keywords.get("cli_name")
    names = [cli.value[2:] if isinstance(cli, ast.Constant) else field.target.id]
    aliases = keywords.get("aliases")
    if isinstance(aliases, (ast.List, ast.Tuple)):
        names += [a.value[2:] for a in aliases.elts if isinstance(a, ast.Constant) and str(a.value).startswith("--")]
    deprecated = any(is_deprecated_action(a) for a in args)
    return [n.replace("-", "_") for n in names], deprecated


def facts(src, version):
    module = bench_module(src)
    tree = src.tree(module)
    load = find(tree, "load_model")
    wrapper = None
    for n in ast.walk(load):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.endswith("BenchRunner") \
                and "Torch" in n.func.id:
            cls = find(tree, n.func.id)
            init = find(cls, "__init__")
            holds = [t.attr for a in ast.walk(init) if isinstance(a, ast.Assign)
                     and isinstance(a.value, ast.Name) and a.value.id == "model_runner"
                     for t in a.targets if isinstance(t, ast.Attribute)] if init else []
            wrapper = {"class": n.func.id, "runner_attr": holds[0] if holds else None,
                       "methods": {m.name: params(m)[1:] for m in cls.body
                                   if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")}}
    calls_in_load = {call_name(c) for c in ast.walk(load) if isinstance(c, ast.Call)}
    runner_kwargs = sorted({k.arg for c in ast.walk(load) if isinstance(c, ast.Call) and call_name(c) in ("ModelRunner", "dict")
                            for k in c.keywords if k.arg})
    latency = find(tree, "latency_test")
    setup = []
    for stmt in latency.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            name = call_name(stmt.value)
            if name and name not in NOT_SETUP and not any(name == s["name"] for s in setup):
                fn = find(tree, name)
                setup.append({"name": name, "args": len(stmt.value.args), "defined_here": fn is not None,
                              "keywords": sorted(k.arg for k in stmt.value.keywords if k.arg)})
        if any(isinstance(c, ast.Call) and call_name(c) == "load_model" for c in ast.walk(stmt)):
            break
    runner_cls = find(src.tree("sglang.srt.model_executor.model_runner"), "ModelRunner")
    graph_init = [m for m in GRAPH_INIT if find(runner_cls, m) is not None] if runner_cls else []
    main = find(tree, "main")
    parent = [n for n in ("resolve_once", "_set_envs_and_config")
              if any(isinstance(c, ast.Call) and call_name(c) == n for c in ast.walk(main))]
    flag_list, deprecated = flags(src)
    return {
        "version": version,
        "bench_module": module,
        "load_model": params(load),
        "load_model_returns": returned_sizes(load),
        "load_model_loads_tokenizer": "get_tokenizer" in calls_in_load,
        "model_runner_kwargs": runner_kwargs,
        "runner_wrapper": wrapper,
        "extend": {"params": params(find(tree, "extend")), "returns": returned_sizes(find(tree, "extend"))},
        "decode": {"params": params(find(tree, "decode")), "returns": returned_sizes(find(tree, "decode"))},
        "prepare_inputs": params(find(tree, "prepare_synthetic_inputs_for_latency_test")),
        "parent_setup": parent,
        "rank_setup": setup,
        "graph_init": graph_init[0] if graph_init else None,
        "flags": flag_list,
        "deprecated_flags": deprecated,
    }
