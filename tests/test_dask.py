"""Drift profiles, drift tests and policy comparisons on a Dask cluster (`LocalCluster`, 2 worker processes of one
thread each), and the same drift checks on Dask's synchronous scheduler. Skipped where the `dask` extra is absent."""
import os
import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from ctml_nb.data.datasets import make_drift_pair
from ctml_nb.drift.detector import DriftDetector
from ctml_nb.drift.dask_engine import DaskEngine, read_parquet
from ctml_nb.drift.engine_table import get_engine

N_ROWS, N_PARTS = 200_000, 10


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
         distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def pair():
    ref, cur, truth = make_drift_pair(n_rows=N_ROWS, seed=5)
    return ref, cur, truth, dd.from_pandas(ref, npartitions=N_PARTS), dd.from_pandas(cur, npartitions=N_PARTS)


@pytest.fixture(params=["cluster", "synchronous"])
def engine(request, client):
    "The Dask engine on the cluster, and on Dask's synchronous scheduler (no client: dask's configured scheduler)"
    if request.param == "cluster":
        yield DaskEngine(client=client)
    else:
        with dask.config.set(scheduler="synchronous"): yield DaskEngine()


def _parts(ddf): return [p.compute(scheduler="synchronous") for p in ddf.partitions]


def test_one_step_merge_is_the_single_process_profile(pair, engine):
    ref, cur, truth, rd, cd = pair
    det = DriftDetector()
    det.profile_ = engine.fit(det, rd)
    assert engine.timings["partitions"] == N_PARTS and engine.timings["merge_levels"] == 1
    local = DriftDetector()
    for p in _parts(rd): local.partial_fit(p)
    assert det.profile_.to_dict() == local.profile_.to_dict()          # bit-identical, every column
    prof = engine.profile_current(det, cd)
    assert prof == det.profile_current(_parts(cd))
    on_dask, single = det.test_profile(prof), det.test_batches(_parts(cd))
    same = lambda d: {k: v for k, v in d.items() if k != "created_at"}   # made at different moments
    assert same(on_dask.to_dict(details=True)) == same(single.to_dict(details=True))
    assert sorted(on_dask.drifted) == sorted(truth)
    assert on_dask.merge_every == 64 and on_dask.rank_error > 0


def test_tree_merge_same_verdicts_within_the_stated_bound(pair, engine):
    ref, cur, truth, rd, cd = pair
    one = DriftDetector().fit(ref)
    tree_det = DriftDetector(merge_every=3).fit(ref)
    flat, tree = one.test_profile(engine.profile_current(one, cd)), tree_det.test_profile(engine.profile_current(tree_det, cd))
    assert engine.timings["merge_levels"] == 3                       # 10 -> 4 -> 2 -> 1
    assert tree.drifted == flat.drifted and tree.merge_every == 3
    assert tree.rank_error >= flat.rank_error
    for a, b in zip(tree.rows, flat.rows):
        if a["p_test"] == "ks":   # each side's CDF is within its bound of the data's: the statistics differ by at most both
            assert abs(a["test_statistic"] - b["test_statistic"]) <= tree.rank_error + flat.rank_error
    # the reference profile merged in a tree on the workers: each column's CDF within its bound of the exact one
    tprof = engine.fit(tree_det, rd)
    for name, col in tprof.columns.items():
        if col.kind != "numeric" or not col.count: continue
        x = np.sort(ref[name].to_numpy(dtype=float)); x = x[np.isfinite(x)]
        from ctml_nb.drift.quantiles import quantile_cdf
        pts = np.quantile(x, np.linspace(0, 1, 201))
        gap = np.abs(quantile_cdf(np.asarray(col.quantiles), pts) - np.searchsorted(x, pts, "right") / x.size).max()
        assert gap <= col.rank_error + 1e-12, name


