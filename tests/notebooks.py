"Small notebooks for the runner's fault tests (a helper module: pytest collects only test_*.py files)."
import nbformat


def write_template(path, *cells):
    "A template at `path`: the first cell is tagged `parameters`, the others plain code cells"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "python3"}})
    nb.cells = [nbformat.v4.new_code_cell(c, metadata={"tags": ["parameters"]} if i == 0 else {})
                for i, c in enumerate(cells)]
    nbformat.write(nb, str(path))
