"""The model registry: every model has one shape (PyDMD style).

    model = MODELS[name](**hparams)
    history = model.fit(data, **training)            # -> dict of loss curves
    G = model.extrapolate(G_known, t, F=..., I_known=...)   # whole trajectories on t
    ckpt = model.checkpoint(); MODELS[ckpt["model"]].restore(ckpt)

`extrapolate` gets the first k nodes of each trajectory and returns all of
them up to len(t) (the known part included, unchanged). IDE models also get
the streaming term F(G, t) and the known memory I; curve models ignore them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.dataset import Dataset
from ..solvers.multistep import adams_integrate
from . import anie as anie_mod
from . import direct_rnn as direct_rnn_mod
from . import ie_common
from . import lstm_operator as lstm_mod
from . import nie as nie_mod
from .dmd import dmd_extrapolate


class Incompatible(ValueError):
    """A model/dataset combination that cannot work."""


class Model:
    name = ""
    accepts = ""  # human-readable, for error messages

    def __init__(self, **hparams):
        self.hparams = hparams
        self.net = None

    def check(self, kind: str, n_traj: int) -> None:
        """Raise Incompatible unless data of this kind ('ide' | 'trajectory') and size can work."""

    def checkpoint(self) -> dict:
        return {"model": self.name, "hparams": dict(self.hparams),
                "state_dict": None if self.net is None else self.net.state_dict(),
                "net_config": None if self.net is None else dict(self.net.config)}

    @classmethod
    def restore(cls, ckpt: dict) -> Model:
        model = cls(**ckpt["hparams"])
        if ckpt.get("net_config") is not None:
            model.net = model.make_net(**ckpt["net_config"])
            model.net.load_state_dict(ckpt["state_dict"])
            model.net.eval()
        return model

    def make_net(self, **config):
        raise NotImplementedError

    def to(self, device) -> Model:
        if self.net is not None:
            self.net.to(device)
        return self


class LSTMOperatorModel(Model):
    """Paper 1: an LSTM learns G history -> I; the IDE is then stepped with AB(ab_order)."""

    name = "lstm_operator"
    accepts = "IDE data with the memory integral I (dyson, dyson_multi, matrix_ide, matrix_ide_multi)"

    def check(self, kind, n_traj):
        if kind != "ide":
            raise Incompatible(f"lstm_operator needs {self.accepts}")

    def make_net(self, **config):
        return lstm_mod.LSTMOperator(**config)

    def fit(self, data: Dataset, *, epochs, lr, batch_size, seed, on_epoch=None, device=None, checkpointing=None,
            **extra):
        torch.manual_seed(seed)
        n_features = 2 * int(np.prod(data.G.shape[-2:]))
        # .get: checkpoints written before the filter path existed lack these keys (= no filter)
        self.net = self.make_net(n_features=n_features, hidden_size=self.hparams["hidden_size"],
                                 num_layers=self.hparams["num_layers"], ema=self.hparams["ema"],
                                 fir_len=self.hparams.get("fir_len", 0), fir_stride=self.hparams.get("fir_stride", 1))
        # dt: the rollout loss steps G with AB3 on the data's grid. One trajectory: train on its whole
        # window (holding out its last 20 % measured 1.10 vs 0.47 rel_l2 on Dyson, t <= 10 -> 40); no val_loss.
        extra.setdefault("val_fraction", 0.0 if data.n_traj == 1 else 0.2)
        return lstm_mod.fit_lstm_operator(self.net, data.G, data.I, epochs=epochs, lr=lr, batch_size=batch_size,
                                          seed=seed, on_epoch=on_epoch, dt=data.dt, device=device,
                                          checkpointing=checkpointing, **extra)

    def extrapolate(self, G_known, t, *, F=None, I_known=None):
        if F is None:
            raise ValueError("lstm_operator extrapolation needs the streaming term F")
        from . import fast_lstm  # here, not at the top: only this method of the file uses it

        order, corrector, dt = self.hparams["ab_order"], self.hparams["corrector"], float(t[1] - t[0])
        if fast_lstm.supported(self.net, corrector):
            # Same maths as below in one fused loop (~15x faster per step); see fast_lstm.
            G, _ = fast_lstm.adams_lstm(self.net, F, G_known, I_known, dt, len(t), order=order)
            return G
        memory = lstm_mod.LearnedMemory(self.net)
        G, _ = adams_integrate(F, memory, G_known, I_known, dt, len(t), order=order, corrector=corrector)
        return G


class DirectRNNModel(Model):
    """Paper 1 baseline 2 (and paper 2's LSTM baseline): the same LSTM learns G_n -> G_{n+1}."""

    name = "direct_rnn"
    accepts = "any trajectory data (IDE or curves)"

    def make_net(self, **config):
        return direct_rnn_mod.DirectRNN(**config)

    def fit(self, data: Dataset, *, epochs, lr, batch_size, seed, on_epoch=None, device=None, checkpointing=None,
            **extra):
        torch.manual_seed(seed)
        G = as_matrices(data.G)
        self.net = self.make_net(n_features=2 * int(np.prod(G.shape[-2:])), hidden_size=self.hparams["hidden_size"],
                                 num_layers=self.hparams["num_layers"])
        return direct_rnn_mod.fit_direct_rnn(self.net, G, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                             on_epoch=on_epoch, device=device, checkpointing=checkpointing, **extra)

    def extrapolate(self, G_known, t, *, F=None, I_known=None):
        rolled = direct_rnn_mod.rollout(self.net, as_matrices(G_known), len(t) - G_known.shape[1])
        if G_known.ndim == 3:  # real curves: back to (n, n_t, dim)
            rolled = rolled[..., 0].real
        return np.concatenate([G_known, rolled], axis=1)


def as_matrices(G: np.ndarray) -> np.ndarray:
    """Curves (n, n_t, dim) become complex column matrices (n, n_t, dim, 1), the LSTM models' layout."""
    return G.astype(complex) if G.ndim == 4 else G[..., None].astype(complex)


class DMDModel(Model):
    """Paper 1 baseline 3: DMD fitted on each trajectory's own known window."""

    name = "dmd"
    accepts = "a single trajectory (n_traj = 1)"

    def check(self, kind, n_traj):
        if n_traj != 1:
            raise Incompatible(f"dmd extrapolates one trajectory at a time; got {n_traj} (needs {self.accepts})")

    def fit(self, data: Dataset, **_):
        # Nothing to learn ahead of time: DMD is fitted on the known window when extrapolating.
        # Report its reconstruction error on the training window as the "loss".
        n = data.G.shape[1]
        recon = self.extrapolate(data.G, data.t)
        err = float(np.linalg.norm(recon[:, :n] - data.G) / np.linalg.norm(data.G))
        return {"loss": [err]}

    def extrapolate(self, G_known, t, *, F=None, I_known=None):
        out = [dmd_extrapolate(g, len(t), self.hparams["variant"], self.hparams["svd_rank"], self.hparams["delay"])
               for g in G_known]
        out = np.stack(out)
        out[:, : G_known.shape[1]] = G_known
        return out


class _CurveModel(Model):
    """NIE and ANIE: trained and run on curves normalised per coordinate (mean/std of the training
    curves) and on time mapped to [0, 1] over the training span (both stored in the checkpoint), so
    Lorenz (|y| ~ 40, t up to 100) trains like the spirals: the integral term scales with the span."""

    accepts = "real-valued curves (lotka_volterra, lorenz, spirals, from_file curves)"
    net_hparams: tuple[str, ...] = ()

    def check(self, kind, n_traj):
        if kind != "trajectory":
            raise Incompatible(f"{self.name} needs {self.accepts}")

    def fit(self, data: Dataset, *, epochs, lr, batch_size, seed, on_epoch=None, device=None, checkpointing=None,
            **extra):
        torch.manual_seed(seed)
        mean, std = data.G.mean(axis=(0, 1)), data.G.std(axis=(0, 1))
        self.hparams["norm_mean"], self.hparams["norm_std"] = mean.tolist(), np.where(std > 0, std, 1.0).tolist()
        self.hparams["time_span"] = [float(data.t[0]), float(data.t[-1])]
        config = {k: self.hparams[k] for k in self.net_hparams}
        self.net = self.make_net(dim=data.G.shape[-1], **config)
        return ie_common.fit_ie_model(self.net, self.normalise(data.G), self.unit_time(data.t),
                                     context=self.hparams["context"],
                                     epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_epoch=on_epoch,
                                     device=device, checkpointing=checkpointing, **extra)

    def normalise(self, y):
        return (y - np.asarray(self.hparams["norm_mean"])) / np.asarray(self.hparams["norm_std"])

    def unit_time(self, t):
        t0, t1 = self.hparams["time_span"]
        return (np.asarray(t) - t0) / (t1 - t0)

    def extrapolate(self, G_known, t, *, F=None, I_known=None):
        context = G_known.shape[1]
        pred = ie_common.predict(self.net, self.normalise(G_known), self.unit_time(t), context)
        pred = pred * np.asarray(self.hparams["norm_std"]) + np.asarray(self.hparams["norm_mean"])
        pred[:, :context] = G_known
        return pred


class NIEModel(_CurveModel):
    """Paper 2: y = f + ∫ K(t, s) F(y(s)) ds, integrals through torchquad."""

    name = "nie"
    net_hparams = ("hidden", "width", "mode", "quadrature", "n_samples", "max_iter", "tol", "smoothing")

    def make_net(self, **config):
        return nie_mod.NIE(**config)


class ANIEModel(_CurveModel):
    """Paper 2: y = f + Att(y), self-attention as the integral (causal mask = Volterra)."""

    name = "anie"
    net_hparams = ("d_model", "n_heads", "n_layers", "dim_feedforward", "mode", "max_iter", "tol", "smoothing")

    def make_net(self, **config):
        return anie_mod.ANIE(**config)

    def attention_maps(self, G_known, t):
        param = next(self.net.parameters())
        as_tensor = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)  # noqa: E731
        with torch.no_grad():
            maps = self.net.attention_maps(as_tensor(self.normalise(G_known)), as_tensor(self.unit_time(t)))
        return [m.cpu().numpy() for m in maps]


MODELS: dict[str, type[Model]] = {m.name: m for m in
                                  (LSTMOperatorModel, DirectRNNModel, DMDModel, NIEModel, ANIEModel)}
