"""Encoders turn each modality into vectors: one interface per role, backends chosen by name.

Text encoders are built as ``TEXT_ENCODERS.create(name, runtime=..., threads=..., home=...)``
(``shoprank.factory.text_encoder`` passes the settings); model-free ones ignore the options."""
from shoprank.encoders.base import IMAGE_ENCODERS, TEXT_ENCODERS, ImageEncoder, TextEncoder

# Backends with heavy dependencies are imported when first asked for.
TEXT_ENCODERS.register("e5", "shoprank.encoders.text:e5")
TEXT_ENCODERS.register("minilm", "shoprank.encoders.text:minilm", extra="minilm")
TEXT_ENCODERS.register("hashing", "shoprank.encoders.fake:HashingTextEncoder")
IMAGE_ENCODERS.register("efficientnet", "shoprank.encoders.image:efficientnet", extra="image")
IMAGE_ENCODERS.register("rgb-hist", "shoprank.encoders.color:ColorHistogramEncoder")
IMAGE_ENCODERS.register("palette", "shoprank.encoders.fake:PaletteImageEncoder")
IMAGE_ENCODERS.register("palette-joint", "shoprank.encoders.fake:JointPaletteImageEncoder")

__all__ = ["IMAGE_ENCODERS", "TEXT_ENCODERS", "ImageEncoder", "TextEncoder"]
