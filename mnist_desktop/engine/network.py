"""Sequential network: a list of layers, a loss, and the plumbing between them.

    net = Network.from_architecture({"input_shape": [784], "loss": "ce",
                                     "layers": [{"type": "dense", "units": 30}, {"type": "sigmoid"},
                                                {"type": "dense", "units": 10}]},
                                    rng=np.random.default_rng(0))
    loss, outputs = net.loss_and_grads(x, y)   # x: (N, 784) float32, y: (N,) int
    probs = net.predict_proba(x)               # (N, 10)

The architecture dict is exactly what a model file stores, so a network rebuilds from its file.
"""

from __future__ import annotations

import copy as _copy
import math

import numpy as np

from . import threads
from .layers import Dense, Dropout, Layer, layer_from_config
from .losses import LOSSES, outputs_to_probabilities


class Network:
    def __init__(self, layers: list[Layer], input_shape, loss: str = "ce", *,
                 rng: np.random.Generator, dtype=np.float32) -> None:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r} (expected one of {', '.join(LOSSES)})")
        if not layers:
            raise ValueError("a network needs at least one layer")
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.rng = rng
        shape = self.input_shape
        self.shapes = [shape]  # per-example shape after each layer, input first
        for layer in self.layers:
            shape = tuple(layer.build(shape, rng, self.dtype))
            self.shapes.append(shape)
        if len(shape) != 1:
            raise ValueError(f"the last layer must give a flat output, got per-example shape {shape}")
        self._replicas: list[Network] = []   # data-parallel training: see _split_forward
        self._parts: list[tuple[int, int]] | None = None

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_architecture(cls, arch: dict, *, rng: np.random.Generator, dtype=np.float32) -> "Network":
        """Build from ``{"input_shape": [...], "layers": [{"type": ...}, ...], "loss": "ce"}``."""
        if not isinstance(arch, dict):
            raise ValueError("architecture must be an object")
        try:
            layers = [layer_from_config(entry) for entry in arch["layers"]]
            return cls(layers, arch["input_shape"], arch.get("loss", "ce"), rng=rng, dtype=dtype)
        except KeyError as exc:
            raise ValueError(f"architecture is missing {exc}") from None
        except TypeError as exc:
            raise ValueError(f"malformed architecture: {exc}") from None

    def architecture(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "loss": self.loss,
            "layers": [{"type": layer.kind, **layer.config()} for layer in self.layers],
        }

    @property
    def n_outputs(self) -> int:
        return self.shapes[-1][0]

    def describe(self) -> str:
        """One line for people: '784-128-128-10 relu' or 'conv20@5x5 > pool2 > ... > dense 10'."""
        kinds = {layer.kind for layer in self.layers}
        if kinds <= {"dense", "relu", "sigmoid", "tanh", "dropout"}:
            sizes = [str(math.prod(self.input_shape))] + [str(l.units) for l in self.layers if isinstance(l, Dense)]
            acts = [l.kind for l in self.layers if l.kind in ("relu", "sigmoid", "tanh")]
            act = max(set(acts), key=acts.count) if acts else "linear"
            return "-".join(sizes) + f" {act}"
        parts = []
        for layer in self.layers:
            c = layer.config()
            if layer.kind == "conv2d":
                parts.append(f"conv{c['filters']}@{c['kernel']}x{c['kernel']}")
            elif layer.kind == "maxpool2d":
                parts.append(f"pool{c['size']}")
            elif layer.kind == "dense":
                parts.append(f"fc{c['units']}")
            elif layer.kind == "batchnorm":
                parts.append("bn")
        return " > ".join(parts)

    def n_params(self) -> int:
        return sum(p.size for layer in self.layers for p in layer.params.values())

    # ---- computation ----------------------------------------------------------------------

    def _as_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.shape[1:] != self.input_shape:
            if math.prod(x.shape[1:]) != math.prod(self.input_shape):
                raise ValueError(f"input of shape {x.shape[1:]} does not fit a network expecting {self.input_shape}")
            x = x.reshape((x.shape[0], *self.input_shape))
        return x.astype(self.dtype, copy=False)

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = True) -> np.ndarray:
        """x: (N, *input_shape) -> outputs (N, K): logits for 'ce', activations for 'mse'.
        ``keep``: the layers keep what ``backward`` needs (until it runs); inference passes False and
        leaves no activations behind."""
        x = self._as_input(x)
        self._parts = self._training_parts(len(x)) if training and keep else None
        if self._parts is not None:
            return self._split_forward(x)
        for i in self._order():
            x = self.layers[i].forward(x, training, keep)
        return x

    def _order(self) -> list[int]:
        """The order the layers run in: as declared, except that a ReLU directly followed by a max-pool
        runs after it. max(relu(a), relu(b)) = relu(max(a, b)), and the gradients agree too (the pool
        routes to the first maximum, which is the same element unless the window's maximum is <= 0,
        where the ReLU's gradient is 0 either way), so the numbers are the same, and the ReLU passes
        over a quarter of the values (cnn-seed: ~4% of a training step)."""
        return self._layout()[0]

    def _layout(self) -> tuple[list[int], set[str]]:
        """(the run order, the layer kinds), worked out once per layer list: the layers never change once
        built, and a copy or an inference copy (batch norms folded away) is given a list of its own."""
        cached = self.__dict__.get("_layout_of")
        if cached is not None and cached[0] is self.layers:
            return cached[1], cached[2]
        order = list(range(len(self.layers)))
        i = 0
        while i < len(order) - 1:
            if self.layers[i].kind == "relu" and self.layers[i + 1].kind == "maxpool2d":
                order[i], order[i + 1] = i + 1, i
                i += 2
            else:
                i += 1
        kinds = {layer.kind for layer in self.layers}
        self._layout_of = (self.layers, order, kinds)
        return order, kinds

    def backward(self, dout: np.ndarray, need_input_grad: bool = False) -> np.ndarray | None:
        """Back-propagate d loss / d outputs; fills every layer's ``grads``; returns d loss / d input
        (N, *input_shape) if asked (the first layer skips that product otherwise)."""
        if self._parts is not None:
            return self._split_backward(dout, need_input_grad)
        return self._backward(dout, need_input_grad)

    def _backward(self, dout, need_input_grad):
        d = dout
        order = self._order()
        # layers up to the first one with parameters (e.g. reshape, conv) need no input gradient
        first = next((p for p, i in enumerate(order) if self.layers[i].params), len(order))
        for p in range(len(order) - 1, -1, -1):
            d = self.layers[order[p]].backward(d, need_dx=need_input_grad or p > first)
            if d is None:
                for i in order[:p]:  # the layers not reached drop their caches too
                    self.layers[i].release()
                break
        return d

    # ---- data-parallel training ------------------------------------------------------------
    # A training batch worth it is split between the engine's threads for the whole step: each thread runs
    # its images forward and backward through every layer (the main network takes the first part, replicas
    # sharing its parameters the others), then the replicas' gradients are added to the network's. Two
    # hand-offs per step instead of one per layer and pass, and the layers between the convolutions (ReLU,
    # dropout, dense) run in parallel too; benchmarks/data_parallel.py compares the two ways. The loss is
    # computed on the whole batch's outputs, so the gradients are the one-thread ones (sums in another
    # order), and the dropout masks are drawn for the whole batch in layer order before the split: the
    # same random numbers as on one thread. Networks with batch norm keep the per-layer splits (their
    # statistics are over the whole batch). Networks without a convolution stay on one thread: their
    # steps are many short NumPy calls, and two threads taking turns at the GIL made them slower
    # (2026-12-03, 2 cores, batch 64: mlp-128x2 56,000 img/s split against 89,000 on one thread,
    # mlp-100-30 84,000 against 157,000, mlp-512x2 13,500 against 14,300; cnn-seed 5,750 against 3,900).

    data_parallel = True   # False: training steps use the layers' own splits only

    def _training_parts(self, n: int) -> list[tuple[int, int]] | None:
        """The image ranges of a training batch of ``n`` split between threads, or None (one part)."""
        kinds = self._layout()[1]
        if not self.data_parallel or threads.threads() <= 1 or "batchnorm" in kinds or "conv2d" not in kinds:
            return None
        # forward + backward: about three times the forward's multiply-adds per image
        parts = threads.ranges(n, 3 * self._flops_per_image(), threads.MIN_PART_FLOPS)
        return parts if len(parts) > 1 else None

    def _flops_per_image(self) -> float:
        """Multiply-adds of one image's forward pass through the dense and conv layers."""
        total = 0
        for layer, shape_in, shape_out in zip(self.layers, self.shapes, self.shapes[1:]):
            if layer.kind in ("dense", "conv2d"):
                total += layer.params["W"].size * math.prod(shape_out[:-1])
        return float(total)

    def _replica(self) -> "Network":
        """A network sharing this one's parameters and buffers (the same arrays), with its own gradients
        and caches."""
        new = _copy.copy(self)
        new.layers = []
        for layer in self.layers:
            r = _copy.copy(layer)
            r.release()
            r.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
            new.layers.append(r)
        new._replicas, new._parts = [], None
        return new

    def _replicas_for(self, parts: int) -> list["Network"]:
        """[self, replica, ...]: ``parts`` networks, replicas rebuilt when the parameters were replaced."""
        def current(r):
            return all(rl.params is l.params and all(rl.grads[k].dtype == v.dtype and rl.grads[k].shape == v.shape
                                                     for k, v in l.params.items())
                       for rl, l in zip(r.layers, self.layers))
        self._replicas = [r for r in self._replicas if current(r)]
        while len(self._replicas) < parts - 1:
            self._replicas.append(self._replica())
        return [self, *self._replicas[:parts - 1]]

    def _split_setup(self, x: np.ndarray, parts: list[tuple[int, int]]) -> list["Network"]:
        """The networks that run the parts (self first), each dropout layer given its part of a mask drawn
        for the whole batch in layer order (the one-thread random numbers)."""
        nets = self._replicas_for(len(parts))
        for i in self._order():
            layer = self.layers[i]
            if isinstance(layer, Dropout) and layer.p > 0:
                mask = layer.draw_mask((len(x), *self.shapes[i]))
                for net, (a, b) in zip(nets, parts):
                    net.layers[i].given = mask[a:b]
        return nets

    def _add_replica_grads(self, nets: list["Network"]) -> None:
        for net in nets[1:]:
            for layer, r in zip(self.layers, net.layers):
                for k, g in layer.grads.items():
                    g += r.grads[k]

    def _part_forward(self, h: np.ndarray, order) -> np.ndarray:
        """One thread's part of a split training batch through the layers (in ``order``), training mode."""
        for i in order:
            h = self.layers[i].forward(h, True, True)
        return h

    def _split_forward(self, x: np.ndarray) -> np.ndarray:
        parts = self._parts
        nets = self._split_setup(x, parts)
        order = self._order()

        def run(k):  # one thread's images through every layer
            with threads.sequential():
                return nets[k]._part_forward(x[parts[k][0]:parts[k][1]], order)

        return np.concatenate(threads.parallel_map(run, range(len(parts))))

    def _split_backward(self, dout: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        parts, self._parts = self._parts, None
        nets = [self, *self._replicas[:len(parts) - 1]]

        def run(k):
            with threads.sequential():
                return nets[k]._backward(dout[parts[k][0]:parts[k][1]], need_input_grad)

        dxs = threads.parallel_map(run, range(len(parts)))
        self._add_replica_grads(nets)
        return np.concatenate(dxs) if need_input_grad else None

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, training: bool = True) -> tuple[float, np.ndarray]:
        """One forward + backward pass; returns (mean loss, outputs (N, K)).

        A training batch split between threads (see ``_split_forward``) runs each part's forward, loss and
        backward on its thread in one hand-off instead of two: a part's loss is its mean times its share
        of the batch, so its output gradient is the whole batch's rows (the same numbers for parts of a
        power-of-two share, a last-bit rounding apart otherwise), and the parts' losses add up to the
        batch's. One wait for the slower thread a step instead of two, and the loss computed in parallel
        (cnn-seed, 2 threads: +5% training images/s in two runs of benchmarks/engine_ab.py)."""
        x = self._as_input(x)
        parts = self._training_parts(len(x)) if training else None
        if parts is None:
            out = self.forward(x, training)
            loss, dout = LOSSES[self.loss](out, y)
            self.backward(dout)
            return loss, out
        self._parts = None
        nets = self._split_setup(x, parts)
        order, loss_fn, n = self._order(), LOSSES[self.loss], len(x)

        def run(k):  # one thread's images: forward, their share of the loss, backward
            a, b = parts[k]
            net = nets[k]
            with threads.sequential():
                h = net._part_forward(x[a:b], order)
                loss, d = loss_fn(h, y[a:b])
                d *= (b - a) / n
                net._backward(d, False)
            return loss * (b - a) / n, h

        results = threads.parallel_map(run, range(len(parts)))
        self._add_replica_grads(nets)
        return sum(loss for loss, _ in results), np.concatenate([h for _, h in results])

    def input_gradient(self, x: np.ndarray, dout: np.ndarray) -> np.ndarray:
        """d (sum(outputs * dout)) / d x in inference mode: the backward pass without training."""
        self.forward(x, training=False)
        return self.backward(dout.astype(self.dtype), need_input_grad=True)

    # Inference runs the images through in chunks whose largest activation holds about this many floats
    # (1 MB in float32): a chunk's activations then stay in the caches from one layer to the next, and
    # memory stays bounded however many images come (the shipped CNN: chunks of ~20 images; an MLP:
    # hundreds). Measured in benchmarks/inference_batching.py.
    chunk_floats = 1 << 21

    def inference_chunk(self) -> int:
        """Images per inference chunk, from the layer sizes: ``chunk_floats`` over the largest per-image
        activation, at least 1; whole batches of a conv layer's im2col columns count too."""
        per_image = max(math.prod(s) for s in self.shapes)
        for layer, shape in zip(self.layers, self.shapes):
            if layer.kind == "conv2d":
                k = layer.kernel
                per_image = max(per_image, math.prod(shape[:2]) * (k * k * shape[2] + 1) // 4)
        return max(1, self.chunk_floats // per_image)

    def predict_proba(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """x: (N, ...) images in [0, 1] -> (N, K) class probabilities (inference mode: nothing kept).
        ``batch_size``: images per forward pass (default: ``inference_chunk()``)."""
        x = np.asarray(x)
        single = x.ndim == len(self.input_shape) and x.shape == self.input_shape
        if single:
            x = x[None]
        step = batch_size or self.inference_chunk()
        probs = np.empty((len(x), self.n_outputs), self.dtype)
        for i in range(0, len(x), step):
            probs[i:i + step] = outputs_to_probabilities(self.forward(x[i:i + step], keep=False), self.loss)
        return probs[0] if single else probs

    def predict(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """(N, ...) -> (N,) int64 predicted classes."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    # ---- parameters -----------------------------------------------------------------------

    def param_slots(self) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
        """[(name, param, grad, decay)] for optimizers; decay is True for weight matrices/kernels."""
        return [
            (f"{i}.{k}", p, layer.grads[k], k == "W")
            for i, layer in enumerate(self.layers)
            for k, p in layer.params.items()
        ]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array a model file stores: parameters and buffers, named '<layer index>.<name>'."""
        out = {}
        for i, layer in enumerate(self.layers):
            for k, v in {**layer.params, **layer.buffers}.items():
                out[f"{i}.{k}"] = v
        return out

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy values into the existing arrays (shapes must match; optimizers keep their references)."""
        own = self.arrays()
        if set(own) != set(arrays):
            missing, extra = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
            raise ValueError(f"arrays do not match the architecture (missing {missing}, unexpected {extra})")
        for k, dst in own.items():
            src = np.asarray(arrays[k])
            if src.shape != dst.shape:
                raise ValueError(f"array {k!r} has shape {src.shape}, the architecture needs {dst.shape}")
            dst[...] = src

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.arrays().items()}

    def copy(self) -> "Network":
        """An independent copy, e.g. to train while another predicts: its own parameters, buffers,
        gradients and RNG (in the same state); no activations (a layer's cache is not copied)."""
        new = _copy.copy(self)
        memo: dict = {}
        new.rng = _copy.deepcopy(self.rng, memo)  # the dropout layers share it: the memo keeps that so
        new.layers = [layer.copy(memo) for layer in self.layers]
        new.shapes = list(self.shapes)
        new._replicas, new._parts = [], None
        return new

    def inference_copy(self) -> "Network":
        """A copy for prediction only, with every batch norm that directly follows a dense or conv2d layer
        folded into that layer's weights: (x W + b - mean) * s + beta = x (W s) + ((b - mean) s + beta),
        s = gamma / sqrt(var + eps). One pass over the activations less per batch norm; the outputs equal
        the original's up to float rounding. Not for training (the batch norms are gone)."""
        net = self.copy()
        layers, shapes = [], [net.input_shape]
        for layer, shape in zip(net.layers, net.shapes[1:]):
            prev = layers[-1] if layers else None
            if layer.kind == "batchnorm" and prev is not None and prev.kind in ("dense", "conv2d"):
                s = layer.params["gamma"] / np.sqrt(layer.buffers["var"] + layer.eps)
                prev.params["W"] *= s.astype(prev.params["W"].dtype)      # scales the last axis: outputs
                prev.params["b"][...] = (prev.params["b"] - layer.buffers["mean"]) * s + layer.params["beta"]
                continue
            layers.append(layer)
            shapes.append(shape)
        net.layers, net.shapes = layers, shapes
        return net

    def astype(self, dtype) -> "Network":
        """Convert in place (float64 for gradient checks); returns self."""
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.astype(dtype)
        self._replicas, self._parts = [], None
        return self
