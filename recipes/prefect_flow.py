"""A Prefect flow that runs one ctml-nb cycle with `ctml run` and maps its exit code to a Prefect state.

`ctml run` keeps what an orchestrator cannot: the pipeline's lock, the run record (`runs/<run_id>/run.json`), the
executed notebooks and the champion protection. Prefect only schedules it and reads its exit code:

    0  the cycle succeeded or was skipped (nothing fired)   -> Completed
    1  the cycle failed; run.json says why                  -> Failed (the champion was kept)
    2  usage or config error, nothing ran                   -> Failed, not retried: fix the file
    3  another cycle of the pipeline holds the lock         -> Completed (the task state is named "Skipped"): nothing started
    4  other ctml-nb error (registry, unreadable file)      -> Failed
    130 interrupted                                          -> Failed

Run it once: `python recipes/prefect_flow.py /srv/elec2/pipeline.yaml`; serve it on a schedule (Prefect 2.14+ or 3):
`python recipes/prefect_flow.py /srv/elec2/pipeline.yaml --serve "*/30 * * * *"`. Needs `pip install prefect` in the
orchestrator's environment, and `ctml` (ctml-nb) on its PATH or given with `ctml=...`.
"""
from __future__ import annotations

import subprocess
import sys

from prefect import flow, get_run_logger, task
from prefect.states import Completed, Failed

# The exit codes of `ctml run` (ctml_nb.cli.EXIT_CODES; tests/test_recipes.py checks they agree)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


@task(name="ctml run", retries=0)
def ctml_cycle(config: str, ctml: str = "ctml", timeout: float | None = None):
    "One `ctml run`; its output goes to the Prefect log and its exit code decides the state"
    log = get_run_logger()
    proc = subprocess.run([ctml, "run", "--config", config, "--no-progress"], capture_output=True, text=True,
                          timeout=timeout)
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info(line)
    if proc.returncode == EXIT_OK:
        return Completed(message=(proc.stdout.strip().splitlines() or ["cycle done"])[0])
    if proc.returncode == EXIT_LOCKED:
        return Completed(name="Skipped", message="another cycle of this pipeline is running: nothing was started")
    what = {EXIT_FAILED: "the cycle failed (see run.json; the champion was kept)",
            EXIT_USAGE: "config or usage error, nothing ran: fix the pipeline file"}.get(proc.returncode, "ctml error")
    return Failed(message=f"ctml run exited {proc.returncode}: {what}: {proc.stderr.strip()[-500:]}")


@flow(name="ctml-nb cycle")
def ctml_flow(config: str, ctml: str = "ctml", timeout: float | None = None):
    "Run one continuous-training cycle of the pipeline `config`"
    return ctml_cycle(config, ctml=ctml, timeout=timeout, return_state=True)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[2] == "--serve":
        ctml_flow.serve(name="ctml-nb", cron=sys.argv[3], parameters={"config": sys.argv[1]})
    else:
        ctml_flow(sys.argv[1])
