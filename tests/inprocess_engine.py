"""A papermill engine that runs a notebook in the calling process (execnb's `CaptureShell`), for the tests.

`tests/conftest.py` selects it for the whole suite through `CTML_PAPERMILL_ENGINE=inprocess_engine:InProcessEngine`
(see `ctml_nb.pipeline.steps.step_engine`), and puts this folder on `PYTHONPATH`, so `ctml run` subprocesses started by a test
use it too. A template step then costs its own work, not a kernel start and a fresh import of pandas and
scikit-learn (about 3 s of CPU each). Tests where the kernel itself is the subject (timeouts, dead kernels, kills,
the demo, the browser, one README walkthrough) carry `@pytest.mark.kernel` and run in real Jupyter kernels;
`tests/test_engines.py` runs the same cycles with both engines and compares their records.

What it keeps from papermill's kernel engine: a fresh namespace per notebook, the cells run in order in `cwd` (papermill
changes into it) with that folder importable, each cell's outputs (streams, displays with every MIME type, the
result, the error) written into the executed notebook in nbformat's shape with an execution count and papermill's cell
metadata, execution stopping at the first error (papermill then saves the notebook with its banner and raises
`PapermillExecutionError`, as for a kernel), and a cell past `execution_timeout` interrupted with nbclient's
`CellTimeoutError` (main thread only: it uses SIGALRM). What it cannot do: survive a cell that kills the process,
or isolate module state (`sys.modules` is shared; modules imported from `cwd` or from a pipeline folder the notebook put on
`sys.path` are forgotten after the notebook, by `ctml_nb.pipeline.config.ImportScope`).
"""
import importlib
import math
import os
import signal
import sys
import threading
from pathlib import Path

import nbformat
from papermill.engines import Engine

ENGINE = "inprocess_engine:InProcessEngine"  # the value of $CTML_PAPERMILL_ENGINE that selects this engine


class _CellTimeout(BaseException):
    "Raised by SIGALRM in a cell past its timeout (a BaseException, so the cell's own `except Exception` misses it)"


def _text(v): return "".join(v) if isinstance(v, list) else v


def _outputs(res, count:int)->list:
    "execnb's outputs for one cell as nbformat outputs (strings, not lists of lines, as nbclient writes them)"
    outs = []
    for o in res:
        kind = o["output_type"]
        if kind == "stream": outs.append(nbformat.v4.new_output("stream", name=o["name"], text=_text(o["text"])))
        elif kind == "error":
            outs.append(nbformat.v4.new_output("error", ename=o["ename"], evalue=o["evalue"], traceback=o["traceback"]))
        else:
            data = {k: _text(v) if k.startswith("text/") else v for k, v in o["data"].items()}
            extra = {"execution_count": count} if kind == "execute_result" else {}
            outs.append(nbformat.v4.new_output(kind, data=data, metadata=o.get("metadata") or {}, **extra))
    return outs


class _Restore:
    "Process state a notebook may change, put back afterwards: sys.path, IPython's shell instance, matplotlib"
    def __init__(self, cwd:str):
        from IPython.core.interactiveshell import InteractiveShell
        self.cwd, self.path, self.modules = cwd, list(sys.path), set(sys.modules)
        self.instance = InteractiveShell._instance
        self.mpl = None
        if "matplotlib" in sys.modules:
            import matplotlib
            self.mpl = (matplotlib.get_backend(), matplotlib.is_interactive())

    def __call__(self):
        from IPython.core.interactiveshell import InteractiveShell
        from ctml_nb.pipeline.config import ImportScope
        # sys.path back; the modules imported from `cwd` or a pipeline folder the notebook added: another test has others
        ImportScope(Path(self.cwd).resolve(), self.path, self.modules).close()
        InteractiveShell._instance = self.instance
        if "matplotlib" in sys.modules:
            import matplotlib
            import matplotlib.pyplot as plt
            plt.close("all")
            backend, interactive = self.mpl or (os.environ.get("MPLBACKEND") or "agg", False)
            if backend.startswith("module://matplotlib_inline"): backend = "agg"
            plt.switch_backend(backend)
            matplotlib.interactive(interactive)


def _shell():
    "A `CaptureShell` whose history is off from the start (execnb's own starts a history thread per shell)"
    from execnb.shell import CaptureShell
    from IPython.core.history import HistoryManager
    class Shell(CaptureShell):
        def init_history(self):
            self.history_manager = HistoryManager(shell=self, parent=self, enabled=False)
            self.configurables.append(self.history_manager)
    return Shell()


class InProcessEngine(Engine):
    "papermill engine: the notebook's cells run in this process, in a fresh execnb `CaptureShell`"

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, execution_timeout=None, **kwargs):
        from nbclient.exceptions import CellTimeoutError
        cwd = os.getcwd()  # papermill has changed into the notebook's working folder
        restore = _Restore(cwd)
        importlib.invalidate_caches()
        shell = _shell()
        sys.path.insert(0, cwd)
        alarm = bool(execution_timeout) and threading.current_thread() is threading.main_thread()
        count = 0
        try:
            for i, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip(): continue
                nb_man.cell_start(cell, i)
                count += 1
                if alarm:
                    def _expired(*_): raise _CellTimeout()
                    previous = signal.signal(signal.SIGALRM, _expired)
                    signal.alarm(max(1, math.ceil(execution_timeout)))
                try: res = shell.run(cell.source)
                finally:
                    if alarm: signal.alarm(0); signal.signal(signal.SIGALRM, previous)
                cell.execution_count = count
                if isinstance(shell.exc, _CellTimeout):  # nbclient's own error, so the runner words it as for a kernel
                    nb_man.cell_complete(cell, i)
                    raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", execution_timeout,
                                                                       cell)
                cell.outputs = _outputs(res, count)
                error = shell.exc is not None and "raises-exception" not in cell.metadata.get("tags", [])
                if error: nb_man.cell_exception(cell, cell_index=i, exception=shell.exc)
                nb_man.cell_complete(cell, i)
                if error: break
        finally: restore()
