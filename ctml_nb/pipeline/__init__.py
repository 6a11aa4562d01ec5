"""The retraining pipeline: config schema, builders, preflight, journal, alerts, steps, runner, batches

Users import from here (`from ctml_nb.pipeline import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .config import (
    COMPONENTS, DEFAULT_COMPONENTS, DataConfig, ModelConfig, TrustConfig, ComponentSpec, PipelineConfig,
    EngineConfig, engine_spec, value_repr, check_type, from_dict, ImportScope, pipeline_importable, import_plugins,
    component_specs, check_names, parse_config, load_config, config_path, is_ref, load_source, feature_columns,
)
from .builders import (
    check_call, component_class, task_defaults, check_drift, pipeline_registry, validate_config,
)
from .preflight import (
    source_head, check_values, time_spans, check_time_spans, model_task, build_components, check_metrics,
    check_columns, check_rows, check_folder, check_registry, check_trust, check_engine, check_alerts, PreflightReport,
    preflight, check_history, check_first_cycle,
)
from .model_check import (
    check_model_fit, missing_tolerated,
)
from .policy_config import (
    FIRST_MODEL, build_component, config_task, build_trigger, build_strategy, build_gate, build_holdout, new_model,
    policy_from_config, component_spec, policy_to_config, replay_options, backtest_config, first_cycle_rows,
    first_model_wait, first_batch_rows, feed_label_times, feed_delays,
)
from .journal import (
    REQUEST_ID, queue_dir, request_retrain, queued_requests, consume_requests, requeue_requests,
    legacy_request_path, migrate_requests, journal_path, predictions_digest, write_journal, read_promotion,
    begin_promotion, update_promotion, recover_promotion, sign_cursor, last_cursor, resign_cursors,
)
from .alerts import (
    EVENTS, MAX_RESPONSE, NOTIFIERS, run_events, NotifierConfig, EventRoute, AlertsConfig, parse_alerts,
    AlertMessage, build_message, slack_escape, within, WebhookNotifier, SlackNotifier, TeamsNotifier,
    AppriseNotifier, register_notifier, make_notifier, alert_state_path, notify_run,
)
from .steps import (
    RECORD_MIME, BANNER_TAG, INLINE_BACKEND, ENGINE_ENV, KERNEL_LOG, REGISTRY_LOG, record_bundle, record,
    read_records, library_versions, RunHeader, audit_notebook, mark_failed, StepResult, kernel_env, step_engine,
    logged_kernels, readable_parameters, execute_step,
)
from .run_record import (
    LIFTED, REQUIRED_VALUES, Values, load_values, load_run_config, RunRecord, now_iso, append_index, read_index, run_records,
    find_run,
)
from .runner import (
    RUNNER_PARAMETERS, REQUESTS_SEEN, list_templates, StepInputs, acted_on, registry_champion, restore_champion,
    CycleLocked, run_cycle, close_abandoned, cycle_lock_held, recover, rotate_signing_key,
)
from .context import (
    TRIGGER_STATE, DRIFT_PROFILE, CANDIDATE, GATE_DECISION, Context, open_context, champion, pending_requests,
    champion_state, retrain_history, cycle_state, cycle_reference, served_estimate, served_scores,
    save_trigger_state, restore_trigger_state, fit_reference, reference_detector, training_split,
    retrain_candidate, save_candidate, load_candidate, champion_tags, register_challenger, promote_candidate,
    deploy_version, batch_drift,
)
from .batches import (
    read_cursor, label_mark, CycleData, open_pipeline_source, count_upto, cycle_data, extend,
)
from .pending import (
    PENDING_TAG, pending_text, register_pending, pending_challenger, settle_pending,
)
from .label_feed import (
    LEDGER_FILE, SERVED_DIR, COMPACT_PARTS, ledger_path, attach_labels, check_label_feed, served_index,
    ingest_labels, given_up_rows,
)
from .estimate_error import (
    batch_span, settled_entry, realised_on, settle_estimates, settled_of, window_of, error_summary, recent_settled,
    estimate_error_value, cycle_estimate_error,
)
from .estimators import (
    ESTIMATORS_DIR, estimator_file, champion_estimator, stored_estimators, estimate_settings,
)
from .tuning import (
    expressible, PipelineTuneResult, tune_config,
)
from .parameters import (
    declared_parameters, check_parameters, parse_parameter,
)
