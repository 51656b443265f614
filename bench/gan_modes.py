#!/usr/bin/env python3
"""How many modes of ``ring`` (or ``grid``) the toy GAN covers, across seeds: mode dropping measured.

    python bench/gan_modes.py --seeds 0 1 2 3

Trains ``gan`` as ``train.py gan`` does (the same data, pipeline, model and
fixed evaluation noise for each seed) but writes no run directory, and prints a
Markdown table: modes covered and high-quality share every ``--every`` epochs,
one row per seed. ``--lr`` / ``--batch-size`` / ``--epochs`` compare settings.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfgen import config as config_lib  # noqa: E402
from tfgen import data, metrics, options, registry  # noqa: E402


def main() -> int:
    defaults = config_lib.model_defaults("gan")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--dataset", default="ring", choices=["ring", "grid"])
    parser.add_argument("--epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--every", type=int, default=50, help="report every N epochs")
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--lr", type=float, default=defaults["lr"])
    parser.add_argument("--pack", type=int, default=1, choices=options.of(registry.get("gan"))["pack"].type,
                        help="D judges packs of this many samples (--option pack)")
    args = parser.parse_args()
    cls = registry.get("gan")
    reported = list(range(args.every, args.epochs + 1, args.every))
    print(f"gan on {args.dataset}: batch {args.batch_size}, lr {args.lr:g}, pack {args.pack}; "
          "modes covered / high-quality share after each epoch shown\n")
    print("| seed | " + " | ".join(str(e) for e in reported) + " |")
    print("|---:|" + "---:|" * len(reported))
    for seed in args.seeds:
        keras.utils.set_random_seed(seed)  # as tfgen.training does
        ds = data.load(args.dataset, seed=seed)
        model = cls(latent_dim=defaults["latent_dim"], learning_rate=args.lr, seed=seed, pack=args.pack)
        model.compile()
        train = data.pipeline(ds.x_train, ds.y_train, args.batch_size, model.input_range, shuffle=True, seed=seed)
        z = np.random.default_rng([seed, 1]).standard_normal((10_000, defaults["latent_dim"])).astype(np.float32)
        cells = []
        for epoch in range(1, args.epochs + 1):
            model.fit(train, epochs=epoch, initial_epoch=epoch - 1, verbose=0, shuffle=False)
            if epoch in reported:
                m = metrics.mode_coverage(np.asarray(model.sample(z)), ds.modes, ds.mode_std)
                cells.append(f"{int(m['modes_covered'])} / {m['high_quality']:.2f}")
        print(f"| {seed} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
