"""The `ctml` command, one module per command group (`run`, `runs`, `registry`, `policy`, `drift`) on `common`, with `app` (the parser and `main`) on top

Scripts import from here (`from ctml_nb.cli import main, EXIT_OK`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .common import (
    EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_CODES, print_record, say,
)
from .run import (
    cmd_run, cmd_retrain, cmd_schedule, add_run_commands,
)
from .runs import (
    cmd_runs, cmd_show, cmd_report, cmd_ui, runs_src, add_runs_commands,
)
from .registry import (
    cmd_registry, add_registry_commands,
)
from .policy import (
    cmd_backtest, cmd_tune, add_policy_commands,
)
from .drift import (
    cmd_drift, cmd_demo, add_drift_commands,
)
from .app import (
    build_parser, os_error_message, main,
)
