"""Image classifiers in plain torch: ResNet-20 (He et al. 2016, CIFAR variant), a small CNN of
configurable width, and an MLP for MNIST-sized inputs.

Every model is wrapped in `ImageClassifier`, which takes uint8 images, applies training-time
augmentation (only in train mode, only when example indices are given) and per-channel
normalization, so a checkpoint of the model carries the augmentation state too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tasks.image_augment import Augmentation

MODEL_NAMES = ("resnet20", "cnn", "mlp")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use batch or none")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual; option-A shortcut (strided identity, channels
    zero-padded) as in He et al.'s CIFAR experiments, so the shortcut has no parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=norm == "none")
        self.bn1 = _norm(norm, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=norm == "none")
        self.bn2 = _norm(norm, out_ch)
        self.stride = stride
        self.pad = out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """CIFAR ResNet-(6n+2): 3 stages of n blocks at widths w, 2w, 4w (w = 16 in the paper)."""

    def __init__(self, in_channels: int, num_classes: int, blocks_per_stage: int = 3,
                 width: int = 16, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=norm == "none")
        self.bn = _norm(norm, width)
        layers: list[nn.Module] = []
        in_ch = width
        for stage in range(3):
            out_ch = width * 2 ** stage
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(in_ch, out_ch, stride, norm))
                in_ch = out_ch
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        x = self.stages(x)
        return self.fc(x.mean(dim=(2, 3)))


class SmallCNN(nn.Module):
    """Three conv stages (w, 2w, 4w channels), each conv-norm-relu then 2x2 max-pool, global
    average pool, linear head. Cheap enough for CPU sweeps at small width."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16,
                 norm: str = "batch") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = in_channels
        for stage in range(3):
            out_ch = width * 2 ** stage
            layers += [nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=norm == "none"),
                       _norm(norm, out_ch), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


class MLP(nn.Module):
    """Flatten, `depth` hidden ReLU layers of `width` units, linear head."""

    def __init__(self, in_features: int, num_classes: int, width: int = 256,
                 depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(depth):
            layers += [nn.Linear(in_features if i == 0 else width, width), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(width if depth else in_features, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_network(name: str, image_shape: tuple[int, int, int], num_classes: int,
                  width: int | None = None, norm: str = "batch") -> nn.Module:
    """The bare network (float, normalized inputs) by name; `width` None = the model's default."""
    channels, height, width_px = image_shape
    if name == "resnet20":
        return ResNet(channels, num_classes, 3, width or 16, norm)
    if name == "cnn":
        return SmallCNN(channels, num_classes, width or 16, norm)
    if name == "mlp":
        return MLP(channels * height * width_px, num_classes, width or 256)
    raise ValueError(f"unknown model {name!r}; use one of: {', '.join(MODEL_NAMES)}")


class ImageClassifier(nn.Module):
    """uint8 images (B, C, H, W) -> logits: augment (training only), normalize, classify."""

    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor,
                 augmentation: Augmentation | None) -> None:
        super().__init__()
        self.net = net
        self.augmentation = augmentation
        # Constants of the data, not state: kept out of the state dict.
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1).float(), persistent=False)
        self.register_buffer("std", std.reshape(1, -1, 1, 1).float(), persistent=False)

    def forward(self, images: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        if self.training and index is not None and self.augmentation is not None:
            images = self.augmentation(images, index)
        x = (images.float() / 255.0 - self.mean) / self.std
        return self.net(x)
