"""Train the digit classifier of minigan.metrics and save its weights into the package.

    python -m minigan.metrics.train_classifier [--data-dir DIR] [--epochs 20] [--out PATH]

Trains minigan/metrics/classifier.py's DigitClassifier on MNIST training digits with Adam and
cross-entropy, keeping the last tenth of each digit's examples out of training to measure its
accuracy, and saves {"state_dict", "held_out_accuracy", "trained_on"} with minigan.save.
"""
import argparse

import numpy

import minigan
import minigan.nn.functional as F
from minigan.data import load_mnist, scale_images
from minigan.metrics.classifier import WEIGHTS, DigitClassifier


def held_out_split(labels, fraction=0.1):
    """Indices (train, held_out): the last `fraction` of each digit's examples are held out."""
    held_out = numpy.zeros(len(labels), dtype=bool)
    for digit in range(10):
        where = numpy.flatnonzero(labels == digit)
        held_out[where[len(where) - max(1, int(len(where) * fraction)):]] = True
    return numpy.flatnonzero(~held_out), numpy.flatnonzero(held_out)


def accuracy(classifier, images, labels):
    with minigan.no_grad():
        predicted = classifier(minigan.tensor(images)).argmax(1).numpy()
    return float((predicted == labels).mean())


def train(images, labels, epochs=20, batch_size=64, lr=1e-3, seed=0):
    """The trained classifier and its accuracy on the held-out digits."""
    minigan.manual_seed(seed)
    train_indices, held_out = held_out_split(labels)
    classifier = DigitClassifier()
    optimizer = minigan.optim.Adam(classifier.parameters(), lr=lr)
    rng = numpy.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(train_indices)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(classifier(minigan.tensor(images[batch])), minigan.tensor(labels[batch])).backward()
            optimizer.step()
        held_out_accuracy = accuracy(classifier, images[held_out], labels[held_out])
        print(f"epoch {epoch + 1}/{epochs}: held-out accuracy {held_out_accuracy:.4f}")
    return classifier.eval(), accuracy(classifier, images[held_out], labels[held_out])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=WEIGHTS)
    args = parser.parse_args(argv)
    data = load_mnist(args.data_dir)
    images, labels = scale_images(data.images).reshape(-1, 784), data.labels.astype(numpy.int64)
    classifier, held_out_accuracy = train(images, labels, args.epochs)
    minigan.save({"state_dict": classifier.state_dict(), "held_out_accuracy": held_out_accuracy,
                  "trained_on": f"{len(images)} MNIST training digits, {args.epochs} epochs"}, args.out)
    print(f"wrote {args.out}: held-out accuracy {held_out_accuracy:.4f}")


if __name__ == "__main__":
    main()
