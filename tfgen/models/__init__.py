"""Every model module; importing this package registers them all."""

from tfgen.models import ae, cgan, cond_vae, conv_vae, cvae, cvae_gan, dcgan, gan, noise_vae, vae  # noqa: F401
