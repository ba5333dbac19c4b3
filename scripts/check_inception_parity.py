"""Checks that ganforge's Inception features are pytorch-fid's, image by image.

    pip install torch torchvision pytorch-fid safetensors pillow
    python3 scripts/check_inception_parity.py [--ganforge target/release/ganforge]

pytorch-fid's weights cannot be downloaded here, so the check uses pytorch-fid's own network
(`pytorch_fid.inception.InceptionV3`, its FID blocks and input resize) with random weights: only
the download is bypassed. BatchNorm scales and shifts are drawn at random and the running
statistics measured on images, so every layer works on activations of unit scale. Then:

1. the network's torchvision-named weights are saved as safetensors, as
   scripts/convert_inception_weights.py saves the real file (classifier and step counters kept);
2. two folders of images of several sizes and modes (RGB, grey, RGBA, palette) are written;
3. pytorch-fid's `get_activations` gives each image's 2048 pool features;
4. `ganforge fid A B --features that.safetensors --save-features F` gives ganforge's;
5. for each image, max |ganforge - pytorch| / max |pytorch| over its 2048 features, and FID
   from each, are printed.
Exits 1 when an image's relative difference is over --tolerance (default 1e-4). Not part of CI.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file, save_file

import pytorch_fid.inception as fid_inception
from pytorch_fid.fid_score import get_activations


def random_fid_inception(seed):
    """pytorch-fid's InceptionV3 (pool_3 output) with random weights: its weight download is
    replaced by nothing, and the loaded-state check by keeping the random initialisation."""
    captured = {}
    original = torchvision.models.Inception3.load_state_dict

    def keep_random(self, state_dict, *args, **kwargs):
        captured["inception"] = self

    torch.manual_seed(seed)
    fid_inception.load_state_dict_from_url = lambda *a, **k: None
    torchvision.models.Inception3.load_state_dict = keep_random
    try:
        model = fid_inception.InceptionV3([3])
    finally:
        torchvision.models.Inception3.load_state_dict = original
    inception = captured["inception"]
    with torch.no_grad():
        for m in inception.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the calibration batches
        inception.fc.weight.normal_(0.0, 0.01)
    return model, inception


def calibrate(model, images):
    """Running statistics of every BatchNorm measured on `images` (N×3×H×W in [0, 1])."""
    model.train()
    with torch.no_grad():
        for batch in images.split(4):
            model(batch)
    model.eval()


def write_images(folder, seed, count):
    """Images of several sizes and modes, smooth enough to look like pictures to a CNN."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = [(64, 64), (299, 299), (32, 48), (120, 80), (8, 8), (300, 301)]
    modes = ["RGB", "L", "RGBA", "P", "RGB", "RGBA"]
    for i in range(count):
        w, h = sizes[i % len(sizes)]
        y, x = np.mgrid[0:h, 0:w] / max(w, h)
        channels = [
            np.sin(6.28 * (rng.uniform(0.5, 3) * x + rng.uniform(0.5, 3) * y + rng.uniform()))
            for _ in range(4)
        ]
        pixels = np.stack(channels, -1) * 0.4 + 0.5 + rng.normal(0, 0.05, (h, w, 4))
        rgba = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        image = Image.fromarray(rgba, "RGBA")
        mode = modes[i % len(modes)]
        image = image.convert("RGB").convert(mode) if mode != "RGBA" else image
        image.save(os.path.join(folder, f"img_{i:02d}.png"))


def frechet_distance(x, y):
    """pytorch-fid's formula, with tr sqrt(S1 S2) from the eigenvalues of sqrt(S1) S2 sqrt(S1),
    which stay real and non-negative when the covariances are singular."""
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root @ s2 @ root
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = x.mean(0) - y.mean(0)
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_root


def files_of(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".png"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ganforge", default=os.path.join(here, "..", "target", "release", "ganforge")
    )
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    with tempfile.TemporaryDirectory() as tmp:
        model, inception = random_fid_inception(args.seed)
        calibration = torch.rand(16, 3, 299, 299)
        calibration = torch.nn.functional.avg_pool2d(calibration, 9, 1, 4)
        calibrate(model, calibration)
        weights = os.path.join(tmp, "inception.safetensors")
        save_file({k: v.contiguous() for k, v in inception.state_dict().items()}, weights)

        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        write_images(a, args.seed + 1, 12)
        write_images(b, args.seed + 2, 9)
        # Images of different sizes cannot share a batch in pytorch-fid: batch 1.
        reference = {
            d: get_activations(files_of(d), model, batch_size=1, dims=2048, device="cpu",
                               num_workers=0)
            for d in (a, b)
        }

        saved = os.path.join(tmp, "features.safetensors")
        result = subprocess.run(
            [args.ganforge, "fid", a, b, "--features", weights, "--save-features", saved],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            sys.exit(f"ganforge fid failed:\n{result.stderr}")
        ganforge_fid = float(re.search(r"FID: ([-0-9.e]+)", result.stdout).group(1))
        ours = load_file(saved)
        with open(saved, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            metadata = json.loads(f.read(header_len)).get("__metadata__", {})

        worst = 0.0
        for side, d in (("a", a), ("b", b)):
            names = [os.path.basename(p) for p in metadata[f"{side}_files"].split("\n")]
            expected = [os.path.basename(p) for p in files_of(d)]
            if names != expected:
                sys.exit(f"ganforge read {names} from {d}, pytorch-fid {expected}")
            g, t = ours[side].double().numpy(), reference[d].astype(np.float64)
            for name, gi, ti in zip(names, g, t):
                image = Image.open(os.path.join(d, name))
                rel = np.abs(gi - ti).max() / np.abs(ti).max()
                worst = max(worst, rel)
                print(f"{side}/{name} {image.size[0]}x{image.size[1]} {image.mode:4}: "
                      f"max |diff| / max |pytorch| = {rel:.2e}")
        torch_fid = frechet_distance(reference[a], reference[b])
        print(f"FID of the two folders: ganforge {ganforge_fid:.4f}, from pytorch-fid's features "
              f"{torch_fid:.4f} (few images a side: both covariances are singular, so the "
              "distance is computed through symmetric eigendecompositions, not scipy's sqrtm)")
        print(f"largest relative feature difference: {worst:.2e} (tolerance {args.tolerance:.0e})")
        if worst > args.tolerance:
            sys.exit(1)


if __name__ == "__main__":
    main()
