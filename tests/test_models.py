"""Whole models and gradient penalties against torch, in float64: losses and every parameter gradient.

Each model is written once, exactly as its seed writes it, inside a function that takes the
library (`torch` or `minigan`) — so the torch twin and the minigan model run the same source
text. torch's weights are copied into minigan's, then both take the seed's training step.
"""
import importlib
import os
import sys

import numpy
import pytest
from parity import assert_close, assert_same_gradients, assert_same_state, load_from_torch, on_cuda, torch

import minigan


def as_tensors(lib, *arrays):
    return [lib.tensor(array) for array in arrays]


def assert_same_loss(ours, theirs, what):
    assert_close(ours.array, theirs.detach().numpy(), what=what)


def twins(build, *args):
    """The model `build(lib, *args)` for both libraries, float64, with torch's weights in minigan's."""
    torch.manual_seed(0)
    return load_from_torch(build(minigan, *args), build(torch, *args))


# --------------------------------------------------------------------------------------------
# Second order: the gradient penalty differentiated with respect to the parameters
# --------------------------------------------------------------------------------------------
def gradient_penalty(lib, critic, x):
    """((‖∂D(x)/∂x‖₂ - 1)²).mean(), with the gradient kept differentiable (create_graph)."""
    x = x.requires_grad_(True)
    output = critic(x)
    (gradients,) = lib.autograd.grad(outputs=output, inputs=x, grad_outputs=lib.ones_like(output),
                                     create_graph=True, retain_graph=True)
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


# one small critic per layer under test, the layer between others so that every kind of second
# derivative (through the layer's input, its weights, and what comes after) is exercised
CRITICS = [
    pytest.param(lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(32, 6), nn.Tanh(), nn.Linear(6, 1)), id="Linear"),
    pytest.param(lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(32, 6), nn.LeakyReLU(0.2), nn.Linear(6, 1)),
                 id="LeakyReLU"),
    pytest.param(lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                                          nn.Linear(12, 1)), id="Conv2d"),
    pytest.param(lambda nn: nn.Sequential(nn.ConvTranspose2d(2, 3, (3, 2), stride=2, padding=1, output_padding=1),
                                          nn.Tanh(), nn.Flatten(), nn.Linear(168, 1)), id="ConvTranspose2d"),
    pytest.param(lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.InstanceNorm2d(3, affine=True),
                                          nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(48, 1)), id="InstanceNorm2d"),
    pytest.param(lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.LayerNorm([3, 4, 4]),
                                          nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(48, 1)), id="LayerNorm"),
    pytest.param(lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.LeakyReLU(0.2),
                                          nn.Flatten(), nn.Linear(48, 1)), id="BatchNorm2d"),
]


@pytest.mark.parametrize("build", CRITICS)
def test_gradient_penalty_gradients_match_torch(build):
    ours, theirs = twins(lambda lib: build(lib.nn))
    x = numpy.random.default_rng(0).normal(0.5, 1.0, (3, 2, 4, 4))
    penalty = gradient_penalty(minigan, ours, minigan.tensor(x))
    their_penalty = gradient_penalty(torch, theirs, torch.tensor(x))
    assert_same_loss(penalty, their_penalty, "gradient penalty")
    penalty.backward()
    their_penalty.backward()
    assert_same_gradients(ours, theirs)
    assert_same_state(ours, theirs)  # BatchNorm's running statistics moved alike


# --------------------------------------------------------------------------------------------
# The MNIST MLP GAN (CS231n): BCE with logits
# --------------------------------------------------------------------------------------------
def mnist_mlp_gan(lib, noise_dim=96):
    nn = lib.nn
    D = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1))
    G = nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                      nn.Linear(1024, 784), nn.Tanh())
    return nn.Sequential(G, D)  # one container so that both load from one state_dict


