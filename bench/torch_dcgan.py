#!/usr/bin/env python3
"""Reference: one training iteration of ganforge's DCGAN in PyTorch, on the CPU or a CUDA GPU.

The repo's copy of ../shared/bench/torch_dcgan.py, run by `ganforge bench train` and `bench sample`;
it adds `--mode sample` (G alone, no gradient), the process's peak resident memory, `--recipe modern`
and `--device cuda`.

`--recipe tutorial` (the default) is the tutorial's iteration: BatchNorm D with a sigmoid output, D on
a real batch (target 1), D on a separate fake batch (target 0), G through D (target 1), binary
cross-entropy; Adam(2e-4, beta1 0.5) for both.

`--recipe modern` is ganforge's default recipe (`recipe_preset` in src/config.rs) at the same shapes,
op for op as PyTorch allows: D without normalisation, every convolution and the dense head
spectrally normalised (one power-iteration step per training forward); hinge loss; DiffAugment
translation (shifts of up to 1/8 of the side, zeros shifted in) of every image D sees, G's too;
Adam(2e-4, betas (0.5, 0.999)) for both; D on real, D on fake, G through a frozen D (its weights
take no gradient and its spectral-norm estimates do not move), then the moving average of G's
weights (decay 0.99, G itself for the first 100 steps). G is the tutorial's. `--mode sample` draws
from the average, in evaluation mode.

Prints one line (fields after peak_mib are new; `gpu_peak_mib` only on CUDA):
  torch <version> threads=<n> batch=<b> spatial=<s> capacity=<c> iters=<n> s_per_iter=<t> img_per_s=<r>
  peak_mib=<m> recipe=<tutorial|modern> device=<cpu|cuda:NAME> [gpu_peak_mib=<m>]
Usage: python3 torch_dcgan.py [--recipe tutorial|modern] [--device cpu|cuda] [--mode train|sample]
  [--d-norm batch|layer|none]
  [--batch 32] [--spatial 64] [--capacity 16] [--latent 100] [--filter 5] [--channels 3]
  [--iters 20] [--warmup 3]
Needs `pip install torch`. Not for CI.
"""
import argparse, copy, resource, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

# The modern recipe's moving average of G (`g_ema`, `g_ema_warmup`) and DiffAugment's reach.
EMA_DECAY, EMA_WARMUP = 0.99, 100
TRANSLATION_RATIO = 0.125


def parse_args(argv=None):
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
    p.add_argument("--recipe", choices=["tutorial", "modern"], default="tutorial")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    # D's normalisation; the recipe's when not given (tutorial: batch, modern: none). `layer` is
    # GroupNorm with one group: over channels and pixels per image, a scale and shift per channel.
    p.add_argument("--d-norm", choices=["batch", "layer", "none"], default=None)
    a = p.parse_args(argv)
    if a.d_norm is None:
        a.d_norm = "batch" if a.recipe == "tutorial" else "none"
    if a.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: this torch sees no CUDA GPU")
    return a


def norm_layer(a, o):
    """D's normalisation (`--d-norm`): BatchNorm, LayerNorm as GroupNorm with one group, or none."""
    return {"batch": lambda: nn.BatchNorm2d(o), "layer": lambda: nn.GroupNorm(1, o),
            "none": nn.Identity}[a.d_norm]()


def encoder_block(a, i, o):
    """One D block: Conv(k, same) → [norm] → Conv(k, stride 2, same) → [norm] → LeakyReLU(0.3).
    The tutorial normalises with BatchNorm; the modern recipe has no norm (d_norm none), and
    spectral norm on both convolutions instead."""
    K, pad = a.filter, a.filter // 2
    conv = nn.Conv2d(i, o, K, padding=pad)
    down = nn.Conv2d(o, o, K, stride=2, padding=pad)
    if a.recipe == "modern":
        # n_power_iterations=1: one step per training forward, warm-started from the last `u`,
        # as ganforge's SpectralNorm; in eval mode (G's step) the estimate is used as it stands.
        conv = spectral_norm(conv, n_power_iterations=1)
        down = spectral_norm(down, n_power_iterations=1)
    return nn.Sequential(conv, norm_layer(a, o), down, norm_layer(a, o), nn.LeakyReLU(0.3))


