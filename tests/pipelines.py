"The Elec2 pipeline config the integration tests run (a helper module: pytest collects only test_*.py files)."


def elec2_pipeline(source:str="live.csv", floor:float=0.0, data:str="", gate:str=", min_delta: -1.0, test: none",
                   extra:str="")->str:
    """pipeline.yaml text: a small forest on Elec2's `live` file, a performance trigger at `floor`, a 14-day window and
    the gate; `data`, `gate` and `extra` add keys to the data section, the gate's params and the top level"""
    return (f"name: elec2\n"
            f"data: {{source: {source}, target: target, time_column: timestamp{data}}}\n"
            "model:\n"
            "  factory: sklearn.ensemble:RandomForestClassifier\n"
            "  params: {n_estimators: 10, random_state: 0, n_jobs: 1}\n"
            "triggers:\n"
            f"  - {{kind: performance, params: {{metric: accuracy, floor: {floor}, min_rows: 20}}}}\n"
            "strategy: {kind: full, params: {window: 14D}}\n"
            f"promotion: {{kind: gate, params: {{metric: accuracy, n_boot: 200, latency_repeats: 2{gate}}}}}\n"
            f"{extra}timeout: 300\n")
