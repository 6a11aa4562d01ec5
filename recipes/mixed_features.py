"""A model factory for tables with categorical and free-text columns: copy this file beside your `pipeline.yaml`.

scikit-learn's estimators take numbers only: a column of categories (`weather: rain`) or of text (`name: chevrolet
chevelle malibu`) stops `ctml run` before any kernel, naming the column and the fixes. This factory is the third fix:
a scikit-learn `Pipeline` whose `ColumnTransformer` encodes each kind of column, in front of any estimator.

    model:
      factory: mixed_features:make          # mixed_features.py beside pipeline.yaml: ctml imports from that folder
      params:
        text_columns: [Name]                # free text: TF-IDF of its words (each named column)
        estimator: sklearn.ensemble:RandomForestClassifier
        estimator_params: {n_estimators: 100, random_state: 0}

Every other column is encoded by its dtype, decided on the rows the model is fitted on:
- numbers and booleans: missing values replaced by the median (`SimpleImputer`), so estimators without NaN support work;
- any other column (strings, categories): one-hot (`OneHotEncoder`), categories seen fewer than `min_frequency` times
  and categories first seen after training grouped as "infrequent", a missing value a category of its own;
- date columns are not features: name one in `data.time_column`, or leave it out with `data.features`.

The fitted model is an ordinary scikit-learn `Pipeline`: the registry saves it with joblib, and every step of the
pipeline loads it again, because the folder of `pipeline.yaml` is importable in every step (this module defines
the column selector the fitted model refers to).
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


class Columns:
    "A picklable column selector: the numeric (`numbers=True`) or the other columns of a frame, less `exclude`"

    def __init__(self, numbers: bool, exclude=()):
        self.numbers, self.exclude = numbers, tuple(exclude)

    def __call__(self, X: pd.DataFrame) -> list:
        def is_number(s):
            return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
        return [c for c in X.columns if c not in self.exclude and is_number(X[c]) == self.numbers
                and not pd.api.types.is_datetime64_any_dtype(X[c])]


def _estimator(ref: str, params: dict):
    module, _, name = ref.partition(":")
    if not name:
        raise ValueError(f"`estimator` must be 'module:Class', e.g. sklearn.ensemble:RandomForestClassifier, got {ref!r}")
    return getattr(importlib.import_module(module), name)(**params)


def make(
    estimator: str = "sklearn.ensemble:RandomForestClassifier",  # 'module:Class' of the estimator after the encoding
    estimator_params: dict | None = None,                        # Its keyword arguments
    text_columns: list | None = None,                            # Columns of free text (TF-IDF each)
    min_frequency: int = 5,                                      # Rarer categories are grouped as "infrequent"
    max_words: int = 500,                                        # TF-IDF vocabulary size per text column
) -> Pipeline:
    "A scikit-learn Pipeline: numbers imputed, categories one-hot, text TF-IDF, then `estimator`"
    text = list(text_columns or [])
    parts = [("numbers", SimpleImputer(strategy="median"), Columns(True, text)),
             ("categories", Pipeline([("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
                                      ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                               min_frequency=min_frequency))]), Columns(False, text))]
    # TfidfVectorizer takes one column of strings: a missing text is the empty string
    parts += [(f"text_{c}", Pipeline([("fill", SimpleImputer(strategy="constant", fill_value="")),
                                      ("flat", _Flat()), ("tfidf", TfidfVectorizer(max_features=max_words))]), [c])
              for c in text]
    return Pipeline([("encode", ColumnTransformer(parts, sparse_threshold=0.0)),
                     ("model", _estimator(estimator, dict(estimator_params or {})))])


class _Flat:
    "One column as a 1-D array of strings (what TfidfVectorizer takes)"

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=object).ravel().astype(str)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self
