"""A Dagster asset whose materialization is one ctml-nb cycle, run with `ctml run` and judged by its exit code.

`ctml run` keeps the pipeline's lock, the run record (`runs/<run_id>/run.json`), the executed notebooks and the
champion protection; Dagster schedules it and shows the run record's summary as metadata:

    0  the cycle succeeded or was skipped (nothing fired)   -> materialized, with status/reason/champion metadata
    1  the cycle failed; run.json says why                  -> Failure (the champion was kept)
    2  usage or config error, nothing ran                   -> Failure: fix the file
    3  another cycle of the pipeline holds the lock         -> not materialized (output_required=False): skipped
    4  other ctml-nb error; 130 interrupted                 -> Failure

Load it with `dagster dev -f recipes/dagster_asset.py` after setting CTML_CONFIG=/srv/elec2/pipeline.yaml (and
CTML_BIN when `ctml` is not on the PATH). Needs `pip install dagster` in the orchestrator's environment.
"""
import json
import os
import subprocess

from dagster import AssetExecutionContext, Definitions, Failure, Output, ScheduleDefinition, asset, define_asset_job

# The exit codes of `ctml run` (ctml_nb.cli.EXIT_CODES; tests/test_recipes.py checks they agree)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3

CONFIG = os.environ.get("CTML_CONFIG", "pipeline.yaml")
CTML = os.environ.get("CTML_BIN", "ctml")


def last_run(config: str = CONFIG, ctml: str = CTML) -> dict:
    "The record of the pipeline's last run (`ctml show last --json`), or {} when it cannot be read"
    proc = subprocess.run([ctml, "show", "last", "--config", config, "--json"], capture_output=True, text=True)
    try:
        return json.loads(proc.stdout) if proc.returncode == EXIT_OK else {}
    except ValueError:
        return {}


@asset(output_required=False, description="One ctml-nb continuous-training cycle (`ctml run`)")
def ctml_cycle(context: AssetExecutionContext):
    proc = subprocess.run([CTML, "run", "--config", CONFIG, "--no-progress"], capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        context.log.info(line)
    if proc.returncode == EXIT_LOCKED:   # nothing started: no materialization, the next tick tries again
        context.log.info("another cycle of this pipeline is running: skipped")
        return
    rec = last_run()
    meta = {k: str(rec.get(k)) for k in ("run_id", "status", "reason", "model_before", "model_after") if k in rec}
    if proc.returncode != EXIT_OK:
        what = {EXIT_FAILED: "the cycle failed (see run.json; the champion was kept)",
                EXIT_USAGE: "config or usage error, nothing ran: fix the pipeline file"}.get(proc.returncode, "ctml error")
        raise Failure(description=f"ctml run exited {proc.returncode}: {what}: {proc.stderr.strip()[-500:]}",
                      metadata=meta)
    yield Output(value=rec.get("run_id"), metadata=meta)


ctml_job = define_asset_job("ctml_cycle_job", selection=[ctml_cycle])
defs = Definitions(assets=[ctml_cycle], jobs=[ctml_job],
                   schedules=[ScheduleDefinition(job=ctml_job, cron_schedule="*/30 * * * *")])