def mlp_gan_step(lib, gan, real, noise):
    """The seed's step: D on real and detached fake, then G through D with fresh noise."""
    G, D = gan
    bce_loss = lib.nn.BCEWithLogitsLoss()
    logits_real = D(real)
    logits_fake = D(G(noise[0]).detach())
    true_labels = lib.ones_like(logits_real)
    d_loss = bce_loss(logits_real, true_labels) + bce_loss(logits_fake, 1 - true_labels)
    d_loss.backward()
    d_grads = {name: param.grad.clone() for name, param in D.named_parameters()}
    gen_logits_fake = D(G(noise[1]))
    g_loss = bce_loss(gen_logits_fake, lib.ones_like(gen_logits_fake))
    G.zero_grad()
    g_loss.backward()
    return d_loss, g_loss, d_grads


def test_mnist_mlp_gan_losses_and_gradients_match_torch():
    ours, theirs = twins(mnist_mlp_gan)
    rng = numpy.random.default_rng(1)
    real = rng.uniform(-1, 1, (4, 784))
    noise = rng.uniform(-1, 1, (2, 4, 96))
    d_loss, g_loss, d_grads = mlp_gan_step(minigan, ours, *as_tensors(minigan, real, noise))
    their_d_loss, their_g_loss, their_d_grads = mlp_gan_step(torch, theirs, *as_tensors(torch, real, noise))
    assert_same_loss(d_loss, their_d_loss, "D loss")
    assert_same_loss(g_loss, their_g_loss, "G loss")
    for name, grad in d_grads.items():
        assert_close(grad.array, their_d_grads[name].numpy(), what=f"D loss gradient of {name}")
    assert_same_gradients(ours[0], theirs[0])  # G's gradients of the G loss


# --------------------------------------------------------------------------------------------
# The BatchNorm MLP GAN (PyTorch-GAN's gan.py): BatchNorm1d(eps=0.8), Sigmoid, BCELoss
# --------------------------------------------------------------------------------------------
def batchnorm_mlp_gan(lib, latent_dim=100):
    nn = lib.nn
    img_shape = (1, 28, 28)

    class Generator(nn.Module):
        def __init__(self):
            super(Generator, self).__init__()

            def block(in_feat, out_feat, normalize=True):
                layers = [nn.Linear(in_feat, out_feat)]
                if normalize:
                    layers.append(nn.BatchNorm1d(out_feat, 0.8))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
                return layers

            self.model = nn.Sequential(
                *block(latent_dim, 128, normalize=False),
                *block(128, 256),
                *block(256, 512),
                *block(512, 1024),
                nn.Linear(1024, int(numpy.prod(img_shape))),
                nn.Tanh()
            )

        def forward(self, z):
            img = self.model(z)
            img = img.view(img.size(0), *img_shape)
            return img

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()

            self.model = nn.Sequential(
                nn.Linear(int(numpy.prod(img_shape)), 512),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Linear(512, 256),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Linear(256, 1),
                nn.Sigmoid(),
            )

        def forward(self, img):
            img_flat = img.view(img.size(0), -1)
            validity = self.model(img_flat)
            return validity

    return nn.Sequential(Generator(), Discriminator())


def test_batchnorm_mlp_gan_losses_gradients_and_running_statistics_match_torch():
    ours, theirs = twins(batchnorm_mlp_gan)
    rng = numpy.random.default_rng(2)
    real_imgs, z = rng.uniform(-1, 1, (4, 1, 28, 28)), rng.normal(0, 1, (4, 100))
    results = []
    for lib, gan in [(minigan, ours), (torch, theirs)]:
        generator, discriminator = gan
        adversarial_loss = lib.nn.BCELoss()
        valid, fake = lib.ones(4, 1, dtype=lib.float64), lib.zeros(4, 1, dtype=lib.float64)
        gen_imgs = generator(lib.tensor(z))
        g_loss = adversarial_loss(discriminator(gen_imgs), valid)
        g_loss.backward()
        discriminator.zero_grad()
        real_loss = adversarial_loss(discriminator(lib.tensor(real_imgs)), valid)
        fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        results.append((g_loss, d_loss))
    (g_loss, d_loss), (their_g_loss, their_d_loss) = results
    assert_same_loss(g_loss, their_g_loss, "G loss")
    assert_same_loss(d_loss, their_d_loss, "D loss")
    assert_same_gradients(ours[1], theirs[1])
    assert_same_gradients(ours[0], theirs[0])  # nothing touched G's gradients since the G loss
    assert_same_state(ours, theirs)  # BatchNorm1d running statistics after the step
    ours.eval()
    theirs.eval()
    samples = ours[0](minigan.tensor(z))
    assert_close(samples.array, theirs[0](torch.tensor(z)).detach().numpy(), what="samples in eval mode")


