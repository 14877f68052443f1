"""Config objects for tests, composed from the YAML every command reads (the schemas hold no values)."""

from __future__ import annotations

import dataclasses

from idelearn.config import compose, to_object


def model_config(name: str, **values):
    """conf/model/<name>.yaml as its schema object, with `values` replaced."""
    return dataclasses.replace(to_object(compose("train", [f"model={name}"]).model), **values)


def dataset_config(name: str, **values):
    """conf/dataset/<name>.yaml as its schema object, with `values` replaced."""
    return dataclasses.replace(to_object(compose("generate", [f"dataset={name}"]).dataset), **values)
