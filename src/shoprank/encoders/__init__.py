"""Encoders turn each modality into vectors. One interface per modality, swappable backends."""
from shoprank.encoders.base import ImageEncoder, TextEncoder, make_image_encoder, make_text_encoder

__all__ = ["ImageEncoder", "TextEncoder", "make_image_encoder", "make_text_encoder"]