def test_detector_takes_dask_frames_and_parquet_globs(pair, client, tmp_path):
    ref, cur, truth, rd, cd = pair
    for i, p in enumerate(_parts(cd)[:8]): p.to_parquet(tmp_path / f"part-{i:02d}.parquet")
    with distributed.Client(client.scheduler.address, set_as_default=True):   # dask's default: the cluster
        det = DriftDetector().fit(rd)
        glob_report = det.test(str(tmp_path / "*.parquet"))
        assert read_parquet(tmp_path / "*.parquet").npartitions == 8
        frame_report = det.test(cd)
    assert glob_report.n_cur_rows == sum(len(p) for p in _parts(cd)[:8])
    when = lambda d: {k: v for k, v in d.items() if k != "created_at"}   # the reports are made at different moments
    assert when(glob_report.to_dict(details=True)) == when(det.test_batches(_parts(cd)[:8]).to_dict(details=True))
    assert frame_report.to_dict() == det.test_batches(_parts(cd)).to_dict()


def test_engine_by_name_connects_and_describes(client, pair):
    with get_engine({"kind": "dask", "address": client.scheduler.address}) as eng:
        det = DriftDetector(columns=["num_00", "cat_0"]).fit(pair[0])
        eng.profile_current(det, pair[4])
        d = eng.describe()
        assert (d["kind"], d["workers"], d["threads"], d["partitions"]) == ("dask", 2, 2, N_PARTS) and d["seconds"] > 0
    assert eng.client is None


def test_compare_policies_on_the_cluster_equals_one_job(client):
    from sklearn.tree import DecisionTreeClassifier
    from ctml_nb.policy.policies import baseline_policies, compare_policies
    from ctml_nb.policy.strategies import FullRetrain
    g = np.random.default_rng(0)
    X = g.uniform(size=(3000, 2))
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": (X[:, 0] > 0.5).astype(int)})
    df.loc[1500:, "y"] = 1 - df.loc[1500:, "y"]
    pols = baseline_policies(500, FullRetrain(window=100))
    model = DecisionTreeClassifier(max_depth=3, random_state=0)
    kw = dict(batch_size=100, initial_rows=500, progress=False)
    results = lambda **k: compare_policies(df, "y", model, **k, **kw).to_frame().filter(regex="^(?!.*seconds)")  # timings differ
    one = results(policies=pols)
    on_cluster = results(policies=pols, client=client)
    by_address = results(policies=pols[:1], client=client.scheduler.address)
    assert len(one.columns) >= 4 and len(one) == len(pols)
    pd.testing.assert_frame_equal(on_cluster, one)
    pd.testing.assert_frame_equal(by_address, one.iloc[:1])


from pipelines import elec2_pipeline  # noqa: E402 (tests/pipelines.py)
PIPELINE = elec2_pipeline("live", extra="engine: {kind: dask, address: ADDRESS}\n")


def test_pipeline_cycle_checks_drift_on_the_cluster(client, tmp_path):
    from ctml_nb.demo import demo_data
    from ctml_nb.pipeline.runner import run_cycle
    df = demo_data().iloc[:16 * 48].copy()
    (tmp_path / "live").mkdir()
    day = lambda i: df.iloc[i * 48:(i + 1) * 48].to_parquet(tmp_path / "live" / f"day-{i:02d}.parquet", index=False)
    for i in range(14): day(i)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(PIPELINE.replace("ADDRESS", client.scheduler.address))
    first = run_cycle(cfg, progress=False)   # trains and promotes the first model: no reference to test against yet
    assert first.status == "succeeded", first.reason
    day(14); day(15)
    second = run_cycle(cfg, progress=False)
    assert second.status in ("succeeded", "skipped"), second.reason
    eng = second.values["check"]["engine"]
    assert (eng["kind"], eng["workers"], eng["partitions"], eng["input"]) == ("dask", 2, 2, "2 parquet files"), eng
    assert eng["seconds"] > 0 and eng["address"] == client.scheduler.address
    assert second.values["check"]["drift"]["n_cur_rows"] == 96


def test_engine_starts_and_closes_its_own_local_cluster(pair):
    det = DriftDetector(columns=["num_00", "cat_0"]).fit(pair[0])
    with DaskEngine(workers=1) as eng:
        prof = eng.profile_current(det, pair[4])
        cluster = eng._started[-1]
        assert eng.describe()["workers"] == 1 and prof.n_rows == N_ROWS
        # LEAN_WORKERS: no MALLOC_TRIM_THRESHOLD_ (Dask's 65536 made every large array fault its pages in afresh)
        trim = eng.client.run(lambda: __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(trim.values()) == [os.environ.get("MALLOC_TRIM_THRESHOLD_")], trim
    assert eng.client is None and cluster.status.name == "closed"
