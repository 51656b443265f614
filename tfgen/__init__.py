"""tfgen: generative image models (VAEs and GANs) for MNIST-like data, on TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
