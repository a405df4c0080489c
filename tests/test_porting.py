"""Training loops written as torch scripts write them run on minigan with only the library changed,
and compute what torch computes (float64, from the same weights and noise).

`dcgan_loop` follows the official PyTorch DCGAN example's idioms: weight init through
`.data.normal_`, `torch.full` labels refilled with `fill_`, `ReLU(True)` and
`LeakyReLU(0.2, inplace=True)`, `output.view(-1, 1).squeeze(1)`, two backwards summed into D's
gradients, `.item()` logging. `legacy_loop` follows the older PyTorch-GAN scripts: `Variable`,
`Tensor = FloatTensor`, `Tensor(n, 1).fill_(1.0)`, `imgs.type(Tensor)`, a gradient penalty
through `autograd.grad` on `real.data` and `fake.data`, and weight clipping through `p.data`.
"""
import pathlib
import re
import subprocess
import sys

import numpy
import pytest
from parity import assert_close, torch

import minigan

NZ, NGF, NDF, BATCH, STEPS = 8, 4, 4, 6, 3


def dcgan_networks(lib):
    nn = lib.nn
    netG = nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh())
    netD = nn.Sequential(
        nn.Conv2d(1, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    return netG.double(), netD.double()


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def twin_networks(make):
    """minigan's networks initialised by weights_init, and torch's with the same weights."""
    minigan.manual_seed(0)
    ours = make(minigan)
    for net in ours:
        net.apply(weights_init)
    theirs = make(torch)
    for mine, twin in zip(ours, theirs):
        twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in mine.state_dict().items()})
    return ours, theirs


def dcgan_loop(torch, netG, netD, images, noises):
    """The official example's training step, as written there (torch is the library given)."""
    nn, optim = torch.nn, torch.optim
    criterion = nn.BCELoss()
    real_label, fake_label = 1, 0
    optimizerD = optim.Adam(netD.parameters(), lr=0.01, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.01, betas=(0.5, 0.999))
    log = []
    for real, noise in zip(images, noises):
        netD.zero_grad()
        real_cpu = torch.tensor(real)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=torch.device("cpu"))
        output = netD(real_cpu).view(-1, 1).squeeze(1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(torch.tensor(noise))
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1, 1).squeeze(1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1, 1).squeeze(1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        log.append((errD.item(), errG.item(), D_x))
    return log


def _data(seed):
    rng = numpy.random.default_rng(seed)
    images = [numpy.tanh(rng.standard_normal((BATCH, 1, 16, 16))) for _ in range(STEPS)]
    noises = [rng.standard_normal((BATCH, NZ, 1, 1)) for _ in range(STEPS)]
    return images, noises


def test_the_official_dcgan_loop_computes_what_torch_computes():
    (ourG, ourD), (theirG, theirD) = twin_networks(dcgan_networks)
    images, noises = _data(1)
    our_log = dcgan_loop(minigan, ourG, ourD, images, noises)
    their_log = dcgan_loop(torch, theirG, theirD, images, noises)
    assert_close(our_log, their_log, rtol=1e-9, what="losses and D(x)")
    for mine, twin in ((ourG, theirG), (ourD, theirD)):
        for (name, p), q in zip(mine.state_dict().items(), twin.state_dict().values()):
            assert_close(p.numpy(), q.numpy(), rtol=1e-9, what=name)


def mlp_networks(lib):
    nn = lib.nn
    G = nn.Sequential(nn.Linear(NZ, 16), nn.BatchNorm1d(16, 0.8), nn.LeakyReLU(0.2, inplace=True), nn.Linear(16, 12),
                      nn.Tanh())
    D = nn.Sequential(nn.Linear(12, 16), nn.LeakyReLU(0.2, inplace=True), nn.Linear(16, 1))
    return G.double(), D.double()


def legacy_loop(torch, generator, discriminator, images, noises, clip_value=None):
    """The PyTorch-GAN scripts' idioms: WGAN-GP's critic step, or WGAN's with weight clipping."""
    autograd = torch.autograd
    Variable = autograd.Variable
    Tensor = torch.DoubleTensor

    def compute_gradient_penalty(D, real_samples, fake_samples, alpha):
        alpha = Tensor(alpha)
        interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
        d_interpolates = D(interpolates)
        fake = Variable(Tensor(real_samples.shape[0], 1).fill_(1.0), requires_grad=False)
        gradients = autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                                  create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.9))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.9))
    log = []
    for step, (imgs, noise) in enumerate(zip(images, noises)):
        real_imgs = Variable(torch.tensor(imgs.reshape(len(imgs), -1)).type(Tensor))
        optimizer_D.zero_grad()
        z = Variable(Tensor(noise.reshape(len(noise), -1)))
        fake_imgs = generator(z)
        real_validity, fake_validity = discriminator(real_imgs), discriminator(fake_imgs)
        loss_D = -torch.mean(real_validity) + torch.mean(fake_validity)
        if clip_value is None:
            alpha = numpy.random.default_rng(step).random((real_imgs.size(0), 1))
            loss_D = loss_D + 10 * compute_gradient_penalty(discriminator, real_imgs.data, fake_imgs.data, alpha)
        loss_D.backward()
        optimizer_D.step()
        if clip_value is not None:
            for p in discriminator.parameters():
                p.data.clamp_(-clip_value, clip_value)
        optimizer_G.zero_grad()
        loss_G = -torch.mean(discriminator(generator(z)))
        loss_G.backward()
        optimizer_G.step()
        log.append((loss_D.item(), loss_G.item()))
    return log


