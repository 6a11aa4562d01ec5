"""Old flat module paths (`ctml_nb.profile`, `ctml_nb.runner`, ...) still import, for one release, with a DeprecationWarning

The modules moved into subpackages (issue 21). Copied templates, pickles and user code that name an old path get the
new module itself (the same object, so patching it patches the real one). Written by the restructure script.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# old flat module -> its module now
MOVED = {
    'gate.sequential': 'policy.sequential',
    'datasets': 'data.datasets',
    'validation': 'data.validation',
    'sources': 'data.sources',
    'source_files': 'data.source_files',
    'stats': 'drift.stats',
    'profile': 'drift.profile',
    'drift_columns': 'drift.columns',
    'current_profile': 'drift.current',
    'engines': 'drift.engines',
    'drift_report': 'drift.report',
    'drift_dask': 'drift.dask_engine',
    'detectors': 'drift.streaming',
    'triggers': 'policy.triggers',
    'vetoes': 'policy.vetoes',
    'drift_triggers': 'policy.drift_triggers',
    'strategies': 'policy.strategies',
    'loop': 'policy.loop',
    'backtest': 'policy.backtest',
    'policies': 'policy.policies',
    'hindsight': 'policy.hindsight',
    'tune': 'policy.tune',
    'evaluation': 'gate.evaluation',
    'promotion': 'gate.promotion',
    'experiments': 'gate.experiments',
    'sequential': 'gate.sequential',
    'registry_api': 'registry.api',
    'mlflow_registry': 'registry.mlflow_backend',
    'model_files': 'registry.model_files',
    'lineage': 'registry.lineage',
    'registry_verify': 'registry.verify',
    'config': 'pipeline.config',
    'preflight': 'pipeline.preflight',
    'policy_config': 'pipeline.policy_config',
    'journal': 'pipeline.journal',
    'alerts': 'pipeline.alerts',
    'steps': 'pipeline.steps',
    'runner': 'pipeline.runner',
    'batches': 'pipeline.batches',
    'pending': 'pipeline.pending',
    'run_views': 'reports.text',
    'plots': 'reports.plots',
    'runs_page': 'reports.runs_page',
    'widgets': 'reports.widgets',
}


class _Alias(importlib.abc.Loader):
    def __init__(self, new:str): self.new = new
    def create_module(self, spec):
        warnings.warn(f"`{spec.name}` moved to `ctml_nb.{self.new}` (or import from its package); "
                      "the old path will be removed in the next release", DeprecationWarning, stacklevel=2)
        return importlib.import_module(f"ctml_nb.{self.new}")
    def exec_module(self, module): pass


class MovedModules(importlib.abc.MetaPathFinder):
    "Finds `ctml_nb.<old>` for the modules in `MOVED` (and nothing else, so it can go first)"
    def find_spec(self, fullname, path=None, target=None):
        lib, _, name = fullname.partition(".")   # a flat name (`profile`) or a dotted one (`gate.sequential`)
        if lib != "ctml_nb" or name not in MOVED: return None
        return importlib.util.spec_from_loader(fullname, _Alias(MOVED[name]))


def install():
    "Add the finder once, first in `sys.meta_path` (an editable install's finder would map an old path elsewhere)"
    if not any(isinstance(f, MovedModules) for f in sys.meta_path): sys.meta_path.insert(0, MovedModules())
