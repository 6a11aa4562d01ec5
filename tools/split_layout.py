#!/usr/bin/env python3
"""Split and move ctml-nb's modules by moving whole notebook cells (issue 21): deterministic, idempotent, loud.

    python tools/split_layout.py [--repo .] [--nbdev-bin DIR] [--only STEP ...]

Each entry of `STEPS` is a pure move. A `Split` moves the blocks that define some exported names from one notebook
(module) to another, new or existing, notebook (module); a `Rename` moves a whole notebook to another module. A
block is an exported cell, the markdown cells right before it and the test cells after it (up to the next markdown
or exported cell). The new module's imports are the source imports its cells use, plus the source module's names
they use; the source module imports the moved names it still uses (an error when both directions are needed: that
would be an import cycle). Then every `from ctml_nb.<old> import ...` in nbs/, tests/, bench/, recipes/, docs/,
the templates and the README is split between the two modules, `ctml_nb.<old>.<name>` texts (mock targets, prose)
are renamed, the packages' `__init__.py` gain the new modules, and nbdev_export / nbdev_clean run.

A step whose names are no longer in its source notebook is already done and is skipped, so running the script
again changes nothing; when another branch adds a cell to a moved block, the cell moves with its block.
`FIXUPS` are small exact text edits a move needs (an error when neither the old nor the new text is found).
"""
import argparse
import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LIB = "ctml_nb"


@dataclass
class Split:
    src: str               # source notebook stem (nbs/<src>.ipynb)
    dst: str               # destination notebook stem; created when missing
    module: str            # dotted module of the destination (`drift.engine_table`)
    names: list            # exported names whose blocks move (each block moves whole)
    title: str = ""        # destination title and one-line summary (new notebooks only)
    summary: str = ""
    why: str = ""          # one line for the log


@dataclass
class Rename:
    src: str               # notebook stem
    dst: str               # new notebook stem
    module: str            # new dotted module
    old_module: str        # old dotted module, kept importable through `_moved.py` for one release
    why: str = ""


@dataclass
class Mixin:
    nb: str                # notebook stem
    cls: str               # a class whose exported cell is too long
    methods: list          # its methods that move, as they are, into a mixin class in the cell before it
    mixin: str             # the mixin's name (private: it is only this class's part)
    doc: str               # its one-line docstring


@dataclass
class Package:
    nb: str                # notebook stem whose module becomes the package's first module
    module: str            # its new dotted module (`cli.common`): its old module (`cli`) becomes a package
    doc: str               # the package `__init__`'s docstring


@dataclass
class Commands:
    nb: str                # notebook stem holding the parser builder
    builder: str           # the builder (`build_parser`): `sp = add("name", ...)` sections, each ending in `set_defaults(func=cmd_x)`
    groups: dict           # parser function -> the command functions whose sections it adds (`add_run_commands`: [...])
    helpers: list          # nested helpers of the builder that become top-level functions (`runs_src`)


@dataclass
class Carve:
    nb: str                # notebook stem
    assign: dict           # exported name -> destination notebook stem; unnamed definitions follow the one before them
    lib: set               # destination stems in the library: their parts go after the others (the tests follow them)


def _statements(cell_src:str)->list:
    "[(first line, last line, names defined)] of each top-level statement of an exported cell; comments and blank lines join the next"
    lines = cell_src.splitlines()
    tree = ast.parse("\n".join("" if l.lstrip().startswith(("#|", "%", "!")) else l for l in lines))
    out, start = [], 1 if lines and lines[0].startswith("#|") else 0
    for n in tree.body:
        names = defines({"cell_type": "code", "source": ast.get_source_segment("\n".join(lines), n) or ""})
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names = {n.name}
        out.append((start, n.end_lineno, names)); start = n.end_lineno
    return out


def _code_cell(src:str)->dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src.splitlines(keepends=True)}


def run_carve(repo:Path, st:Carve)->bool:
    "Split each exported cell whose definitions go to different notebooks into one cell per destination"
    p = repo/"nbs"/f"{st.nb}.ipynb"
    nb = load(p)
    cells, out, changed = nb["cells"], [], False
    first_block = imports_cell(nb) + 1
    for i, c in enumerate(cells):
        if i < first_block or not is_export(c): out.append(c); continue
        src = src_of(c)
        lines, parts, cur = src.splitlines(), [], None
        for a, b, names in _statements(src):
            dst = next((st.assign[n] for n in sorted(names) if n in st.assign), cur)
            if parts and dst == parts[-1][0]: parts[-1][1].extend(lines[a:b])
            else: parts.append((dst, lines[a:b]))
            cur = dst
        if len(parts) < 2: out.append(c); continue
        rank = lambda d: 0 if d is None else 2 if d in st.lib else 1
        parts = sorted(parts, key=lambda x: rank(x[0]))
        merged = []
        for d, ls in parts:
            if merged and merged[-1][0] == d: merged[-1][1].extend([""] + ls)
            else: merged.append((d, list(ls)))
        prose = []   # the prose before the cell goes with the first part that moves to a command group
        while out and out[-1]["cell_type"] == "markdown": prose.insert(0, out.pop())
        new = []
        for d, ls in merged:
            while ls and not ls[0].strip(): ls.pop(0)
            while ls and not ls[-1].strip(): ls.pop()
            if prose and rank(d) == 1: new += prose; prose = []
            new.append(_code_cell("#| export\n" + "\n".join(ls)))
        if prose: new = prose + new
        out += new; changed = True
        print(f"  {st.nb}: carved a cell into {[d or st.nb for d, _ in merged]}")
    if not changed: print(f"  {st.nb}: nothing to carve"); return False
    nb["cells"] = out
    save(p, nb)
    return True


