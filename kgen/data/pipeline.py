"""A shuffled input pipeline that resumes where it stopped.

``keras.callbacks.BackupAndRestore`` restores a model's weights, optimizers and epoch counter,
but not the place a shuffled, repeated input pipeline had reached: a restarted pipeline hands
the resumed run the first epoch's batches again (measured: a ``BetaVAE`` ends 1e-2 away in
weights from the uninterrupted run). :func:`resumable_batches` makes the order of the batches a
pure function of a seed and of the number of batches already consumed, which it reads from a
counter variable *when iteration starts* — after ``BackupAndRestore`` has put the counter back.
Pass k over the data (k = 0, 1, …) is the permutation ``stateless_shuffle(range(N), (seed, k))``
cut into ``N // batch_size`` batches (the incomplete last batch of a pass is dropped), so the
resumed run sees exactly the batches the uninterrupted one would have seen.
"""

import tensorflow as tf


def resumable_batches(x, batch_size, seed, position):
    """An endless ``tf.data.Dataset`` of shuffled batches of ``x`` that starts at batch
    ``position``; both variables are read when iteration starts.

    Args:
        x: an array of examples, shape (N, …), N ≥ ``batch_size``.
        batch_size: examples per batch.
        seed: an int64 scalar variable, the seed of the passes' permutations (a model's
            ``input_order_seed``, restored with its weights).
        position: an int64 scalar variable counting the batches consumed so far (a model's
            ``batches_seen``); the caller advances it once per training step.
    """
    x = tf.convert_to_tensor(x)
    count = int(x.shape[0])
    per_pass = count // batch_size
    if per_pass < 1:
        raise ValueError(f"`batch_size` {batch_size} is larger than the {count} examples given.")

    def batch_indices(start_and_seed, index):
        shuffled = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([start_and_seed[1], index // per_pass])
        )
        return tf.reshape(shuffled[: per_pass * batch_size], (per_pass, batch_size))[index % per_pass]

    def from_current_position(_):
        start_and_seed = tf.stack([tf.cast(position.value, tf.int64), tf.cast(seed.value, tf.int64)])
        indices = tf.data.Dataset.range(start_and_seed[0], tf.int64.max)
        return indices.map(lambda index: batch_indices(start_and_seed, index))

    return (
        tf.data.Dataset.range(1)
        .flat_map(from_current_position)
        .map(lambda indices: tf.gather(x, indices), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
