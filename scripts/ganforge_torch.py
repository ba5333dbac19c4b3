"""ganforge's DCGAN networks in PyTorch, named so that their state_dict is ganforge's export.

    import ganforge_torch
    G = ganforge_torch.load_generator("g.safetensors")      # from `ganforge export-model`
    images = G(torch.randn(16, G.latent))                    # [16, C, S, S] in [-1, 1]

    G = ganforge_torch.DcganGenerator(spatial=16, channels=1, latent=100, capacity=16)
    ...train it...
    ganforge_torch.save_generator(G, "mine.safetensors")     # `ganforge sample --run mine.safetensors`

The layout (names, shapes, metadata) is documented in docs/pytorch-weights.md. Every module is
evaluated in `eval()` mode to match ganforge's sampling (BatchNorm from its running statistics).
Needs `pip install torch safetensors`.
"""

import json

import torch
import torch.nn.functional as F
from torch import nn
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = "ganforge-pytorch-1"


def _same(filter):
    # (k - 1) // 2: k // 2 for odd kernels; for an even kernel at stride 2 (4, padding 1) the
    # side halves, and doubles with output_padding 0 in the transposed convolution.
    return (filter - 1) // 2


class DecoderBlock(nn.Module):
    """ConvTranspose(k, stride 2, same) (upsample="nearest": nearest doubling, then Conv(k, same))
    -> BatchNorm [-> per-class gain and bias] -> LeakyReLU."""

    def __init__(
        self,
        channels_in,
        channels_out,
        filter,
        leaky_slope,
        classes,
        upsample="transposed",
        resample_filter=None,
    ):
        super().__init__()
        pad = _same(filter)
        if upsample == "transposed":
            up = filter if resample_filter is None else resample_filter
            up_pad = _same(up)
            self.conv_up = nn.ConvTranspose2d(
                channels_in,
                channels_out,
                up,
                stride=2,
                padding=up_pad,
                output_padding=2 + 2 * up_pad - up,
            )
        elif upsample == "nearest":
            self.conv = nn.Conv2d(channels_in, channels_out, filter, padding=pad)
        else:
            raise ValueError(f"upsample is {upsample!r}: 'transposed' or 'nearest'")
        self.upsample = upsample
        self.norm = nn.BatchNorm2d(channels_out)
        if classes > 0:
            # Zero at the start: the plain BatchNorm.
            self.class_gain = nn.Embedding(classes, channels_out)
            self.class_bias = nn.Embedding(classes, channels_out)
            nn.init.zeros_(self.class_gain.weight)
            nn.init.zeros_(self.class_bias.weight)
        else:
            self.class_gain = None
            self.class_bias = None
        self.leaky_slope = leaky_slope

    def forward(self, x, labels=None):
        if self.upsample == "transposed":
            x = self.conv_up(x)
        else:
            x = self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = self.norm(x)
        if self.class_gain is not None:
            gain = self.class_gain(labels)[:, :, None, None]
            bias = self.class_bias(labels)[:, :, None, None]
            x = x * (1.0 + gain) + bias
        return F.leaky_relu(x, self.leaky_slope)