def run_commands(repo:Path, st:Commands)->bool:
    "Carve a parser builder's per-command sections into one function per command group, called from the builder"
    p = repo/"nbs"/f"{st.nb}.ipynb"
    nb = load(p)
    at = [i for i, c in enumerate(nb["cells"]) if is_export(c) and st.builder in defines(c)]
    if not at and all(any(is_export(c) and fn in defines(c) for c in nb["cells"]) is False for fn in st.groups):
        print(f"  {st.nb} {st.builder}: already carved and moved"); return False
    if len(at) != 1: raise Fail(f"{st.nb}: {st.builder} is defined in {len(at)} exported cells")
    cell = nb["cells"][at[0]]
    lines = src_of(cell).splitlines()
    starts = [i for i, l in enumerate(lines) if re.match(r"^    sp = add\(", l)]
    if not starts: print(f"  {st.nb} {st.builder}: already carved"); return False
    end = next(i for i, l in enumerate(lines) if re.match(r"^    return p\s*$", l))
    owner = {cmd: fn for fn, cmds in st.groups.items() for cmd in cmds}
    sections, order = {fn: [] for fn in st.groups}, []
    for a, b in zip(starts, starts[1:] + [end]):
        sec = lines[a:b]
        while sec and not sec[-1].strip(): sec.pop()
        cmd = re.findall(r"set_defaults\(func=(\w+)\)", "\n".join(sec))
        if len(cmd) != 1: raise Fail(f"{st.nb}: the section `{sec[0].strip()}` sets {len(cmd)} command functions, not one")
        if cmd[0] not in owner: raise Fail(f"{st.nb}: {cmd[0]} is in no command group: add it to one in CLI_GROUPS")
        sections[owner[cmd[0]]].append(sec)
        if owner[cmd[0]] not in order: order.append(owner[cmd[0]])   # groups in the order their first command came
    head = lines[:starts[0]]
    helpers = []
    for h in st.helpers:   # a nested `def h(...)` of the builder, with its body, becomes a top-level function
        a = next((i for i, l in enumerate(head) if re.match(rf"^    def {h}\(", l)), None)
        if a is None: raise Fail(f"{st.nb}: {st.builder} has no nested def {h}")
        b = a + 1
        while b < len(head) and (head[b].startswith("        ") or not head[b].strip()) and not re.match(r"^    \S", head[b]): b += 1
        body = [l[4:] for l in head[a:b]]
        while body and not body[-1].strip(): body.pop()
        helpers.append(body); del head[a:b]
    while head and not head[-1].strip(): head.pop()
    import textwrap
    calls = textwrap.wrap(f"for add_commands in ({', '.join(order)}{',' if len(order) == 1 else ''}):", 112,
                          initial_indent="    ", subsequent_indent=" " * 25, break_long_words=False)
    head += calls + ["        add_commands(add)"]
    set_src(cell, "\n".join(head + lines[end:]))
    new = []
    for body in helpers: new.append(_code_cell("#| export\n" + "\n".join(body)))
    for fn in order:
        names = [re.match(r'^    sp = add\("([\w-]+)"', s[0]).group(1) for s in sections[fn]]
        doc = "The arguments of " + ", ".join(f"`ctml {n}`" for n in names[:-1]) + (" and " if len(names) > 1 else "") + f"`ctml {names[-1]}`"
        body = [f"def {fn}(add):", f"    \"{doc}: `add(name, help)` makes a subparser\""]
        for k, s in enumerate(sections[fn]): body += ([""] if k else []) + s
        new.append(_code_cell("#| export\n" + "\n".join(body)))
    first = next(a for a, b in blocks(nb) if a <= at[0] <= b)
    nb["cells"][first:first] = new
    save(p, nb)
    print(f"  {st.nb} {st.builder}: sections carved into {order}, helpers {st.helpers} made top-level")
    return True


def run_package(repo:Path, st:Package)->bool:
    p = repo/"nbs"/f"{st.nb}.ipynb"
    nb = load(p)
    old = default_exp(nb)
    pkg = repo/LIB/old.replace(".", "/")
    if old == st.module: print(f"  {st.nb}: already {st.module}"); return False
    if st.module.rpartition(".")[0] != old: raise Fail(f"{st.nb}: {st.module} is not a module of the package {old}")
    for c in nb["cells"]:
        s = src_of(c); t = re.sub(r"^(#\|\s*default_exp\s+)\S+", rf"\g<1>{st.module}", s, flags=re.M)
        if t != s: set_src(c, t)
    save(p, nb)
    flat = pkg.with_suffix(".py")
    if flat.exists(): flat.unlink()
    pkg.mkdir(exist_ok=True)
    init = pkg/"__init__.py"
    if not init.exists():
        init.write_text(f'"""{st.doc}"""\n# Written by the restructure script from each module\'s `__all__`; edit the notebooks, then re-run it\n',
                        encoding="utf-8")
    print(f"  {st.nb}: {LIB}.{old} is now a package; this notebook exports {st.module}")
    return True


