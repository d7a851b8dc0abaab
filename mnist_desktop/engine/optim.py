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
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size."""

    def __init__(self, slots, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, l2: float = 0.0) -> None:
        super().__init__(slots, lr, l2)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [np.zeros_like(p) for _, p, _, _ in self.slots]
        self.v = [np.zeros_like(p) for _, p, _, _ in self.slots]
        self._tmp = [np.empty_like(p) for _, p, _, _ in self.slots]

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        eps_t = self.eps * math.sqrt(1 - b2 ** self.t)  # eps on the uncorrected scale
        for (_, p, g, decay), m, v, tmp in zip(self.slots, self.m, self.v, self._tmp):
            g = self._grad(p, g, decay)
            # m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v), in place
            np.subtract(g, m, out=tmp)
            tmp *= 1 - b1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps_t
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            p -= tmp


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