# --------------------------------------------------------------------------------------------
# DCGAN (pytorch/examples dcgan/main.py), with smaller widths: the same layers for 64×64 images
# --------------------------------------------------------------------------------------------
def dcgan(lib, nz=100, ngf=8, ndf=8, nc=3):
    nn = lib.nn

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find('BatchNorm') != -1:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    class Generator(nn.Module):
        def __init__(self):
            super(Generator, self).__init__()
            self.main = nn.Sequential(
                # input is Z, going into a convolution
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8),
                nn.ReLU(True),
                # state size. (ngf*8) x 4 x 4
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                # state size. (ngf*4) x 8 x 8
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                # state size. (ngf*2) x 16 x 16
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                # state size. (ngf) x 32 x 32
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
                nn.Tanh()
                # state size. (nc) x 64 x 64
            )

        def forward(self, input):
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()
            self.main = nn.Sequential(
                # input is (nc) x 64 x 64
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf) x 32 x 32
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*2) x 16 x 16
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*4) x 8 x 8
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*8) x 4 x 4
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
                nn.Sigmoid()
            )

        def forward(self, input):
            output = self.main(input)
            return output.view(-1, 1).squeeze(1)

    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    return nn.Sequential(netG, netD)


def dcgan_step(lib, gan, real_cpu, noise):
    """The seed's step: D on real, D on detached fake (gradients summed), then G through D."""
    netG, netD = gan
    criterion = lib.nn.BCELoss()
    batch_size = real_cpu.size(0)
    netD.zero_grad()
    label = lib.full((batch_size,), 1.0, dtype=real_cpu.dtype)
    output = netD(real_cpu)
    errD_real = criterion(output, label)
    errD_real.backward()
    fake = netG(noise)
    label = lib.full((batch_size,), 0.0, dtype=real_cpu.dtype)
    output = netD(fake.detach())
    errD_fake = criterion(output, label)
    errD_fake.backward()
    errD = errD_real + errD_fake
    d_grads = {name: param.grad.clone() for name, param in netD.named_parameters()}
    netG.zero_grad()
    label = lib.full((batch_size,), 1.0, dtype=real_cpu.dtype)
    output = netD(fake)
    errG = criterion(output, label)
    errG.backward()
    return errD, errG, d_grads


def test_dcgan_losses_gradients_and_running_statistics_match_torch():
    ours, theirs = twins(dcgan)
    assert repr(ours) == repr(theirs)
    rng = numpy.random.default_rng(3)
    real, noise = rng.uniform(-1, 1, (2, 3, 64, 64)), rng.normal(0, 1, (2, 100, 1, 1))
    errD, errG, d_grads = dcgan_step(minigan, ours, *as_tensors(minigan, real, noise))
    their_errD, their_errG, their_d_grads = dcgan_step(torch, theirs, *as_tensors(torch, real, noise))
    assert_same_loss(errD, their_errD, "errD")
    assert_same_loss(errG, their_errG, "errG")
    for name, grad in d_grads.items():
        assert_close(grad.array, their_d_grads[name].numpy(), what=f"errD gradient of {name}")
    assert_same_gradients(ours, theirs)  # G's from errG; D's from errD + errG, as the seed leaves them
    assert_same_state(ours, theirs)


