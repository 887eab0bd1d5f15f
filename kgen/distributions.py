"""The one door to TensorFlow Probability: priors, likelihoods, seeds and the bridge from flows.

Priors and likelihoods are Keras layers, so that any parameters they learn are Keras weights
(``fit`` trains them, ``.keras`` files save them); each hands out a ``tfd.Distribution`` built
fresh from those weights, because TFP objects are not Keras-serializable.

* A **prior** is a distribution over the latent space R^d with ``log_prob(z)``, ``sample(n,
  seed)``, ``distribution`` and ``kl(mean, log_var, z)``, the KL term of the ELBO for a diagonal
  Gaussian posterior (closed form where it exists, a one-sample Monte Carlo estimate otherwise).
  Any prior can stand in a VAE through ``prior=``.
* A **likelihood** turns decoder outputs into p(x | z): ``log_prob(x, params)`` (summed over
  all but the batch axis), ``distribution(params)``, ``mean(params)`` and the ``support`` the data
  must lie in.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from kgen import backend, losses
from kgen.validation import check_choice, check_positive_float, check_positive_int, check_seed

tfd = tfp.distributions


def tfp_seed(seed):
    """A stateless TFP seed (int32 tensor of shape [2]) from an int or a ``SeedGenerator``.

    Keras' ``SeedGenerator.next()`` advances the generator, so successive draws differ while a
    fresh generator made from the same int repeats them.
    """
    if seed is None or not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(check_seed(seed))
    return tf.cast(seed.next(), tf.int32)


# --------------------------------------------------------------------------------------- priors
class Prior(keras.layers.Layer):
    """Base class of priors p(z) over R^``latent_dim``."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        # Every prior makes its weights here, so it is built (a model holding one is then
        # saved with its build state and its optimizer's variables).
        self.built = True

    @property
    def distribution(self):
        """The prior as a ``tfd.Distribution`` with event shape ``(latent_dim,)``."""
        raise NotImplementedError

    def log_prob(self, z):
        """log p(z), shape (batch,)."""
        return self.distribution.log_prob(z)

    def sample(self, n, seed=None):
        """``n`` draws z ~ p(z), shape (n, latent_dim); ``seed`` is an int or a SeedGenerator."""
        return self.distribution.sample(n, seed=tfp_seed(seed))

    def kl(self, mean, log_var, z):
        """KL(q(z|x) ‖ p(z)) for q = N(mean, exp(log_var)); here the one-sample estimate
        log q(z|x) − log p(z) at the posterior draw ``z``. Subclasses with a closed form override it."""
        return losses.gaussian_log_density(z, mean, log_var) - self.log_prob(z)

    def call(self, z):
        return self.log_prob(z)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@keras.saving.register_keras_serializable(package="kgen")
class StandardNormal(Prior):
    """p(z) = N(0, I): the VAE's prior (Kingma & Welling 2014). KL in closed form."""

    @property
    def distribution(self):
        zeros = tf.zeros([self.latent_dim], dtype=self.compute_dtype)
        return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))

    def kl(self, mean, log_var, z):
        return losses.gaussian_kl(mean, log_var)


