"""User-style losses and metrics for the probe tests: tracebacks and op locations point here."""

import keras
import tensorflow as tf

BATCH_SIZE = 32


# seed 000: each loss reshapes y_pred to the targets' shape (and sums over the batch)
def l_1(true, pred):
    pred = tf.reshape(pred, (-1, 5, 7))
    return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=true, logits=pred))


def l_2(true, pred):
    pred = tf.reshape(pred, (-1, 10, 7))
    return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=true, logits=pred))


# seed 002: a "joint" loss written as if it received lists of outputs
def idx_loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true[0] - y_pred[1]))


# seed 004: the batch size hard-coded in the loss
def hard_batch_loss(y_true, y_pred):
    flat = tf.reshape(y_pred, [BATCH_SIZE, 5, 7])
    return tf.reduce_mean(tf.square(tf.reshape(y_true, [-1, 5, 7]) - flat), axis=[1, 2])


# seed 004: a Loss holding a symbolic model input
class InputLoss(keras.losses.Loss):
    def __init__(self, inputs, **kwargs):
        super().__init__(**kwargs)
        self.inputs = inputs

    def call(self, y_true, y_pred):
        penalty = tf.reduce_mean(self.inputs)
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + penalty


# keras3-facts case 3: the (N,) vs (N, 1) broadcast
def mse_fn(y_true, y_pred):
    diff = y_true - y_pred
    return tf.reduce_mean(tf.square(diff))


class MseLoss(keras.losses.Loss):
    def call(self, y_true, y_pred):
        diff = y_true - y_pred
        return tf.reduce_mean(tf.square(diff))


# keras3-facts case 12: Python control flow on a tensor
def branchy_loss(y_true, y_pred):
    err = tf.reduce_mean(tf.square(y_true - y_pred))
    if err > 1.0:
        return tf.sqrt(err)
    return err


# correct losses
def good_mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)


def good_mae(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


class GoodMse(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def good_cond_loss(y_true, y_pred):
    err = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    return tf.where(err > 1.0, tf.sqrt(err + 1e-6), err)


def good_metric(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)


# more pitfalls
def argmax_loss(y_true, y_pred):
    hit = tf.cast(tf.equal(tf.argmax(y_true, -1), tf.argmax(y_pred, -1)), tf.float32)
    return 1.0 - hit


def linear_loss(y_true, y_pred):
    return tf.reduce_mean(y_true - y_pred, axis=-1)


def log_loss(y_true, y_pred):
    return -tf.reduce_mean(y_true * tf.math.log(y_pred), axis=-1)


def batch_norm_loss(y_true, y_pred):
    centred = y_pred - tf.reduce_mean(y_pred, axis=0)
    return tf.reduce_mean(tf.square(y_true - centred), axis=-1)


def zeros_like_shape_loss(y_true, y_pred):
    zeros = tf.zeros(y_pred.shape)
    return tf.reduce_mean(tf.square(y_pred - zeros - y_true), axis=-1)


# more correct losses (precision)
def dice_loss(y_true, y_pred):
    y_pred = tf.sigmoid(y_pred)
    inter = tf.reduce_sum(y_true * y_pred, axis=-1)
    union = tf.reduce_sum(y_true + y_pred, axis=-1)
    return 1.0 - (2.0 * inter + 1.0) / (union + 1.0)


def focal_loss(gamma=2.0):
    def focal(y_true, y_pred):
        p = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        ce = -y_true * tf.math.log(p)
        return tf.reduce_sum(tf.pow(1.0 - p, gamma) * ce, axis=-1)
    return focal


CLASS_WEIGHTS = tf.constant([1.0, 2.0, 0.5])


def weighted_ce(y_true, y_pred):
    p = tf.clip_by_value(y_pred, 1e-7, 1.0)
    return -tf.reduce_sum(CLASS_WEIGHTS * y_true * tf.math.log(p), axis=-1)


def mean_by_shape(y_true, y_pred):
    total = tf.reduce_sum(tf.square(y_true - y_pred))
    return total / tf.cast(tf.shape(y_pred)[0] * tf.shape(y_pred)[1], tf.float32)


def column_loss(y_true, y_pred):
    first = tf.square(y_true[:, 0] - y_pred[:, 0])
    last = tf.abs(y_true[..., -1] - y_pred[..., -1])
    return first + last


def masked_mse(y_true, y_pred):
    mask = tf.cast(tf.not_equal(y_true, 0.0), tf.float32)
    return tf.reduce_sum(mask * tf.square(y_true - y_pred)) / (tf.reduce_sum(mask) + 1e-6)


def huber_fn(y_true, y_pred):
    return keras.losses.huber(y_true, y_pred, delta=0.5)


def seq_sparse_ce(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


class BinaryFocal(keras.losses.Loss):
    def __init__(self, gamma=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def call(self, y_true, y_pred):
        y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))
        p = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
        pt = y_true * p + (1 - y_true) * (1 - p)
        return keras.ops.mean(-keras.ops.power(1 - pt, self.gamma) * keras.ops.log(pt), axis=-1)


def batch_dice_loss(y_true, y_pred):
    """Dice over the whole batch (one scalar): mixes samples by design."""
    inter = tf.reduce_sum(y_true * y_pred)
    return 1.0 - (2.0 * inter + 1.0) / (tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + 1.0)


def in_batch_softmax_loss(y_true, y_pred):
    """In-batch negatives: every other sample's embedding is a negative (one scalar)."""
    scores = tf.matmul(y_true, y_pred, transpose_b=True)
    labels = tf.range(tf.shape(scores)[0])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=scores))


def expected_reward_loss(y_true, y_pred):
    """Minus the probability given to the true class: bounded, as y_pred is a softmax."""
    return -tf.reduce_sum(y_true * y_pred, axis=-1)


def identity_loss(y_true, y_pred):
    """The model outputs its own loss; the target is a dummy."""
    return y_pred


def wasserstein_loss(y_true, y_pred):
    """A WGAN critic's loss: linear in y_pred by design (weight clipping bounds the critic)."""
    return tf.reduce_mean(y_true * y_pred, axis=-1)
