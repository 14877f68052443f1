"""Config objects for tests, composed from the YAML every command reads (the schemas hold no values)."""

from __future__ import annotations

import dataclasses

import torch

from idelearn.config import compose, to_object
from idelearn.models.base import Incompatible
from idelearn.models.registry import MODELS


def model_config(name: str, **values):
    """conf/model/<name>.yaml as its schema object, with `values` replaced."""
    return dataclasses.replace(to_object(compose("train", [f"model={name}"]).model), **values)


def dataset_config(name: str, **values):
    """conf/dataset/<name>.yaml as its schema object, with `values` replaced."""
    return dataclasses.replace(to_object(compose("generate", [f"dataset={name}"]).dataset), **values)


def models_for(kind: str) -> list[str]:
    """The registered models that train on one trajectory of this kind of data ('ide' or 'trajectory')."""
    def accepts(model) -> bool:
        try:
            model.__new__(model).check(kind, 1)  # the check reads class attributes only
        except Incompatible:
            return False
        return True

    return [name for name, model in MODELS.items() if accepts(model)]


def round_trip(wrapper_cls, net, path):
    """Save a net the way `train` does (the estimator's checkpoint) and rebuild it from the file alone."""
    wrapper = wrapper_cls(model_config(wrapper_cls.name))
    wrapper.net = net
    torch.save(wrapper.checkpoint(), path)
    return wrapper_cls.restore(torch.load(path, weights_only=True)).net
