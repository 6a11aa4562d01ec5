"""Whether a challenger replaces the champion: evaluation, the promotion gate, online experiments

Users import from here (`from ctml_nb.gate import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .evaluation import (
    METRICS, get_metric, ModelOutputs, model_outputs, metric_suite, evaluate, check_lengths, PairedTest,
    outputs_for, bootstrap_replicates, percentile_interval, bootstrap_p_value, check_bootstrap, paired_bootstrap,
    mcnemar_test, paired_ttest, wilcoxon_test, slice_masks, compare,
)
from .promotion import (
    TESTS, SCORES, PromotionPolicy, validate_policy, decision_status, PromotionDecision,
)
from .experiments import (
    PeekingWarning, ABTestResult, ab_test, ab_test_frame, SampleSize, power_at, sample_size, ShadowReport,
    shadow_analysis,
)
# kept: `ctml_nb.gate.sequential` moved to `ctml_nb.policy.sequential`; its names import from here for one release
from ..policy.sequential import (
    cs_radius, Evidence, Verdict, SequentialTest,
)