# (file, old text, new text): exact edits a step needs in a notebook cell or a hand-written file
FIXUPS = {
    "cycles": [
        # the MLflow backend named its own module through the registry table (a cycle once the table sits above it)
        ("nbs/22e_mlflow_registry.ipynb", 'loader_module=REGISTRIES["mlflow"].split(":")[0]', "loader_module=_LOADER_MODULE"),
        ("nbs/22e_mlflow_registry.ipynb", "from ctml_nb.registry.api import LOG_ENV, REGISTRIES, Registry, utc_stamp, valid_name\n",
         "from ctml_nb.registry.api import LOG_ENV, Registry, utc_stamp, valid_name\n"
         '_LOADER_MODULE = "ctml_nb.registry.mlflow_backend"   # this module, also when the notebook runs it: MLflow loads models through it\n'),
    ],
    "sizes": [
        # the quantile summaries move to their own module; the column profiles call this one of them too
        ("nbs/03_profile.ipynb", "_summarise_sorted(", "summarise_sorted("),
        # a test cell used the generator the (moved) quantile tests made
        ("nbs/03_profile.ipynb", 'x = pd.Series(rng.normal(3, 2, 10_000), name="x")',
         'rng = np.random.default_rng(0)\nx = pd.Series(rng.normal(3, 2, 10_000), name="x")'),
        # a test counts the files read by patching `read_table` where the sources look it up: both modules now
        ("tests/test_sources.py", "import ctml_nb.data.source_files as source_files\n",
         "import ctml_nb.data.source_files as source_files\nimport ctml_nb.data.source_kinds as source_kinds\n"),
        ("tests/test_sources.py",
         '    monkeypatch.setattr(source_files, "read_table", lambda path, *a, **k: opened.append(path) or real(path, *a, **k))\n',
         '    for mod in (source_files, source_kinds):   # the file machinery and the kinds each read files\n'
         '        monkeypatch.setattr(mod, "read_table", lambda path, *a, **k: opened.append(path) or real(path, *a, **k))\n'),
    ],
    "sequential": [
        # `_moved.py` (written by the restructure script) maps flat names; a moved module inside a package is dotted
        ("ctml_nb/_moved.py", """        parent, _, name = fullname.rpartition(".")
        if parent != "ctml_nb" or name not in MOVED: return None
        return importlib.util.spec_from_loader(fullname, _Alias(MOVED[name]))""",
         """        lib, _, name = fullname.partition(".")   # a flat name (`profile`) or a dotted one (`gate.sequential`)
        if lib != "ctml_nb" or name not in MOVED: return None
        return importlib.util.spec_from_loader(fullname, _Alias(MOVED[name]))"""),
    ],
    "cli": [
        # a glob: the text is edited where it is, and found in one of the files once the step is done
        ("nbs/32_cli.ipynb", "> The `ctml` command: run and schedule cycles, list and show runs, HTML reports, the registry, drift reports and the demo",
         "> What every `ctml` command shares: its exit codes, and how it prints progress and run records"),
        # helpers that several command groups use become public names of `cli.common`
        ("nbs/32*_cli*.ipynb", "_say(", "say("), ("nbs/32*_cli*.ipynb", "say=_say", "say=say"), ("nbs/32*_cli*.ipynb", "progress=_say", "progress=say"),
        ("nbs/32*_cli*.ipynb", "_print_record(", "print_record("),
        ("nbs/3[1-4]*.ipynb", "_print_drift(", "print_drift("),
        ("nbs/3[1-4]*.ipynb", 'def print_drift(report, sort:str|None="severity"):\n    import pandas as pd\n',
         'def print_drift(report, sort:str|None="severity"):\n    "Print a `DriftReport`\'s table, in `sort` order, and its verdict (`ctml drift`, the demo)"\n'
         '    import pandas as pd\n'),
        ("nbs/32*_cli*.ipynb", "def print_record(rec, details:bool=False):\n    from ctml_nb.reports.text import record_text\n",
         "def print_record(rec, details:bool=False):\n    \"Print a run record as text (`ctml_nb.reports.text.record_text`)\"\n"
         "    from ctml_nb.reports.text import record_text\n"),
        # the section heading before `ctml backtest` (it named the parser, which comes later) goes with backtest and tune
        ("nbs/32*_cli*.ipynb", "## The parser and `main`", "## Replay and tune the policy"),
        # the commands import the library code that leaves the cli where they use it (`ctml --help` imports no pandas)
        ("nbs/3[2-4]*.ipynb", '    "Drift report between two files"\n    from ctml_nb.core import read_table\n',
         '    "Drift report between two files"\n    from ctml_nb.core import read_table\n    from ctml_nb.drift.tables import drift_report\n'
         '    from ctml_nb.reports.text import print_drift\n'),
        ("nbs/3[2-4]*.ipynb", '    "Drift report on the bundled Elec2 data: June 1997 against June 1998 (same season, one year apart)"\n'
         '    from ctml_nb.data.datasets import load_elec2\n',
         '    "Drift report on the bundled Elec2 data: June 1997 against June 1998 (same season, one year apart)"\n'
         '    from ctml_nb.data.datasets import load_elec2\n    from ctml_nb.drift.tables import drift_report\n'
         '    from ctml_nb.reports.text import print_drift\n'),
        ("nbs/32*_cli*.ipynb", "    from ctml_nb.demo import print_runs, run_demo\n", "    from ctml_nb.demo import demo_drift, print_runs, run_demo\n"),
        ("nbs/32*_cli*.ipynb", '    "Replay a history through exactly the configured pipeline\'s policy (in memory, no kernels)"\n',
         '    "Replay a history through exactly the configured pipeline\'s policy (in memory, no kernels)"\n'
         '    from ctml_nb.reports.text import backtest_rows\n'),
        ("bench/cli_bench.py", "code_version(ROOT, ['ctml_nb/cli.py'])", "code_version(ROOT, ['ctml_nb/cli'])"),
        # the README's map: the cli is a package with its own line (its links are written with the others')
        ("README.md", "- **root** (`ctml_nb.core`, `figures`, `metrics`, `demo`, `cli`): ", "- **root** (`ctml_nb.core`, `figures`, `metrics`, `demo`): "),
        ("README.md", "[32_cli](nbs/32_cli.ipynb), [34_demo](nbs/34_demo.ipynb)",
         "[34_demo](nbs/34_demo.ipynb)\n- **`ctml_nb.cli`**: the `ctml` command, one module per command group. "
         "[32_cli](nbs/32_cli.ipynb)"),
    ],
}

STEPS = {
    "cycles": [
        Split("03c_engines", "03d_engine_table", "drift.engine_table", ["ENGINES", "engine_for"],
              "engine_table", "The table of drift engines by name (`local`, `dask`, your own), each imported when first used",
              "the table names the Dask engine, which implements `Engine`: it sits above both"),
        Split("22d_registry_api", "22f_registry_backends", "registry.backends", ["REGISTRIES"],
              "registry_backends", "The table of registry backends by name (`file`, `mlflow`, `module:Class`), and `open_registry`",
              "the table names the file and MLflow backends, which implement `Registry`: it sits above them"),
    ],
    "sequential": [
        Rename("20b_sequential", "11d_sequential", "policy.sequential", "gate.sequential",
               "statistics that import only core; the loop and the backtester (policy) replay it"),
    ],
    # 4: modules over 450 lines, split at a seam only public names cross
    "sizes": [
        Split("03_profile", "02b_quantiles", "drift.quantiles", ["quantile_cdf", "summarise_numeric", "merge_quantiles"],
              "quantiles", "Quantile summaries of a numeric column: the CDF between their knots, built from sorted values, merged across chunks",
              "the quantile math the column profiles build on"),
        Split("30_config", "30g_parameters", "pipeline.parameters", ["declared_parameters", "check_parameters", "parse_parameter"],
              "parameters", "The parameters of a template step: their declared types, checked and parsed before any kernel starts",
              "the template parameters apart from the pipeline's config schema"),
        Split("23c_source_files", "23ca_source_kinds", "data.source_kinds",
              ["FileSource", "FolderSource", "DatasetSource", "CallableSource", "SOURCES"],
              "source_kinds", "The four kinds of `Source` a pipeline names (a growing file, a folder of batch files, a hive-partitioned "
              "dataset, a `module:function`), their table `SOURCES`, and `open_source`, which picks one from `data.source`",
              "the kinds and their table sit above the file machinery they share"),
    ],
    # 4b: preflight grew past 450 lines when the gate's probability check and the drift-test columns met in it
    "model_check": [
        Split("30b_preflight", "30ba_model_check", "pipeline.model_check",
              ["_column_kind", "_check_proba", "_fit", "_unfit_columns", "_column_fixes", "check_model_fit"],
              "model_check", "The configured model fitted on a sample of the real rows before any kernel: a column it cannot take "
              "(dates, text, categories without an encoder) named with its fixes, and the probabilities the gate needs",
              "the model's check on real rows apart from the config's checks"),
    ],
    # 5: exported cells over 80 lines: methods move, as they are, into a mixin in the cell before the class
    "cells": [
        Mixin("03_profile", "ReferenceProfile", ["to_dict", "from_dict", "save", "load"], "_ProfileFile",
              "A reference profile as plain data and as a JSON file: `to_dict`/`from_dict`, `save`/`load`"),
        Mixin("13a_policies", "PolicyComparison", ["plot", "_mark_best"], "_ComparisonPlot",
              "The cost-metric plane of a comparison: each policy a point, the frontier and the best one marked"),
        Mixin("22c_registry_verify", "SignedRecords", ["_meta", "identity", "_check_identity", "_signed"], "_RecordIdentity",
              "A version's metadata checked against its signature and this registry's identity, which every signature binds"),
        # backtest is edited on other branches too: its pending-challenger methods move, nothing else
        Mixin("13_backtest", "_Replay", ["look", "supersede"], "_PendingLooks",
              "A replay's pending challenger: looked at again each batch by the sequential gate, or superseded by a newer one"),
    ],
    # notebook prefixes that two notebooks shared (the sidebar and the docs' links are renamed with them)
    "prefixes": [
        Rename("30f_tuning", "30h_tuning", "pipeline.tuning", "pipeline.tuning", "30f is the run record's prefix too"),
    ],
}