@keras.saving.register_keras_serializable(package="kgen")
class DiagonalGaussian(Prior):
    """p(z) = N(m, diag(s²)) with learned m and log s², initialised to N(0, I). KL in closed form."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.loc = self.add_weight(shape=(self.latent_dim,), initializer="zeros", name="loc")
        self.log_var = self.add_weight(shape=(self.latent_dim,), initializer="zeros", name="log_var")

    @property
    def distribution(self):
        return tfd.MultivariateNormalDiag(loc=self.loc, scale_diag=ops.exp(0.5 * self.log_var))

    def kl(self, mean, log_var, z):
        return losses.gaussian_kl(mean, log_var, self.loc, self.log_var)


@keras.saving.register_keras_serializable(package="kgen")
class GaussianMixture(Prior):
    """p(z) = Σ_k π_k N(z; m_k, diag(s_k²)) with learned weights, means and scales.

    A richer prior that lets the aggregate posterior be multi-modal (as in the VampPrior and
    GMM-VAE line of work, Tomczak & Welling 2018). Means start at N(0, 1) draws from ``seed``,
    scales at 1 and weights uniform. The KL term has no closed form: the one-sample estimate
    of :class:`Prior` is used.
    """

    def __init__(self, latent_dim, num_components=10, seed=0, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.num_components = check_positive_int(num_components, "num_components")
        self.seed = seed
        shape = (self.num_components, self.latent_dim)
        self.logits = self.add_weight(shape=(self.num_components,), initializer="zeros", name="logits")
        self.locs = self.add_weight(
            shape=shape, initializer=keras.initializers.RandomNormal(seed=seed), name="locs"
        )
        self.log_scales = self.add_weight(shape=shape, initializer="zeros", name="log_scales")

    @property
    def distribution(self):
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=self.logits),
            components_distribution=tfd.MultivariateNormalDiag(
                loc=self.locs, scale_diag=ops.exp(self.log_scales)
            ),
        )

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "seed": self.seed}


PRIORS = {
    "standard_normal": StandardNormal,
    "diagonal_gaussian": DiagonalGaussian,
    "gaussian_mixture": GaussianMixture,
}


def resolve_prior(prior, latent_dim):
    """A prior layer from ``None`` (standard normal), a name in ``PRIORS``, a ``Prior`` or a
    vector normalizing flow (a ``kgen.models.Flow``, through its ``as_prior()``)."""
    if prior is None:
        return StandardNormal(latent_dim)
    if isinstance(prior, str):
        return PRIORS[check_choice(prior, "prior", tuple(PRIORS))](latent_dim)
    if hasattr(prior, "as_prior"):  # a vector normalizing flow (kgen.models.Flow)
        prior = prior.as_prior()
    if isinstance(prior, Prior):
        if prior.latent_dim != latent_dim:
            raise ValueError(
                f"`prior` is over {prior.latent_dim} dimensions but `latent_dim` is {latent_dim}."
            )
        return prior
    raise TypeError(
        f"`prior` must be None, one of {tuple(PRIORS)}, a kgen.distributions.Prior or a vector kgen Flow; "
        f"got {type(prior).__name__}."
    )


# ---------------------------------------------------------------------------------- likelihoods
class Likelihood(keras.layers.Layer):
    """Base class of decoder likelihoods p(x | z), parameterised by the decoder's output.

    ``support`` is the closed interval the data must lie in (``None``: all reals).
    """

    support = None

    def __init__(self, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        self.built = True  # every likelihood makes its weights (if any) in __init__

    def log_prob(self, x, params):
        """log p(x | params) summed over all but the batch axis, shape (batch,)."""
        raise NotImplementedError

    def distribution(self, params):
        """p(x | params) as a ``tfd.Independent`` whose event is one whole example."""
        raise NotImplementedError

    def mean(self, params):
        """E[x | params], the picture a decoder shows."""
        raise NotImplementedError

    def call(self, params):
        return self.mean(params)


@keras.saving.register_keras_serializable(package="kgen")
class Bernoulli(Likelihood):
    """p(x | ℓ) = Π Bernoulli(x_i; σ(ℓ_i)), for binary or grey-level data in [0, 1].

    The decoder outputs logits ℓ; the log-likelihood is :func:`kgen.losses.bernoulli_log_likelihood`.
    """

    support = (0.0, 1.0)

    def log_prob(self, x, params):
        return losses.bernoulli_log_likelihood(x, params, len(params.shape) - 1)

    def distribution(self, params):
        base = tfd.Bernoulli(logits=params, dtype=params.dtype)
        return tfd.Independent(base, reinterpreted_batch_ndims=len(params.shape) - 1)

    def mean(self, params):
        return ops.sigmoid(params)


@keras.saving.register_keras_serializable(package="kgen")
class Gaussian(Likelihood):
    """p(x | μ) = N(x; μ, σ² I) with one σ shared by all pixels, fixed or learned.

    A fixed σ sets the weight of reconstruction against the KL term (σ² acts like 1/β). With
    ``learn_scale=True`` σ is a trained weight, the "calibrated decoder" of Rybkin et al. (2021,
    σ-VAE), which removes the need to tune it.
    """

    def __init__(self, scale=1.0, learn_scale=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_positive_float(scale, "scale")
        self.learn_scale = bool(learn_scale)
        self.log_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(self.scale)),
            trainable=self.learn_scale,
            name="log_scale",
        )

    def log_prob(self, x, params):
        return losses.gaussian_log_likelihood(x, params, self.log_scale, len(params.shape) - 1)

    def distribution(self, params):
        base = tfd.Normal(loc=params, scale=ops.exp(self.log_scale))
        return tfd.Independent(base, reinterpreted_batch_ndims=len(params.shape) - 1)

    def mean(self, params):
        return params

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "learn_scale": self.learn_scale}


LIKELIHOODS = {
    "bernoulli": lambda: Bernoulli(),
    "gaussian": lambda: Gaussian(),
    "gaussian_learned_scale": lambda: Gaussian(learn_scale=True),
}


def resolve_likelihood(likelihood):
    """A likelihood layer from a name in ``LIKELIHOODS`` or a ``Likelihood`` instance."""
    if isinstance(likelihood, str):
        return LIKELIHOODS[check_choice(likelihood, "likelihood", tuple(LIKELIHOODS))]()
    if isinstance(likelihood, Likelihood):
        return likelihood
    raise TypeError(
        f"`likelihood` must be one of {tuple(LIKELIHOODS)} or a kgen.distributions.Likelihood; "
        f"got {type(likelihood).__name__}."
    )


def diagonal_gaussian(mean, log_var):
    """q(z | x) = N(mean, diag(exp(log_var))) as a TFP distribution with event shape (d,)."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=ops.exp(0.5 * log_var))