# --------------------------------------------------------------------------------------------
# WGAN-GP: the DCGAN shape, critic without Sigmoid and with InstanceNorm2d(affine=True)
# --------------------------------------------------------------------------------------------
def wgan_gp(lib, nz=100, ngf=8, ndf=8, nc=3):
    nn = lib.nn
    generator = dcgan(lib, nz, ngf, ndf, nc)[0]

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(ndf * 2, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(ndf * 4, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(ndf * 8, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            )

        def forward(self, input):
            return self.main(input).view(-1)

    return nn.Sequential(generator, Critic())


def wgan_gp_critic_loss(lib, critic, real_imgs, fake_imgs, alpha, lambda_gp=10):
    """-D(real) + D(fake) + λ·GP, the interpolation weight drawn per example."""
    interpolates = (alpha * real_imgs + (1 - alpha) * fake_imgs).requires_grad_(True)
    d_interpolates = critic(interpolates)
    gradients = lib.autograd.grad(outputs=d_interpolates, inputs=interpolates,
                                  grad_outputs=lib.ones_like(d_interpolates), create_graph=True,
                                  retain_graph=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    return -critic(real_imgs).mean() + critic(fake_imgs).mean() + lambda_gp * gradient_penalty


def wgan_gp_step(lib, gan, real, noise, alpha):
    generator, critic = gan
    fake = generator(noise)
    d_loss = wgan_gp_critic_loss(lib, critic, real, fake.detach(), alpha)
    d_loss.backward()
    d_grads = {name: param.grad.clone() for name, param in critic.named_parameters()}
    g_loss = -critic(fake).mean()
    critic.zero_grad()
    g_loss.backward()
    return d_loss, g_loss, d_grads


def test_wgan_gp_critic_loss_with_gradient_penalty_and_all_gradients_match_torch():
    ours, theirs = twins(wgan_gp)
    rng = numpy.random.default_rng(4)
    arrays = rng.uniform(-1, 1, (2, 3, 64, 64)), rng.normal(0, 1, (2, 100, 1, 1)), rng.random((2, 1, 1, 1))
    d_loss, g_loss, d_grads = wgan_gp_step(minigan, ours, *as_tensors(minigan, *arrays))
    their_d_loss, their_g_loss, their_d_grads = wgan_gp_step(torch, theirs, *as_tensors(torch, *arrays))
    assert_same_loss(d_loss, their_d_loss, "critic loss")
    assert_same_loss(g_loss, their_g_loss, "generator loss")
    for name, grad in d_grads.items():
        assert_close(grad.array, their_d_grads[name].numpy(), what=f"critic loss gradient of {name}")
    assert_same_gradients(ours, theirs)  # both networks' gradients of the generator loss
    assert_same_state(ours, theirs)


# --------------------------------------------------------------------------------------------
# The original WGAN: DCGAN's discriminator without Sigmoid, RMSprop, weight clipping via p.data
# --------------------------------------------------------------------------------------------
def wgan(lib, nz=100, ngf=8, ndf=8, nc=3):
    netG, netD = dcgan(lib, nz, ngf, ndf, nc)
    critic = lib.nn.Sequential(*list(netD.main)[:-1], lib.nn.Flatten(0))  # scores, not probabilities
    return lib.nn.Sequential(netG, critic)


def wgan_steps(lib, gan, reals, noises, clip_value=0.01, n_critic=2):
    """PyTorch-GAN's wgan.py loop: the critic every step, its weights clipped, G every n_critic."""
    generator, critic = gan
    optimizer_G = lib.optim.RMSprop(generator.parameters(), lr=1e-3)
    optimizer_D = lib.optim.RMSprop(critic.parameters(), lr=1e-3)
    losses = []
    for i, (real_imgs, z) in enumerate(zip(reals, noises)):
        optimizer_D.zero_grad()
        fake_imgs = generator(z).detach()
        loss_D = -lib.mean(critic(real_imgs)) + lib.mean(critic(fake_imgs))
        loss_D.backward()
        optimizer_D.step()
        for p in critic.parameters():
            p.data.clamp_(-clip_value, clip_value)
        losses.append(loss_D)
        if i % n_critic == 0:
            optimizer_G.zero_grad()
            loss_G = -lib.mean(critic(generator(z)))
            loss_G.backward()
            optimizer_G.step()
            losses.append(loss_G)
    return losses


def test_the_original_wgan_with_weight_clipping_matches_torch():
    ours, theirs = twins(wgan)
    rng = numpy.random.default_rng(6)
    reals = [rng.uniform(-1, 1, (2, 3, 64, 64)) for _ in range(4)]
    noises = [rng.normal(0, 1, (2, 100, 1, 1)) for _ in range(4)]
    our_losses = wgan_steps(minigan, ours, as_tensors(minigan, *reals), as_tensors(minigan, *noises))
    their_losses = wgan_steps(torch, theirs, as_tensors(torch, *reals), as_tensors(torch, *noises))
    for step, (loss, their_loss) in enumerate(zip(our_losses, their_losses)):
        assert_same_loss(loss, their_loss, f"loss {step}")
    critic_weights = [p.array for p in ours[1].parameters()]
    assert max(abs(w).max() for w in critic_weights) <= 0.01  # clipped
    assert any(numpy.isclose(abs(w), 0.01).any() for w in critic_weights)  # and the clip was reached
    assert_same_state(ours, theirs)  # every weight after RMSprop and clipping, and the running statistics


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): the seeds' steps, gradient penalties included
# --------------------------------------------------------------------------------------------
def host(tensor):
    return tensor.detach().numpy()


@pytest.mark.usefixtures("standin_cuda")
def test_mnist_mlp_gan_step_on_cuda_matches_torch():
    ours, theirs = twins(mnist_mlp_gan)
    ours.cuda()
    rng = numpy.random.default_rng(1)
    real, noise = rng.uniform(-1, 1, (4, 784)), rng.uniform(-1, 1, (2, 4, 96))
    d_loss, g_loss, d_grads = mlp_gan_step(minigan, ours, minigan.tensor(real, device="cuda"),
                                           minigan.tensor(noise, device="cuda"))
    their_d_loss, their_g_loss, their_d_grads = mlp_gan_step(torch, theirs, torch.tensor(real), torch.tensor(noise))
    assert_close(host(d_loss), host(their_d_loss), what="D loss")
    assert_close(host(g_loss), host(their_g_loss), what="G loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), what=f"D loss gradient of {name}")
    assert_same_gradients(ours.cpu()[0], theirs[0])


@pytest.mark.usefixtures("standin_cuda")
def test_mnist_mlp_gan_step_on_cuda_in_float32_matches_torch_to_1e_5():
    torch.manual_seed(0)
    theirs = mnist_mlp_gan(torch)
    ours = mnist_mlp_gan(minigan)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    ours.cuda()
    rng = numpy.random.default_rng(1)
    real, noise = rng.uniform(-1, 1, (8, 784)).astype("float32"), rng.uniform(-1, 1, (2, 8, 96)).astype("float32")
    d_loss, g_loss, d_grads = mlp_gan_step(minigan, ours, minigan.tensor(real, device="cuda"),
                                           minigan.tensor(noise, device="cuda"))
    their_d_loss, their_g_loss, their_d_grads = mlp_gan_step(torch, theirs, torch.tensor(real), torch.tensor(noise))
    assert d_loss.dtype == numpy.float32
    assert_close(host(d_loss), host(their_d_loss), rtol=1e-5, what="D loss")
    assert_close(host(g_loss), host(their_g_loss), rtol=1e-5, what="G loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), rtol=1e-5, what=f"D loss gradient of {name}")
    for (name, param), their_param in zip(ours.cpu()[0].named_parameters(), theirs[0].parameters()):
        assert_close(param.grad.array, their_param.grad.numpy(), rtol=1e-5, what=f"G loss gradient of {name}")


@pytest.mark.usefixtures("standin_cuda")
def test_wgan_gp_step_on_cuda_matches_torch():
    ours, theirs = twins(wgan_gp)
    ours.cuda()
    rng = numpy.random.default_rng(4)
    arrays = rng.uniform(-1, 1, (2, 3, 64, 64)), rng.normal(0, 1, (2, 100, 1, 1)), rng.random((2, 1, 1, 1))
    d_loss, g_loss, d_grads = wgan_gp_step(minigan, ours, *[minigan.tensor(a, device="cuda") for a in arrays])
    their_d_loss, their_g_loss, their_d_grads = wgan_gp_step(torch, theirs, *[torch.tensor(a) for a in arrays])
    assert_close(host(d_loss), host(their_d_loss), what="critic loss")
    assert_close(host(g_loss), host(their_g_loss), what="generator loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), what=f"critic loss gradient of {name}")
    assert_same_gradients(ours.cpu(), theirs)


@pytest.mark.usefixtures("standin_cuda")
def test_gradient_penalty_through_the_dcgan_critic_on_cuda_matches_torch():
    """DCGAN's discriminator (BatchNorm2d, LeakyReLU, Sigmoid) under a penalty: second order."""
    ours, theirs = twins(dcgan)
    critic, their_critic = ours[1].cuda(), theirs[1]
    x = numpy.random.default_rng(5).uniform(-1, 1, (2, 3, 64, 64))
    penalty = gradient_penalty(minigan, critic, minigan.tensor(x, device="cuda"))
    their_penalty = gradient_penalty(torch, their_critic, torch.tensor(x))
    assert_close(host(penalty), host(their_penalty), what="gradient penalty")
    penalty.backward()
    their_penalty.backward()
    assert_same_gradients(critic.cpu(), their_critic)
    assert_same_state(critic, their_critic)  # BatchNorm's running statistics, updated on the device


# --------------------------------------------------------------------------------------------
# examples/cgan.py's class-conditional G and D, against the same networks written for torch
# --------------------------------------------------------------------------------------------
def conditional_dcgan(lib, conditioning, nz=6, ngf=4, ndf=4, classes=10):
    """The torch twin of examples/cgan.py at 32×32 (three stride-2 blocks each way), written with
    `lib` as the DCGAN source sketches conditional BatchNorm; the same parameter names."""
    nn = lib.nn

    class ConditionalBatchNorm2d(nn.Module):
        def __init__(self, num_features):
            super().__init__()
            self.num_features = num_features
            self.bn = nn.BatchNorm2d(num_features, affine=False)
            self.embed = nn.Embedding(classes, num_features * 2)
            self.embed.weight.data[:, :num_features].normal_(1, 0.02)
            self.embed.weight.data[:, num_features:].zero_()

        def forward(self, x, y):
            gamma, beta = self.embed(y).chunk(2, 1)
            return gamma.view(-1, self.num_features, 1, 1) * self.bn(x) + beta.view(-1, self.num_features, 1, 1)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
                                        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                                        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                                        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)])
            self.norms = nn.ModuleList([ConditionalBatchNorm2d(ngf * width) for width in (4, 2, 1)])

        def forward(self, z, y):
            h = z
            for conv, norm in zip(self.convs, self.norms):
                h = lib.relu(norm(conv(h), y))
            return lib.tanh(self.convs[3](h))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            channels = 1 + (classes if conditioning == "concat" else 0)
            layers = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                      nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
                      nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True)]
            if conditioning == "concat":
                self.main = nn.Sequential(*layers, nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))
            else:
                self.features = nn.Sequential(*layers)
                self.linear = nn.Linear(ndf * 4, 1)
                self.embed = nn.Embedding(classes, ndf * 4)

        def forward(self, x, y):
            if conditioning == "concat":
                planes = lib.nn.functional.one_hot(y, classes).to(x.dtype).view(-1, classes, 1, 1)
                return self.main(lib.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], 1)).view(-1)
            features = self.features(x).sum((2, 3))
            return self.linear(features).view(-1) + (self.embed(y) * features).sum(1)

    return Generator(), Discriminator()


