"""minigan.metrics: the Fréchet distance against an independent computation, coverage on known
histograms, and digit FID on real MNIST digits (when the sample is on disk) and on made-up ones."""
import os

import numpy
import pytest
from parity import torch

import minigan
from minigan import metrics
from minigan.data import load_mnist, scale_images
from minigan.metrics import classifier

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                      "mnist-sample")
rng = numpy.random.default_rng(0)


def test_frechet_distance_matches_the_formula_computed_another_way():
    a = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5))
    b = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5)) + 0.5
    # Tr (Σa Σb)^½ from the eigenvalues of the non-symmetric product itself, in torch
    covariance_a, covariance_b = torch.from_numpy(numpy.cov(a, rowvar=False)), torch.from_numpy(numpy.cov(b, rowvar=False))
    root_trace = torch.linalg.eigvals(covariance_a @ covariance_b).sqrt().real.sum().item()
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum() + covariance_a.trace().item() + covariance_b.trace().item()
                - 2 * root_trace)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_of_shifted_and_scaled_gaussians_in_one_dimension():
    x = rng.standard_normal((1000, 1))
    # for 1-D Gaussians the distance is (μ₁ - μ₂)² + (σ₁ - σ₂)²
    mean, std = x.mean(), x.std(ddof=1)
    assert metrics.frechet_distance(x, 3 * x + 2) == pytest.approx((2 * mean + 2) ** 2 + (2 * std) ** 2, rel=1e-9)


@pytest.mark.parametrize("classes, covered, entropy", [
    (numpy.repeat(numpy.arange(10), 7), 10, numpy.log2(10)),
    (numpy.array([3] * 50 + [8] * 50), 2, 1.0),
    (numpy.array([1] * 99 + [2]), 2, -(0.99 * numpy.log2(0.99) + 0.01 * numpy.log2(0.01))),  # 1 %: just covered
    (numpy.array([5] * 201 + [6]), 1, -(201 / 202 * numpy.log2(201 / 202) + 1 / 202 * numpy.log2(1 / 202))),
])
def test_coverage_counts_digits_made_at_least_one_percent_of_the_time(classes, covered, entropy):
    assert metrics.coverage(classes) == (covered, pytest.approx(entropy, rel=1e-12))


def test_the_shipped_classifier_loads_with_its_held_out_accuracy():
    model, accuracy = classifier.pretrained()
    assert isinstance(model, classifier.DigitClassifier) and not model.training
    assert 0.9 <= accuracy <= 1.0
    assert [tuple(p.shape) for p in model.parameters()] == [(256, 784), (256,), (64, 256), (64,), (10, 64), (10,)]


def test_digit_scores_accept_every_image_layout_and_device_alike(standin_cuda):
    digits = rng.uniform(-1, 1, (50, 784)).astype(numpy.float32)
    reference = rng.uniform(-1, 1, (60, 784)).astype(numpy.float32)
    flat = metrics.digit_scores(digits, reference)
    assert metrics.digit_scores(digits.reshape(50, 28, 28), reference) == flat
    assert metrics.digit_scores(minigan.tensor(digits.reshape(50, 1, 28, 28), device="cuda"), reference) == flat
    bigger = metrics.digit_scores(numpy.kron(digits.reshape(50, 1, 28, 28), numpy.ones((1, 1, 2, 2))), reference)
    assert bigger["digit_fid"] == pytest.approx(flat["digit_fid"], rel=1e-3)  # 56×56 resized back to 28×28
    with pytest.raises(ValueError, match=r"expected digits of shape .* got shape \(50, 3, 28, 28\)"):
        metrics.digit_scores(numpy.zeros((50, 3, 28, 28)), reference)


@pytest.mark.skipif(not os.path.isdir(SAMPLE), reason="needs the MNIST sample in ../shared/data/mnist-sample")
def test_real_digits_score_near_zero_and_one_repeated_digit_scores_far_with_one_class_covered():
    images, labels = load_mnist(SAMPLE)
    digits = scale_images(images).reshape(-1, 784)
    order = rng.permutation(len(digits))
    half, other = digits[order[:2000]], digits[order[2000:4000]]
    real = metrics.digit_scores(half, other)
    assert real["digit_fid"] < 5 and real["classes_covered"] == 10 and real["class_entropy_bits"] > 3.2
    threes = metrics.digit_scores(digits[labels == 3], other)
    assert threes["digit_fid"] > 50 * real["digit_fid"] and threes["classes_covered"] <= 2
    noise = metrics.digit_scores(rng.uniform(-1, 1, (1000, 784)), other)
    assert noise["digit_fid"] > threes["digit_fid"]
    assert metrics.classifier_accuracy(digits, labels) > 0.95  # training and held-out digits together


@pytest.mark.skipif(not os.path.isdir(SAMPLE), reason="needs the MNIST sample in ../shared/data/mnist-sample")
def test_conditional_scores_read_the_asked_digit_and_compare_each_class_with_its_own():
    images, labels = load_mnist(SAMPLE)
    digits = scale_images(images).reshape(-1, 784)
    order = rng.permutation(len(digits))
    first, second = order[:2500], order[2500:]
    right = metrics.conditional_scores(digits[first], labels[first], digits[second], labels[second])
    assert right["label_accuracy"] > 0.95 and len(right["class_digit_fid"]) == 10
    assert right["mean_class_digit_fid"] == pytest.approx(numpy.mean(right["class_digit_fid"]))
    # the same digits asked for as the next digit: the classifier reads the wrong one, and each class's
    # digits are compared with real digits of another class
    wrong = metrics.conditional_scores(digits[first], (labels[first] + 1) % 10, digits[second], labels[second])
    assert wrong["label_accuracy"] < 0.05
    assert min(wrong["class_digit_fid"]) > 5 * max(right["class_digit_fid"])
    with pytest.raises(ValueError, match="one label per digit"):
        metrics.conditional_scores(digits[:10], labels[:9], digits[:10], labels[:10])
    with pytest.raises(ValueError, match="class 3 needs at least 2 generated"):
        metrics.conditional_scores(digits[first], numpy.where(labels[first] == 3, 4, labels[first]), digits[second],
                                   labels[second])


def test_the_training_script_writes_weights_the_classifier_loads(tmp_path):
    from minigan.data import write_idx
    from minigan.metrics import train_classifier
    digits = numpy.random.default_rng(1).integers(0, 256, (200, 28, 28), dtype=numpy.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", digits)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", numpy.repeat(numpy.arange(10, dtype=numpy.uint8), 20))
    out = tmp_path / "classifier.npz"
    train_classifier.main(["--data-dir", str(tmp_path), "--epochs", "1", "--out", str(out)])
    saved = minigan.load(str(out))
    model = classifier.DigitClassifier()
    model.load_state_dict(saved["state_dict"])
    assert 0 <= saved["held_out_accuracy"] <= 1 and saved["trained_on"] == "200 MNIST training digits, 1 epochs"
    assert train_classifier.held_out_split(numpy.repeat(numpy.arange(10), 20))[1].size == 20  # 2 of each digit