# The `ctml` command, one module per command group (issue 21): (notebook, module, parser function, title, summary,
# the names that move). A definition no group names stays in `cli.common` with the exit codes (the command functions
# must each be in a group: the parser's sections are carved by them).
CLI_GROUPS = [
    ("32a_cli_run", "cli.run", "add_run_commands", "cli_run",
     "`ctml run`, `ctml retrain` and `ctml schedule`: one cycle now, one on request, or one every span",
     ["_template_params", "_exit_for", "_write_run_report", "cmd_run", "cmd_retrain", "_clock", "cmd_schedule"]),
    ("32b_cli_runs", "cli.runs", "add_runs_commands", "cli_runs",
     "`ctml runs`, `ctml show`, `ctml report` and `ctml ui`: the runs of a pipeline, as a table, a record, HTML pages or a served page",
     ["_runs_dir", "runs_src", "cmd_runs", "cmd_show", "_usage", "cmd_report", "cmd_ui"]),
    ("32c_cli_registry", "cli.registry", "add_registry_commands", "cli_registry",
     "`ctml registry`: list the versions, promote one, roll back the champion, rotate the signing key",
     ["_unverifiable", "cmd_registry", "_rotate_key"]),
    ("32d_cli_policy", "cli.policy", "add_policy_commands", "cli_policy",
     "`ctml backtest` and `ctml tune`: replay the history through the pipeline's policy, and tune it at a retrain cost",
     ["cmd_backtest", "_tune_args", "cmd_tune"]),
    ("32e_cli_drift", "cli.drift", "add_drift_commands", "cli_drift",
     "`ctml drift` and `ctml demo`: a drift report between two files, and the demo on the bundled Elec2 data",
     ["_column_list", "_unknown_columns", "cmd_drift", "cmd_demo"]),
]
CLI_COMMON = ["say", "print_record"]   # used by several groups: they stay in `cli.common`, beside the exit codes
CLI_APP = ("32f_cli_app", "cli.app", "cli_app", "The `ctml` command: its parser (each command group adds its own "
           "subcommands), the exit code of each error, and `main`, the console entry point",
           ["build_parser", "_OS_WHAT", "os_error_message", "_error_exit", "main"])
# library code that lived in the cli: (notebook, module, title, summary (new notebooks only), names)
CLI_LIB = [
    ("04d_drift_tables", "drift.tables", "drift_tables",
     "A drift report between two tables in one call: fit on the reference, test the current, name their sources, save the HTML",
     ["drift_report"]),
    ("31b_run_views", "reports.text", "", "", ["print_drift", "backtest_rows"]),
    ("34_demo", "demo", "", "", ["demo_drift"]),
]
STEPS["cli"] = [
    Package("32_cli", "cli.common", "The `ctml` command, one module per command group (`run`, `runs`, `registry`, `policy`, "
            "`drift`) on `common`, with `app` (the parser and `main`) on top\n\nScripts import from here (`from ctml_nb.cli "
            "import main, EXIT_OK`); the modules below import each other\nby module, never through this file.\n"),
    Commands("32_cli", "build_parser", {g[2]: [n for n in g[5] if n.startswith("cmd_")] for g in CLI_GROUPS}, ["runs_src"]),
    Carve("32_cli", {**{n: None for n in CLI_COMMON}, **{n: g[0] for g in CLI_GROUPS for n in g[5]}, **{n: g[0] for g in CLI_LIB for n in g[4]},
                     **{n: CLI_APP[0] for n in CLI_APP[4]}}, {g[0] for g in CLI_LIB}),
    # the library first, then the parser and `main` (they import every group), then the groups
    *[Split("32_cli", nb, mod, names, title, summary, "library code leaves the cli") for nb, mod, title, summary, names in CLI_LIB],
    Split("32_cli", CLI_APP[0], CLI_APP[1], CLI_APP[4], CLI_APP[2], CLI_APP[3], "the parser and the entry point, above the groups"),
    *[Split("32_cli", nb, mod, names + [fn], title, summary, "one command group") for nb, mod, fn, title, summary, names in CLI_GROUPS],
]


COMPAT = {}   # old module -> (new module, its names): re-exported from the old package's `__init__` for one release


class Fail(SystemExit):
    def __init__(self, msg): super().__init__(f"split_layout: {msg}")


# ---------------------------------------------------------------- notebooks
def src_of(c)->str: return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
def set_src(c, s:str): c["source"] = s.splitlines(keepends=True)
def load(p:Path)->dict: return json.loads(p.read_text(encoding="utf-8"))
def save(p:Path, nb:dict): p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
def is_export(c)->bool: return c["cell_type"] == "code" and re.match(r"#\|\s*export\b", src_of(c)) is not None
def is_directive_only(c, word)->bool: return c["cell_type"] == "code" and re.match(rf"#\|\s*{word}\b", src_of(c)) is not None


def code_of(c)->str:
    "A code cell's Python, its `#|` directives and notebook magics dropped"
    return "\n".join(l for l in src_of(c).splitlines() if not l.lstrip().startswith(("#|", "%", "!")))


def defines(c)->set:
    try: tree = ast.parse(code_of(c))
    except SyntaxError: return set()
    out = set()
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                out |= {x.id for x in ast.walk(t) if isinstance(x, ast.Name)}
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in n.names}
    return out


def free_uses(text:str)->set:
    "Names a module's code uses that its functions do not import themselves (a function-level import needs no module-level one)"
    try: tree = ast.parse(text)
    except SyntaxError: return set()
    out = set()
    for n in tree.body:
        used = {x.id for x in ast.walk(n) if isinstance(x, ast.Name)}
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used -= {(a.asname or a.name).split(".")[0] for x in ast.walk(n) if isinstance(x, (ast.Import, ast.ImportFrom))
                     for a in x.names}
        out |= used
    return out


