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
* ``notebook``: course notebook 02's setting (with ``--vary x,y``): 32×32 images, 4 000 steps of
  batch 64, Adam(1e-3), FactorVAE's discriminator 4 × 256 with Adam(5e-4, 0.5, 0.9); metrics
  with 600 / 300 points, batches of 32, DCI with 5 stages. About 1.5 min per model on one core.
* ``smoke``: 32×32, 30 steps, tiny metric counts: checks that the script runs (numbers meaningless).

Which factors vary (``--vary``, default all five): the others are held at ``FIXED_AT`` (a square,
the largest scale, orientation 0, the centre) through ``DSprites(fixed=...)``, and the metrics
score the varying factors only. ``--vary x,y`` is the set-up of notebook 02.

The training stream draws fresh factor combinations uniformly from the (restricted) grid
(``DSprites.as_dataset``), i.e. samples the dataset with replacement; hence β-TCVAE's
``dataset_size`` is the grid's size (737 280 for all five factors).

``--gamma``, ``--beta``, ``--tc-beta``, ``--resolution``, ``--learning-rate`` and ``--steps``
override the table's weights and the budget; ``--traversals DIR`` writes each model's latent
traversal (one held-out image, its five latents of largest KL swept over [-2.5, 2.5]) as a PNG.

Target (the papers' ordering): FactorVAE and β-TCVAE above β-VAE above VAE on the FactorVAE
score and MIG; at the paper budget, a FactorVAE score ≥ 0.8 for FactorVAE.

Run: ``python benchmarks/disentanglement.py --budget cpu [--seed 0] [--models vae,factor_vae]``;
notebook 02's set-up: ``--budget notebook --vary x,y``.
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
    "notebook": {"resolution": 32, "steps": 4_000, "batch_size": 64, "learning_rate": 1e-3,
                 "discriminator_learning_rate": 5e-4, "discriminator": (256, 4), "metric_train": 600,
                 "metric_eval": 300, "metric_batch": 32, "n_estimators": 5, "held_out": 2_000},
    "smoke": {"resolution": 32, "steps": 30, "batch_size": 32, "learning_rate": 5e-4,
              "discriminator_learning_rate": 5e-4, "metric_train": 100, "metric_eval": 50,
              "metric_batch": 16, "n_estimators": 5, "held_out": 200},
}
MODEL_NAMES = ("vae", "beta_vae", "factor_vae", "beta_tcvae")
WEIGHTS = {"beta": 4.0, "gamma": 35.0, "tc_beta": 6.0}
LATENT_DIM = 10
FACTORS = ("shape", "scale", "orientation", "x", "y")
#: Where the factors that do not vary are held (grid indices): a square, scale 1, orientation 0, the centre.
FIXED_AT = {"shape": 0, "scale": 5, "orientation": 0, "x": 16, "y": 16}


def label(name, weights):
    return {"vae": "VAE", "beta_vae": f"beta-VAE ({weights['beta']:g})",
            "factor_vae": f"FactorVAE ({weights['gamma']:g})",
            "beta_tcvae": f"beta-TCVAE ({weights['tc_beta']:g})"}[name]


def dataset(budget, vary):
    from kgen.data import DSprites

    fixed = {name: index for name, index in FIXED_AT.items() if name not in vary}
    return DSprites(resolution=budget["resolution"], fixed=fixed or None)


def build(name, shape, budget, seed, weights, dataset_size):
    """The model and its compiled optimizers, as in the table of the module docstring."""
    import keras

    from kgen.layers.networks import tc_discriminator
    from kgen.models import VAE, BetaTCVAE, BetaVAE, FactorVAE

    rate = budget["learning_rate"]
    if name == "vae":
        model = VAE(shape, latent_dim=LATENT_DIM, seed=seed)
    elif name == "beta_vae":
        model = BetaVAE(shape, latent_dim=LATENT_DIM, beta=weights["beta"], seed=seed)
    elif name == "factor_vae":
        units, layers = budget.get("discriminator", (1000, 6))
        discriminator = tc_discriminator(LATENT_DIM, units=units, layers=layers)
        model = FactorVAE(shape, latent_dim=LATENT_DIM, gamma=weights["gamma"], discriminator=discriminator, seed=seed)
        model.compile(keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999),
                      discriminator_optimizer=keras.optimizers.Adam(budget["discriminator_learning_rate"],
                                                                    beta_1=0.5, beta_2=0.9))
        return model
    else:
        model = BetaTCVAE(shape, latent_dim=LATENT_DIM, beta=weights["tc_beta"], dataset_size=dataset_size, seed=seed)
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


