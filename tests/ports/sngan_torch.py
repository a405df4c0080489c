"""A small GAN written for PyTorch: a DCGAN-style generator of Upsample + Conv2d + BatchNorm2d
blocks in a ModuleList, a discriminator with spectral_norm, RMSprop and StepLR schedules. It
prints its losses, learning rates and a checksum of its samples with 17 significant digits.

tests/test_porting.py runs it as it is, and again with only its imports changed to minigan's,
and compares the numbers. The weights and data come from numpy, so both runs start alike.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(0)
LATENT, CHANNELS, BATCH = 16, 8, 8


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(LATENT, CHANNELS * 4 * 4)
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1),
                          nn.BatchNorm2d(CHANNELS), nn.ReLU())
            for _ in range(2)])
        self.to_image = nn.Conv2d(CHANNELS, 1, 3, padding=1)

    def forward(self, z):
        x = self.project(z).view(z.size(0), CHANNELS, 4, 4)
        for block in self.blocks:
            x = block(x)
        return torch.tanh(self.to_image(x))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(1, CHANNELS, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(CHANNELS, 2 * CHANNELS, 4, 2, 1)), nn.LeakyReLU(0.2))
        self.classify = spectral_norm(nn.Linear(2 * CHANNELS * 4 * 4, 1))

    def forward(self, images):
        return self.classify(self.features(images).flatten(1))


generator, discriminator = Generator(), Discriminator()
with torch.no_grad():
    for model in (generator, discriminator):
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and "running" not in name:
                tensor.copy_(torch.from_numpy(rng.standard_normal(tuple(tensor.shape)) * 0.2))

optimizer_g = torch.optim.RMSprop(generator.parameters(), lr=5e-4)
optimizer_d = torch.optim.RMSprop(discriminator.parameters(), lr=5e-4, alpha=0.9, momentum=0.1)
schedule_g = torch.optim.lr_scheduler.StepLR(optimizer_g, step_size=2, gamma=0.5)
schedule_d = torch.optim.lr_scheduler.StepLR(optimizer_d, step_size=3, gamma=0.3)
real = torch.from_numpy(rng.uniform(-1, 1, (BATCH, 1, 16, 16)))

for step in range(6):
    z = torch.from_numpy(rng.standard_normal((BATCH, LATENT)))
    fake = generator(z)
    loss_d = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake.detach())).mean()
    optimizer_d.zero_grad()
    loss_d.backward()
    optimizer_d.step()
    loss_g = F.softplus(-discriminator(fake)).mean()
    optimizer_g.zero_grad()
    loss_g.backward()
    optimizer_g.step()
    schedule_g.step()
    schedule_d.step()
    print(f"step {step} loss_d {loss_d.item():.17g} loss_g {loss_g.item():.17g} "
          f"lr_g {schedule_g.get_last_lr()[0]:.17g} lr_d {schedule_d.get_last_lr()[0]:.17g}")

generator.eval()
with torch.no_grad():
    samples = generator(torch.from_numpy(rng.standard_normal((4, LATENT))))
print(f"samples {tuple(samples.shape)} sum {samples.sum().item():.17g} "
      f"sigma_u {discriminator.features[0].weight_u.norm().item():.17g}")
