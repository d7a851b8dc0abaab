"""What an adaptation did, and what an adapted model file needs beside it; the window and ``adapt`` share it.

    cal = adapted_calibration(result.net, replay, examples)   # "not a digit" / "unsure" for the new weights
    check = measure(base_net, result.net, examples, replay=..., test=(x_test, y_test))
    check.own          # personalize.CrossValidation: each of the user's digits read by a model adapted without it
    check.mnist_before, check.mnist_after                      # the MNIST test set, base and adapted

The calibration. An adapted model's head (the last two dense layers) has new weights, so its penultimate
features and outputs moved and the base model's ``.calib`` (which belongs to the base's weights by digest)
no longer applies. A new one is computed as ``mnist-desktop calibrate`` computes one (class means,
shared covariance, energy and distance limits at the same quantiles), from the digits at hand without
the full MNIST: the 3,000 MNIST training digits shipped for replay (300 of each digit, the distribution
``calibrate`` uses) plus the user's own examples, so that the user's style counts as familiar; with so
few digits the distance limit comes from held-out distances (two halves, each scored by the other's
statistics). It is written beside the model (``NEW.npz`` -> ``NEW.calib``), where ``predict`` and the
Draw view look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mnist_desktop import personalize
from mnist_desktop.confidence import (DISTANCE_QUANTILE, ENERGY_QUANTILE, Calibration, class_statistics, energy,
                                      model_digest, outputs_and_features)
from mnist_desktop.engine.network import Network

Report = Callable[[str, int, int], None]       # (what, done, total)


def adapted_calibration(net: Network, replay: personalize.Replay, examples: personalize.Examples,
                        should_stop=None) -> Calibration:
    """The adapted network's calibration from the replay digits and the user's examples (see above)."""
    x = np.concatenate([replay.images, examples.images]).astype(np.float32)
    y = np.concatenate([replay.labels, examples.labels])
    out, f = outputs_and_features(net, x, should_stop=should_stop)
    # The distance limit from distances to statistics fitted WITHOUT each digit (two halves, each scored by
    # the other's means and covariance): fitted and scored on the same 3,000 digits, 256-512 features
    # would look closer than new digits do, and ordinary digits would be called "not a digit".
    half = np.arange(len(y)) % 2 == 0
    held = np.empty(len(y))
    for a in (half, ~half):
        means, precision = class_statistics(f[a], y[a], net.n_outputs)
        held[~a] = Calibration(means, precision, 0.0, 0.0, int(a.sum()), "").distance(f[~a])
    means, precision = class_statistics(f, y, net.n_outputs)
    return Calibration(means, precision, float(np.quantile(energy(out), ENERGY_QUANTILE)),
                       float(np.quantile(held, DISTANCE_QUANTILE)), len(y), model_digest(net))


@dataclass
class Check:
    """own: cross-validation on the user's digits (None with fewer than two); mnist_before/after: MNIST test
    accuracy of the base and the adapted model (None when the test set was not given); n_test its size."""

    own: personalize.CrossValidation | None = None
    mnist_before: float | None = None
    mnist_after: float | None = None
    n_test: int = 0
    mnist_problem: str = ""

    def to_dict(self) -> dict:
        """What the adapted model's spec records (``adaptation.check``) and ``adapt --json`` prints."""
        out: dict = {}
        if self.own is not None:
            out["own_digits"] = self.own.to_dict()
        if self.mnist_after is not None:
            out["mnist_test"] = {"before": self.mnist_before, "after": self.mnist_after, "n": self.n_test}
        elif self.mnist_problem:
            out["mnist_test_problem"] = self.mnist_problem
        return out


def measure(base: Network, adapted: Network, examples: personalize.Examples, *, replay=None, settings=None,
            folds: int = 4, test: tuple[np.ndarray, np.ndarray] | None = None, mnist_before: float | None = None,
            report: Report | None = None, should_stop=None) -> Check:
    """k-fold before/after on the user's digits, then the MNIST test set ``test`` (x, y) for both models
    (``mnist_before`` given: the base's, measured before, is not measured again). AdaptCancelled when
    ``should_stop()`` says so."""
    from mnist_desktop.evaluation import evaluate

    check = Check()
    if len(examples) >= 2:
        check.own = personalize.cross_validate(
            base, examples, replay=replay, settings=settings, folds=folds, should_stop=should_stop,
            progress=None if report is None else (lambda d, t, w: report(w, d, t)))
    if test is None:
        return check
    x, y = test
    for which, net in (("original", base), ("adapted", adapted)):
        if which == "original" and mnist_before is not None:
            continue
        r = evaluate(net, x, y, should_stop=should_stop,
                     progress=None if report is None else (lambda d, t, w=which: report(f"MNIST test, {w}", d, t)))
        if r is None:
            raise personalize.AdaptCancelled()
        if which == "original":
            mnist_before = r.accuracy
        else:
            check.mnist_after = r.accuracy
    check.mnist_before, check.n_test = mnist_before, int(len(y))
    return check


def measure_with_test_set(base: Network, adapted: Network, examples: personalize.Examples, load_test: Callable,
                          **kw) -> tuple[Check, float | None]:
    """``measure`` (``kw`` passed on) with the test set ``load_test()`` returns (a ``data.Dataset``); when it
    cannot be loaded, ``Check.mnist_problem`` says why and only the user's digits are measured.
    -> (check, the adapted model's accuracy on the full 10,000 MNIST test digits, else None)."""
    from mnist_desktop.data import DatasetError

    try:
        data = load_test()
        test, problem = (data.x_test, data.y_test), None
    except (DatasetError, ValueError) as exc:
        data, test, problem = None, None, str(exc).split(". ")[0]
    check = measure(base, adapted, examples, test=test, **kw)
    if test is None:
        check.mnist_problem = problem
    full = data is not None and data.name == "mnist" and len(data.y_test) == 10_000
    return check, check.mnist_after if full else None


def check_and_record(base: Network, adapted: Network, adapted_spec: dict, adapted_path, examples: personalize.Examples,
                     *, replay=None, settings=None, folds: int = 4, mnist_before: float | None = None,
                     report: Report | None = None, should_stop=None) -> tuple[Check, dict]:
    """``measure_with_test_set`` on the MNIST test set from the cache, then the adapted model's file rewritten
    (atomically) with what was measured in its spec (``adaptation.check``; ``test_accuracy`` from the full
    10,000 MNIST test digits, what the model picker shows). -> (check, the new spec)."""
    from mnist_desktop.data import load_dataset
    from mnist_desktop.engine.serialize import save

    check, test_accuracy = measure_with_test_set(
        base, adapted, examples, lambda: load_dataset("mnist", test_only=True), replay=replay, settings=settings,
        folds=folds, mnist_before=mnist_before, report=report, should_stop=should_stop)
    spec = dict(adapted_spec)
    spec["adaptation"] = {**spec["adaptation"], "check": check.to_dict()}
    if test_accuracy is not None:
        spec["test_accuracy"] = test_accuracy
    save(adapted, adapted_path, spec, compress=False)
    return check, spec
