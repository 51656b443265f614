"""tfgen: generative image models (VAEs and GANs) for any images, grey or colour, on TensorFlow 2 / Keras 3.

    import tfgen
    run = tfgen.train("cvae", epochs=3, out="runs/try")   # or: python train.py cvae --epochs 3 --out runs/try
    run = tfgen.load("runs/try")                          # read-only
"""

from tfgen.api import Run, load, train
from tfgen.version import __version__

__all__ = ["Run", "load", "train", "__version__"]
