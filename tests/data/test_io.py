import pickle

import numpy as np
import pytest

from idelearn.data.dataset import Dataset
from idelearn.data.io import load_dataset, save_dataset
from idelearn.errors import UserError


def small_dataset():
    t = np.linspace(0, 1, 5)
    G = (np.arange(20) + 1j).reshape(1, 5, 2, 2)
    return Dataset(t=t, G=G, I=2 * G, params=np.array([[1.0, 2.0]]), param_names=["a", "b"], meta={"equation": "x"})


def test_round_trip(tmp_path):
    save_dataset(small_dataset(), tmp_path)
    back = load_dataset(tmp_path / "dataset.npz")
    np.testing.assert_array_equal(back.G, small_dataset().G)
    np.testing.assert_array_equal(back.I, small_dataset().I)
    assert back.param_names == ["a", "b"] and back.meta["equation"] == "x"


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, t=np.zeros(3), G=np.array([object()], dtype=object), params=np.zeros((1, 1)))
    with pytest.raises(UserError, match="pickle"):
        load_dataset(path)


def test_a_pickle_file_is_not_a_dataset(tmp_path):
    path = tmp_path / "dataset.npz"
    path.write_bytes(pickle.dumps({"t": 1}))
    with pytest.raises(UserError):
        load_dataset(path)


def test_missing_arrays_are_named(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, t=np.zeros(3))
    with pytest.raises(UserError, match="G"):
        load_dataset(path)
