"""Soak test of the trust guarantees (issue 22): many `ctml run` cycles with random SIGKILLs, a second `ctml run` at
the same time, `ctml retrain` requests (some during a cycle), operators' `ctml registry promote/rollback`, and a
hostile webhook on 127.0.0.1 (one notifier drips a byte a second, one answers with a redirect to another host).

At the end it checks, and prints beside its counts:
- every run is recorded once: each run folder has a final `run.json` and exactly one line in the runs index;
- no request is lost or consumed twice: each id `ctml retrain` printed is in exactly one place (the queue or one run);
- every champion move is explained: by a cycle's promotion whose evaluate step recorded `promote: true` (read from
  the executed notebook), by an operator's command of this script, or by the runner or a recovery undoing a cycle's
  own promotion;
- `verify()` finds every version's signature and files OK;
- no cycle passed over a run's cursor (every cursor a run handed on was signed, and checked);
- the `Authorization` header never reached the host the webhook redirects to (`leaked`: 0). The dripping endpoint would
  hold a delivery for 100 s; `alerts.timeout: 2` cuts it (compare the cycle times with and without alerts).

    python bench/trust_soak.py --cycles 100 --seed 0      # about 20 s a cycle on an idle 2-core machine

Real kernels throughout; nothing is downloaded (the Elec2 sample ships with ctml-nb).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CTML = [sys.executable, "-c", "import sys; from ctml_nb.cli import main; sys.exit(main())"]
OPERATOR = "soak operator"


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile_webhook import serve as _server, stop as stop_server  # noqa: E402 (the alert tests' hostile webhook: one definition)


def _config(work:Path, port:int)->Path:
    cfg = work / "pipeline.yaml"
    cfg.write_text(
        "name: elec2\n"
        "data: {source: live.csv, target: target, time_column: timestamp}\n"
        "model:\n  factory: sklearn.ensemble:RandomForestClassifier\n"
        "  params: {n_estimators: 10, random_state: 0, n_jobs: 1}\n"
        "triggers:\n  - {kind: performance, params: {metric: accuracy, floor: 0.8, min_rows: 20}}\n"
        "strategy: {kind: full, params: {window: 14D}}\n"
        "promotion: {kind: gate, params: {metric: accuracy, n_boot: 200, latency_repeats: 2, min_delta: -0.02, test: none}}\n"
        "alerts:\n"
        "  notifiers: {drip: {kind: webhook, url_env: SOAK_DRIP}, hop: {kind: webhook, url_env: SOAK_HOP,\n"
        "              params: {headers_env: {Authorization: SOAK_TOKEN}}}}\n"
        "  events: {failed: [drip, hop], promoted: [drip, hop], rejected: [hop], rolled_back: [drip]}\n"
        "  cooldown: 0\n  timeout: 2\n"
        "timeout: 300\n")
    os.environ.update(SOAK_DRIP=f"http://127.0.0.1:{port}/drip", SOAK_HOP=f"http://127.0.0.1:{port}/redirect",
                      SOAK_TOKEN="Bearer soak-secret-token")
    return cfg


def _ctml(*args, **kw)->subprocess.CompletedProcess:
    return subprocess.run(CTML + list(args), capture_output=True, text=True, timeout=kw.pop("timeout", 900), **kw)


def _start(cfg:Path)->subprocess.Popen:
    "`ctml run` in its own process group (a SIGKILL of the group takes its kernels too, as an OOM kill of the job would)"
    return subprocess.Popen(CTML + ["run", "--config", str(cfg), "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def soak(cycles:int, seed:int, work:Path, kill_p:float=0.2)->dict:
    from ctml_nb.demo import demo_data
    rng, srv = random.Random(seed), _server()
    cfg = _config(work, srv.server_port)
    data = demo_data()
    n = Counter(); requests, operator_moves, exits = [], [], Counter()
    for i in range(cycles):
        data.iloc[:(14 + i) * 48].to_csv(work / "live.csv", index=False)   # one more day a cycle
        if rng.random() < 0.3:
            r = _ctml("retrain", "--config", str(cfg), "--reason", f"soak {i} before")
            requests.append(r.stdout.split("request ")[1].split(";")[0]); n["retrain requests"] += 1
        p = _start(cfg); t0 = time.monotonic()
        if rng.random() < 0.3:   # a second scheduler fires at the same time
            q = _ctml("run", "--config", str(cfg), "--no-progress"); exits[f"concurrent run exit {q.returncode}"] += 1
        if rng.random() < 0.3:   # a request while the cycle runs
            time.sleep(rng.uniform(0, 5))
            r = _ctml("retrain", "--config", str(cfg), "--reason", f"soak {i} during")
            requests.append(r.stdout.split("request ")[1].split(";")[0]); n["retrain requests during a cycle"] += 1
        if rng.random() < 0.2:   # an operator acts
            time.sleep(rng.uniform(0, 8))
            act = rng.choice(["promote", "rollback"])
            from ctml_nb.pipeline.builders import pipeline_registry
            from ctml_nb.pipeline.config import load_config
            reg = pipeline_registry(load_config(cfg))
            vs = reg.version_numbers("elec2") if reg.names() else []
            args = (["promote", str(rng.choice(vs))] if act == "promote" and vs else ["rollback"])
            r = _ctml("registry", *args, "--config", str(cfg), "--reason", f"{OPERATOR} {i}")
            operator_moves.append((args, r.returncode)); n[f"operator {args[0]} (exit {r.returncode})"] += 1
        if rng.random() < kill_p:
            time.sleep(rng.uniform(1, 25))
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL); n["SIGKILLs"] += 1
        out, err = p.communicate(timeout=900)
        exits[f"cycle exit {p.returncode}"] += 1
        n["cycles"] += 1
        print(f"cycle {i + 1}/{cycles}: exit {p.returncode} in {time.monotonic() - t0:.0f} s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    final = _ctml("run", "--config", str(cfg), "--no-progress")   # records what the last kill left
    exits[f"final cycle exit {final.returncode}"] += 1
    stop_server(srv)
    return {"counts": dict(n), "exits": dict(exits), "requests": requests, "webhook": dict(srv.hits),
            "leaked": srv.leaked, "checks": check(cfg, requests)}


def check(cfg:Path, requests:list)->dict:
    "The invariants, each a list of violations (empty: holds)"
    from ctml_nb.pipeline.builders import pipeline_registry
    from ctml_nb.pipeline.config import load_config
    from ctml_nb.pipeline.journal import queue_dir
    from ctml_nb.pipeline.runner import read_index
    from ctml_nb.pipeline.steps import read_records
    c = load_config(cfg); runs = Path(c.base_dir) / "runs"; reg = pipeline_registry(c)
    out = {}
    folders = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/run.json")}
    idx = Counter(read_index(runs, "elec2")["run_id"])
    out["runs recorded once"] = ([f"{r}: status {d['status']}" for r, d in folders.items() if d["status"] == "running"]
                                 + [f"{r}: {idx[r]} index lines" for r in folders if idx[r] != 1]
                                 + [f"{r}: in the index, no folder" for r in idx if r not in folders])
    out["cursors handed on signed"] = [f"{r}: passed over {d['cursor_from']['passed_over']}" for r, d in folders.items()
                                       if (d.get("cursor_from") or {}).get("passed_over")]   # no real run's cursor refused
    where = Counter()
    for p in list(queue_dir(runs, "elec2").glob("*.json")) + list(runs.glob("*/requests/*.json")): where[p.stem] += 1
    out["requests in exactly one place"] = [f"{r}: {where[r]} places" for r in requests if where[r] != 1]
    moves = reg.history("elec2") if reg.names() else None
    bad = []
    for _, e in (moves.iterrows() if moves is not None else []):
        if e["alias"] != "champion" or e["action"] == "confirm": continue
        why = str(e["reason"] or "")
        if why.startswith(OPERATOR) or why.startswith("restored by the ctml-nb runner") or why.startswith("recovery of run"):
            continue
        if why.startswith("health check failed"): continue   # the promote step's own rollback of its version
        mv = reg.get_version("elec2", e["to"]) if e["to"] is not None else None
        nb = next((runs / str(mv.run_id)).glob("*_evaluate.ipynb"), None) if mv is not None and mv.run_id else None
        gate = (read_records(nb).get("gate") or {}) if nb is not None else {}
        if gate.get("promote") is not True: bad.append(f"{e['time']}: {e['from']} -> {e['to']} ({why[:80]}): no checked promotion")
    out["champion moves explained"] = bad
    v = reg.verify()
    out["verify"] = [f"{r.version} {r.item}: {r.problem}" for r in v.itertuples() if not r.ok]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="keep the project here (default: a temporary folder)")
    ap.add_argument("--kill", type=float, default=0.2, help="share of cycles killed with SIGKILL at a random moment")
    a = ap.parse_args(argv)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="ctml-soak-")); work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CTML_REGISTRY_KEY_FILE", str(work / "keys" / "registry.key"))
    t0, cpu0 = time.monotonic(), os.times()
    res = soak(a.cycles, a.seed, work, a.kill)
    cpu = os.times(); cpu_s = sum(getattr(cpu, k) - getattr(cpu0, k) for k in ("user", "system", "children_user", "children_system"))
    print(json.dumps({k: v for k, v in res.items() if k != "requests"}, indent=1))
    print(f"{a.cycles} cycles in {time.monotonic() - t0:.0f} s wall, {cpu_s:.0f} s CPU; load average {os.getloadavg()}; "
          f"project in {work}")
    ok = not any(res["checks"].values()) and res["leaked"] == 0
    print("ALL INVARIANTS HOLD" if ok else "VIOLATIONS FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