def decoder_block(a, i, o):
    K, pad = a.filter, a.filter // 2
    return nn.Sequential(nn.ConvTranspose2d(i, o, K, stride=2, padding=pad, output_padding=1),
                         nn.BatchNorm2d(o), nn.LeakyReLU(0.3))


class Discriminator(nn.Module):
    def __init__(self, a):
        super().__init__()
        C = a.capacity
        self.blocks = nn.Sequential(encoder_block(a, a.channels, C), encoder_block(a, C, 2 * C),
                                    encoder_block(a, 2 * C, 4 * C), encoder_block(a, 4 * C, 8 * C))
        self.fc = nn.Linear(8 * C, 1)
        if a.recipe == "modern":
            self.fc = spectral_norm(self.fc, n_power_iterations=1)
        # The tutorial's D outputs a probability for BCELoss; the modern one a raw score for hinge.
        self.probability = a.recipe == "tutorial"

    def forward(self, x):
        score = self.fc(self.blocks(x).mean((2, 3)))
        return torch.sigmoid(score) if self.probability else score


class Generator(nn.Module):
    """The tutorial's G for both recipes: ganforge's modern recipe changes G only through
    `g_draw_side` and `g_class_norm`, which it sets for the digits, not for folder data."""

    def __init__(self, a):
        super().__init__()
        C = a.capacity
        self.C = C
        # The tutorial always starts at 4x4 and upsamples 4 times (64x64); other sizes scale the start.
        self.start = a.spatial // 16
        self.fc = nn.Linear(a.latent, self.start * self.start * 8 * C)
        self.bn = nn.BatchNorm1d(self.start * self.start * 8 * C)
        self.blocks = nn.Sequential(decoder_block(a, 8 * C, 4 * C), decoder_block(a, 4 * C, 2 * C),
                                    decoder_block(a, 2 * C, C), decoder_block(a, C, C),
                                    nn.Conv2d(C, a.channels, a.filter, padding=a.filter // 2), nn.Tanh())

    def forward(self, z):
        return self.blocks(self.bn(self.fc(z)).view(-1, 8 * self.C, self.start, self.start))


def translate(x, dy, dx):
    """`x` [b, c, h, w] with out[n, :, i, j] = x[n, :, i + dy[n], j + dx[n]] where that is inside
    the image and 0 elsewhere (ganforge's `translation`; dy, dx: integer tensors [b]).
    DiffAugment's way: pad one zero on every side, clamp positions that fall outside onto that
    padding, and read everything with one gather (index broadcast over [b, c, h, w], so the result
    is contiguous NCHW with no permute round trip). Differentiable in `x`: the backward is a
    scatter-add of the gradient onto the source pixels."""
    b, c, h, w = x.shape
    dev = x.device
    rows = (torch.arange(h, device=dev) + dy.view(b, 1) + 1).clamp(0, h + 1)  # [b, h]
    cols = (torch.arange(w, device=dev) + dx.view(b, 1) + 1).clamp(0, w + 1)  # [b, w]
    padded = F.pad(x, (1, 1, 1, 1))
    return padded[torch.arange(b, device=dev).view(b, 1, 1, 1), torch.arange(c, device=dev).view(1, c, 1, 1),
                  rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def translation(x, ratio=TRANSLATION_RATIO):
    """DiffAugment's random translation: each image shifted by a whole number of pixels drawn
    uniformly in [-reach, reach] per image and axis, reach = ratio of the side, rounded. Drawn on
    x's device, so a CUDA run never waits on the host."""
    b, _, h, w = x.shape
    reach_y, reach_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-reach_y, reach_y + 1, (b,), device=x.device)
    dx = torch.randint(-reach_x, reach_x + 1, (b,), device=x.device)
    return translate(x, dy, dx)


class MovingAverage:
    """ganforge's `moving_average` of G after each G step: trainable weights averaged with
    `decay`, buffers (BatchNorm's running statistics) copied; during the warm-up the average is G
    itself (decay 0), so that G's first, poor weights do not slow it down."""

    def __init__(self, g):
        self.model = copy.deepcopy(g).eval().requires_grad_(False)
        self.pairs = (list(self.model.parameters()), list(g.parameters()))
        self.buffers = list(zip(self.model.buffers(), g.buffers()))

    @torch.no_grad()
    def update(self, step):
        decay = 0.0 if step < EMA_WARMUP else EMA_DECAY
        # lerp: avg + (1 − decay)(g − avg) = decay·avg + (1 − decay)·g, one fused op per list.
        torch._foreach_lerp_(self.pairs[0], self.pairs[1], 1.0 - decay)
        for average, current in self.buffers:
            average.copy_(current)


def device_name(dev):
    if dev.type == "cuda":
        return "cuda:" + torch.cuda.get_device_name(dev).replace(" ", "_")
    return "cpu"


def main():
    a = parse_args()
    torch.manual_seed(0)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"

    def sync():
        # CUDA runs asynchronously: wait for queued work before reading the clock.
        if cuda:
            torch.cuda.synchronize(dev)

    def noise():
        return torch.randn(a.batch, a.latent, device=dev)

    g, d = Generator(a).to(dev), Discriminator(a).to(dev)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    ema = MovingAverage(g) if a.recipe == "modern" else None
    bce = nn.BCELoss()
    real = torch.rand(a.batch, a.channels, a.spatial, a.spatial, device=dev) * 2 - 1
    ones, zeros = torch.ones(a.batch, 1, device=dev), torch.zeros(a.batch, 1, device=dev)
    for it in range(a.warmup + a.iters):
        if it == a.warmup:
            sync()
            t0 = time.perf_counter()
        if a.mode == "sample":
            # ganforge samples from G's moving average when the run keeps one.
            sampler = ema.model if ema is not None else g.eval()
            with torch.no_grad():
                sampler(noise()).sum().item()
            continue
        if a.recipe == "tutorial":
            opt_d.zero_grad(); bce(d(real), ones).backward(); opt_d.step()
            with torch.no_grad():
                fake = g(noise())
            opt_d.zero_grad(); bce(d(fake), zeros).backward(); opt_d.step()
            opt_g.zero_grad(); loss = bce(d(g(noise())), ones); loss.backward(); opt_g.step()
        else:
            # D on real, then on a separate fake batch (G in train mode, as ganforge, its output
            # detached); hinge; every image D sees translated.
            opt_d.zero_grad(); F.relu(1 - d(translation(real))).mean().backward(); opt_d.step()
            with torch.no_grad():
                fake = g(noise())
            opt_d.zero_grad(); F.relu(1 + d(translation(fake))).mean().backward(); opt_d.step()
            # G through a frozen D: no gradient for D's weights, and eval mode so that spectral
            # norm takes no power-iteration step (ganforge's G step changes nothing of D). G's
            # gradient flows through the translation.
            d.eval().requires_grad_(False)
            opt_g.zero_grad(); loss = -d(translation(g(noise()))).mean(); loss.backward(); opt_g.step()
            d.train().requires_grad_(True)
            ema.update(it)
        loss.item()
    sync()
    dt = time.perf_counter() - t0
    line = (f"torch {torch.__version__} threads={torch.get_num_threads()} batch={a.batch} spatial={a.spatial} "
            f"capacity={a.capacity} iters={a.iters} s_per_iter={dt / a.iters:.4f} img_per_s={a.batch * a.iters / dt:.1f} "
            f"peak_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    # New fields go last, so that readers of the older line still find theirs.
    line += f" recipe={a.recipe} device={device_name(dev)}"
    if cuda:
        line += f" gpu_peak_mib={torch.cuda.max_memory_allocated(dev) / 2**20:.0f}"
    print(line)


if __name__ == "__main__":
    main()
