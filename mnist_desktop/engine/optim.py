"""Optimizers and learning-rate schedules.

An optimizer is built once over the network's parameter list ``[(name, param, grad, decay), ...]``;
``step()`` updates every parameter in place from its gradient array (which the layers refill in place on
each backward pass). L2 weight decay adds ``l2 * W`` to the gradient of weights (not biases, not batch
normalisation scales), i.e. the ``lmbda/n * w`` term of network2.py's regularised cost.
"""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, slots, lr: float, l2: float = 0.0) -> None:
        self.slots = list(slots)
        self.lr = float(lr)
        self.l2 = float(l2)
        self.t = 0

    def _grad(self, p, g, decay):
        if self.l2 and decay:
            return g + self.l2 * p
        return g

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain SGD (momentum=0) or heavy-ball momentum: v = mu v - lr g; p += v."""

    def __init__(self, slots, lr: float, momentum: float = 0.0, l2: float = 0.0) -> None:
        super().__init__(slots, lr, l2)
        self.momentum = float(momentum)
        self.velocity = [np.zeros_like(p) for _, p, _, _ in self.slots] if self.momentum else []

    def step(self) -> None:
        self.t += 1
        lr = self.lr
        if not self.momentum:
            for _, p, g, decay in self.slots:
                if self.l2 and decay:
                    p *= 1 - lr * self.l2
                p -= lr * g
            return
        mu = self.momentum
        for (_, p, g, decay), v in zip(self.slots, self.velocity):
            v *= mu
            v -= lr * self._grad(p, g, decay)
            p += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size.

    The moments of all parameters live in one flat array each, and a step does its arithmetic once over
    them: 9 NumPy calls plus 2 per parameter (copy its gradient in, subtract its update), instead of 12
    per parameter. A training step of a small network is many short calls (mlp-128x2: ~0.7 ms a step, of
    which a per-parameter Adam took ~0.15 ms), so the call count is what costs. Parameters of mixed dtypes
    (never the case in a Network) keep their own arrays, stepped one by one."""

    def __init__(self, slots, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, l2: float = 0.0) -> None:
        super().__init__(slots, lr, l2)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        dtypes = {p.dtype for _, p, _, _ in self.slots}
        groups = [self.slots] if len(dtypes) == 1 else [[s] for s in self.slots]
        self._groups = [self._flat(group) for group in groups]

    @staticmethod
    def _flat(group) -> tuple:
        """(slots, m, v, g, tmp, g views, tmp views): flat moment, gradient and scratch arrays of the
        group's parameters, and each parameter's view into the gradient and scratch arrays."""
        total = sum(p.size for _, p, _, _ in group)
        dtype = group[0][1].dtype
        m, v, g, tmp = (np.zeros(total, dtype) for _ in range(4))
        bounds = np.cumsum([0] + [p.size for _, p, _, _ in group])
        views = [(g[a:b].reshape(p.shape), tmp[a:b].reshape(p.shape))
                 for (_, p, _, _), a, b in zip(group, bounds[:-1], bounds[1:])]
        return group, m, v, g, tmp, [gv for gv, _ in views], [tv for _, tv in views]

    def step(self) -> None:
        # The flat arrays hold the moments scaled: M = m / (1 - b1), V = v / (1 - b2), so each moment is
        # one multiply and one add a step (M = b1 M + g, V = b2 V + g^2) instead of the three or four of
        # m += (1 - b1)(g - m), and m / (sqrt(v) + eps) = c M / (sqrt(V) + eps / sqrt(1 - b2)) with
        # c = (1 - b1) / sqrt(1 - b2): 11 passes over the parameters instead of 13 (mlp-128x2: Adam was
        # a third of a training step).
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        eps_t = self.eps * math.sqrt(1 - b2 ** self.t)  # eps on the uncorrected scale
        scale, eps_scaled = lr_t * (1 - b1) / math.sqrt(1 - b2), eps_t / math.sqrt(1 - b2)
        for group, m, v, g, tmp, gviews, tviews in self._groups:
            for (_, p, grad, decay), gv in zip(group, gviews):
                if self.l2 and decay:
                    np.multiply(p, self.l2, out=gv)
                    gv += grad
                else:
                    np.copyto(gv, grad)
            m *= b1
            m += g
            np.multiply(g, g, out=tmp)
            v *= b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps_scaled
            np.divide(m, tmp, out=tmp)
            tmp *= scale
            for (_, p, _, _), tv in zip(group, tviews):
                p -= tv


OPTIMIZERS = ("sgd", "momentum", "adam")


def make_optimizer(name: str, slots, lr: float, l2: float = 0.0, momentum: float = 0.9) -> Optimizer:
    if name == "sgd":
        return SGD(slots, lr, 0.0, l2)
    if name == "momentum":
        return SGD(slots, lr, momentum, l2)
    if name == "adam":
        return Adam(slots, lr, l2=l2)
    raise ValueError(f"unknown optimizer {name!r} (expected one of {', '.join(OPTIMIZERS)})")


SCHEDULES = ("constant", "step", "cosine")


def scheduled_lr(base: float, schedule: str, progress: float, *, epochs: int,
                 step_every: int = 0, gamma: float = 0.1, floor: float = 0.0) -> float:
    """Learning rate at ``progress`` epochs into training (a float: 2.5 = halfway through epoch 3).

    constant: ``base``; step: ``base * gamma ** (epoch // step_every)`` (default: every third of the run);
    cosine: from ``base`` down to ``floor * base`` over ``epochs``, half a cosine wave.
    """
    if schedule == "constant":
        return base
    if schedule == "step":
        every = step_every or max(1, math.ceil(epochs / 3))
        return base * gamma ** (int(progress) // every)
    if schedule == "cosine":
        frac = min(max(progress / max(epochs, 1), 0.0), 1.0)
        return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * frac)))
    raise ValueError(f"unknown schedule {schedule!r} (expected one of {', '.join(SCHEDULES)})")
