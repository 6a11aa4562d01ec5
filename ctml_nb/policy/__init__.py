"""When and how to retrain: triggers and vetoes, strategies, the step loop, backtests, policies, hindsight and tuning

Users import from here (`from ctml_nb.policy import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .triggers import (
    ModelState, parse_span, check_count, fmt_span, span_text, check_thresholds, TriggerDecision, Trigger, as_time,
    elapsed_since, IntervalTrigger, DataVolumeTrigger, RetrainRequest, OnDemandTrigger, AnyOf, AllOf,
)
from .vetoes import (
    Cooldown, Budget,
)
from .drift_triggers import (
    PerformanceTrigger, DataDriftTrigger,
)
from .estimated_trigger import (
    EstimatedPerformanceTrigger,
)
from .sequential import (
    cs_radius, Evidence, Verdict, SequentialTest,
)
from .strategies import (
    RetrainResult, final_estimator, fit_with_weights, RetrainStrategy, FullRetrain, Incremental, FineTune,
    HyperparameterSearch,
)
from .loop import (
    REFERENCE_ROWS, Champion, label_window, model_state, reference_rows, Holdout, training_end, retrain_model,
    gate_promotes, pending_rows, pending_retrain,
)
from .backtest import (
    Policy, BacktestResult, accuracy, batch_bounds, label_marks, backtest,
)
from .policies import (
    baseline_policies, DecayTrigger, default_policy, persistence_gap, retrain_utility, PolicyComparison,
    compare_policies,
)
from .hindsight import (
    HindsightOptimum, hindsight_optimum,
)
from .tune_space import (
    RULES, EVIDENCE, default_space, labels_late, estimated_space, refine_space, grid_space, pool_blocks, choose,
    nested_gap,
)
from .tune import (
    TuneResult, tuning_parts, tune_policy,
)
