"""Mixture heads on ARBG's backbone: GIVT, MoL-PixelCNN++ and GMM-PixelCNN++ (README.md)."""

from baselines.ar_heads.method import GIVT, GMMPixelCNN, MoLPixelCNN

__all__ = ["GIVT", "GMMPixelCNN", "MoLPixelCNN"]
