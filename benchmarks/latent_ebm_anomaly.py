"""Study: anomaly detection with a latent EBM prior, one class held out at a time.

The protocol of Pang et al. (2020, "Learning Latent Space Energy-Based Prior Model", §4.4),
after Zenati et al. (2018): one class is the anomaly; a ``LatentEBM`` trains on 80 % of the
images of the other classes (``kgen.metrics.ood.anomaly_split`` on the train and test splits
pooled); it is tested on the remaining 20 % plus every image of the held-out class. Scores,
higher meaning more anomalous, both from the same posterior chain (same seed):

* ``anomaly_score``: ‖x − G(z₊)‖²/(2σ²) + E(z₊) + ½‖z₊‖², −log p(x, z₊) up to constants
  (``LatentEBM.anomaly_score``, the paper's follow-up code);
* reconstruction error ‖x − G(z₊)‖² alone: the likelihood-free baseline.

Printed: per held-out class, AUROC and AUPRC (``kgen.metrics.ood``; anomalies the positives,
AUPRC by chance = their share of the test set) of each score, and the training time.

Recipe (course notebook 06, §7): images scaled to [−1, 1], the model's defaults (conv
generator, energy MLP, σ = 0.3, K₋ = 60, K₊ = 20), batch 64, Adam with the paper's betas
(0.5, 0.999) and its learning rates 1e-4 (generator) and 2e-5 (energy) times 10 for a CPU budget.

Run: ``python benchmarks/latent_ebm_anomaly.py --data digits --held-out 1,4,5,7,9 --epochs 200``
or ``--data fashion_mnist --n 6000 --epochs 8``; ``--quick`` for a smoke run (numbers
meaningless).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402

BATCH = 64
LR_GENERATOR, LR_ENERGY = 1e-3, 2e-4  # the paper's 1e-4 and 2e-5, times 10 for a CPU budget
SCORE_BATCH = 1000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("digits", "fashion_mnist"), default="digits")
    parser.add_argument("--held-out", default="1,4,5,7,9", help="comma-separated held-out classes")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--n", type=int, default=None, help="cap on the training images (default: all 80 %%)")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: 256 training images, 1 epoch, 2 classes")
    args = parser.parse_args(argv)
    args.held_out = [int(c) for c in args.held_out.split(",") if c.strip()]
    if args.quick:
        args.n, args.epochs, args.held_out = 256, 1, args.held_out[:2]
    return args


def pooled(name):
    """Train and test splits together, in [−1, 1], with their labels."""
    import numpy as np

    from kgen.data import load_images

    (x_train, y_train), (x_test, y_test) = load_images(name, "train"), load_images(name, "test")
    return 2 * np.concatenate([x_train, x_test]) - 1, np.concatenate([y_train, y_test])


class EpochProgress:
    """One progress bar over the epochs of a fit (a Keras callback, built lazily)."""

    @staticmethod
    def make():
        import keras

        class Progress(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = None

            def on_epoch_end(self, epoch, logs=None):
                if self.bar is None:
                    self.bar = keras.utils.Progbar(self.params["epochs"], stateful_metrics=list(logs))
                self.bar.update(epoch + 1, [(key, float(value)) for key, value in logs.items()])

        return Progress()


def scores(model, x, seed):
    """``LatentEBM.anomaly_score`` and the reconstruction error ‖x − G(z₊)‖² of each image, both
    at the same posterior samples z₊: one chain per image, not two."""
    import numpy as np

    score, error = [], []
    for start in range(0, len(x), SCORE_BATCH):
        chunk = x[start:start + SCORE_BATCH]
        z = model.posterior_sample(chunk, seed=seed)
        error.append(np.sum((chunk - np.asarray(model.generator(z))) ** 2, axis=tuple(range(1, chunk.ndim))))
        score.append(np.asarray(model.anomaly_score(chunk, z=z)))
    return np.concatenate(score), np.concatenate(error)


def run_one(args, x, y, held_out):
    import keras

    from kgen.metrics.ood import anomaly_split, auprc, auroc
    from kgen.models import LatentEBM

    train, test_normal, test_anomalous = anomaly_split(x, y, held_out, train_share=0.8, seed=args.seed)
    if args.n is not None:
        train = train[:args.n]
    print(f"held out {held_out}: train on {len(train)}; test on {len(test_normal)} normal + "
          f"{len(test_anomalous)} anomalous")

    def adam(rate):
        return keras.optimizers.Adam(rate, beta_1=0.5, beta_2=0.999)  # the paper's betas

    keras.utils.set_random_seed(args.seed)
    model = LatentEBM(train.shape[1:], latent_dim=args.latent_dim, seed=args.seed)
    model.compile(optimizer=adam(LR_GENERATOR), energy_optimizer=adam(LR_ENERGY), jit_compile=False)
    start = time.time()
    model.fit(train, batch_size=BATCH, epochs=args.epochs, verbose=0, callbacks=[EpochProgress.make()])
    train_time = time.time() - start
    start = time.time()
    (score_in, error_in), (score_out, error_out) = scores(model, test_normal, args.seed), scores(
        model, test_anomalous, args.seed)
    score_time = time.time() - start
    chance = len(test_anomalous) / (len(test_anomalous) + len(test_normal))
    return [held_out, f"{auroc(score_in, score_out):.3f}", f"{auprc(score_in, score_out):.3f}",
            f"{auroc(error_in, error_out):.3f}", f"{auprc(error_in, error_out):.3f}", f"{chance:.3f}",
            int(model.optimizer.iterations), f"{train_time:.0f}", f"{score_time:.0f}"]


def main(argv=None):
    args = parse_args(argv)
    import kgen

    begin = time.time()
    x, y = pooled(args.data)
    print(f"latent_ebm_anomaly: kgen {kgen.__version__}, {args.data} {tuple(x.shape[1:])} in [-1, 1], "
          f"{len(x)} images pooled; d = {args.latent_dim}, {args.epochs} epochs of batch {BATCH}, "
          f"training cap {args.n}, Adam({LR_GENERATOR:g} / {LR_ENERGY:g}, 0.5, 0.999), seed {args.seed}")
    print(f"machine: {_timing.machine_summary()}")
    rows = [run_one(args, x, y, held_out) for held_out in args.held_out]
    print()
    print(_timing.table(["held out", "score AUROC", "score AUPRC", "recon AUROC", "recon AUPRC", "chance AUPRC",
                         "steps", "train s", "score s"], rows))
    print(f"total {time.time() - begin:.0f} s")
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")


if __name__ == "__main__":
    main()
