"""The MNIST digit classifier behind minigan.metrics: a small MLP trained with minigan itself.

    784 -> 256 -> ReLU -> 64 -> ReLU -> 10 logits

Its 64 penultimate features play the part Inception's pool features play in FID. Its weights,
with its accuracy on digits it never saw, ship in `mnist_classifier.npz` next to this file, made
by `python -m minigan.metrics.train_classifier` (minigan/metrics/train_classifier.py).
"""
import functools
import os

import minigan
from minigan import nn

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_classifier.npz")
FEATURES = 64


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, 10)

    def features(self, images):
        """The penultimate features of (N, 784) images in [-1, 1]."""
        return self.body(images)

    def forward(self, images):
        return self.head(self.features(images))


@functools.lru_cache(maxsize=None)
def pretrained():
    """(classifier, its accuracy on held-out digits), loaded once from WEIGHTS, in eval mode."""
    if not os.path.exists(WEIGHTS):
        raise FileNotFoundError(f"minigan.metrics: the classifier's weights {WEIGHTS} are missing; make them with "
                                "python -m minigan.metrics.train_classifier --data-dir <MNIST folder>")
    saved = minigan.load(WEIGHTS)
    classifier = DigitClassifier()
    classifier.load_state_dict(saved["state_dict"])
    return classifier.eval(), saved["held_out_accuracy"]
