"""DDPM and DDGAN on images at a CPU budget: samples, and their Fréchet distance next to the data's own.

The image half of the trilemma (Xiao, Kreis & Vahdat 2022, "Tackling the Generative Learning
Trilemma with Denoising Diffusion GANs"): on one image dataset, a DDPM (Ho et al. 2020) with its
T = 1000 ancestral steps, the same DDPM restricted to 4 deterministic DDIM steps (Song, Meng &
Ermon 2021), and a DDGAN with T = 4 are trained for a fixed number of steps and compared by
``kgen.metrics.sample_quality``: the Fréchet distance (Heusel et al. 2017's formula) and KID
(Bińkowski et al. 2018) on the features of kgen's own classifier for the dataset, precision and
recall (Kynkäänniemi et al. 2019), with the Fréchet distance of test images to training images —
the floor a perfect model would reach with the same number of images — printed beside them,
and the network evaluations and wall time of sampling. It writes one PNG: a row of training
images and a row of samples per sampler.

Training recipes are notebook 05's digit recipes (DDPM: Adam 1e-3 cosine-decayed to 5 %; DDGAN:
Adam 5e-4, β = (0.5, 0.9) for both players, latent 32, EMA 0.99), with kgen's XLA default
(off on a CPU, where compiling these conv steps took minutes and ran no faster; on with a GPU).

    python benchmarks/diffusion_images.py --data fashion_mnist --n 12000 --steps 4000
    python benchmarks/diffusion_images.py --data digits --steps 2000 --out /tmp/digits.png
    python benchmarks/diffusion_images.py --quick          # a smoke run: meaningless figures
"""

import argparse
import os
import time

import keras
import numpy as np

import kgen
from kgen.metrics import sample_quality
from kgen.models import DDGAN, DDPM
from kgen.viz import save_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="fashion_mnist", choices=("fashion_mnist", "digits", "mnist"),
                        help="image dataset (default fashion_mnist)")
    parser.add_argument("--n", type=int, default=None, help="training images (default: the whole split)")
    parser.add_argument("--steps", type=int, default=4000, help="optimizer steps per model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=500, help="samples per sampler for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="PNG of the samples (default benchmarks/out/diffusion_<data>.png)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 512 images, 10 steps, 64 samples")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.steps, args.samples = 512, 10, 64
    for name in ("steps", "batch_size", "samples"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer; got {getattr(args, name)}")
    if args.n is not None and args.n < args.batch_size:
        parser.error(f"--n must be at least --batch-size ({args.batch_size}); got {args.n}")
    return args


def build_ddpm(shape, steps, seed):
    model = DDPM(shape, seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    return model


def build_ddgan(shape, seed):
    model = DDGAN(shape, latent_dim=32, ema_decay=0.99, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5, beta_2=0.9),
                  discriminator_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5, beta_2=0.9))
    return model


def train(name, model, x, steps, batch_size):
    """Fit for ``steps`` steps (whole epochs of ``steps_per_epoch`` steps); returns wall seconds."""
    per_epoch = min(steps, len(x) // batch_size)
    started = time.perf_counter()
    model.fit(x, batch_size=batch_size, epochs=max(1, round(steps / per_epoch)), steps_per_epoch=per_epoch,
              verbose=2)
    seconds = time.perf_counter() - started
    print(f"{name}: {int(model.optimizer.iterations)} steps in {seconds / 60:.1f} min", flush=True)
    return seconds


def timed(sample, n):
    sample(n)  # trace and compile first: a program is built per batch size
    started = time.perf_counter()
    images = np.clip(np.asarray(sample(n)), 0.0, 1.0)
    return images, time.perf_counter() - started


def main(argv=None):
    args = parse_args(argv)
    print(f"kgen {kgen.__version__}, Keras {keras.__version__}; load average {os.getloadavg()[0]:.1f}", flush=True)
    keras.utils.set_random_seed(args.seed)
    x = kgen.data.load(args.data, n=args.n, split="train", seed=args.seed)
    print(f"{args.data}: {len(x)} training images of shape {x.shape[1:]}; {args.steps} steps per model, "
          f"batch {args.batch_size}", flush=True)

    ddpm = build_ddpm(x.shape[1:], args.steps, args.seed)
    train_seconds = {"DDPM": train("DDPM, T = 1000", ddpm, x, args.steps, args.batch_size)}
    keras.utils.set_random_seed(args.seed)
    ddgan = build_ddgan(x.shape[1:], args.seed)
    train_seconds["DDGAN"] = train("DDGAN, T = 4", ddgan, x, args.steps, args.batch_size)

    samplers = {
        "DDPM, 1000 steps": (lambda n: ddpm.sample(n, seed=args.seed), ddpm.network_evaluations()),
        "DDIM, 4 steps": (lambda n: ddpm.sample(n, num_steps=4, seed=args.seed), ddpm.network_evaluations(4)),
        "DDGAN, T = 4": (lambda n: ddgan.sample(n, seed=args.seed), ddgan.network_evaluations()),
    }
    rows, pictures = [], [x[:16]]
    for name, (sample, evaluations) in samplers.items():
        images, seconds = timed(sample, args.samples)
        quality = sample_quality(images, args.data, n=args.samples, seed=args.seed)
        rows.append((name, quality, evaluations, seconds))
        pictures.append(images[:16])
        print(f"{name}: sampled {args.samples} in {seconds:.1f} s", flush=True)

    reference = rows[0][1]
    print(f"\n{args.data}, {reference['num_samples']} images per set; Fréchet distance of test to training "
          f"images (the floor): {reference['reference_frechet_distance']:.2f}; feature net test accuracy "
          f"{reference['feature_net_accuracy']:.3f}; training {train_seconds['DDPM'] / 60:.1f} min (DDPM), "
          f"{train_seconds['DDGAN'] / 60:.1f} min (DDGAN)")
    gan_seconds = rows[-1][3]
    print(f"{'sampler':<18}{'Fréchet d.':>11}{'KID':>9}{'precision':>11}{'recall':>8}{'NFE':>6}"
          f"{'time (s)':>10}{'× DDGAN':>9}")
    for name, quality, evaluations, seconds in rows:
        print(f"{name:<18}{quality['frechet_distance']:>11.2f}{quality['kernel_distance']:>9.4f}"
              f"{quality['precision']:>11.3f}{quality['recall']:>8.3f}{evaluations:>6d}{seconds:>10.2f}"
              f"{seconds / gan_seconds:>9.1f}")

    out = args.out or os.path.join(ROOT, "benchmarks", "out", f"diffusion_{args.data}.png")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_png(np.concatenate(pictures), out, ncols=16, scale=2)
    print(f"wrote {out}: rows = training images, then {', '.join(samplers)}; load average "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
