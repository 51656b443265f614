"""``cond_diffusion``: class-conditional denoising diffusion with classifier-free guidance.

The ``diffusion`` model's U-Net (``diffusion.unet``) with a label input whose
embedding is added to the noise level's in every residual block. Training
drops the label (the extra "no label" class) for a share ``uncond`` of the
examples (Ho and Salimans 2022 use 0.1-0.2), so the one network also predicts
without it; sampling mixes the two predictions, (1 + guidance) with the label
- guidance without it: 0 samples from the conditional model alone, larger
values trade variety for images that look more like their class.
"""

from __future__ import annotations

from typing import Annotated, Any

from tfgen.models.base import DiffusionModel
from tfgen.models.diffusion import (DEFAULT_WIDTHS, Blocks, Decay, Eta, Loss, Rate, Resolutions, Steps, Target,
                                    WeightDecay, Widths, check_attention, use_unet)
from tfgen.options import Range
from tfgen.registry import register


@register
class CondDiffusion(DiffusionModel):
    """Class-conditional diffusion: the diffusion U-Net with a label embedding, classifier-free guidance.

    ``--latent-dim`` is not used: the noise has the images' shape.

    Args:
        widths, blocks, attention, dropout, target, loss, ema, weight_decay, steps, eta: as ``diffusion``'s.
        uncond: the share of training examples whose label is dropped.
        guidance: the guidance weight w of sampling: (1 + w) conditional - w unconditional.
    """

    capabilities = frozenset({"conditional", "steps"})
    grid_shape = (10, 6)  # a row per class (the first 20 when there are more), six draws of noise each

    def __init__(self, latent_dim: int = 1, learning_rate: float = 1e-3, seed: int | None = None, *,
                 widths: Widths = DEFAULT_WIDTHS, blocks: Blocks = 2, attention: Resolutions = (), dropout: Rate = 0.0,
                 target: Target = "v", loss: Loss = "mse", ema: Decay = 0.999, weight_decay: WeightDecay = 1e-4,
                 steps: Steps = 20, eta: Eta = 0.0, uncond: Annotated[float, Range(0, 1)] = 0.1,
                 guidance: Annotated[float, Range(0, 20)] = 1.0, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, target=target, loss=loss,
                         ema=ema, weight_decay=weight_decay, steps=steps, eta=eta, uncond=uncond, guidance=guidance,
                         **kwargs)
        use_unet(self, widths, blocks, attention, dropout)

    @classmethod
    def check_data(cls, image_shape, num_classes, options=None) -> None:
        super().check_data(image_shape, num_classes, options)
        check_attention(image_shape, options or {})
