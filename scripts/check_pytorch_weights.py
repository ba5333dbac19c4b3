"""Checks that ganforge's exported networks compute in PyTorch what they compute in ganforge, and
that a generator made in PyTorch samples in ganforge as it does in PyTorch.

    pip install torch safetensors
    python3 scripts/check_pytorch_weights.py --run runs/<a dcgan run> [--ganforge target/release/ganforge]

1. `ganforge export-model --what both` writes the run's G and D; PyTorch loads both with
   strict=True (every name and shape as documented).
2. `ganforge sample --tensors` draws images and keeps their noise and the run's D's logits of
   them; the PyTorch G fed the same noise (and labels) gives the same images, and the PyTorch D
   the same logits of those images, within --tolerance.
3. A PyTorch G of the same shape with random weights and trained BatchNorm statistics is saved
   with save_generator; `ganforge sample --run that.safetensors` gives PyTorch's images.
Prints the largest absolute difference of each; exits 1 when one is over the tolerance.
Not part of CI (it needs torch).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ganforge_torch  # noqa: E402


def ganforge(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ganforge {' '.join(args)} failed:\n{result.stderr}")


def torch_images(G, drawn):
    with torch.no_grad():
        return G(drawn["noise"], drawn.get("labels"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True, help="a DCGAN run directory")
    parser.add_argument("--ganforge", default="target/release/ganforge")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    torch.manual_seed(0)
    failed = False
    with tempfile.TemporaryDirectory() as work:
        weights = os.path.join(work, "both.safetensors")
        ganforge(args.ganforge, "export-model", "--run", args.run, "--what", "both", "--out", weights)
        G = ganforge_torch.load_generator(weights)
        D = ganforge_torch.load_discriminator(weights)
        drawn_path = os.path.join(work, "drawn.safetensors")
        ganforge(
            args.ganforge, "sample", "--run", args.run, "--n", str(args.n),
            "--out", os.path.join(work, "grid.png"), "--tensors", drawn_path,
        )
        drawn = load_file(drawn_path)
        ours = torch_images(G, drawn)
        diff = (ours - drawn["images"]).abs().max().item()
        with torch.no_grad():
            scores = D(drawn["images"], drawn.get("labels"))
        d_diff = (scores - drawn["d_logits"]).abs().max().item()
        print(f"export: {len(G.state_dict())} G tensors and {len(D.state_dict())} D tensors loaded strictly")
        print(f"export: {args.n} images, PyTorch G against ganforge's: max |diff| {diff:.2e}")
        print(f"export: D's logits of them, PyTorch D against ganforge's: max |diff| {d_diff:.2e} "
              f"(logits from {scores.min().item():.3f} to {scores.max().item():.3f})")
        failed |= diff > args.tolerance or d_diff > args.tolerance

        # A generator of the same shape made in PyTorch: random weights, BatchNorm statistics
        # from a few training-mode passes.
        mine = ganforge_torch.DcganGenerator(**G.spec)
        mine.train()
        with torch.no_grad():
            for _ in range(5):
                labels = None
                if G.spec["classes"] > 0:
                    labels = torch.randint(0, G.spec["classes"], (32,))
                mine(torch.randn(32, G.spec["latent"]), labels)
        mine.eval()
        mine_path = os.path.join(work, "mine.safetensors")
        ganforge_torch.save_generator(mine, mine_path)
        mine_drawn_path = os.path.join(work, "mine_drawn.safetensors")
        ganforge(
            args.ganforge, "sample", "--run", mine_path, "--n", str(args.n),
            "--out", os.path.join(work, "mine.png"), "--tensors", mine_drawn_path,
        )
        mine_drawn = load_file(mine_drawn_path)
        diff_import = (torch_images(mine, mine_drawn) - mine_drawn["images"]).abs().max().item()
        print(f"import: {args.n} images, ganforge sampling a PyTorch-made G against PyTorch: max |diff| {diff_import:.2e}")
        failed |= diff_import > args.tolerance
    print("FAILED" if failed else f"OK (tolerance {args.tolerance:g})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