def cgan_example():
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    return importlib.import_module("cgan")


def conditional_step(lib, G, D, optimizer_G, optimizer_D, real, labels, noise, fake_labels):
    criterion = lib.nn.BCEWithLogitsLoss()
    ones, zeros = lib.ones(len(labels), dtype=real.dtype), lib.zeros(len(labels), dtype=real.dtype)
    optimizer_D.zero_grad()
    fake = G(noise, fake_labels)
    loss_D = criterion(D(real, labels), ones) + criterion(D(fake.detach(), fake_labels), zeros)
    loss_D.backward()
    optimizer_D.step()
    optimizer_G.zero_grad()
    loss_G = criterion(D(fake, fake_labels), ones)
    loss_G.backward()
    optimizer_G.step()
    return loss_D, loss_G


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_the_conditional_dcgan_example_matches_torch_for_20_adam_steps(conditioning):
    cgan = cgan_example()
    torch.manual_seed(0)
    their_G, their_D = (model.double() for model in conditional_dcgan(torch, conditioning))
    ours = (cgan.ConditionalGenerator(6, 4, 1, 32), cgan.ConditionalDiscriminator(4, 1, 32, conditioning))
    for our_model, their_model in zip(ours, (their_G, their_D)):
        load_from_torch(our_model, their_model)
    our_G, our_D = ours
    rng = numpy.random.default_rng(20)
    labels, fake_labels = rng.integers(0, 10, 8), rng.integers(0, 10, 8)
    real, noise = rng.uniform(-1, 1, (8, 1, 32, 32)), rng.standard_normal((8, 6, 1, 1))

    # forward and the parameter gradients of one loss
    for lib, G, D in ((minigan, our_G, our_D), (torch, their_G, their_D)):
        score = D(G(lib.tensor(noise), lib.tensor(fake_labels)), lib.tensor(fake_labels))
        (score * lib.tensor(numpy.linspace(-1, 1, 8))).sum().backward()
    assert_same_gradients(our_G, their_G)
    assert_same_gradients(our_D, their_D)

    optimizers = {lib: [lib.optim.Adam(model.parameters(), lr=2e-3, betas=(0.5, 0.999)) for model in models]
                  for lib, models in ((minigan, ours), (torch, (their_G, their_D)))}
    for step in range(20):
        labels, fake_labels = rng.integers(0, 10, 8), rng.integers(0, 10, 8)
        real, noise = rng.uniform(-1, 1, (8, 1, 32, 32)), rng.standard_normal((8, 6, 1, 1))
        our_losses = conditional_step(minigan, our_G, our_D, *optimizers[minigan],
                                      *as_tensors(minigan, real, labels, noise, fake_labels))
        their_losses = conditional_step(torch, their_G, their_D, *optimizers[torch],
                                        *as_tensors(torch, real, labels, noise, fake_labels))
        for ours_loss, theirs_loss, name in zip(our_losses, their_losses, ("loss_D", "loss_G")):
            assert_same_loss(ours_loss, theirs_loss, f"{name} at step {step}")
    assert_same_state(our_G, their_G)
    assert_same_state(our_D, their_D)


def test_conditional_batchnorm_inside_a_gradient_penalty_matches_torch_to_second_order():
    """‖∂ D(CBN(x, y)) / ∂x‖ penalised, differentiated with respect to x and the label embedding."""
    rng = numpy.random.default_rng(21)
    x, y, w = rng.standard_normal((6, 3, 4, 4)), rng.integers(0, 10, 6), rng.standard_normal((6, 3, 4, 4))
    results = {}
    for lib in (torch, minigan):
        lib.manual_seed(0)
        norm = conditional_dcgan(lib, "projection", ngf=3)[0].norms[2].double()
        if lib is minigan:
            load_from_torch(norm, results[torch][2])
        inputs = lib.tensor(x, requires_grad=True)
        out = (norm(inputs, lib.tensor(y)) ** 3 * lib.tensor(w)).sum()
        (gradient,) = lib.autograd.grad(out, inputs, create_graph=True)
        penalty = ((gradient.reshape(6, -1).norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        results[lib] = (inputs.grad, norm.embed.weight.grad, norm)
    assert_close(results[minigan][0].array, results[torch][0].numpy(), what="d penalty / dx")
    assert_close(results[minigan][1].array, results[torch][1].numpy(), what="d penalty / d embedding")