def save_traversal(model, image, path, title):
    """The latent traversal of one image over its five latents of largest average KL, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from kgen.viz import image_grid, latent_traversal

    mean, log_var = (np.asarray(a) for a in model.posterior_params(image[None]))
    kl = 0.5 * (np.square(mean) + np.exp(log_var) - 1.0 - log_var)[0]
    dims = [int(d) for d in np.argsort(-kl)[:5]]
    values = np.linspace(-2.5, 2.5, 9)
    traversal = latent_traversal(model, image, dims, values)
    rows, cols = traversal.shape[:2]
    grid = image_grid(traversal.reshape(rows * cols, *traversal.shape[2:]), ncols=cols)
    fig, ax = plt.subplots(figsize=(cols * 0.8, rows * 0.8 + 0.5))
    ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=1)
    step = image.shape[0] + 1
    ax.set_yticks([1 + r * step + image.shape[0] / 2 for r in range(rows)], [f"z{d} ({kl[d]:.1f})" for d in dims])
    ax.set_xticks([]), ax.set_title(title, fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(name, budget, seed, vary=FACTORS, weights=WEIGHTS, traversals=None):
    import keras

    from kgen.metrics import evaluate

    keras.utils.set_random_seed(seed)
    data = dataset(budget, vary)
    shape = (budget["resolution"], budget["resolution"], 1)
    batch = budget["batch_size"] * (2 if name == "factor_vae" else 1)
    model = build(name, shape, budget, seed, weights, data.num_examples)
    stream = data.as_dataset(budget["steps"] * batch, batch_size=batch, seed=seed).repeat()
    held_out, _ = data.sample(budget["held_out"], seed=seed + 1)
    start = time.perf_counter()
    model.fit(stream, steps_per_epoch=budget["steps"], epochs=1, shuffle=False, verbose=0)
    train_seconds = time.perf_counter() - start
    reconstruction, kl = reconstruction_and_kl(model, held_out)
    start = time.perf_counter()
    scores = evaluate(model, data, num_train=budget["metric_train"], num_eval=budget["metric_eval"],
                      batch_size=budget["metric_batch"], n_estimators=budget["n_estimators"], seed=seed)
    if traversals:
        os.makedirs(traversals, exist_ok=True)
        image = held_out[0]
        vary_tag = "-".join(vary)
        save_traversal(model, image, os.path.join(traversals, f"{name}_{vary_tag}_seed{seed}.png"),
                       f"{label(name, weights)}, vary {vary_tag}, seed {seed}")
    return {"reconstruction": reconstruction, "kl": kl, "train_s": train_seconds,
            "metrics_s": time.perf_counter() - start, **scores}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=tuple(BUDGETS), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated subset of " + ", ".join(MODEL_NAMES))
    parser.add_argument("--steps", type=int, default=None, help="override the budget's training steps")
    parser.add_argument("--vary", default=",".join(FACTORS),
                        help="comma-separated factors that vary (the others are held at FIXED_AT); default all")
    parser.add_argument("--resolution", type=int, default=None, help="override the budget's image size")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the budget's learning rate")
    parser.add_argument("--beta", type=float, default=WEIGHTS["beta"], help="beta-VAE's beta")
    parser.add_argument("--gamma", type=float, default=WEIGHTS["gamma"], help="FactorVAE's gamma")
    parser.add_argument("--tc-beta", type=float, default=WEIGHTS["tc_beta"], help="beta-TCVAE's beta")
    parser.add_argument("--traversals", default=None, help="folder for one latent-traversal PNG per model")
    args = parser.parse_args(argv)
    models = [name.strip() for name in args.models.split(",")]
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        parser.error(f"unknown --models {unknown}; choose from {', '.join(MODEL_NAMES)}")
    vary = tuple(name.strip() for name in args.vary.split(","))
    if sorted(set(vary) - set(FACTORS)) or not vary:
        parser.error(f"--vary must name factors among {', '.join(FACTORS)}; got {args.vary!r}")
    vary = tuple(name for name in FACTORS if name in vary)
    weights = {"beta": args.beta, "gamma": args.gamma, "tc_beta": args.tc_beta}
    budget = dict(BUDGETS[args.budget])
    overrides = {"steps": args.steps, "resolution": args.resolution, "learning_rate": args.learning_rate}
    budget.update({key: value for key, value in overrides.items() if value is not None})
    print(f"disentanglement study, budget {args.budget}, seed {args.seed}, varying {', '.join(vary)}: {budget}")
    print(f"machine: {_timing.machine_summary()}", flush=True)
    results = {}
    for name in models:
        results[name] = run(name, budget, args.seed, vary, weights, args.traversals)
        r = results[name]
        print(f"{label(name, weights)}: trained {r['train_s']:.0f} s, metrics {r['metrics_s']:.0f} s; "
              f"reconstruction {r['reconstruction']:.2f}, KL {r['kl']:.2f}, FactorVAE score "
              f"{r['factor_vae_score']:.3f}, MIG {r['mig']:.3f}", flush=True)
    rows = [
        [label(name, weights), f"{r['reconstruction']:.1f}", f"{r['kl']:.2f}", f"{r['beta_vae_score']:.3f}",
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
            above = min(s["factor_vae"], s["beta_tcvae"]) > s["vae"]
            print(f"papers' ordering on {metric} (FactorVAE, beta-TCVAE > beta-VAE > VAE): "
                  f"{'holds' if holds else 'does not hold'}; FactorVAE and beta-TCVAE above the VAE: "
                  f"{'yes' if above else 'no'}")
    if "factor_vae" in results and args.budget == "paper":
        print(f"FactorVAE score of FactorVAE: {results['factor_vae']['factor_vae_score']:.3f} (target >= 0.8)")


if __name__ == "__main__":
    main()