def uses(text:str)->set:
    try: tree = ast.parse(text)
    except SyntaxError: return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def imports_cell(nb)->int:
    "Index of the exported imports cell (the first exported cell)"
    for i, c in enumerate(nb["cells"]):
        if is_export(c): return i
    raise Fail("no exported cell")


def hide_cell(nb)->int|None:
    "Index of the hidden test-imports cell (`#| hide` with `fastcore.test`)"
    for i, c in enumerate(nb["cells"]):
        if is_directive_only(c, "hide") and "import" in src_of(c): return i
    return None


def is_export_call(c)->bool: return "nbdev.nbdev_export()" in src_of(c)


def preamble(nb)->list:
    "The hidden helper cells (fixtures) between the test imports and the first block: each notebook needs its own copy"
    cells, hi = nb["cells"], hide_cell(nb)
    first = blocks(nb)[0][0] if blocks(nb) else len(cells)
    return [c for i, c in enumerate(cells[imports_cell(nb) + 1:first], imports_cell(nb) + 1)
            if c["cell_type"] == "code" and i != hi and not is_export_call(c)]


def blocks(nb)->list:
    """[(first, last) cell index] of each exported cell's block (after the imports cell): the markdown right before it,
    then everything up to the next block, a heading, or the `nbdev_export()` cell"""
    cells = nb["cells"]
    start = imports_cell(nb) + 1
    exp = [i for i in range(start, len(cells)) if is_export(cells[i])]
    firsts = []
    for i in exp:
        a = i
        while a - 1 >= start and cells[a - 1]["cell_type"] == "markdown" and (a - 1) not in exp: a -= 1
        firsts.append(a)
    out = []
    for k, (a, i) in enumerate(zip(firsts, exp)):
        b = i
        limit = firsts[k + 1] - 1 if k + 1 < len(exp) else len(cells) - 1
        while b + 1 <= limit and not is_export_call(cells[b + 1]) and not (
                cells[b + 1]["cell_type"] == "markdown" and src_of(cells[b + 1]).lstrip().startswith("#")): b += 1
        out.append((a, b))
    return out


def default_exp(nb)->str:
    for c in nb["cells"]:
        m = re.search(r"^#\|\s*default_exp\s+(\S+)", src_of(c), re.M)
        if m: return m.group(1)
    raise Fail("no default_exp")


# ---------------------------------------------------------------- imports
def split_import(stmt:ast.stmt, keep:set)->str|None:
    "The import statement with only the names in `keep` (None: none left); `from __future__` always stays"
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__": return ast.unparse(stmt)
    names = [a for a in stmt.names if (a.asname or a.name).split(".")[0] in keep]
    if not names: return None
    new = type(stmt)(**{**{k: getattr(stmt, k) for k in stmt._fields}, "names": names})
    return ast.unparse(new)


def kept_imports(imports_src:str, used:set, others:bool=False)->list:
    "The lines of an imports cell that bind a name in `used`, grouped as written; `others`: other statements too"
    out, lines = [], imports_src.splitlines()
    tree = ast.parse("\n".join(l for l in lines if not l.lstrip().startswith("#|")))
    body_lines = [l for l in lines if not l.lstrip().startswith("#|")]
    prev_end = 0
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if others: out.append("\n".join(body_lines[stmt.lineno - 1:stmt.end_lineno])); prev_end = stmt.end_lineno
            continue
        if any(not l.strip() for l in body_lines[prev_end:stmt.lineno - 1]) and out and out[-1] != "": out.append("")
        prev_end = stmt.end_lineno
        s = split_import(stmt, used)
        if s is None: continue
        if s == ast.unparse(stmt): s = "\n".join(body_lines[stmt.lineno - 1:stmt.end_lineno])   # untouched: as written
        out.append(s)
    while out and out[-1] == "": out.pop()
    return out


def imported_from(repo:Path, module:str)->set:
    "Names any notebook, template, test or script imports from `ctml_nb.<module>` (re-exports a move must keep)"
    out, pat = set(), re.compile(rf"from {re.escape(LIB + '.' + module)} import (\([^)]*\)|[^\n#]*)")
    for p in sorted({p for g in REWRITE for p in repo.glob(g) if p.is_file() and ".venv" not in p.parts}):
        for m in pat.finditer(p.read_text(encoding="utf-8").replace("\\n", "\n").replace('\\"', '"')):
            out |= {x.split(" as ")[0].strip().strip('",') for x in m.group(1).strip("()").replace("\n", " ").split(",")}
    return {x for x in out if x.isidentifier()}


def add_import(imports_src:str, line:str)->str:
    "`imports_src` with `line` appended (a no-op when present)"
    if line in imports_src.splitlines(): return imports_src
    return imports_src.rstrip("\n") + "\n" + line


def from_line(module:str, names)->str:
    return f"from {LIB}.{module} import {', '.join(sorted(names, key=str.lower))}"


# ---------------------------------------------------------------- text rewrites in the rest of the repo
REWRITE = ["nbs/*.ipynb", "tests/**/*.py", "bench/**/*.py", "recipes/**/*.py", "docs/**/*.py", "docs/**/*.md",
           f"{LIB}/templates/*.ipynb", "README.md"]


def rewrite_text(s:str, old:str, new:str, moved:set|None)->str:
    "`from ctml_nb.<old> import ...` split between old and new (all of it when `moved` is None); dotted texts renamed"
    o, n = re.escape(f"{LIB}.{old}"), f"{LIB}.{new}"
    def sub(m):
        indent, what, tail = m.group(1), m.group(2), m.group(3) or ""
        body = what.strip()
        paren = body.startswith("(")
        items = [x.strip() for x in body.strip("()").replace("\n", " ").split(",") if x.strip()]
        items = [x for x in items if not x.startswith("#")]
        if not items: return m.group(0)
        go = items if moved is None else [x for x in items if x.split(" as ")[0].strip() in moved]
        stay = [x for x in items if x not in go]
        if not go: return m.group(0)
        out = []
        if stay: out.append(f"{indent}from {LIB}.{old} import {', '.join(stay)}")
        out.append(f"{indent}from {n} import {', '.join(go)}")
        return "\n".join(out) + tail
    s = re.sub(rf"(?m)^([ \t]*)from {o} import (\([^)]*\)|[^\n#]*?)([ \t]*#[^\n]*)?$", sub, s)
    if moved is None:
        s = re.sub(rf"(?<![\w.]){o}(?![\w])", n, s)
        s = re.sub(rf"(?<![\w.]){re.escape(LIB + '/' + old.replace('.', '/'))}\.py\b", f"{LIB}/{new.replace('.', '/')}.py", s)
    elif moved:
        names = "|".join(sorted(moved, key=len, reverse=True))
        s = re.sub(rf"(?<![\w.]){o}\.({names})(?!\w)", lambda m: f"{n}.{m.group(1)}", s)
    return s


