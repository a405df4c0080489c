"""GANs in a slanted land: the smallest GAN there is, trained with minigan's autograd.

Faces are 2×2 images, dark on the diagonal ("slanted"). The discriminator is one sigmoid neuron,
D(x) = sigmoid(x·w + b); the generator maps one random number z to four pixels,
G(z) = sigmoid(z·v + c). This rebuilds Luis Serrano's toy exactly (same seed, same order of
random draws, same updates), with one difference: every gradient comes from minigan's autograd,
and at every step the script checks it against the toy's hand-derived formulas.

    python examples/slanted_faces.py [--epochs 1000] [--lr 0.01] [--seed 42] [--out runs/slanted_faces]
"""
import argparse
import os

import matplotlib
import numpy as np

import minigan
from minigan.optim import SGD

FACES = np.array([[1, 0, 0, 1], [0.9, 0.1, 0.2, 0.8], [0.9, 0.2, 0.1, 0.8],
                  [0.8, 0.1, 0.2, 0.9], [0.8, 0.2, 0.1, 0.9]], dtype=np.float64)


class Discriminator:
    """D(x) = sigmoid(x·w + b): the probability that a 2×2 image is a real face."""

    def __init__(self):
        self.weights = minigan.tensor([np.random.normal() for _ in range(4)], dtype=minigan.float64, requires_grad=True)
        self.bias = minigan.tensor(np.random.normal(), dtype=minigan.float64, requires_grad=True)

    def __call__(self, image):
        return (image @ self.weights + self.bias).sigmoid()

    def parameters(self):
        return [self.weights, self.bias]


class Generator:
    """G(z) = sigmoid(z·v + c), elementwise: one number in, four pixels out."""

    def __init__(self):
        self.weights = minigan.tensor([np.random.normal() for _ in range(4)], dtype=minigan.float64, requires_grad=True)
        self.biases = minigan.tensor([np.random.normal() for _ in range(4)], dtype=minigan.float64, requires_grad=True)

    def __call__(self, z):
        return (z * self.weights + self.biases).sigmoid()

    def parameters(self):
        return [self.weights, self.biases]


# -- the toy's hand-derived derivatives, which autograd must reproduce --------------------------
def hand_grads_real(D, x):
    prediction = D(x).item()                                # error = -ln D(x)
    return -x * (1 - prediction), -(1 - prediction)


def hand_grads_fake(D, x):
    prediction = D(x).item()                                # error = -ln(1 - D(x))
    return x * prediction, prediction


def hand_grads_generator(G, D, z):
    x = G(z).detach().numpy()                               # error = -ln D(G(z))
    y = D(minigan.tensor(x)).item()
    factor = -(1 - y) * D.weights.detach().numpy() * x * (1 - x)
    return factor * z, factor


def check(autograd_grads, hand_grads, what):
    for computed, by_hand in zip(autograd_grads, hand_grads):
        if not np.allclose(computed.numpy(), by_hand, rtol=1e-9, atol=1e-12):
            raise AssertionError(f"{what}: autograd gives {computed.numpy()}, the hand formula {by_hand}")


def train(epochs=1000, lr=0.01, seed=42):
    """Train as the toy does; returns D, G, both error curves and four faces generated at the end."""
    np.random.seed(seed)
    D, G = Discriminator(), Generator()
    optimizer_D, optimizer_G = SGD(D.parameters(), lr=lr), SGD(G.parameters(), lr=lr)
    errors_D, errors_G = [], []
    with minigan.no_grad():
        faces = [minigan.tensor(face) for face in FACES]

    def sgd_step(optimizer, loss, hand_grads, what):
        optimizer.zero_grad()
        loss.backward()
        check([p.grad for group in optimizer.param_groups for p in group["params"]], hand_grads, what)
        optimizer.step()

    for _ in range(epochs):
        for face in faces:
            # 1. the discriminator learns that this face is real
            sgd_step(optimizer_D, -D(face).log(), hand_grads_real(D, face.numpy()), "D on a real face")
            # 2. the generator makes a fake from random z, and the discriminator learns it is fake
            z = np.random.random()
            fake = G(z).detach()
            errors_D.append((-D(face).log() - (1 - D(fake)).log()).item())
            errors_G.append(-D(fake).log().item())
            sgd_step(optimizer_D, -(1 - D(fake)).log(), hand_grads_fake(D, fake.numpy()), "D on a fake face")
            # 3. the generator learns to fool the discriminator it just updated
            sgd_step(optimizer_G, -D(G(z)).log(), hand_grads_generator(G, D, z), "G through D")

    with minigan.no_grad():
        generated = [G(np.random.random()).numpy() for _ in range(4)]
    return D, G, errors_D, errors_G, generated


def save_figures(out, generated, errors_D, errors_G, show):
    import matplotlib.pyplot as plt

    def grid(images, path, title):
        figure, axes = plt.subplots(1, len(images), figsize=(2 * len(images), 2.3))
        for ax, image in zip(axes, images):
            ax.imshow(np.reshape(image, (2, 2)), cmap="Greys", vmin=0, vmax=1)  # dark = high
            ax.axis("off")
        figure.suptitle(title)
        figure.savefig(path, dpi=80)
        return path

    noise = np.random.default_rng(0).random((4, 4))  # its own generator: the toy's stream stays intact
    paths = [grid(FACES, os.path.join(out, "real_faces.png"), "real faces"),
             grid(noise, os.path.join(out, "noise.png"), "random noise"),
             grid(generated, os.path.join(out, "generated_faces.png"), "generated faces")]
    figure, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(errors_G, label="generator error")
    ax.plot(errors_D, label="discriminator error")
    ax.set_xlabel("update")
    ax.legend()
    paths.append(os.path.join(out, "errors.png"))
    figure.savefig(paths[-1], dpi=80)
    if show:
        plt.show()
    return paths


def main():
    parser = argparse.ArgumentParser(description="GANs in a slanted land, on minigan")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=os.path.join("runs", "slanted_faces"))
    parser.add_argument("--show", action="store_true", help="open the figures in windows")
    args = parser.parse_args()
    if args.epochs < 1 or args.lr <= 0:
        parser.error("--epochs must be ≥ 1 and --lr > 0")
    if not args.show:
        matplotlib.use("Agg")

    D, G, errors_D, errors_G, generated = train(args.epochs, args.lr, args.seed)
    np.set_printoptions(precision=8, suppress=True)
    print("autograd agreed with the hand-derived derivatives at every one of "
          f"{3 * len(errors_D)} updates")
    print("generator weights      ", G.weights.detach().numpy())
    print("generator biases       ", G.biases.detach().numpy())
    print("discriminator weights  ", D.weights.detach().numpy())
    print("discriminator bias     ", D.bias.item())
    print("generated faces        ", np.round(np.array(generated), 8))
    os.makedirs(args.out, exist_ok=True)
    for path in save_figures(args.out, generated, errors_D, errors_G, args.show):
        print("wrote", path)


if __name__ == "__main__":
    main()