class DcganGenerator(nn.Module):
    """The tutorial's generator: Dense -> BatchNorm -> reshape -> decoder blocks -> Conv -> tanh,
    then (with draw_side below spatial) a bilinear resize to spatial."""

    def __init__(
        self,
        spatial,
        channels,
        latent=100,
        capacity=16,
        filter=5,
        leaky_slope=0.3,
        classes=0,
        label_embedding=50,
        class_norm=False,
        draw_side=None,
        upsample="transposed",
        resample_filter=None,
    ):
        super().__init__()
        draw_side = spatial if draw_side is None else draw_side
        self.spec = dict(
            spatial=spatial,
            channels=channels,
            latent=latent,
            capacity=capacity,
            filter=filter,
            leaky_slope=leaky_slope,
            classes=classes,
            label_embedding=label_embedding,
            class_norm=class_norm,
            draw_side=draw_side,
            upsample=upsample,
            resample_filter=resample_filter,
        )
        self.latent, self.spatial, self.draw_side = latent, spatial, draw_side
        self.start = max(draw_side // 16, 1)
        self.start_channels = 8 * capacity
        features = self.start * self.start * self.start_channels
        count = (draw_side // self.start).bit_length() - 1
        widths = [
            capacity if i + 1 == count else [4, 2, 1][i] * capacity for i in range(count)
        ]
        if classes > 0:
            self.label_embedding = nn.Embedding(classes, label_embedding)
            inputs = latent + label_embedding
        else:
            self.label_embedding = None
            inputs = latent
        self.project = nn.Linear(inputs, features)
        self.project_norm = nn.BatchNorm1d(features)
        blocks, c = [], self.start_channels
        for w in widths:
            blocks.append(
                DecoderBlock(
                    c,
                    w,
                    filter,
                    leaky_slope,
                    classes if class_norm else 0,
                    upsample,
                    resample_filter,
                )
            )
            c = w
        self.blocks = nn.ModuleList(blocks)
        self.to_image = nn.Conv2d(capacity, channels, filter, padding=_same(filter))

    def forward(self, noise, labels=None):
        x = noise
        if self.label_embedding is not None:
            x = torch.cat([noise, self.label_embedding(labels)], dim=1)
        x = self.project_norm(self.project(x))
        x = x.reshape(-1, self.start_channels, self.start, self.start)
        for block in self.blocks:
            x = block(x, labels)
        images = torch.tanh(self.to_image(x))
        if self.draw_side < self.spatial:
            # ganforge's data loader resize (a triangle filter) equals PyTorch's bilinear
            # resize with half-pixel centres when it enlarges.
            images = F.interpolate(
                images, size=(self.spatial, self.spatial), mode="bilinear", align_corners=False
            )
        return images


def _norm(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # Per image over channels and pixels, a scale and shift per channel.
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm is {kind!r}: batch, layer or none")


class EncoderBlock(nn.Module):
    """Conv(k, same) -> norm -> Conv(resample k, stride 2, same) -> norm -> LeakyReLU."""

    def __init__(self, channels_in, channels_out, filter, leaky_slope, norm, resample_filter=None):
        super().__init__()
        pad = _same(filter)
        down = filter if resample_filter is None else resample_filter
        self.conv = nn.Conv2d(channels_in, channels_out, filter, padding=pad)
        self.norm = _norm(norm, channels_out)
        self.conv_down = nn.Conv2d(
            channels_out, channels_out, down, stride=2, padding=_same(down)
        )
        self.norm_down = _norm(norm, channels_out)
        self.leaky_slope = leaky_slope

    def forward(self, x):
        x = self.norm_down(self.conv_down(self.norm(self.conv(x))))
        return F.leaky_relu(x, self.leaky_slope)


class DcganDiscriminator(nn.Module):
    """The tutorial's discriminator: four encoder blocks (capacity x 1, 2, 4, 8), a global average
    pool, a one-unit dense head; the logit of "real". Packing, the minibatch standard deviation
    and the class projection as in ganforge. Spectral normalisation, where the run had it, is
    folded into the exported weights."""

    def __init__(
        self,
        channels,
        capacity=16,
        filter=5,
        leaky_slope=0.3,
        norm="batch",
        classes=0,
        pack=1,
        minibatch_stddev=False,
        resample_filter=None,
    ):
        super().__init__()
        self.spec = dict(
            channels=channels,
            capacity=capacity,
            filter=filter,
            leaky_slope=leaky_slope,
            norm=norm,
            classes=classes,
            pack=pack,
            minibatch_stddev=minibatch_stddev,
            resample_filter=resample_filter,
        )
        widths = [m * capacity for m in (1, 2, 4, 8)]
        blocks, c = [], channels * max(pack, 1)
        for w in widths:
            blocks.append(EncoderBlock(c, w, filter, leaky_slope, norm, resample_filter))
            c = w
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(widths[3] + int(minibatch_stddev), 1)
        self.class_projection = nn.Embedding(classes, widths[3]) if classes > 0 else None
        self.pack, self.minibatch_stddev = max(pack, 1), minibatch_stddev

    def forward(self, images, labels=None):
        b, c, h, w = images.shape
        x = images.reshape(b // self.pack, self.pack * c, h, w)
        for block in self.blocks:
            x = block(x)
        features = x.mean(dim=(2, 3))
        head_input = features
        if self.minibatch_stddev:
            std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
            head_input = torch.cat([features, std.expand(features.shape[0], 1)], dim=1)
        out = self.head(head_input)
        if self.class_projection is not None:
            out = out + (features * self.class_projection(labels)).sum(dim=1, keepdim=True)
        return out


def _split(path):
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    return metadata, tensors


def _part(tensors, prefix):
    if any(name.startswith(prefix + ".") for name in tensors):
        return {n[len(prefix) + 1 :]: t for n, t in tensors.items() if n.startswith(prefix + ".")}
    return tensors


def load_generator(path):
    """The generator in a ganforge weights file, in eval mode."""
    metadata, tensors = _split(path)
    G = DcganGenerator(**json.loads(metadata["generator"]))
    G.load_state_dict(_part(tensors, "generator"), strict=True)
    return G.eval()


def load_discriminator(path):
    """The discriminator in a ganforge weights file, in eval mode."""
    metadata, tensors = _split(path)
    D = DcganDiscriminator(**json.loads(metadata["discriminator"]))
    D.load_state_dict(_part(tensors, "discriminator"), strict=True)
    return D.eval()


def save_generator(G, path, noise="normal", class_names=None):
    """Writes G so that `ganforge sample --run PATH --out grid.png` draws from it. `noise` is the
    distribution G was trained on: "normal" (N(0, 1)) or "uniform" (U(-1, 1))."""
    metadata = {"format": FORMAT, "model": "dcgan", "generator": json.dumps(G.spec), "noise": noise}
    if class_names is not None:
        metadata["class_names"] = ",".join(class_names)
    state = {n: t.detach().contiguous() for n, t in G.state_dict().items()}
    save_file(state, path, metadata=metadata)
