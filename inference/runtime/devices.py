"""Which torch device a model runs on, and in which precision."""

from __future__ import annotations

import torch


def torch_device(device: str | torch.device | None = None) -> torch.device:
    """The device asked for, else CUDA when there is one, else the CPU."""
    return torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_dtype(device: torch.device) -> torch.dtype:
    """fp16 on a GPU (what learned weights are published in and what it runs fast), fp32 on a CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32