def rewrite_repo(repo:Path, old:str, new:str, moved:set|None, skip:set)->list:
    changed = []
    files = sorted({p for g in REWRITE for p in repo.glob(g) if p.is_file() and ".venv" not in p.parts})
    for p in files:
        if p in skip: continue
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".ipynb":
            nb = json.loads(text); hit = False
            for c in nb["cells"]:
                s = src_of(c); t = rewrite_text(s, old, new, moved)
                if t != s: set_src(c, t); hit = True
            if hit: save(p, nb); changed.append(p)
        else:
            t = rewrite_text(text, old, new, moved)
            if t != text: p.write_text(t, encoding="utf-8"); changed.append(p)
    return changed


# ---------------------------------------------------------------- steps
def new_notebook(module:str, title:str, summary:str, imports:list, hide:str|None)->dict:
    def cell(kind, s, **kw):
        c = {"cell_type": kind, "metadata": {}, "source": s.splitlines(keepends=True)}
        if kind == "code": c.update(execution_count=None, outputs=[])
        return c
    cells = [cell("markdown", f"# {title}\n\n> {summary}"), cell("code", f"#| default_exp {module}"),
             cell("code", "#| export\n" + "\n".join(imports))]
    if hide: cells.append(cell("code", hide))
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def rel_module(mod:str)->str: return f"{LIB}.{mod}"


def run_split(repo:Path, st:Split)->bool:
    sp, dp = repo/"nbs"/f"{st.src}.ipynb", repo/"nbs"/f"{st.dst}.ipynb"
    src = load(sp)
    src_mod = default_exp(src)
    bl = blocks(src)
    chosen = [b for b in bl if defines(src["cells"][[i for i in range(b[0], b[1] + 1) if is_export(src["cells"][i])][0]]) & set(st.names)]
    if not chosen:
        if not dp.exists(): raise Fail(f"{st.src}: none of {st.names} is defined there, and {st.dst} does not exist")
        print(f"  {st.src} -> {st.dst}: already done"); return False
    take = sorted({i for a, b in chosen for i in range(a, b + 1)})
    cells = src["cells"]
    moved_cells = [cells[i] for i in take]
    rest = [c for i, c in enumerate(cells) if i not in take]
    moved_names = set().union(*(defines(c) for c in moved_cells if is_export(c)))
    imp_i = imports_cell(src)
    rest_export = [c for c in rest if is_export(c) and c is not cells[imp_i]]
    rest_names = set().union(*(defines(c) for c in rest_export)) if rest_export else set()
    moved_code = "\n".join(code_of(c) for c in moved_cells if is_export(c))
    rest_code = "\n".join(code_of(c) for c in rest_export)
    need_down = free_uses(moved_code) & rest_names       # the new module imports these from the source
    need_up = free_uses(rest_code) & moved_names         # the source imports these from the new module
    if need_down and need_up:
        raise Fail(f"{st.src} -> {st.dst}: the moved cells use {sorted(need_down)} and the rest uses {sorted(need_up)}: a cycle")
    private = sorted(n for n in need_down | need_up if n.startswith("_"))
    if private: raise Fail(f"{st.src} -> {st.dst}: private names would be imported across modules: {private} (move them too)")
    imports_src = src_of(cells[imp_i])
    new_imports = kept_imports(imports_src, uses(moved_code))
    if need_down: new_imports += ["", from_line(src_mod, need_down)] if new_imports else [from_line(src_mod, need_down)]
    # the source keeps the imports its other cells use (and the names its `_all_` re-exports)
    own = code_of(cells[imp_i]) + "\n" + rest_code
    keep = uses(own) | imported_from(repo, src_mod) | set(re.findall(r"['\"](\w+)['\"]", " ".join(re.findall(r"_all_\s*=\s*\[[^\]]*\]", own))))
    src_imports = "\n".join(["#| export", *kept_imports(imports_src, keep, others=True)])
    if need_up: src_imports = add_import(src_imports, from_line(st.module, need_up))
    set_src(cells[imp_i], src_imports)
    # test cells: each notebook imports what it no longer defines
    hide_i = hide_cell(src)
    hide_src = src_of(cells[hide_i]) if hide_i is not None else None
    rest_tests = "\n".join(code_of(c) for c in rest if c["cell_type"] == "code" and not is_export(c))
    moved_tests = "\n".join(code_of(c) for c in moved_cells if c["cell_type"] == "code" and not is_export(c))
    src_test_need = (uses(rest_tests) & moved_names) - need_up
    dst_test_need = uses(moved_tests) & (rest_names - need_down)
    if src_test_need and hide_i is not None:
        set_src(cells[hide_i], add_import(hide_src, from_line(st.module, src_test_need)))
    if hide_i is not None:   # imports the source's exported cells no longer need, that its tests still use
        kept = set(src_imports.splitlines())
        for line in kept_imports(imports_src, uses(rest_tests)):
            if line and line not in kept and not line.startswith("from __future__"):
                set_src(cells[hide_i], add_import(src_of(cells[hide_i]), line))
    if dp.exists():
        dst = load(dp)
        if default_exp(dst) != st.module: raise Fail(f"{st.dst} exports {default_exp(dst)}, not {st.module}")
        di = imports_cell(dst)
        s = src_of(dst["cells"][di])
        for line in new_imports:
            if line and line not in s.splitlines() and not line.startswith("from __future__"): s = add_import(s, line)
        set_src(dst["cells"][di], s)
    else:
        hide = hide_src
        dst = new_notebook(st.module, st.title, st.summary, new_imports, hide)
        dst["cells"].extend(json.loads(json.dumps(c)) | {"id": None} for c in preamble(src))
        for c in dst["cells"]: c.pop("id", None)
    test_code = moved_tests + "\n" + "\n".join(code_of(c) for c in preamble(src))
    test_imports = [l for l in kept_imports(imports_src, uses(test_code) - uses(moved_code)) if l and "__future__" not in l]
    if test_imports:
        hi = hide_cell(dst)
        for line in test_imports: set_src(dst["cells"][hi], add_import(src_of(dst["cells"][hi]), line))
    if hide_src is not None and dp.exists() and hide_cell(dst) is not None:   # the test imports the moved tests use
        hi = hide_cell(dst)
        for line in kept_imports(hide_src, uses(moved_tests)):
            if line and not line.startswith(("#|", "from fastcore")): set_src(dst["cells"][hi], add_import(src_of(dst["cells"][hi]), line))
    if dst_test_need:
        hi = hide_cell(dst)
        set_src(dst["cells"][hi], add_import(src_of(dst["cells"][hi]), from_line(src_mod, dst_test_need)))
    for c in moved_cells: c.setdefault("metadata", {})
    tail = [c for c in dst["cells"] if is_export_call(c)]
    dst["cells"] = [c for c in dst["cells"] if not is_export_call(c)] + moved_cells
    dst["cells"] += tail or [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                              "source": ["#| hide\n", "import nbdev; nbdev.nbdev_export()"]}]
    src["cells"] = rest
    save(sp, src); save(dp, dst)
    print(f"  {st.src} -> {st.dst}: moved {sorted(moved_names)} ({len(moved_cells)} cells); {st.why}")
    changed = rewrite_repo(repo, src_mod, st.module, moved_names, {sp, dp})
    for p in changed: print(f"    rewrote {p.relative_to(repo)}")
    return True


