"""``GenerativeModel``: the contract every kgen model follows, and the registry of models.

A kgen model trains with Keras' own ``fit``. A subclass writes the method's math and declares
the rest; the base class does the bookkeeping (``ARCHITECTURE.md`` walks through adding a model):

* ``@register_model("snake_name", "one-line description")`` registers the class for Keras
  serialization and under its CLI name; :func:`registered_models` lists them.
* ``__init__(input_shape, …, seed=None)`` passes ``input_shape`` (the shape of one example) and
  ``seed`` to the base, and takes each sub-network through :meth:`GenerativeModel.use_network`,
  which checks a user's network and records that it was given (``get_config`` saves it).
* ``loss_names``: the terms reported besides ``loss``; ``loss_terms(x, outputs)``: a dict with
  the scalar ``"loss"`` and each named term, from ``outputs = self(x, training=…)``.
* ``generate(n, seed_generator, **kw)``: ``n`` samples in data space.
* Optional: ``input_range`` (the data's bounds), :meth:`data_arguments` (constructor arguments
  taken from training data), :meth:`evaluation_figures` (the model's own figures by name),
  :meth:`players` (several networks that take turns, each with its own optimizer).

One player (the default) trains through Keras' own ``train_step`` and ``compute_loss``, so loss
scaling and ``steps_per_execution`` stay Keras'. Several players train through
:meth:`GenerativeModel.train_step` here: each player, in the declared order, descends its own
loss term with its own optimizer on its own variables — on a forward pass of its own
(``shared_forward_pass = False``: a GAN's discriminator step sees the current generator and the
generator step the updated discriminator), or all on one (``True``, FactorVAE's Algorithm 1).

**Mixed precision** (``keras.mixed_precision.set_dtype_policy("mixed_bfloat16")`` or
``"mixed_float16"`` before the model is built): the networks compute in half precision on
float32 variables; the model itself, its priors, likelihoods and flow layers stay float32, and
every network output is widened at the boundary (:func:`kgen.backend.full_precision`), so that
losses, log-densities, log-determinants, KL terms, Langevin and diffusion updates are float32.
Under float16 :meth:`GenerativeModel.compile` wraps every player's optimizer in a
``LossScaleOptimizer``: each player's loss is scaled, its gradients unscaled.

Randomness comes from one ``keras.random.SeedGenerator`` per model, saved with the weights.
``fit`` on an array with ``shuffle=True`` (Keras' default) reads it through
:func:`kgen.data.pipeline.resumable_batches`, whose position is the model's ``batches_seen``
counter: ``BackupAndRestore`` then resumes an interrupted run exactly, batch order included,
from a backup taken at an epoch's end or inside an epoch (:mod:`kgen.models.resuming`).
"""

import copy
import functools
import inspect
import random
import time
from collections import namedtuple

import keras
import numpy as np
from keras import ops

from kgen import backend
from kgen.data.pipeline import resumable_batches
from kgen.models.resuming import MarkEpochStart, ResumeInput
from kgen.validation import check_input, check_network, check_positive_int, check_seed, check_shape

SEED_STATE_KEY = "seed_generator_state"
#: Examples per pass of the default :meth:`GenerativeModel.evaluation_figures`.
EVALUATION_BATCH_SIZE = 256

_REGISTRY = {}


def register_model(name, description):
    """Class decorator: register a :class:`GenerativeModel` for ``.keras`` files (package
    ``"kgen"``) and under ``name``, the snake_case name ``kgen train`` takes, with its one-line
    plain-text ``description`` (what ``kgen list`` prints)."""
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"A model's registered name must be a snake_case identifier; got {name!r}.")

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
            raise TypeError(f"@register_model({name!r}) decorates GenerativeModel subclasses; got {cls!r}.")
        if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
            raise ValueError(f"The model name {name!r} is taken by {_REGISTRY[name].__name__}.")
        keras.saving.register_keras_serializable(package="kgen")(cls)
        cls.registered_name, cls.description = name, description
        _REGISTRY[name] = cls
        return cls

    return register


