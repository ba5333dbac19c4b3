#!/usr/bin/env python3
"""Reference: one training iteration of the tutorial's DCGAN in PyTorch, on the CPU.

The repo's copy of ../shared/bench/torch_dcgan.py, run by `ganforge bench train` and `bench sample`;
it adds `--mode sample` (G alone, no gradient) and the process's peak resident memory.

An iteration is the tutorial's: D on a real batch (target 1), D on a separate fake batch (target 0),
G through D (target 1); Adam(2e-4, beta1 0.5) for both. Prints one line:
  torch <version> threads=<n> batch=<b> spatial=<s> capacity=<c> iters=<n> s_per_iter=<t> img_per_s=<r>
Usage: python3 torch_dcgan.py [--batch 32] [--spatial 64] [--capacity 16] [--iters 20] [--warmup 3]
Needs `pip install torch`. Not for CI.
"""
import argparse, resource, time
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=32)
p.add_argument("--spatial", type=int, default=64)
p.add_argument("--capacity", type=int, default=16)
p.add_argument("--latent", type=int, default=100)
p.add_argument("--filter", type=int, default=5)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--channels", type=int, default=3)
p.add_argument("--mode", choices=["train", "sample"], default="train")
a = p.parse_args()
torch.manual_seed(0)
K, C, pad = a.filter, a.capacity, a.filter // 2


def encoder_block(i, o):
    return nn.Sequential(nn.Conv2d(i, o, K, padding=pad), nn.BatchNorm2d(o),
                         nn.Conv2d(o, o, K, stride=2, padding=pad), nn.BatchNorm2d(o), nn.LeakyReLU(0.3))


def decoder_block(i, o):
    return nn.Sequential(nn.ConvTranspose2d(i, o, K, stride=2, padding=pad, output_padding=1),
                         nn.BatchNorm2d(o), nn.LeakyReLU(0.3))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(encoder_block(a.channels, C), encoder_block(C, 2 * C),
                                    encoder_block(2 * C, 4 * C), encoder_block(4 * C, 8 * C))
        self.fc = nn.Linear(8 * C, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(self.blocks(x).mean((2, 3))))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        # The tutorial always starts at 4x4 and upsamples 4 times (64x64); other sizes scale the start.
        self.start = a.spatial // 16
        self.fc = nn.Linear(a.latent, self.start * self.start * 8 * C)
        self.bn = nn.BatchNorm1d(self.start * self.start * 8 * C)
        self.blocks = nn.Sequential(decoder_block(8 * C, 4 * C), decoder_block(4 * C, 2 * C),
                                    decoder_block(2 * C, C), decoder_block(C, C),
                                    nn.Conv2d(C, a.channels, K, padding=pad), nn.Tanh())

    def forward(self, z):
        return self.blocks(self.bn(self.fc(z)).view(-1, 8 * C, self.start, self.start))


g, d = Generator(), Discriminator()
opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.BCELoss()
real = torch.rand(a.batch, a.channels, a.spatial, a.spatial) * 2 - 1
ones, zeros = torch.ones(a.batch, 1), torch.zeros(a.batch, 1)
for it in range(a.warmup + a.iters):
    if it == a.warmup:
        t0 = time.perf_counter()
    if a.mode == "sample":
        g.eval()
        with torch.no_grad():
            g(torch.randn(a.batch, a.latent)).sum().item()
        continue
    opt_d.zero_grad(); bce(d(real), ones).backward(); opt_d.step()
    with torch.no_grad():
        fake = g(torch.randn(a.batch, a.latent))
    opt_d.zero_grad(); bce(d(fake), zeros).backward(); opt_d.step()
    opt_g.zero_grad(); loss = bce(d(g(torch.randn(a.batch, a.latent))), ones); loss.backward(); opt_g.step()
    loss.item()
dt = time.perf_counter() - t0
print(f"torch {torch.__version__} threads={torch.get_num_threads()} batch={a.batch} spatial={a.spatial} "
      f"capacity={a.capacity} iters={a.iters} s_per_iter={dt / a.iters:.4f} img_per_s={a.batch * a.iters / dt:.1f} "
      f"peak_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
