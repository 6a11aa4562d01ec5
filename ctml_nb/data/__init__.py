"""Data in: content-addressed snapshots, schemas and validation, typed sources with their cursor, bundled datasets

Users import from here (`from ctml_nb.data import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .datasets import (
    ELEC2_SHA256, ELEC2_COLUMNS, DRIFT_PAIR_MATERIAL, DRIFT_PAIR_NEGLIGIBLE, DRIFT_PAIR_NAN_COLUMN,
    DRIFT_PAIR_NAN_RATE, DRIFT_KINDS, PUBLIC_TABLES, load_elec2, DriftTruth, make_drift_pair, drift_stream,
    PublicTable, public_table,
)
from .snapshots import (
    HASH_FORMAT, content_hash, Snapshot, SnapshotStore, save_snapshot, load_snapshot,
)
from .validation import (
    SEVERITIES, CHECKS, DEFAULT_SEVERITY, ONE_CLASS_MIN_ROWS, dtype_kind, ColumnSchema, TargetSchema, DataSchema,
    infer_schema, Violation, ValidationReport, to_pandera, validate, accept_classes,
)
from .sources import (
    LATE_POLICIES, encode_positions, plain_position, decode_position, encode_position, next_position, give_up_at, row_ranges,
    in_row_ranges, Batch, Labels, Source,
)
from .source_files import (
    FilesSource,
)
from .source_kinds import (
    SOURCES, FileSource, FolderSource, DatasetSource, CallableSource, open_source,
)
from .labels import (
    LABEL_POLICIES, LabelFeedError, check_policies, LabelFeedConfig, check_feed_config, check_max_wait, key_strings, open_feed,
    feed_head, check_delivery, LabelLedger, join_delivery, LabelJoin, with_label_join, delay_summary, label_kind,
    join_history,
)
from .history import (
    read_history, load_history, mark_times,
)
