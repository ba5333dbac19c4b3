"""pytorch-fid's Inception weights (a PyTorch .pth) as safetensors, for `ganforge fid --features`.

    pip install torch safetensors
    python3 scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth pt_inception.safetensors

pytorch-fid downloads the .pth into torch's cache (~/.cache/torch/hub/checkpoints/) the first time
it runs; ganforge never downloads it. Names and layouts are kept as they are: ganforge reads
torchvision's names and PyTorch's layout.
"""

import sys

import torch
from safetensors.torch import save_file

source, target = sys.argv[1], sys.argv[2]
save_file({k: v.contiguous() for k, v in torch.load(source, map_location="cpu").items()}, target)