def run_mixin(repo:Path, st:Mixin)->bool:
    p = repo/"nbs"/f"{st.nb}.ipynb"
    nb = load(p)
    if any(st.mixin in defines(c) for c in nb["cells"] if is_export(c)):
        print(f"  {st.nb} {st.cls}: already done"); return False
    at = [i for i, c in enumerate(nb["cells"]) if is_export(c) and st.cls in defines(c)]
    if len(at) != 1: raise Fail(f"{st.nb}: {st.cls} is defined in {len(at)} exported cells")
    cell = nb["cells"][at[0]]
    lines = src_of(cell).splitlines()
    tree = ast.parse("\n".join("" if l.lstrip().startswith(("#|", "%", "!")) else l for l in lines))
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == st.cls]
    meths = {m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
    missing = [m for m in st.methods if m not in meths]
    if missing: raise Fail(f"{st.nb}: {st.cls} has no method(s) {missing}")
    spans = []
    for name in st.methods:
        m = meths[name]
        if "super()" in ast.get_source_segment("\n".join(lines), m) or "__class__" in ast.get_source_segment("\n".join(lines), m):
            raise Fail(f"{st.nb}: {st.cls}.{name} uses super() or __class__: it cannot move to a mixin as it is")
        a = min([m.lineno] + [d.lineno for d in m.decorator_list]) - 1
        b = m.end_lineno
        while b < len(lines) and not lines[b].strip(): b += 1   # the blank lines after it go with it
        spans.append((a, b))
    spans.sort()
    moved = [l for a, b in spans for l in lines[a:b]]
    while moved and not moved[-1].strip(): moved.pop()
    keep = [l for i, l in enumerate(lines) if not any(a <= i < b for a, b in spans)]
    h = node.lineno - 1
    head = keep[h] if keep[h].lstrip().startswith("class ") else None
    if head is None: raise Fail(f"{st.nb}: cannot find the `class {st.cls}` line")
    m = re.match(rf"^class {st.cls}(\((.*)\))?:", head)
    keep[h] = head.replace(m.group(0), f"class {st.cls}({st.mixin}{', ' + m.group(2) if m.group(2) else ''}):", 1)
    while keep and not keep[-1].strip(): keep.pop()
    set_src(cell, "\n".join(keep))
    new = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
           "source": ("#| export\n" + f"class {st.mixin}:\n    \"{st.doc}\"\n" + "\n".join(moved)).splitlines(keepends=True)}
    nb["cells"].insert(at[0], new)
    save(p, nb)
    print(f"  {st.nb} {st.cls}: {st.methods} -> {st.mixin} (the cell before it)")
    return True


def run_rename(repo:Path, st:Rename)->bool:
    sp, dp = repo/"nbs"/f"{st.src}.ipynb", repo/"nbs"/f"{st.dst}.ipynb"
    if not sp.exists():
        if dp.exists(): print(f"  {st.src} -> {st.dst}: already done"); return False
        raise Fail(f"neither {sp} nor {dp} exists")
    nb = load(sp)
    for c in nb["cells"]:
        s = src_of(c); t = re.sub(r"^(#\|\s*default_exp\s+)\S+", rf"\g<1>{st.module}", s, flags=re.M)
        if t != s: set_src(c, t)
    save(dp, nb); sp.unlink()
    if st.module == st.old_module:   # the notebook only: its module, and every import of it, stay as they are
        print(f"  {st.src} -> {st.dst}: {st.why}"); return True
    old_py = repo/LIB/(st.old_module.replace(".", "/") + ".py")
    if old_py.exists(): COMPAT[st.old_module] = (st.module, module_all(old_py)); old_py.unlink()
    print(f"  {st.src} -> {st.dst}: {st.old_module} -> {st.module}; {st.why}")
    for p in rewrite_repo(repo, st.old_module, st.module, None, set()): print(f"    rewrote {p.relative_to(repo)}")
    moved = repo/LIB/"_moved.py"
    text = moved.read_text(encoding="utf-8")
    entry = f"    {st.old_module!r}: {st.module!r},\n"
    if entry not in text:
        text = text.replace("MOVED = {\n", "MOVED = {\n" + entry, 1)
        moved.write_text(text, encoding="utf-8")
    return True


def apply_fixups(repo:Path, fixes:list):
    for rel, old, new in fixes:
        if any(ch in rel for ch in "*?["):   # a glob: edit each file that holds the old text; one must hold either
            found = False
            for p in sorted(repo.glob(rel)):
                nb = load(p); hit = False
                for c in nb["cells"]:
                    s = src_of(c)
                    if (new not in s if old in new else old in s) and old in s: set_src(c, s.replace(old, new)); hit = True
                    if new in s or hit: found = True
                if hit: save(p, nb); print(f"  fixup {p.relative_to(repo)}")
            if not found: raise Fail(f"fixup for {rel} matches neither its old nor its new text: update FIXUPS")
            continue
        p = repo/rel
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".ipynb":
            nb = json.loads(text); hit = found = False
            for c in nb["cells"]:
                s = src_of(c)
                if (new not in s if old in new else old in s) and old in s: set_src(c, s.replace(old, new)); hit = True
                elif new in s: found = True
            if hit: save(p, nb); print(f"  fixup {rel}")
            elif not found: raise Fail(f"fixup for {rel} matches neither its old nor its new text: update FIXUPS")
        elif (new not in text if old in new else old in text) and old in text:
            p.write_text(text.replace(old, new), encoding="utf-8"); print(f"  fixup {rel}")
        elif new not in text: raise Fail(f"fixup for {rel} matches neither its old nor its new text: update FIXUPS")


