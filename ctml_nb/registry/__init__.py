"""Where models live: the registry interface, its file and MLflow backends, model files, lineage, verification

Users import from here (`from ctml_nb.registry import ...`); the modules below import each other
by module, never through this file.
"""
# Written by the restructure script from each module's `__all__`; edit the notebooks, then re-run it
from .api import (
    STATUS_TAG, REJECTED, RUN_ENV, LOG_ENV, PENDING, valid_name, check_name, check_alias, utc_stamp, ModelVersion,
    Registry,
)
from .files import (
    ModelRegistry, FORMATS,
)
from .mlflow_sqlite import (
    SqliteReader,
)
from .mlflow_backend import (
    RECORD, HISTORY, STACK, IDENTITY, mlflow_model_files, MlflowRegistry,
)
from .backends import (
    REGISTRIES, registry_class, open_registry,
)
from .model_files import (
    KEY_ENV, KEY_FILE_ENV, KEY_ANY_MODE_ENV, MIN_KEY_BYTES, dump_model, load_model, read_verified, check_key_file,
    default_key_file, signing_key, sign, check_signature, write_signed, read_signed,
)
from .lineage import (
    environment, git_info, Lineage, lineage, verify_registry,
)
from .verify import (
    SignedRecords, VerifiedLoads,
)
