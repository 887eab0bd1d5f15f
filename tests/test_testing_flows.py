"""kgen.testing's flow checks (notebook 03): each passes correct functions and fails, with the hint
that names the mistake, on the errors students typically make."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgen import testing
from kgen.layers.made import made_masks


def _sum_but_batch(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


# ------------------------------------------------------------------------------ forward pass
def forward_reference(z, mask, conditioner):
    kept = mask * z
    shift, log_scale = conditioner(kept)
    x = kept + (1.0 - mask) * (z * ops.exp(log_scale) + shift)
    return x, _sum_but_batch((1.0 - mask) * log_scale)


def forward_with_where(z, mask, conditioner):
    shift, log_scale = conditioner(z * mask)
    changed = mask < 0.5
    log_scale = tf.where(changed, log_scale, tf.zeros_like(log_scale))
    x = tf.where(changed, z * tf.exp(log_scale) + shift, z)
    return x, tf.reduce_sum(tf.reshape(log_scale, (tf.shape(z)[0], -1)), axis=1)


def forward_all_entries(z, mask, conditioner):
    shift, log_scale = conditioner(mask * z)
    return z * ops.exp(log_scale) + shift, _sum_but_batch((1.0 - mask) * log_scale)


def forward_no_exp(z, mask, conditioner):
    shift, log_scale = conditioner(mask * z)
    return mask * z + (1.0 - mask) * (z * log_scale + shift), _sum_but_batch((1.0 - mask) * log_scale)


def forward_shift_first(z, mask, conditioner):
    shift, log_scale = conditioner(mask * z)
    return mask * z + (1.0 - mask) * ((z + shift) * ops.exp(log_scale)), _sum_but_batch((1.0 - mask) * log_scale)


def forward_unmasked_log_det(z, mask, conditioner):
    x, _ = forward_reference(z, mask, conditioner)
    return x, _sum_but_batch(conditioner(mask * z)[1])


def forward_negative_log_det(z, mask, conditioner):
    x, log_det = forward_reference(z, mask, conditioner)
    return x, -log_det


def forward_mean_log_det(z, mask, conditioner):
    x, _ = forward_reference(z, mask, conditioner)
    values = (1.0 - mask) * conditioner(mask * z)[1]
    return x, ops.mean(values, axis=tuple(range(1, len(values.shape))))


def forward_batch_log_det(z, mask, conditioner):
    x, log_det = forward_reference(z, mask, conditioner)
    return x, ops.sum(log_det)


def forward_unsummed_log_det(z, mask, conditioner):
    x, _ = forward_reference(z, mask, conditioner)
    return x, (1.0 - mask) * conditioner(mask * z)[1]


def forward_sees_everything(z, mask, conditioner):
    shift, log_scale = conditioner(z)
    return mask * z + (1.0 - mask) * (z * ops.exp(log_scale) + shift), _sum_but_batch((1.0 - mask) * log_scale)


def forward_last_axis_only(z, mask, conditioner):
    x, _ = forward_reference(z, mask, conditioner)
    return x, ops.sum((1.0 - mask) * conditioner(mask * z)[1], axis=-1)


def forward_x_only(z, mask, conditioner):
    return forward_reference(z, mask, conditioner)[0]


def forward_in_numpy(z, mask, conditioner):
    x, log_det = forward_reference(z, mask, conditioner)
    return np.asarray(x), np.asarray(log_det)


@pytest.mark.parametrize("fn", [forward_reference, forward_with_where])
def test_check_affine_coupling_forward_passes_correct_functions(fn):
    testing.check_affine_coupling_forward(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (forward_all_entries, "kept entries \\(mask = 1\\) must pass through unchanged"),
        (forward_no_exp, "multiply by exp\\(log_scale\\), not by log_scale"),
        (forward_shift_first, "scale first, then shift"),
        (forward_unmasked_log_det, "only the changed entries"),
        (forward_negative_log_det, "wrong sign"),
        (forward_mean_log_det, "instead of averaging"),
        (forward_batch_log_det, "one number for the whole batch"),
        (forward_unsummed_log_det, "one value per entry"),
        (forward_sees_everything, "must see only the kept part"),
        (forward_last_axis_only, "For images, sum over every axis"),
        (forward_x_only, "expected a pair \\(x, log_det\\)"),
        (forward_in_numpy, "no derivative of your output"),
    ],
)
def test_check_affine_coupling_forward_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_affine_coupling_forward(wrong)


# ------------------------------------------------------------------------------ inverse pass
def inverse_reference(x, mask, conditioner):
    kept = mask * x
    shift, log_scale = conditioner(kept)
    z = kept + (1.0 - mask) * (x - shift) * ops.exp(-log_scale)
    return z, -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_divide(x, mask, conditioner):
    shift, log_scale = conditioner(x * mask)
    z = mask * x + (1.0 - mask) * (x - shift) / ops.exp(log_scale)
    return z, -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_times_scale(x, mask, conditioner):
    shift, log_scale = conditioner(mask * x)
    return mask * x + (1.0 - mask) * (x - shift) * ops.exp(log_scale), -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_wrong_order(x, mask, conditioner):
    shift, log_scale = conditioner(mask * x)
    return mask * x + (1.0 - mask) * (x * ops.exp(-log_scale) - shift), -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_adds_shift(x, mask, conditioner):
    shift, log_scale = conditioner(mask * x)
    return mask * x + (1.0 - mask) * (x + shift) * ops.exp(-log_scale), -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_all_entries(x, mask, conditioner):
    shift, log_scale = conditioner(mask * x)
    return (x - shift) * ops.exp(-log_scale), -_sum_but_batch((1.0 - mask) * log_scale)


def inverse_positive_log_det(x, mask, conditioner):
    z, log_det = inverse_reference(x, mask, conditioner)
    return z, -log_det


def inverse_unmasked_log_det(x, mask, conditioner):
    z, _ = inverse_reference(x, mask, conditioner)
    return z, -_sum_but_batch(conditioner(mask * x)[1])


def inverse_sees_everything(x, mask, conditioner):
    shift, log_scale = conditioner(x)
    return mask * x + (1.0 - mask) * (x - shift) * ops.exp(-log_scale), -_sum_but_batch((1.0 - mask) * log_scale)


@pytest.mark.parametrize("fn", [inverse_reference, inverse_divide])
def test_check_affine_coupling_inverse_passes_correct_functions(fn):
    testing.check_affine_coupling_inverse(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (inverse_times_scale, "multiply by exp\\(−log_scale\\)"),
        (inverse_wrong_order, "reverse order"),
        (inverse_adds_shift, "subtracts it"),
        (inverse_all_entries, "kept entries \\(mask = 1\\) must pass through unchanged"),
        (inverse_positive_log_det, "wrong sign"),
        (inverse_unmasked_log_det, "only the changed entries"),
        (inverse_sees_everything, "must see only the kept part"),
        (forward_reference, "must give back the original z"),
    ],
)
def test_check_affine_coupling_inverse_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_affine_coupling_inverse(wrong)


# ------------------------------------------------------------------------------- MADE masks
def masks_written_out(degrees, hidden_units):
    dims = len(degrees)
    masks, previous = [], np.asarray(degrees)
    for units in hidden_units:
        hidden = np.array([k % (dims - 1) + 1 for k in range(units)])
        masks.append(np.array([[1.0 if hidden[k] >= previous[j] else 0.0 for k in range(units)]
                               for j in range(len(previous))]))
        previous = hidden
    masks.append(np.array([[1.0 if degrees[d] > previous[k] else 0.0 for d in range(dims)]
                           for k in range(len(previous))]))
    return masks


def _masks_with(degrees, hidden_units, hidden_rule, output_rule, hidden_degree=None):
    dims = len(degrees)
    hidden_degree = hidden_degree or (lambda k: k % (dims - 1) + 1)
    masks, previous = [], np.asarray(degrees)
    for units in hidden_units:
        hidden = np.array([hidden_degree(k) for k in range(units)])
        masks.append(hidden_rule(hidden[None, :], previous[:, None]).astype("float32"))
        previous = hidden
    masks.append(output_rule(np.asarray(degrees)[None, :], previous[:, None]).astype("float32"))
    return masks


def masks_output_not_strict(degrees, hidden_units):
    return _masks_with(degrees, hidden_units, np.greater_equal, np.greater_equal)


def masks_hidden_strict(degrees, hidden_units):
    return _masks_with(degrees, hidden_units, np.greater, np.greater)


def masks_ignore_ordering(degrees, hidden_units):
    return made_masks(np.arange(1, len(degrees) + 1), hidden_units)


def masks_hidden_degrees_up_to_d(degrees, hidden_units):
    return _masks_with(degrees, hidden_units, np.greater_equal, np.greater,
                       hidden_degree=lambda k: k % len(degrees) + 1)


def masks_transposed(degrees, hidden_units):
    return [mask.T for mask in made_masks(degrees, hidden_units)]


def masks_without_output_layer(degrees, hidden_units):
    return made_masks(degrees, hidden_units)[:-1]


def masks_as_booleans_scaled(degrees, hidden_units):
    return [2.0 * mask for mask in made_masks(degrees, hidden_units)]


@pytest.mark.parametrize("fn", [made_masks, masks_written_out,
                                lambda d, h: [tf.constant(m > 0) for m in made_masks(d, h)]])
def test_check_made_masks_passes_correct_functions(fn):
    testing.check_made_masks(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (masks_output_not_strict, "strict inequality"),
        (masks_hidden_strict, "hidden masks use ≥"),
        (masks_ignore_ordering, "use the degrees you are given"),
        (masks_hidden_degrees_up_to_d, "\\(k mod \\(D − 1\\)\\) \\+ 1"),
        (masks_transposed, "yours is transposed"),
        (masks_without_output_layer, "the output layer needs its own mask"),
        (masks_as_booleans_scaled, "values other than 0 and 1"),
    ],
)
def test_check_made_masks_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_made_masks(wrong)


def test_flow_checks_report_an_unimplemented_exercise():
    def stub(*args):
        raise NotImplementedError()

    for check in (testing.check_affine_coupling_forward, testing.check_affine_coupling_inverse,
                  testing.check_made_masks):
        with pytest.raises(AssertionError, match="not implemented yet"):
            check(stub)