def registered_models():
    """``{name: class}`` of every registered model, in registration order."""
    return dict(_REGISTRY)


Player = namedtuple("Player", ["name", "variables", "optimizer", "loss", "default_optimizer"])
Player.__doc__ = """One network that takes its own optimizer step in a model's training step.

Fields:
    name: the player's name (``"vae"``, ``"discriminator"``, …).
    variables: the trainable variables it updates.
    optimizer: the ``compile`` argument that takes its optimizer: ``"optimizer"`` for the main
        network (exactly one player; Keras' ``model.optimizer``), ``"discriminator_optimizer"``, ….
    loss: the term of the model's terms dict that it descends.
    default_optimizer: a function returning the optimizer ``compile`` uses when given none.
"""


def default_adam():
    """Adam with learning rate 10⁻³ (Kingma & Ba 2015's suggested default): the optimizer of a
    single-player model compiled without one."""
    return keras.optimizers.Adam(1e-3)


class GenerativeModel(keras.Model):
    """Base class of kgen's models: a ``keras.Model`` that trains with ``compile()`` + ``fit()``.

    Args:
        input_shape: the shape of one example: ``(D,)`` vectors or ``(H, W, C)`` images.
        seed: an int, or ``None``, for the model's ``SeedGenerator`` (the source of all of its
            randomness during training and of ``sample(n)`` without a seed) and for the order
            in which ``fit`` shuffles an array.
    """

    loss_names = ()
    shared_forward_pass = False
    registered_name = None
    description = ""

    def __init_subclass__(cls, **kwargs):
        """Wrap each subclass ``__init__`` so that the model is marked built once the outermost
        constructor has made every sub-network (kgen models build in ``__init__``)."""
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__init__

        @functools.wraps(init)
        def init_then_mark_built(self, *args, **init_kwargs):
            init(self, *args, **init_kwargs)
            if type(self).__init__ is init_then_mark_built:
                self.built = True

        cls.__init__ = init_then_mark_built

    def __init__(self, input_shape, seed=None, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        self.input_shape = check_shape(input_shape)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self._given_networks = {}
        order_seed = random.Random(seed).getrandbits(31) if seed is not None else np.random.randint(2**31)
        self.input_order_seed = keras.Variable(order_seed, dtype="int64", trainable=False, name="input_order_seed")
        self.batches_seen = keras.Variable(
            0, dtype="int64", trainable=False, name="batches_seen", aggregation="only_first_replica"
        )
        # ``batches_seen`` when the current epoch began: a backup taken inside an epoch resumes
        # from it exactly (kgen.models.resuming).
        self.epoch_start_batch = keras.Variable(
            0, dtype="int64", trainable=False, name="epoch_start_batch", aggregation="only_first_replica"
        )

    # ----------------------------------------------------------------------- sub-networks
    def use_network(self, name, network, make_default, inputs, output_shape):
        """The sub-network ``name``: the user's ``network`` if given, else ``make_default()``;
        either is checked to map a batch of ``inputs`` (one shape, or a list of shapes) to
        ``(batch, *output_shape)``. A given network is recorded, so that ``get_config`` saves it."""
        self._given_networks[name] = network is not None
        return check_network(make_default() if network is None else network, name, inputs, output_shape)

    # ------------------------------------------------------------------------ data checks
    @property
    def input_range(self):
        """``(low, high, why)`` the data must lie in, or ``None``; models with a bounded
        likelihood or data space override it."""
        return None

    def check_data(self, x, name="x"):
        """Raise a clear error if ``x`` is not a finite float batch of ``input_shape`` in range.

        Inside a traced function (symbolic tensors) nothing is checked.
        """
        if backend.is_traced(x):
            return x
        bounds = self.input_range
        low_high, why = (None, "") if bounds is None else (bounds[:2], bounds[2])
        return check_input(x, self.input_shape, name, low_high, why)

    @classmethod
    def data_arguments(cls, x):
        """The constructor arguments this model takes from its training data ``x``: the shape
        of one example here; subclasses add theirs (β-TCVAE's dataset size, NCSN's σ₁, …)."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) < 1:
            raise ValueError(f"`x` must be a batch of examples, shape (N, …); got shape {x.shape}.")
        return {"input_shape": tuple(int(d) for d in x.shape[1:])}

    @classmethod
    def from_data(cls, x, **kwargs):
        """A model whose data-dependent arguments come from ``x`` (:meth:`data_arguments`);
        ``kwargs`` override them and set the others."""
        return cls(**{**cls.data_arguments(x), **kwargs})

    # ----------------------------------------------------------------------------- fitting
    def fit(self, x=None, y=None, batch_size=None, epochs=1, shuffle=True, steps_per_epoch=None, **kwargs):
        """Keras' ``fit``, after checking the data (and ``validation_data``) up front.

        An array ``x`` with ``shuffle=True`` is read through :func:`resumable_batches`: each pass
        over the data is a permutation drawn from the model's seed, cut into
        ``len(x) // batch_size`` full batches (the incomplete last one is dropped), and an
        interrupted run resumed by ``BackupAndRestore`` continues at the batch it had reached.
        Labels ``y`` are ignored, as by every kgen model.
        """
        self.check_data(x)
        if kwargs.get("validation_data") is not None:
            val = kwargs["validation_data"]
            self.check_data(val[0] if isinstance(val, tuple) else val, "validation_data")
        if not (shuffle and _is_array(x)):
            # A tf.data.Dataset keeps its own order: Keras ignores `shuffle` for it, and warns if True.
            shuffle = shuffle and not hasattr(x, "element_spec")
            return super().fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=shuffle,
                               steps_per_epoch=steps_per_epoch, **kwargs)
        for unsupported in ("validation_split", "sample_weight", "class_weight"):
            if kwargs.get(unsupported):
                raise ValueError(f"`{unsupported}` is not supported by kgen models; got {kwargs[unsupported]!r}.")
        batch_size = min(check_positive_int(batch_size or 32, "batch_size"), len(x))
        start = keras.Variable(0, dtype="int64", trainable=False, name="input_start")
        dataset = resumable_batches(x, batch_size, self.input_order_seed, start)
        # A new epoch starts here unless BackupAndRestore restores a backup taken inside one.
        # ResumeInput comes last, after the restore; the pipeline reads ``start``, a copy that
        # no training step changes while it is read. MarkEpochStart comes first, so that an
        # epoch-end backup records where the next epoch starts.
        self.epoch_start_batch.assign(self.batches_seen.value)
        callbacks = [MarkEpochStart(), *(kwargs.pop("callbacks", None) or []), ResumeInput(start)]
        return super().fit(dataset, epochs=epochs, shuffle=False, callbacks=callbacks,
                           steps_per_epoch=steps_per_epoch or len(x) // batch_size, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self.check_data(x)
        return super().evaluate(x, y, **kwargs)

    # ------------------------------------------------------------------------ the players
    def players(self):
        """The networks that take turns in a training step, in order (see :class:`Player`).
        One by default: every trainable variable, descending ``loss`` with ``optimizer``."""
        return (Player("model", self.trainable_variables, "optimizer", "loss", default_adam),)

    def default_optimizers(self, learning_rate=None):
        """``{compile argument: optimizer}``: every player's default optimizer, new, with its
        learning rate replaced by ``learning_rate`` when given."""
        optimizers = {}
        for player in self.players():
            optimizer = player.default_optimizer()
            if learning_rate is not None:
                optimizer.learning_rate = learning_rate
            optimizers[player.optimizer] = optimizer
        return optimizers

    def compile(self, optimizer=None, loss=None, jit_compile=None, auto_scale_loss=True, **kwargs):
        """``keras.Model.compile`` with one optimizer per player.

        Args:
            optimizer: the optimizer of the player whose argument is ``optimizer`` (the main
                network's: the VAE, the generator); ``None`` picks the model's default.
            loss: must stay ``None``: the model computes its own loss.
            jit_compile: ``None`` picks kgen's measured default
                (:func:`kgen.backend.default_jit_compile`).
            auto_scale_loss: wrap every player's optimizer in a ``keras.optimizers.LossScaleOptimizer``
                when a network computes in float16 (:meth:`uses_float16`), as Keras' own
                ``compile`` does for a ``"mixed_float16"`` model's one optimizer.
            **kwargs: the other players' optimizers by their argument names
                (``discriminator_optimizer=…``; ``None`` for the default), then Keras'
                ``compile`` arguments.

        Every optimizer is built here on its player's variables, so that a loaded model or
        ``BackupAndRestore`` restores their states before training starts.

        **Loss scaling.** Keras wraps the optimizer only when the *model's* policy is
        ``"mixed_float16"`` (``Trainer.compile``, Keras 3.15), and only ``model.optimizer``; a kgen
        model computes in float32 (:func:`kgen.backend.precise_layer_arguments`) and its
        networks follow the policy, so the wrapping is done here, for every player: one player
        trains through Keras' ``train_step``, which scales the loss with
        ``optimizer.scale_loss`` and lets ``apply`` unscale the gradients; several players train
        through :meth:`train_step`, which does the same for each player's own loss and optimizer
        (a step whose gradients are not finite is skipped and that player's scale lowered).
        bfloat16 has float32's exponent range and needs no scaling.
        """
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own loss; call compile() without `loss` "
                f"(got loss={loss!r})."
            )
        players = self.players()
        optimizers = {}
        for player in players:
            given = optimizer if player.optimizer == "optimizer" else kwargs.pop(player.optimizer, None)
            optimizers[player.optimizer] = (
                player.default_optimizer() if given is None else keras.optimizers.get(given)
            )
        if "optimizer" not in optimizers or len(optimizers) < len(players):
            raise TypeError(
                f"{type(self).__name__}.players() must give each player its own compile argument, "
                f"one of them 'optimizer'; got {[p.optimizer for p in players]}."
            )
        if len({id(o) for o in optimizers.values()}) < len(optimizers):
            raise ValueError(
                f"Each player of {type(self).__name__} needs an optimizer object of its own "
                f"({', '.join(optimizers)}); the same object was passed twice."
            )
        if auto_scale_loss and self.uses_float16():
            optimizers = {
                argument: given if isinstance(given, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(given, name=f"{argument}_loss_scale")
                for argument, given in optimizers.items()
            }
        if jit_compile is None:
            jit_compile = backend.default_jit_compile()
        super().compile(optimizer=optimizers.pop("optimizer"), jit_compile=jit_compile,
                        auto_scale_loss=auto_scale_loss, **kwargs)
        for argument, other in optimizers.items():
            setattr(self, argument, other)
        for player in players:
            getattr(self, player.optimizer).build(player.variables)

    def uses_float16(self):
        """True if a network of the model computes in float16 (a ``"mixed_float16"`` policy):
        its optimizers then need loss scaling, which :meth:`compile` adds."""
        return any(layer.compute_dtype == "float16" for layer in self._flatten_layers(include_self=False))

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None:
            for player in self.players():
                if player.optimizer != "optimizer":
                    config[player.optimizer] = keras.saving.serialize_keras_object(getattr(self, player.optimizer))
        return config

    def compile_from_config(self, config):
        """Re-compile a loaded model with all of its saved optimizers (Keras skips custom ``compile`` methods)."""
        config = keras.saving.deserialize_keras_object(config)
        config.pop("loss", None)
        self.compile(**config)

    # ----------------------------------------------------------------------------- training
    def loss_terms(self, x, outputs):
        """The objective for a batch: a dict with ``"loss"`` and each of ``loss_names``."""
        raise NotImplementedError

    def player_terms(self, x, player=None, training=True):
        """The terms of the step of ``player`` (a name), or of every player (``None``), on a
        forward pass of their own. By default all from one pass: ``loss_terms(x, self(x))``."""
        return self.loss_terms(x, self(x, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' loss hook (single-player models): the model's own objective plus any layer
        losses (regularizers), the named terms reported through their trackers.

        ``y`` and ``sample_weight`` are ignored: a dataset of ``(images, labels)`` trains on the
        images alone.
        """
        terms = self.loss_terms(x, y_pred)
        for name in self.loss_names:
            self.loss_trackers[name].update_state(terms[name])
        return backend.scale_for_replicas(terms["loss"] + self._layer_losses())

    def _layer_losses(self):
        return ops.sum([ops.sum(backend.full_precision(extra)) for extra in self.losses]) if self.losses else 0.0

    def train_step(self, data):
        """One step: Keras' own for one player; for several, each player's step in order.
        The logs pass through :func:`kgen.backend.logs_for_reduction` (multi-worker training)."""
        players = self.players()
        if len(players) == 1:
            logs = super().train_step(data)
            self.batches_seen.assign_add(1)
            return backend.logs_for_reduction(logs)
        x = _features(data)
        if self.shared_forward_pass:
            with backend.gradient_tape(persistent=True) as tape:
                terms = self.player_terms(x, None, training=True)
                player_losses = [self._scaled_loss(terms[p.loss], p) for p in players]
            for player, loss in zip(players, player_losses):
                self._apply(player, tape.gradient(loss, player.variables))
            del tape
        else:
            terms = {}
            for player in players:
                with backend.gradient_tape() as tape:
                    player_terms = self.player_terms(x, player.name, training=True)
                    loss = self._scaled_loss(player_terms[player.loss], player)
                self._apply(player, tape.gradient(loss, player.variables))
                terms.update(player_terms)
        self.batches_seen.assign_add(1)
        return backend.logs_for_reduction(self._report(terms, x))

    def _scaled_loss(self, loss, player):
        """The player's loss over the replicas, times its loss scale (a ``LossScaleOptimizer``'s
        under float16, whose ``apply`` then unscales the gradients; 1 otherwise)."""
        loss = backend.scale_for_replicas(loss + self._layer_losses())
        return getattr(self, player.optimizer).scale_loss(loss)

    def _apply(self, player, gradients):
        getattr(self, player.optimizer).apply(gradients, player.variables)

    def test_step(self, data):
        if len(self.players()) == 1:
            return backend.logs_for_reduction(super().test_step(data))
        x = _features(data)
        return backend.logs_for_reduction(self._report(self.player_terms(x, None, training=False), x))

    def _report(self, terms, x):
        """Update Keras' own ``loss`` metric (found by name, as Keras' guide to custom
        ``train_step``s does) and the named terms' trackers; return what ``fit`` logs."""
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(terms["loss"], sample_weight=ops.shape(x)[0])
        for name in self.loss_names:
            self.loss_trackers[name].update_state(terms[name])
        return self.get_metrics_result()

    # --------------------------------------------------------------------------- evaluation
    def evaluation_figures(self, x, seed=0, verbose=0):
        """The model's evaluation figures on ``x`` by name, as floats, repeatable from ``seed``.

        By default the mean of each declared loss term over ``x`` (in batches of
        ``EVALUATION_BATCH_SIZE``, with the model's randomness drawn from ``seed``); models with
        a likelihood or a bound return those instead (ELBO and IWAE bound, NLL and bits/dim, …).
        ``verbose=1`` shows a progress bar.
        """
        x = self.check_data(x)
        names = ("loss", *self.loss_names)
        saved_state = ops.copy(self.seed_generator.state)
        self.seed_generator.state.assign(keras.random.SeedGenerator(check_seed(seed)).state)

        def batch_terms(chunk):  # the batch's means, once per example: their mean weighs examples alike
            terms = self.player_terms(chunk, None, training=False)
            return ops.tile(ops.reshape(ops.stack([terms[name] for name in names]), (1, -1)), (len(chunk), 1))

        try:
            means = ops.mean(self.map_batches(batch_terms, x, EVALUATION_BATCH_SIZE, verbose), axis=0)
        finally:
            self.seed_generator.state.assign(saved_state)
        return {"examples": len(x), **{name: float(value) for name, value in zip(names, means)}}

    def pictures(self, x, seed=0):
        """``{name: figure or image batch}``: the pictures of the model on held-out ``x`` worth
        looking at besides its samples (``kgen train`` writes each as ``name.png``); none by
        default — a latent-variable model shows reconstructions and a latent traversal."""
        return {}

    def map_batches(self, function, x, batch_size, verbose=0):
        """``function(chunk)`` for consecutive chunks of ``batch_size`` examples of ``x``,
        concatenated along the batch axis; ``verbose`` 1 shows a Keras progress bar with the
        examples per second (long evaluations would otherwise look hung), 2 one line at the end."""
        batch_size = check_positive_int(batch_size, "batch_size")
        x = ops.convert_to_tensor(x, self.compute_dtype)
        count = int(ops.shape(x)[0])
        progress = None
        if verbose:
            progress = keras.utils.Progbar(count, verbose=verbose, unit_name="example", stateful_metrics=["examples/s"])
        started, results = time.perf_counter(), []
        for start in range(0, count, batch_size):
            results.append(function(x[start : start + batch_size]))
            if progress is not None:
                done = min(start + batch_size, count)
                progress.update(done, [("examples/s", done / max(time.perf_counter() - started, 1e-9))])
        return ops.concatenate(results)

    # ------------------------------------------------------------------------------ sampling
    def seed_source(self, seed=None):
        """The model's own ``SeedGenerator`` for ``seed=None``, else a fresh one from ``seed``."""
        if seed is None:
            return self.seed_generator
        if isinstance(seed, keras.random.SeedGenerator):
            return seed
        return keras.random.SeedGenerator(check_seed(seed))

    def sample(self, n, seed=None, **kwargs):
        """``n`` samples in data space, shape ``(n, *input_shape)``.

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
        """The base's part of the config: Keras' own, ``input_shape``, ``seed`` and every
        sub-network the user gave (``None`` for a default one, which ``__init__`` rebuilds)."""
        config = {**keras.layers.Layer.get_config(self), "input_shape": self.input_shape, "seed": self.seed}
        for name, given in self._given_networks.items():
            config[name] = keras.saving.serialize_keras_object(getattr(self, name)) if given else None
        return config

    @classmethod
    def from_config(cls, config):
        """Rebuild nested Keras objects (networks, priors, likelihoods) before calling ``cls``.
        The given config is left as it was (Keras' deserializer empties the dicts it reads)."""
        config = {
            key: keras.saving.deserialize_keras_object(copy.deepcopy(value)) if _is_serialized(value) else value
            for key, value in config.items()
        }
        return cls(**config)

    @classmethod
    def constructor_arguments(cls):
        """The names of the arguments ``cls(...)`` accepts besides ``input_shape`` and ``seed``."""
        parameters = inspect.signature(inspect.unwrap(cls.__init__)).parameters.values()
        return [
            p.name for p in parameters
            if p.name not in ("self", "input_shape", "seed") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]


def _features(data):
    """The examples of a ``fit`` batch: ``x`` of ``x`` or of ``(x, y[, w])``."""
    return data[0] if isinstance(data, tuple) else data


def _is_array(x):
    return isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "dtype") and ops.is_tensor(x))


def _is_serialized(value):
    return isinstance(value, dict) and "class_name" in value and "config" in value
