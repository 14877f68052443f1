"""Training on segments (model.random_start): what the sampler gives and scores, and what it buys."""

import numpy as np
import torch

from idelearn.models.direct_rnn import DirectRNN, fit_direct_rnn, rollout
from idelearn.models.ie_common import fit_ie_model
from idelearn.models.segments import SegmentSampler, on_segments

# --- the sampler ---------------------------------------------------------------


class Recorder(torch.nn.Module):
    """A curve model that predicts zeros after its context and records what it was given."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, known, t):
        self.seen.append((known.detach().clone(), t.detach().clone()))
        tail = torch.zeros(known.shape[0], len(t) - known.shape[1], known.shape[2]) + self.w
        return torch.cat([known, tail], dim=1)


def test_sampler_gives_the_points_from_start_and_scores_only_after_them():
    n, n_t, dim, context = 3, 12, 2, 4
    curves = torch.arange(n * n_t * dim, dtype=torch.float64).reshape(n, n_t, dim) + 1.0
    t = torch.linspace(0.0, 1.0, n_t, dtype=torch.float64)
    model = Recorder()
    given = lambda batch, t: (torch.mean((model(batch[:, :context], t)[:, context:] - batch[:, context:]) ** 2), {})  # noqa: E731
    sampler = SegmentSampler(n_t, context, torch.Generator().manual_seed(0))
    loss = on_segments(given, sampler)
    starts = set()
    for _ in range(200):
        gen_state = sampler.gen.get_state()
        value, _ = loss(curves, t)
        sampler.gen.set_state(gen_state)
        start = sampler.start()  # the same draw again: the start the loss was given
        starts.add(start)
        known, t_given = model.seen[-1]
        # the given points are the curve's points start..start+context-1, on the curve's own times
        assert torch.equal(known, curves[:, start:start + context])
        assert torch.equal(t_given, t[start:])
        # scored only after them: the model predicts zeros, so the loss is the mean square of the rest
        assert value.item() == torch.mean(curves[:, start + context:] ** 2).item()
    # every start that leaves a point to predict is drawn, and no other
    assert starts == set(range(n_t - context))


def test_sampler_refuses_a_context_that_leaves_nothing_to_predict():
    import pytest

    with pytest.raises(ValueError, match="context"):
        SegmentSampler(10, 10, torch.Generator())


def test_fit_curves_trains_on_segments_only_when_asked():
    """The wiring: with random_start the model is given cut curves at several starts; without, whole curves."""
    curves, t = np.random.default_rng(0).normal(size=(4, 10, 1)), np.linspace(0.0, 1.0, 10)
    for random_start, expected in ((False, {10}), (True, set(range(4, 11)))):
        model = Recorder()
        fit_ie_model(model, curves, t, context=3, epochs=15, lr=1e-3, batch_size=2, seed=0, lr_final=None,
                     random_start=random_start)
        lengths = {len(t_given) for _, t_given in model.seen}
        assert lengths == expected if not random_start else lengths <= expected and len(lengths) >= 5


# --- what it buys: a harmonic oscillator continued from mid-curve ---------------

# x'' = -ω² x from x(0) = A, x'(0) = 0, A in [0.5, 1.5]: autonomous, so a segment's continuation depends
# only on its state, not on when it starts. Every curve starts at the same phase: a model trained on first
# segments has only ever warmed up on that phase; mid-curve segments sit at others. The model: paper 2's
# LSTM baseline (direct_rnn), the cheapest curve model to train.
N_T, CONTEXT, OMEGA = 30, 5, 3 * np.pi  # 1.5 periods on t in [0, 1]
T_GRID = np.linspace(0.0, 1.0, N_T)
MID = 12  # mid-curve start: about 0.6 of a period on


def oscillators(n, seed):
    amp = np.random.default_rng(seed).uniform(0.5, 1.5, n)[:, None]
    curves = np.stack([amp * np.cos(OMEGA * T_GRID), -amp * np.sin(OMEGA * T_GRID)], axis=-1)  # (n, N_T, 2)
    return curves[..., None].astype(complex)  # the LSTM models' layout: (n, N_T, 2, 1) complex


def trained_rnn(random_start):
    """Untimed either way (the dynamics are autonomous): the two models differ by the sampler alone."""
    torch.manual_seed(0)
    model = DirectRNN(4, 32, 1)
    fit_direct_rnn(model, oscillators(16, seed=0), steps=600, lr=1e-2, batch_size=8, seed=0, val_fraction=0.0,
                   segment_context=CONTEXT if random_start else None)
    return model


def mid_curve_error(model):
    """Relative error after the context, given points MID..MID+CONTEXT-1 of unseen curves."""
    curves = oscillators(8, seed=1)[:, MID:]
    pred = rollout(model, curves[:, :CONTEXT], N_T - MID - CONTEXT)
    return float(np.linalg.norm(pred - curves[:, CONTEXT:]) / np.linalg.norm(curves[:, CONTEXT:]))


def test_training_on_segments_continues_a_mid_curve_segment():
    first = mid_curve_error(trained_rnn(random_start=False))
    segments = mid_curve_error(trained_rnn(random_start=True))
    # measured: first segments 0.19, random segments 0.025 (ratio 7.7); a sampler that always drew start 0
    # trains what first segments train (0.19, ratio ~1), caught by both bounds
    assert segments < 0.125
    assert first > 2 * segments


# --- extrapolate start=k: where the segment sits in time ---------------------------


class TimeRecorder:
    """A curve "model" that repeats its last given point and records the times it is given."""

    def __init__(self, random_start):
        self.config = type("Config", (), {"random_start": random_start, "context": 3})()

    def extrapolate(self, G_known, t, **_):
        self.t = np.asarray(t)
        return np.concatenate([G_known, np.repeat(G_known[:, -1:], len(t) - G_known.shape[1], axis=1)], axis=1)


def test_extrapolate_gives_a_model_trained_on_segments_their_own_times(tmp_path):
    from idelearn.pipeline import Curves, extrapolate_curves

    path = tmp_path / "curves.npy"
    np.save(path, np.random.default_rng(0).normal(size=(2, 11, 1)))
    trained = {"shape": [1], "config": {"name": "from_file"}}
    t = np.linspace(0.0, 2.0, 11)
    for random_start, expected in ((True, t[4:]), (False, t[4:] - t[4])):  # the paper's protocol: restarted at 0
        model = TimeRecorder(random_start)
        pred = extrapolate_curves(model, trained, Curves(str(path), 2.0), 3, 1e6, start=4)
        np.testing.assert_allclose(model.t, expected)
        assert pred.split == 3 and pred.start == 4 and np.array_equal(pred.G_true, np.load(path)[:, 4:])


def test_a_checkpoint_from_before_random_start_restores_as_trained_on_first_segments():
    from idelearn import config
    from idelearn.models.registry import MODELS

    for name in ("anie", "direct_rnn"):
        model = MODELS[name](config.to_object(config.compose("train", [f"model={name}"]).model))
        ckpt = model.checkpoint()
        del ckpt["config"]["random_start"]  # what idelearn wrote before the key existed
        assert MODELS[name].restore(ckpt).config.random_start is False