# ------------------------------------------------------------------------- normalizing flows
def flow_distribution(flow):
    """A kgen ``Flow`` as a ``tfd.TransformedDistribution`` of N(0, I) (event shape the flow's
    ``input_shape``) by a :class:`FlowBijector` that calls the flow's layers."""
    base = tfd.Sample(tfd.Normal(ops.zeros((), flow.compute_dtype), 1.0), flow.input_shape)
    return tfd.TransformedDistribution(base, FlowBijector(flow))


class FlowBijector(tfp.bijectors.Bijector):
    """A ``tfb.Bijector`` whose ``forward``/``inverse`` are a kgen ``Flow``'s (latent → data).

    It owns no variables: the Keras layers of the flow do. The inverse log-determinant of the
    last input is kept, so that ``log_prob`` (TFP calls ``inverse`` and then
    ``inverse_log_det_jacobian`` on the same tensor) makes one pass through the flow.
    """

    def __init__(self, flow, name="flow_bijector"):
        self.flow = flow
        self._last_inverse = None
        # A unique parameter: TFP shares an input/output cache between bijectors of equal
        # parameters, and a cache keyed on the flow alone would outlive a training step.
        super().__init__(forward_min_event_ndims=len(flow.input_shape), validate_args=False,
                         parameters={"flow": flow, "instance": object()}, name=name)

    def _forward(self, z):
        return self.flow._forward(z)[0]

    def _inverse(self, x):
        z, log_det = self.flow._inverse(x)
        self._last_inverse = (x, log_det)
        return z

    def _inverse_log_det_jacobian(self, x):
        if self._last_inverse is not None and self._last_inverse[0] is x:
            return self._last_inverse[1]
        return self.flow._inverse(x)[1]

    def _forward_log_det_jacobian(self, z):
        return self.flow._forward(z)[1]


@keras.saving.register_keras_serializable(package="kgen")
class FlowPrior(Prior):
    """A vector kgen ``Flow`` as a VAE prior p(z): exact ``log_prob``, sampling through the
    flow, and the one-sample Monte Carlo KL log q(z|x) − log p(z) of :class:`Prior`."""

    def __init__(self, flow, **kwargs):
        if not hasattr(flow, "as_prior") or len(getattr(flow, "input_shape", ())) != 1:
            raise TypeError(f"`flow` must be a vector kgen Flow (event shape (d,)); got {type(flow).__name__}.")
        super().__init__(flow.input_shape[0], **kwargs)
        self.flow = flow

    @property
    def distribution(self):
        return self.flow.distribution

    @property
    def metrics(self):
        """None: the flow's own training metrics are not the VAE's."""
        return []

    def log_prob(self, z):
        return self.flow._log_prob(z)

    def sample(self, n, seed=None):
        return self.flow.generate(n, self.flow.seed_source(seed))

    def get_config(self):
        config = {**super().get_config(), "flow": keras.saving.serialize_keras_object(self.flow)}
        del config["latent_dim"]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["flow"] = keras.saving.deserialize_keras_object(config["flow"])
        return cls(**config)