@pytest.mark.parametrize("clip_value", [None, 0.05], ids=["wgan-gp", "wgan weight clipping"])
def test_the_legacy_idioms_compute_what_torch_computes(clip_value):
    (ourG, ourD), (theirG, theirD) = twin_networks(mlp_networks)
    images, noises = _data(2)
    images = [image[:, :, :3, :4] for image in images]  # 12 pixels
    our_log = legacy_loop(minigan, ourG, ourD, images, noises, clip_value)
    their_log = legacy_loop(torch, theirG, theirD, images, noises, clip_value)
    assert_close(our_log, their_log, rtol=1e-9, what="losses")
    for (name, p), q in zip(ourD.state_dict().items(), theirD.state_dict().values()):
        assert_close(p.numpy(), q.numpy(), rtol=1e-9, what=name)


# --------------------------------------------------------------------------------------------
# A whole torch script, its imports changed and nothing else
# --------------------------------------------------------------------------------------------
PORTS = pathlib.Path(__file__).parent / "ports"
TORCH_IMPORTS = {  # the script's import lines, and minigan's for each
    "import torch\n": "import minigan as torch\n",
    "import torch.nn as nn\n": "import minigan.nn as nn\n",
    "import torch.nn.functional as F\n": "import minigan.nn.functional as F\n",
    "from torch.nn.utils import spectral_norm\n": "from minigan.nn.utils import spectral_norm\n",
}


def _numbers(output):
    """The numbers the script prints after a name ("loss_d 1.42", "step 0"), in order."""
    return [float(value) for value in re.findall(r"[a-z_]+ (-?\d[\d.e+-]*)(?=\s|$)", output)]


def _run(script):
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_torch_sngan_script_runs_on_minigan_with_only_its_imports_changed(tmp_path):
    """Upsample + Conv2d + BatchNorm2d blocks in a ModuleList, spectral_norm, RMSprop with
    momentum, StepLR: the same losses, learning rates and samples in float64, to 1e-10."""
    source = (PORTS / "sngan_torch.py").read_text()
    ported = source
    for theirs, ours in TORCH_IMPORTS.items():
        assert source.count(theirs) == 1, theirs
        ported = ported.replace(theirs, ours)
    assert "torch." not in "".join(line for line in ported.splitlines(True) if line.startswith(("import", "from")))
    (tmp_path / "sngan_minigan.py").write_text(ported)
    theirs, ours = _run(PORTS / "sngan_torch.py"), _run(tmp_path / "sngan_minigan.py")
    their_numbers, our_numbers = _numbers(theirs), _numbers(ours)
    assert len(their_numbers) == len(our_numbers) == 6 * 5 + 2, (theirs, ours)
    numpy.testing.assert_allclose(our_numbers, their_numbers, rtol=1e-10, err_msg=f"torch:\n{theirs}\nminigan:\n{ours}")
