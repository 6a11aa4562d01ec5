"""Build the documentation site offline: `make docs` runs `python docs/build_site.py`.

1. Every notebook that `nbs/sidebar.yml` lists is executed (they are committed without outputs) into
   `_docs_build/nbs/`, never into `nbs/`, with `nbs/` as working directory as `nbdev_test` uses. Cells flagged with
   a test flag of settings.ini (`#| slow`, `#| notest`) or `#| eval: false` are shown, not run, with the outputs
   committed in `nbs/` if any (the tutorials' cycles). An executed copy newer than its notebook and than every
   module of `ctml_nb/` is reused.
2. The executed copies are processed into `_proc/` as nbdev would (a frontmatter cell from the title, hidden cells
   and directives dropped, before each exported cell the `nbdev.showdoc` signature and parameter table of what it
   defines, the API reference, and its source folded below), without nbdev's `proc_nbs`, which runs every cell
   holding an import a second time. Links to the README's pictures (`docs/images/...`) point at the site's `images/`.
3. With Quarto on the PATH: `quarto render` of `_proc/`, the site `nbdev_docs` builds, except that README.md is
   never rewritten (the README is written by hand; `nbs/index.ipynb` quotes it, and tests/test_docs.py checks both
   agree). Without Quarto (it cannot be installed offline: the `quarto-cli` package downloads its binary from
   GitHub when it is built): nbconvert's HTML of each processed notebook, with the sidebar's navigation and a search
   box that works offline (`search.js`: a small index of every page's sections, built with the site).
4. Every link and image of every built page is checked (`broken_links`): a page, picture or anchor that is not there
   fails the build. `tests/test_docs.py` checks a build of a few pages the same way.

The site goes to `_docs/` (settings.ini `doc_path`); open `_docs/index.html`.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import html
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
NBS, BUILD, PROC = ROOT / "nbs", ROOT / "_docs_build" / "nbs", ROOT / "_proc"
SITE_FILES = ("_quarto.yml", "sidebar.yml", "styles.css")   # with nbdev.yml, written from settings.ini
IMAGES = "docs/images/"   # where the README's pictures are; the site has them in images/
SKIP_FLAGS = re.compile(r"^#\|\s*(slow|notest|eval:\s*false)\s*$", re.M)


def sidebar(path: Path = NBS / "sidebar.yml") -> list:
    "[(section or None, notebook name)] in the order of `nbs/sidebar.yml`"
    import yaml
    out = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["website"]["sidebar"]["contents"]:
        if isinstance(item, str):
            out.append((None, item))
        else:
            out += [(item["section"], name) for name in item["contents"]]
    return out


def _stale(src: Path, dst: Path) -> bool:
    if not dst.exists():
        return True
    newest = max([src.stat().st_mtime] + [p.stat().st_mtime for p in (ROOT / "ctml_nb").rglob("*.py")])
    return dst.stat().st_mtime < newest


def execute(name: str, timeout: int = 900) -> tuple:
    "Execute `nbs/<name>` into `_docs_build/nbs/<name>`; return (name, seconds, error or None)"
    import nbformat
    from nbclient import NotebookClient
    t0 = time.perf_counter()
    nb = nbformat.read(str(NBS / name), as_version=4)
    held = {}
    for i, c in enumerate(nb.cells):   # shown, not run
        if c.cell_type == "code" and SKIP_FLAGS.search(c.source):
            held[i], c.source = (c.source, c.get("outputs", [])), ""   # (indices before the setup cell is inserted)
    error = None
    # Figures drawn without pyplot (ctml-nb's plots return a `matplotlib.figure.Figure`) get their PNG form from the
    # inline backend, which a kernel only sets up on `%matplotlib inline`: run it first, then drop that cell
    nb.cells.insert(0, nbformat.v4.new_code_cell("%matplotlib inline"))
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NBS)}}).execute()
    except Exception as e:   # keep what ran: the page shows it, and the build reports the failure
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    del nb.cells[0]
    for i, (src, outputs) in held.items():   # with the outputs committed in nbs/ (the tutorials keep theirs)
        nb.cells[i].source, nb.cells[i].outputs = src, outputs
    BUILD.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(BUILD / name))
    return name, time.perf_counter() - t0, error


def execute_all(names: list, workers: int, force: bool) -> list:
    todo = [n for n in names if force or _stale(NBS / n, BUILD / n)]
    print(f"docs: executing {len(todo)} of {len(names)} notebooks ({len(names) - len(todo)} up to date), {workers} at a time",
          flush=True)
    errors = []
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for name, secs, err in pool.map(execute, todo):
            print(f"  {name:<34} {secs:6.1f} s" + (f"  FAILED: {err}" if err else ""), flush=True)
            if err:
                errors.append(f"{name}: {err}")
    return errors


def _api_names(code: str, module) -> list:
    "Public names an exported cell defines, in order"
    import ast
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    public = set(getattr(module, "__all__", []))
    return [n for n in names if not n.startswith("_") and (not public or n in public) and hasattr(module, n)]


def _repo_links(md: str) -> str:
    "Markdown links to files of the repository that are not pages (`bench/README.md`, ...) pointed at the repository"
    import configparser
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "settings.ini")
    base = f"{ini['DEFAULT']['git_url'].rstrip('/')}/blob/{ini['DEFAULT']['branch']}/"
    def fix(m):
        path = m.group(2).split("#")[0]
        if re.match(r"^[a-z]+:|^#|^images/", m.group(2)) or path.endswith(".ipynb") or not (ROOT / path).exists():
            return m.group(0)
        return f"{m.group(1)}{base}{m.group(2)})"
    return re.sub(r"(\]\()([^)\s]+)\)", fix, md)


def process_nb(name: str) -> dict:
    """`_proc/<name>`: the executed copy with a frontmatter cell, without hidden cells or directives, and the
    signature and parameters of every exported function and class after its cell (`nbdev.showdoc`). Nothing runs."""
    import importlib
    import nbformat
    import yaml
    from nbdev.showdoc import show_doc
    nb = nbformat.read(str(BUILD / name), as_version=4)
    front, cells, module = {}, [], None
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first is not None:
        m = re.match(r"#\s+(.+?)\s*(?:\n+>\s*(.+?))?\s*(?:\n\n|$)", first.source, re.S)
        if m:
            front = {"title": m.group(1).strip(), **({"description": " ".join(m.group(2).split())} if m.group(2) else {})}
            first.source = first.source[m.end():]
    for c in nb.cells:
        if c.cell_type != "code":
            if c.source.strip():
                c.source = _repo_links(re.sub(r'(\]\(|src=["\'])' + re.escape(IMAGES), r"\1images/", c.source))
                cells.append(c)
            continue
        flags = re.findall(r"^#\|\s*(.+?)\s*$", c.source, re.M)
        if any(f.startswith("default_exp") for f in flags):
            module = importlib.import_module("ctml_nb." + flags[0].split()[1])
            front["module"] = module.__name__
            continue
        if "hide" in flags:
            continue
        exported = "export" in flags
        c.source = re.sub(r"^#\|.*\n?", "", c.source, flags=re.M).strip()
        if not c.source:
            continue
        if exported and module is not None:   # documentation first, as nbdev's pages show it; the source folded below
            for n in _api_names(c.source, module):
                cells.append(nbformat.v4.new_markdown_cell(show_doc(getattr(module, n), title_level=3)._repr_markdown_()))
            if not c.get("outputs"):
                c = nbformat.v4.new_markdown_cell(f'<details class="ctml-source"><summary>source</summary>'
                                                  f'<pre><code class="language-python">{html.escape(c.source)}</code></pre></details>')
        cells.append(c)
    fm = {k: v for k, v in front.items() if k in ("title", "description")}
    nb.cells = [nbformat.v4.new_raw_cell("---\n" + yaml.safe_dump(fm, allow_unicode=True, width=1000) + "---")] + cells
    PROC.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(PROC / name))
    return front


def process(names: list) -> dict:
    "Every page processed into `_proc/`, with the site's Quarto files; {name: frontmatter}"
    import configparser
    shutil.rmtree(PROC, ignore_errors=True)
    fronts = {n: process_nb(n) for n in names}
    for f in SITE_FILES:
        if (NBS / f).exists():
            shutil.copy2(NBS / f, PROC / f)
    if (ROOT / IMAGES).is_dir():   # the pictures the pages show, where their links (rewritten above) point
        shutil.copytree(ROOT / IMAGES, PROC / "images", dirs_exist_ok=True)
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "settings.ini")
    c = ini["DEFAULT"]
    (PROC / "nbdev.yml").write_text(   # what nbdev's refresh_quarto_yml writes, from settings.ini
        f"project:\n  output-dir: {c['doc_path']}\n\nwebsite:\n  title: \"{c['title']}\"\n"
        f"  site-url: \"{c['doc_host']}{c['doc_baseurl']}\"\n  description: \"{c['description']}\"\n"
        f"  repo-branch: {c['branch']}\n  repo-url: \"{c['git_url']}\"\n", encoding="utf-8")
    return fronts


_CSS = """
body { margin: 0; }
nav.ctml-side { position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; padding: 1rem;
  background: #f7f7f9; border-right: 1px solid #ddd; font: 14px/1.45 system-ui, sans-serif; box-sizing: border-box; }
nav.ctml-side a { color: #2a5db0; text-decoration: none; display: block; padding: 1px 0; }
nav.ctml-side a.current { font-weight: 600; color: #111; }
nav.ctml-side h2 { font-size: 15px; margin: 0 0 .6rem; } nav.ctml-side h3 { font-size: 12px; text-transform: uppercase;
  color: #666; margin: .9rem 0 .2rem; }
main, body > .jp-Notebook { margin-left: 260px !important; }
.ctml-module { color: #555; font: 13px monospace; margin: 0 0 1rem; }
.ctml-failed { background: #fdecea; border: 1px solid #e6a19a; padding: .5rem 1rem; }
#ctml-search { width: 100%; box-sizing: border-box; margin: 0 0 .4rem; padding: 3px 6px; font: inherit; }
#ctml-results a { font-size: 13px; border-bottom: 1px solid #eee; } #ctml-results:empty { display: none; }
details.ctml-source > summary { cursor: pointer; color: #666; font-size: 13px; }
"""

# The search box: plain script over `search.js` (the index `search_index` writes), results written as text
_SEARCH_UI = """(function(){
const box=document.getElementById('ctml-search'), out=document.getElementById('ctml-results');
if(!box||!out)return;
box.addEventListener('input',()=>{
  const terms=box.value.toLowerCase().split(/\\s+/).filter(t=>t.length>1), hits=[];
  out.replaceChildren();
  if(!terms.length)return;
  if(!window.CTML_SEARCH){out.textContent='The search index (search.js) is missing.';return;}
  for(const p of window.CTML_SEARCH)for(const [a,h,w] of p.sections){
    const head=(p.title+' '+h).toLowerCase(), hay=head+' '+w;
    if(terms.every(t=>hay.includes(t)))hits.push([terms.filter(t=>head.includes(t)).length,p,a,h]);
  }
  hits.sort((x,y)=>y[0]-x[0]);
  for(const [,p,a,h] of hits.slice(0,20)){const l=document.createElement('a');
    l.href=p.page+(a?'#'+encodeURIComponent(a):'');l.textContent=p.title+(h&&h!==p.title?' \\u203a '+h:'');out.appendChild(l);}
  if(!hits.length)out.textContent='No page matches.';
});
})();"""


def _nav(pages: list, current: str, titles: dict) -> str:
    out, section = ['<nav class="ctml-side"><h2><a href="index.html">ctml-nb</a></h2>'
                    '<input type="search" id="ctml-search" placeholder="Search the docs" aria-label="Search the docs">'
                    '<div id="ctml-results" aria-live="polite"></div>'], None
    for sec, name in pages:
        if sec != section and sec:
            out.append(f"<h3>{html.escape(sec)}</h3>")
        section = sec
        page = Path(name).stem + ".html"
        cls = ' class="current"' if name == current else ""
        out.append(f'<a href="{page}"{cls}>{html.escape(titles.get(name, Path(name).stem))}</a>')
    return "\n".join(out) + "</nav>"


def render_fallback(pages: list, out: Path, errors: dict, fronts: dict):
    "nbconvert's HTML of each processed notebook, with the sidebar's navigation"
    import nbformat
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    titles = {name: str(fronts[name].get("title") or Path(name).stem) for _, name in pages}
    out.mkdir(parents=True, exist_ok=True)
    for _, name in pages:
        nb = nbformat.read(str(PROC / name), as_version=4)
        nb.cells = [c for c in nb.cells if not (c.cell_type == "raw" and c.source.startswith("---"))]
        for c in nb.cells:   # show_doc's Quarto link attributes, in plain HTML
            if c.cell_type == "markdown":
                c.source = re.sub(r"\[source\]\(([^)\s]+?)(?:#LNone)?\)\{[^}]*\}",
                                  r'<a href="\1" style="float:right;font-size:smaller">source</a>', c.source)
        front = fronts[name]
        head = [f"<h1>{html.escape(titles[name])}</h1>"]
        if front.get("description"):
            head.append(f"<p><em>{html.escape(str(front['description']))}</em></p>")
        if front.get("module"):
            head.append(f'<p class="ctml-module">module <code>{html.escape(front["module"])}</code> · '
                        f'source <code>nbs/{html.escape(name)}</code></p>')
        if name in errors:
            head.append(f'<p class="ctml-failed">This notebook stopped with an error when the site was built: '
                        f'{html.escape(errors[name])}</p>')
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(head)))   # escaped HTML: the page's header
        page, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": titles[name]}})
        page = re.sub(r'href="(?![a-z]+:|#)([^"#]+)\.ipynb(#[^"]*)?"', lambda x: f'href="{x.group(1)}.html{x.group(2) or ""}"', page)
        page = page.replace("</head>", f"<style>{_CSS}</style></head>", 1)
        page = re.sub(r"(<body[^>]*>)", lambda x: x.group(1) + _nav(pages, name, titles), page, count=1)
        page = page.replace("</body>", f'<script src="search.js"></script><script>{_SEARCH_UI}</script></body>', 1)
        (out / (Path(name).stem + ".html")).write_text(page, encoding="utf-8")
    img = ROOT / IMAGES
    if img.is_dir():
        shutil.copytree(img, out / "images", dirs_exist_ok=True)
    search_index(out, [Path(n).stem + ".html" for _, n in pages], titles={Path(n).stem + ".html": t for n, t in titles.items()})


class _Page(HTMLParser):
    "A built page's anchors, links and images, and its text by section (for the search index)"
    REFS = {"a": "href", "img": "src", "link": "href", "script": "src", "iframe": "src", "source": "src"}
    SKIP = {"script", "style", "nav", "svg"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids, self.refs, self.sections, self._skip, self._head = set(), [], [["", "", []]], 0, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("id", "name"):
            if a.get(k) and (k == "id" or tag == "a"):
                self.ids.add(a[k])
        if self.REFS.get(tag) in a and a[self.REFS[tag]] is not None:
            self.refs.append((tag, self.REFS[tag], a[self.REFS[tag]]))
        if tag in self.SKIP:
            self._skip += 1
        elif tag in ("h1", "h2", "h3") and not self._skip:
            self._head = [a.get("id") or "", "", []]
            self.sections.append(self._head)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in ("h1", "h2", "h3"):
            self._head = None

    def handle_data(self, data):
        if self._skip:
            return
        if self._head is not None:
            self._head[1] += data
        self.sections[-1][2].append(data)


def search_index(site: Path, pages: list, titles: dict) -> Path:
    "`site/search.js`: every page's sections (anchor, heading, their distinct words), for the offline search box"
    entries = []
    for name in pages:
        p = _Page((site / name).read_text(encoding="utf-8"))
        secs = []
        for anchor, head, text in p.sections:
            words = list(dict.fromkeys(w for w in re.findall(r"[\w.]{3,}", " ".join(text).lower()) if not w.isdigit()))
            if head.strip() or words:
                secs.append([anchor, " ".join(head.replace("\u00b6", "").split()), " ".join(words)])
        entries.append({"page": name, "title": titles.get(name, Path(name).stem), "sections": secs})
    import json
    out = site / "search.js"
    out.write_text("window.CTML_SEARCH = " + json.dumps(entries, ensure_ascii=True).replace("</", "<\\/") + ";\n", encoding="utf-8")
    return out


def broken_links(
    site: Path,              # A built site folder
    not_built: tuple = (),   # Pages of the sidebar left out of this build (`--only`): links to them are not broken
) -> list:                   # One line per link, image or anchor that leads nowhere
    "Every link, image, stylesheet and script of every page of `site` that points at a missing file or anchor"
    site = Path(site).resolve()
    pages = {p.resolve(): _Page(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(site.rglob("*.html"))}
    problems = []
    for page, parsed in pages.items():
        where = page.relative_to(site)
        for tag, attr, url in parsed.refs:
            u = urlsplit(url.strip())
            if u.scheme in ("http", "https", "mailto", "data") or url.strip().startswith("//"):
                continue   # outside the site (a checker that goes online would fail offline CI)
            if u.scheme:
                problems.append(f"{where}: <{tag} {attr}={url!r}>: a {u.scheme}: link")
                continue
            target = (page.parent / unquote(u.path)).resolve() if u.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(site) or not target.exists():
                if target.name not in not_built:
                    problems.append(f"{where}: <{tag} {attr}={url!r}>: {target.relative_to(site) if target.is_relative_to(site) else target} is not there")
                continue
            if u.fragment and target in pages and unquote(u.fragment) not in pages[target].ids:
                problems.append(f"{where}: <{tag} {attr}={url!r}>: {target.relative_to(site)} has no anchor #{unquote(u.fragment)}")
    return problems


def render_quarto(out: Path):
    "The site nbdev_docs builds: `quarto render` of the processed notebooks (README.md untouched)"
    subprocess.run(["quarto", "render", "--no-cache"], cwd=PROC, check=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(PROC / "_docs"), str(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "_docs"), help="site folder (default: _docs)")
    p.add_argument("--only", nargs="*", help="build these notebooks only, e.g. index.ipynb (a quick check)")
    p.add_argument("--workers", type=int, default=2, help="notebooks executed at once")
    p.add_argument("--force", action="store_true", help="execute every notebook again")
    p.add_argument("--no-quarto", action="store_true", help="use nbconvert even where Quarto is installed")
    p.add_argument("--work", help="folder of the executed and processed copies (default: the project's _docs_build/, _proc/)")
    args = p.parse_args(argv)
    global BUILD, PROC
    if args.work:
        BUILD, PROC = Path(args.work).resolve() / "nbs", Path(args.work).resolve() / "proc"
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [x for x in [os.environ.get("PYTHONPATH")] if x])
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"   # plots inline, whatever make exports
    pages = sidebar()
    if args.only:
        pages = [(s, n) for s, n in pages if n in args.only or Path(n).stem in args.only]
        if not pages:
            p.error(f"--only {args.only}: none of them is in nbs/sidebar.yml")
    t0 = time.perf_counter()
    errors = execute_all([n for _, n in pages], args.workers, args.force)
    fronts = process([n for _, n in pages])
    out = Path(args.out)
    quarto = shutil.which("quarto") and not args.no_quarto
    if quarto:
        render_quarto(out)
    else:
        render_fallback(pages, out, dict(e.split(": ", 1) for e in errors), fronts)
    how = "Quarto" if quarto else "nbconvert (no Quarto on the PATH)"
    print(f"docs: {len(pages)} pages with {how} in {time.perf_counter() - t0:.0f} s: {out / 'index.html'}")
    built = {Path(n).stem + ".html" for _, n in pages}
    broken = broken_links(out, tuple(Path(n).stem + ".html" for _, n in sidebar() if Path(n).stem + ".html" not in built))
    print(f"docs: links and images checked on {len(list(out.rglob('*.html')))} pages: {len(broken)} broken"
          + "".join(f"\n  {b}" for b in broken))
    if errors:
        print("docs: these notebooks failed while executing (their pages show where):\n  " + "\n  ".join(errors))
    return 1 if errors or broken else 0


if __name__ == "__main__":
    sys.exit(main())
