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
    need_down = uses(moved_code) & rest_names            # the new module imports these from the source
    need_up = uses(rest_code) & moved_names              # the source imports these from the new module
    if need_down and need_up:
        raise Fail(f"{st.src} -> {st.dst}: the moved cells use {sorted(need_down)} and the rest uses {sorted(need_up)}: a cycle")
    private = sorted(n for n in need_down | need_up if n.startswith("_"))
    if private: raise Fail(f"{st.src} -> {st.dst}: private names would be imported across modules: {private} (move them too)")
    imports_src = src_of(cells[imp_i])
    new_imports = kept_imports(imports_src, uses(moved_code))
    if need_down: new_imports.append(from_line(src_mod, need_down))
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
            {Split: run_split, Rename: run_rename, Mixin: run_mixin}[type(st)](repo, st)
        nbdev(repo, a.nbdev_bin, "nbdev_export")
        write_inits(repo, COMPAT)
        update_docs(repo, {f"{st.src}": st.dst for st in STEPS[name] if isinstance(st, Rename)})
        nbdev(repo, a.nbdev_bin, "nbdev_clean")    # gives new cells their ids first: the export names cells by id
        nbdev(repo, a.nbdev_bin, "nbdev_export")
    print("split_layout: done")


if __name__ == "__main__":
    main()
