"""How well a GAN learned MNIST, as numbers: digit FID and class coverage; for a class-conditional
GAN, label accuracy and the digit FID of each class.

    from minigan import metrics
    scores = metrics.digit_scores(generated, real)
    # {"digit_fid": 4.1, "classes_covered": 10, "class_entropy_bits": 3.29, "classifier_accuracy": 0.926}
    scores = metrics.conditional_scores(generated, requested, real, real_labels)
    # {"label_accuracy": 0.97, "class_digit_fid": [10 numbers], "mean_class_digit_fid": 9.8, ...}

Both use a small classifier trained with minigan itself (minigan/metrics/classifier.py):

- digit FID: the Fréchet distance between Gaussians fitted to the classifier's 64 penultimate
  features of generated and of real digits, as FID does with Inception's features:
  ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½). 0 for identical statistics; lower is better. Its scale
  is this classifier's own: compare digit FIDs with each other, not with published FIDs.
- label accuracy (conditional GANs): how often the classifier reads, in a generated digit, the
  digit that was asked for; the classifier's own accuracy on real digits bounds what it can show.
- class digit FID (conditional GANs): for each digit, the digit FID of the samples asked to be that
  digit against real digits of it; a generator that draws the right class but always the same
  way scores badly here, where label accuracy would not see it.
- coverage: how many of the ten digits the generator makes (a digit counts once at least 1 % of
  the samples are classified as it), and the entropy in bits of the histogram of predicted
  classes (log₂ 10 ≈ 3.32 when all ten come equally often).

Images are (N, 784), (N, 28, 28) or (N, 1, H, W) in [-1, 1], tensors on any device or arrays;
other sizes are resized to 28×28. The scores are computed on the host, in float64.
"""
import numpy

import minigan
from minigan import backend
from minigan.data import resize_images
from minigan.metrics.classifier import pretrained

COVERED = 0.01  # a digit is covered when at least this fraction of the samples is classified as it


def _as_digits(images):
    """(N, 784) float32 host array of 28×28 digits in [-1, 1]."""
    data = images.detach().array if isinstance(images, minigan.Tensor) else images
    data = numpy.asarray(backend.to_numpy(data), dtype=numpy.float32)
    if data.ndim == 2 and data.shape[1] == 784:
        return data
    if data.ndim == 3:
        data = data[:, None]
    if data.ndim != 4 or data.shape[1] != 1:
        raise ValueError(f"minigan.metrics: expected digits of shape (N, 784), (N, 28, 28) or (N, 1, H, W), "
                         f"got shape {data.shape}")
    if data.shape[2:] != (28, 28):
        data = resize_images(data, 28)
    return data.reshape(len(data), 784)


def _features_and_classes(images, batch_size=1000):
    classifier, _ = pretrained()
    digits = _as_digits(images)
    features, classes = [], []
    with minigan.no_grad():
        for start in range(0, len(digits), batch_size):
            hidden = classifier.features(minigan.tensor(digits[start:start + batch_size]))
            features.append(hidden.numpy().astype(numpy.float64))
            classes.append(classifier.head(hidden).argmax(1).numpy())
    return numpy.concatenate(features), numpy.concatenate(classes)


def frechet_distance(features_1, features_2):
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½) between Gaussians fitted to two (N, d) samples.

    Tr (Σ₁ Σ₂)^½ is the sum of the square roots of the eigenvalues of Σ₁ Σ₂, which are those of the
    symmetric S Σ₂ S with S = Σ₁^½: real and non-negative, so no complex matrix root is needed.
    """
    mean_1, mean_2 = features_1.mean(axis=0), features_2.mean(axis=0)
    covariance_1 = numpy.atleast_2d(numpy.cov(features_1, rowvar=False))  # 1 feature: cov gives a number
    covariance_2 = numpy.atleast_2d(numpy.cov(features_2, rowvar=False))
    values, vectors = numpy.linalg.eigh(covariance_1)
    root_1 = (vectors * numpy.sqrt(numpy.clip(values, 0, None))) @ vectors.T
    cross = numpy.linalg.eigvalsh(root_1 @ covariance_2 @ root_1)
    trace_of_root = numpy.sqrt(numpy.clip(cross, 0, None)).sum()
    return float(((mean_1 - mean_2) ** 2).sum() + numpy.trace(covariance_1) + numpy.trace(covariance_2)
                 - 2 * trace_of_root)


def coverage(classes):
    """(how many digits are covered, entropy in bits of the predicted-class histogram)."""
    shares = numpy.bincount(classes, minlength=10) / len(classes)
    present = shares[shares > 0]
    return int((shares >= COVERED).sum()), float(-(present * numpy.log2(present)).sum()) + 0.0  # + 0.0: never -0.0


def digit_scores(generated, real):
    """Digit FID of `generated` against `real` digits, and the coverage of `generated`."""
    if len(generated) < 2 or len(real) < 2:
        raise ValueError(f"minigan.metrics: digit FID needs at least 2 digits on each side, got {len(generated)} "
                         f"generated and {len(real)} real")
    generated_features, classes = _features_and_classes(generated)
    real_features, _ = _features_and_classes(real)
    covered, entropy = coverage(classes)
    return {"digit_fid": frechet_distance(generated_features, real_features), "classes_covered": covered,
            "class_entropy_bits": entropy, "classifier_accuracy": pretrained()[1]}


def classifier_accuracy(images, labels):
    """The fraction of `images` the classifier labels as `labels` says."""
    _, classes = _features_and_classes(images)
    return float((classes == numpy.asarray(labels)).mean())


def conditional_scores(generated, requested, real, real_labels):
    """Label accuracy of `generated` digits asked to be `requested`, and the digit FID of each class:
    the generated digits asked to be k against the `real` digits labelled k (at least 2 of each)."""
    requested, real_labels = numpy.asarray(requested), numpy.asarray(real_labels)
    if len(requested) != len(generated) or len(real_labels) != len(real):
        raise ValueError(f"minigan.metrics: {len(generated)} generated digits with {len(requested)} requested labels, "
                         f"{len(real)} real digits with {len(real_labels)} labels: one label per digit")
    generated_features, classes = _features_and_classes(generated)
    real_features, _ = _features_and_classes(real)
    class_fids = []
    for digit in range(10):
        mine, theirs = requested == digit, real_labels == digit
        if mine.sum() < 2 or theirs.sum() < 2:
            raise ValueError(f"minigan.metrics: the digit FID of class {digit} needs at least 2 generated and 2 real "
                             f"digits of it, got {mine.sum()} and {theirs.sum()}")
        class_fids.append(frechet_distance(generated_features[mine], real_features[theirs]))
    return {"label_accuracy": float((classes == requested).mean()), "class_digit_fid": class_fids,
            "mean_class_digit_fid": float(numpy.mean(class_fids)), "classifier_accuracy": pretrained()[1]}