# ---------------------------------------------------------------- package __init__ files
def module_all(p:Path)->list:
    for node in ast.parse(p.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [e.value for e in node.value.elts]
    return []


def write_inits(repo:Path, compat:dict|None=None):
    "Each package's `__init__`: its modules' `__all__`; a new module goes after the module of the notebook before it"
    order = {}
    for nb in sorted((repo/"nbs").glob("*.ipynb")):
        try: order[default_exp(load(nb))] = nb.name
        except Fail: pass
    for init in sorted((repo/LIB).glob("*/__init__.py")):
        pk = init.parent.name
        text = init.read_text(encoding="utf-8")
        head = text.split("\nfrom ", 1)[0].rstrip("\n")
        kept = re.findall(r"(?ms)^# kept:.*?^\)\n", text)   # re-exports of moved modules, one release
        for old, (new, names) in (compat or {}).items():
            if old.split(".")[0] == pk and not any(f"from ..{new} import" in k for k in kept):
                kept.append(f"# kept: `{LIB}.{old}` moved to `{LIB}.{new}`; its names import from here for one release\n"
                            f"from ..{new} import (\n    {', '.join(names)},\n)\n")
        mods = [m for m in re.findall(r"(?m)^from \.(\w+) import", text) if f"{pk}.{m}" in order]
        for m in sorted((m for m in order if m.startswith(pk + ".")), key=lambda m: order[m]):
            short = m.split(".", 1)[1]
            if short in mods: continue
            before = [x for x in mods if order[f"{pk}.{x}"] < order[m]]
            at = max((mods.index(x) for x in before), key=lambda i: order[f"{pk}.{mods[i]}"], default=len(mods) - 1) + 1
            mods.insert(at, short)
        seen, parts = set(), []
        for short in mods:
            p = repo/LIB/pk/f"{short}.py"
            names = [n for n in module_all(p) if n not in seen]; seen |= set(names)
            if not names: continue
            body, cur = [], "    "
            for n in names:
                if len(cur) + len(n) + 2 > 116: body.append(cur.rstrip()); cur = "    "
                cur += n + ", "
            body.append(cur.rstrip())
            parts.append(f"from .{short} import (\n" + "\n".join(body) + "\n)")
        new = head + "\n" + "\n".join(parts) + "\n" + "".join(kept)
        if new != text: init.write_text(new, encoding="utf-8"); print(f"  wrote {init.relative_to(repo)}")


def update_docs(repo:Path, renames:dict):
    "Renamed notebooks renamed where they are named; new ones in the sidebar and the README's map, in reading order"
    for p in sorted({*repo.glob("nbs/*.ipynb"), repo/"nbs"/"sidebar.yml", repo/"README.md", *repo.glob("tests/**/*.py"),
                     *repo.glob("bench/**/*.py"), *repo.glob("bench/**/*.md"), *repo.glob("docs/**/*.md")}):
        text = t = p.read_text(encoding="utf-8")
        for old, new in renames.items(): t = re.sub(rf"(?<![\w]){re.escape(old)}(?![\w])", new, t)
        if t != text: p.write_text(t, encoding="utf-8"); print(f"  renamed notebooks in {p.relative_to(repo)}")
    nbs = {p.name for p in (repo/"nbs").glob("*.ipynb")}
    side = repo/"nbs"/"sidebar.yml"
    lines = side.read_text(encoding="utf-8").splitlines()
    item = re.compile(r"^(\s*- )(\S+\.ipynb)\s*$")
    lines = [l for l in lines if not (item.match(l) and item.match(l).group(2) not in nbs)]
    for nb in sorted(nbs - {item.match(l).group(2) for l in lines if item.match(l)}):
        listed = [(i, item.match(l)) for i, l in enumerate(lines) if item.match(l)]
        before = [(i, m) for i, m in listed if m.group(2) < nb and re.match(r"\d", m.group(2))]
        i, m = max(before, key=lambda x: x[1].group(2)) if before else listed[-1]
        lines.insert(i + 1, f"{m.group(1)}{nb}")
    new = "\n".join(lines) + "\n"
    if new != side.read_text(encoding="utf-8"): side.write_text(new, encoding="utf-8"); print("  wrote nbs/sidebar.yml")
    readme = repo/"README.md"
    text = readme.read_text(encoding="utf-8")
    mods = {}
    for nb in sorted((repo/"nbs").glob("*.ipynb")):
        try: mods.setdefault(default_exp(load(nb)).split(".")[0], []).append((nb.stem, default_exp(load(nb))))
        except Fail: pass
    def links(m):
        pk = m.group(2)
        # the module in brackets when the notebook's name does not end with it (`23_data` (`snapshots`))
        got = [f"[{stem}](nbs/{stem}.ipynb)" + ("" if stem.endswith("_" + mod.split(".")[-1]) else f" (`{mod.split('.', 1)[1]}`)")
               for stem, mod in mods.get(pk, []) if "." in mod]
        return m.group(1) + ", ".join(got) if got else m.group(0)
    new = re.sub(rf"(?m)^(- \*\*`{LIB}\.(\w+)`\*\*: [^\[\n]*)\[.*$", links, text)
    if new != text: readme.write_text(new, encoding="utf-8"); print("  wrote the README's map")


def nbdev(repo:Path, bin_dir:Path, cmd:str):
    r = subprocess.run([str(bin_dir/cmd)], cwd=repo, capture_output=True, text=True)
    if r.returncode: raise Fail(f"{cmd} failed:\n{r.stdout}\n{r.stderr}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--nbdev-bin", type=Path, default=Path(sys.executable).parent)
    ap.add_argument("--only", nargs="*", choices=list(STEPS), help="run these steps only (default: all, in order)")
    a = ap.parse_args(argv)
    repo = a.repo.resolve()
    for name in a.only or list(STEPS):
        print(f"split_layout: {name}")
        apply_fixups(repo, FIXUPS.get(name, []))
        for st in STEPS[name]:
            {Split: run_split, Rename: run_rename, Mixin: run_mixin, Package: run_package, Commands: run_commands,
             Carve: run_carve}[type(st)](repo, st)
        nbdev(repo, a.nbdev_bin, "nbdev_export")
        write_inits(repo, COMPAT)
        update_docs(repo, {f"{st.src}": st.dst for st in STEPS[name] if isinstance(st, Rename)})
        nbdev(repo, a.nbdev_bin, "nbdev_clean")    # gives new cells their ids first: the export names cells by id
        nbdev(repo, a.nbdev_bin, "nbdev_export")
    print("split_layout: done")


if __name__ == "__main__":
    main()
