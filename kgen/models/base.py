"""``GenerativeModel``: what every kgen model shares.

A kgen model trains with Keras' own ``fit``: ``call(x)`` runs the forward pass and
``compute_loss`` turns it into the objective, reporting each named term through a
``keras.metrics.Mean`` tracker (``History`` and the progress bar show them by name, next to
Keras' own ``loss``). Subclasses write three things:

* ``loss_names``: the terms reported besides ``loss`` (e.g. ``("reconstruction", "kl")``);
* ``loss_terms(x, outputs)``: a dict with the scalar ``"loss"`` and each named term;
* ``generate(n, seed_generator, **kw)``: ``n`` samples in data space.

The base class supplies the seeds (one ``keras.random.SeedGenerator`` per model, or a fresh one
from an int ``seed=`` for repeatable draws), input checks before ``fit``/``evaluate`` start,
a measured ``jit_compile`` default, and config round trips for nested Keras objects.
"""

import keras
import tensorflow as tf
from keras import ops

from kgen.validation import check_input, check_positive_int, check_seed

SEED_STATE_KEY = "seed_generator_state"


def default_jit_compile():
    """kgen's XLA default: off on CPU, Keras' "auto" where a GPU is present.

    Measured on a 2-core CPU (``benchmarks/vae_fit.py``): XLA made a 64×64 conv β-VAE train step
    slower than plain graph mode, while Keras' own default ("auto") turns XLA on.
    """
    return "auto" if tf.config.list_physical_devices("GPU") else False


def scale_for_replicas(loss):
    """Divide a per-replica loss by the number of replicas, so that ``tf.distribute``'s sum of
    gradients across replicas equals the gradient of the global-batch mean (TensorFlow-specific)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / replicas


class GenerativeModel(keras.Model):
    """Base class of kgen's models: a ``keras.Model`` that trains with ``compile()`` + ``fit()``.

    Args:
        seed: an int, or ``None``, for the model's ``SeedGenerator`` (the source of all of its
            randomness during training and of ``sample(n)`` without a seed).
    """

    loss_names = ()

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}

    # ------------------------------------------------------------------------------ data checks
    data_shape = ()

    @property
    def data_range(self):
        """``(low, high)`` the data must lie in, or ``None``; subclasses with a bounded
        likelihood override it."""
        return None

    def _range_reason(self):
        return ""

    def check_data(self, x, name="x"):
        """Raise a clear error if ``x`` is not a finite float batch of ``data_shape`` in range.

        Inside a traced function (symbolic tensors) nothing is checked.
        """
        if isinstance(x, tf.Tensor) and not tf.executing_eagerly():
            return
        check_input(x, self.data_shape, name, self.data_range, self._range_reason())

    def fit(self, x=None, y=None, **kwargs):
        self.check_data(x)
        if kwargs.get("validation_data") is not None:
            val = kwargs["validation_data"]
            self.check_data(val[0] if isinstance(val, tuple) else val, "validation_data")
        return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self.check_data(x)
        return super().evaluate(x, y, **kwargs)

    # ----------------------------------------------------------------------------- training
    def compile(self, optimizer="adam", loss=None, jit_compile=None, **kwargs):
        """``keras.Model.compile`` with kgen's defaults.

        The model computes its own loss, so ``loss`` must stay ``None``. ``jit_compile=None``
        picks :func:`default_jit_compile`.
        """
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own loss; call compile() without `loss` "
                f"(got loss={loss!r})."
            )
        if jit_compile is None:
            jit_compile = default_jit_compile()
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """Re-compile a loaded model with its saved optimizer (Keras skips custom ``compile``s)."""
        config = keras.saving.deserialize_keras_object(config)
        config.pop("loss", None)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def loss_terms(self, x, outputs):
        """The objective for a batch: a dict with ``"loss"`` and each of ``loss_names``."""
        raise NotImplementedError

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' loss hook: the model's own objective plus any layer losses (regularizers).

        ``y`` and ``sample_weight`` are ignored: a dataset of ``(images, labels)`` trains on the
        images alone.
        """
        terms = self.loss_terms(x, y_pred)
        for name in self.loss_names:
            self.loss_trackers[name].update_state(terms[name])
        total = terms["loss"]
        if self.losses:
            total = total + ops.sum([ops.sum(extra) for extra in self.losses])
        return scale_for_replicas(total)

    # ------------------------------------------------------------------------------ sampling
    def seed_source(self, seed=None):
        """The model's own ``SeedGenerator`` for ``seed=None``, else a fresh one from ``seed``."""
        if seed is None:
            return self.seed_generator
        if isinstance(seed, keras.random.SeedGenerator):
            return seed
        return keras.random.SeedGenerator(check_seed(seed))

    def sample(self, n, seed=None, **kwargs):
        """``n`` samples in data space, shape ``(n, *data_shape)``.

        The same int ``seed`` gives the same samples; ``seed=None`` draws from the model's own
        generator, so successive calls differ.
        """
        n = check_positive_int(n, "n")
        return self.generate(n, self.seed_source(seed), **kwargs)

    def generate(self, n, seed_generator, **kwargs):
        raise NotImplementedError

    # -------------------------------------------------------------------------- serialization
    def save_own_variables(self, store):
        """Keras' weights plus the seed generator's position, which Keras does not save: with
        it, ``.keras`` files and ``BackupAndRestore`` resume the same stream of noise."""
        super().save_own_variables(store)
        store[SEED_STATE_KEY] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        if SEED_STATE_KEY in store.keys():  # noqa: SIM118 (an H5 store, not a dict)
            self.seed_generator.state.assign(store[SEED_STATE_KEY])
        keras_keys = [key for key in store.keys() if key != SEED_STATE_KEY]  # noqa: SIM118
        super().load_own_variables({key: store[key] for key in keras_keys})

    def get_config(self):
        return {**keras.layers.Layer.get_config(self), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """Rebuild nested Keras objects (networks, priors, likelihoods) before calling ``cls``."""
        config = {
            key: keras.saving.deserialize_keras_object(value) if _is_serialized(value) else value
            for key, value in config.items()
        }
        return cls(**config)


def _is_serialized(value):
    return isinstance(value, dict) and "class_name" in value and "config" in value
