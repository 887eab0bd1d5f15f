"""Study: VAE, β-VAE, FactorVAE and β-TCVAE on procedural dSprites, scored by the disentanglement metrics.

Trains four models with one seed-controlled budget (same data stream, steps, batch, learning
rate and latent size) and prints one table: reconstruction and KL (nats per image, on held-out
images), BetaVAE score, FactorVAE score, MIG and DCI disentanglement (``kgen.metrics.evaluate``
on the encoder means).

==========  ==========================================================================
model       setting
==========  ==========================================================================
VAE         ``kgen.models.VAE``
β-VAE       ``BetaVAE(beta=4)`` (Higgins et al. 2017, dSprites)
FactorVAE   ``FactorVAE(gamma=35)`` (Kim & Mnih 2018); twice the batch, half per player
β-TCVAE     ``BetaTCVAE(beta=6, dataset_size=737 280)`` (Chen et al. 2018), MWS estimator
==========  ==========================================================================

Budgets (``--budget``):

* ``paper``: 64×64 images, 300 000 steps of batch 64, Adam(1e-4) (the FactorVAE paper's and
  disentanglement_lib's setting; FactorVAE's discriminator Adam(1e-4, 0.5, 0.9)); metrics with
  the full protocol (10 000 / 5 000 points, batch 64, DCI with 100 boosting stages). For a GPU.
* ``cpu``: 32×32 images, 6 000 steps of batch 64, Adam(5e-4) for every model and both
  FactorVAE players; metrics with 2 000 / 1 000 points, DCI with 20 stages. 33–37 minutes on
  two quiet CPU cores (``benchmarks/README.md`` has the measured table: too short a budget for
  the papers' ordering to show).
* ``smoke``: 32×32, 30 steps, tiny metric counts: checks that the script runs (numbers meaningless).

The training stream draws fresh factor combinations uniformly from the full grid
(``DSprites.as_dataset``), i.e. samples the 737 280-image dataset with replacement; hence
β-TCVAE's ``dataset_size`` is the grid size.

Target (the papers' ordering): FactorVAE and β-TCVAE above β-VAE above VAE on the FactorVAE
score and MIG; at the paper budget, a FactorVAE score ≥ 0.8 for FactorVAE.

Run: ``python benchmarks/disentanglement.py --budget cpu [--seed 0] [--models vae,factor_vae]``.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402

BUDGETS = {
    "paper": {"resolution": 64, "steps": 300_000, "batch_size": 64, "learning_rate": 1e-4,
              "discriminator_learning_rate": 1e-4, "metric_train": 10_000, "metric_eval": 5_000,
              "metric_batch": 64, "n_estimators": 100, "held_out": 5_000},
    "cpu": {"resolution": 32, "steps": 6_000, "batch_size": 64, "learning_rate": 5e-4,
            "discriminator_learning_rate": 5e-4, "metric_train": 2_000, "metric_eval": 1_000,
            "metric_batch": 64, "n_estimators": 20, "held_out": 2_000},
    "smoke": {"resolution": 32, "steps": 30, "batch_size": 32, "learning_rate": 5e-4,
              "discriminator_learning_rate": 5e-4, "metric_train": 100, "metric_eval": 50,
              "metric_batch": 16, "n_estimators": 5, "held_out": 200},
}
MODEL_NAMES = ("vae", "beta_vae", "factor_vae", "beta_tcvae")
LABELS = {"vae": "VAE", "beta_vae": "beta-VAE (4)", "factor_vae": "FactorVAE (35)", "beta_tcvae": "beta-TCVAE (6)"}
LATENT_DIM = 10


def build(name, shape, budget, seed):
    """The model and its compiled optimizers, as in the table of the module docstring."""
    import keras

    from kgen.data import DSprites
    from kgen.models import VAE, BetaTCVAE, BetaVAE, FactorVAE

    rate = budget["learning_rate"]
    if name == "vae":
        model = VAE(shape, latent_dim=LATENT_DIM, seed=seed)
    elif name == "beta_vae":
        model = BetaVAE(shape, latent_dim=LATENT_DIM, beta=4.0, seed=seed)
    elif name == "factor_vae":
        model = FactorVAE(shape, latent_dim=LATENT_DIM, gamma=35.0, seed=seed)
        model.compile(keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999),
                      keras.optimizers.Adam(budget["discriminator_learning_rate"], beta_1=0.5, beta_2=0.9))
        return model
    else:
        model = BetaTCVAE(shape, latent_dim=LATENT_DIM, beta=6.0, dataset_size=DSprites.num_examples, seed=seed)
    model.compile(keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999))
    return model


def reconstruction_and_kl(model, images):
    """Mean −log p(x | z) (one posterior draw) and closed-form KL, nats per image, by chunks."""
    import numpy as np

    from kgen.models import BetaVAE

    sums = np.zeros(2)
    for start in range(0, len(images), 500):
        x = images[start : start + 500]
        terms = BetaVAE.loss_terms(model, x, model(x))  # the plain VAE terms, for every subclass
        sums += len(x) * np.array([float(terms["reconstruction"]), float(terms["kl"])])
    return sums / len(images)


def run(name, budget, seed):
    import keras

    from kgen.data import DSprites
    from kgen.metrics import evaluate

    keras.utils.set_random_seed(seed)
    data = DSprites(resolution=budget["resolution"])
    shape = (budget["resolution"], budget["resolution"], 1)
    batch = budget["batch_size"] * (2 if name == "factor_vae" else 1)
    model = build(name, shape, budget, seed)
    stream = data.as_dataset(budget["steps"] * batch, batch_size=batch, seed=seed).repeat()
    held_out, _ = data.sample(budget["held_out"], seed=seed + 1)
    start = time.perf_counter()
    model.fit(stream, steps_per_epoch=budget["steps"], epochs=1, shuffle=False, verbose=0)
    train_seconds = time.perf_counter() - start
    reconstruction, kl = reconstruction_and_kl(model, held_out)
    start = time.perf_counter()
    scores = evaluate(model, data, num_train=budget["metric_train"], num_eval=budget["metric_eval"],
                      batch_size=budget["metric_batch"], n_estimators=budget["n_estimators"], seed=seed)
    return {"reconstruction": reconstruction, "kl": kl, "train_s": train_seconds,
            "metrics_s": time.perf_counter() - start, **scores}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=tuple(BUDGETS), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated subset of " + ", ".join(MODEL_NAMES))
    parser.add_argument("--steps", type=int, default=None, help="override the budget's training steps")
    args = parser.parse_args(argv)
    models = [name.strip() for name in args.models.split(",")]
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        parser.error(f"unknown --models {unknown}; choose from {', '.join(MODEL_NAMES)}")
    budget = dict(BUDGETS[args.budget])
    if args.steps is not None:
        budget["steps"] = args.steps
    print(f"disentanglement study, budget {args.budget}, seed {args.seed}: {budget}")
    print(f"machine: {_timing.machine_summary()}", flush=True)
    results = {}
    for name in models:
        results[name] = run(name, budget, args.seed)
        r = results[name]
        print(f"{LABELS[name]}: trained {r['train_s']:.0f} s, metrics {r['metrics_s']:.0f} s", flush=True)
    rows = [
        [LABELS[name], f"{r['reconstruction']:.1f}", f"{r['kl']:.2f}", f"{r['beta_vae_score']:.3f}",
         f"{r['factor_vae_score']:.3f}", f"{r['mig']:.3f}", f"{r['dci_disentanglement']:.3f}",
         f"{r['dci_informativeness']:.3f}"]
        for name, r in results.items()
    ]
    print()
    print(_timing.table(["model", "reconstruction", "KL", "BetaVAE score", "FactorVAE score", "MIG",
                         "DCI-D", "DCI-I"], rows))
    if set(MODEL_NAMES) <= set(results):
        for metric in ("factor_vae_score", "mig"):
            s = {name: results[name][metric] for name in MODEL_NAMES}
            holds = min(s["factor_vae"], s["beta_tcvae"]) > s["beta_vae"] > s["vae"]
            print(f"papers' ordering on {metric} (FactorVAE, beta-TCVAE > beta-VAE > VAE): "
                  f"{'holds' if holds else 'does not hold'}")
    if "factor_vae" in results and args.budget == "paper":
        print(f"FactorVAE score of FactorVAE: {results['factor_vae']['factor_vae_score']:.3f} (target >= 0.8)")


if __name__ == "__main__":
    main()
