"""Drift: two-sample statistics, reference profiles, column tests, engines, the detector, its report, streaming detectors

Users import from here (`from ctml_nb.drift import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .stats import (
    StatResult, as_numeric, category_table, quantile_edges, bin_counts, psi_from_counts,
    jensen_shannon_from_counts, hellinger_from_counts, total_variation_from_counts, chi_square_from_counts,
    ks_from_counts, wasserstein_from_quantiles, ks_test, cramer_von_mises_test, anderson_darling_test, wasserstein,
    binned_counts, psi, jensen_shannon, hellinger, total_variation, chi_square_test, adjust_pvalues,
)
from .quantiles import (
    quantile_cdf, summarise_numeric, summarise_sorted, merge_quantiles,
)
from .profile import (
    KINDS, SKETCH_K, PROFILE_THREADS, PARALLEL_MIN_ROWS, FORMAT_VERSION, infer_kind, ColumnProfile,
    category_counts, value_hashes, value_sketch, merge_sketches, profile_column, profile_columns, merge_columns,
    ReferenceProfile,
)
from .columns import (
    DRIFT_TESTS, MAX_DISCRETE, OTHER, NEW_OTHER, UNSEEN_DRIFT_SHARE, IDENTIFIER_SHARE, DriftTest, drift_test,
    ColumnPair, get_drift_test, run_drift_test, wasserstein_test, Sample, Summary, numeric_stats,
    categorical_stats, distinct_values, unseen_share, align_column,
)
from .current import (
    check_frame, CurrentProfile, excluded_columns, profile_chunk, current_from_reference,
)
from .engines import (
    Engine, LocalEngine,
)
from .engine_table import (
    ENGINES, EXTRAS, register_engine, get_engine, engine_for,
)
from .detector import (
    DriftDetector, redecide, read_parquet_batches, DriftReport,
)
from .report import (
    sort_rows, data_summary, compared_text, report_table_html, plot_report, report_html,
)
from .dask_engine import (
    LEAN_WORKERS, read_parquet, aligned, tree_merge, DaskEngine,
)
from .streaming import (
    DETECTORS, DETECTOR_NAMES, is_stream_detector, supports_warning, is_binary_detector, MissingExtraError,
    import_river, make_detector, DetectorRun, run_detector, ThresholdDetector,
)
from .estimate import (
    CBPE_METRICS, expected_calibration_error, calibration_check, calibration_p_value, fit_calibrator, expected_metric,
    PerformanceEstimate, PerformanceEstimator,
)
from .tables import (
    drift_report,
)
