"""Property checks that grade a function without revealing a reference implementation.

A course exercise asks a student to write a small piece of a model (the reparameterization
trick, a KL divergence, a log-likelihood). The ``check_*`` functions here call the student's
function on inputs they choose and test *properties* of the answer: its shape, values that the
math pins down (a KL of zero when the two distributions are equal), agreement with an
independent computation (a TFP distribution, a Monte Carlo estimate), the gradients it lets
through. They print nothing and return ``None`` when all is well; at the first problem they raise
``AssertionError`` with a message meant for a beginner: which input was used, what was expected,
what came back, and a hint towards the usual mistake.

The general helpers (:func:`assert_allclose`, :func:`assert_shape`, :func:`assert_finite`,
:func:`to_numpy`, :func:`call_student`) build such messages and are meant for every later check
(log-determinants of flows, score functions, samplers). They live in
:mod:`kgen.testing.assertions`; the checks live in one module per course notebook
(:mod:`kgen.testing.basics`, :mod:`kgen.testing.vae`, …, :mod:`kgen.testing.evaluation`) and are all importable from ``kgen.testing``.

Example, in a notebook::

    import kgen.testing
    kgen.testing.check_gaussian_kl(gaussian_kl)   # silent if right, AssertionError if not
"""

from kgen.testing.assertions import (
    assert_allclose,
    assert_finite,
    assert_shape,
    call_student,
    to_numpy,
)
from kgen.testing.basics import (
    check_diagonal_gaussian_kl,
    check_gaussian_log_prob,
    check_train_step,
)
from kgen.testing.diffusion import (
    check_ddgan_discriminator_loss,
    check_ddpm_reverse_step,
    check_posterior_coefficients,
)
from kgen.testing.disentanglement import check_mig, check_permute_dims, check_tc_estimate
from kgen.testing.evaluation import (
    check_bits_per_dim,
    check_frechet_distance_gaussians,
    check_kid_mmd2,
)
from kgen.testing.flows import (
    check_affine_coupling_forward,
    check_affine_coupling_inverse,
    check_made_masks,
)
from kgen.testing.latent_ebm import check_energy_loss, check_posterior_langevin_step
from kgen.testing.score_matching import check_annealed_langevin_step, check_dsm_loss
from kgen.testing.vae import (
    check_bernoulli_log_likelihood,
    check_elbo,
    check_gaussian_kl,
    check_reparameterize,
)

__all__ = [
    "assert_allclose",
    "assert_finite",
    "assert_shape",
    "call_student",
    "check_affine_coupling_forward",
    "check_affine_coupling_inverse",
    "check_annealed_langevin_step",
    "check_bernoulli_log_likelihood",
    "check_bits_per_dim",
    "check_ddgan_discriminator_loss",
    "check_ddpm_reverse_step",
    "check_diagonal_gaussian_kl",
    "check_dsm_loss",
    "check_elbo",
    "check_energy_loss",
    "check_frechet_distance_gaussians",
    "check_gaussian_kl",
    "check_gaussian_log_prob",
    "check_kid_mmd2",
    "check_made_masks",
    "check_mig",
    "check_permute_dims",
    "check_posterior_coefficients",
    "check_posterior_langevin_step",
    "check_reparameterize",
    "check_tc_estimate",
    "check_train_step",
    "to_numpy",
]
