"""What people read: text views, plots, HTML reports, the runs page, widgets

Users import from here (`from ctml_nb.reports import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .text import (
    version_text, number_text, when_text, runs_table, labels_text, estimate_error_lines, record_text, print_drift,
    backtest_rows,
)
from .plots import (
    COLORS, OUTCOMES, run_outcome, load_run, run_history, plot_metric_history, plot_history, drift_history,
    drift_ranking, plot_drift_heatmap, plot_gate,
)
from .html import (
    WIDGET_MIME, notebook_figures, figure_html, run_summary_html, static_outputs, run_report_html,
    write_run_report,
)
from .runs_page import (
    SHORT, runs_rows, runs_page_html, write_runs_page, missing_reports, host_allowed, runs_server,
)
from .widgets import (
    drift_report_from_dict, flips, DriftExplorer, RunBrowser, PolicyExplorer,
)
