"""Sample grids as PNG and an animated GIF of them, with Pillow (which matplotlib brings)."""
import math
import os

import numpy as np
from PIL import Image


def grid(images, nrow=None, value_range=(-1.0, 1.0), padding=2, pad_value=1.0):
    """Tile images (N, H, W) or (N, C, H, W) into one uint8 picture, `nrow` images per row, with
    `padding` pixels of `pad_value` (in [0, 1]; white by default) around each."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[:, None]
    count, channels, height, width = images.shape
    nrow = nrow or math.ceil(math.sqrt(count))
    rows = math.ceil(count / nrow)
    low, high = value_range
    # each image gets a border on its top and left, then the batch is folded into rows and columns
    cells = np.full((rows * nrow, channels, height + padding, width + padding), float(pad_value))
    cells[:count, :, padding:, padding:] = np.clip((images - low) / (high - low), 0, 1)
    canvas = cells.reshape(rows, nrow, channels, height + padding, width + padding)
    canvas = canvas.transpose(2, 0, 3, 1, 4).reshape(channels, rows * (height + padding), nrow * (width + padding))
    canvas = np.pad(canvas, ((0, 0), (0, padding), (0, padding)), constant_values=float(pad_value))
    pixels = (canvas * 255 + 0.5).astype(np.uint8)
    return pixels[0] if channels == 1 else pixels.transpose(1, 2, 0)


def save_grid(images, path, nrow=None, value_range=(-1.0, 1.0), scale=2):
    """Write a grid of `images` as a PNG, each pixel drawn `scale` times larger; returns the path."""
    picture = Image.fromarray(grid(images, nrow, value_range))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    _save_atomically(picture, path, format="PNG")
    return path


def save_image(tensor, fp, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0,
               format=None):
    """torchvision.utils.save_image: a batch (N, C, H, W) as one PNG grid of `nrow` images per row.

    Values are read in [0, 1]; with `normalize`, the range `value_range` (by default the batch's
    own minimum and maximum, or each image's with `scale_each`) is stretched to [0, 1] first.
    """
    images = np.asarray(tensor.detach().cpu() if hasattr(tensor, "detach") else tensor, dtype=np.float64)
    if images.ndim == 2:
        images = images[None, None]
    elif images.ndim == 3:
        images = images[None] if images.shape[0] in (1, 3) else images[:, None]
    if normalize:
        axes = tuple(range(1, images.ndim)) if scale_each else None
        low, high = value_range if value_range is not None else (images.min(axis=axes, keepdims=True),
                                                                 images.max(axis=axes, keepdims=True))
        images = (np.clip(images, low, high) - low) / np.maximum(high - low, 1e-5)
    picture = Image.fromarray(grid(images, min(nrow, len(images)), (0.0, 1.0), padding, pad_value))
    path = os.fspath(fp)
    format = format or Image.registered_extensions().get(os.path.splitext(path)[1].lower(), "PNG")
    _save_atomically(picture, path, format=format)
    return fp


def save_gif(png_paths, path, seconds_per_frame=0.5):
    """An animated GIF of the given PNG frames (the sample grids of each epoch)."""
    frames = [Image.open(p).convert("P") for p in png_paths]
    if not frames:
        raise ValueError(f"save_gif: no frames to write to {path}")
    _save_atomically(frames[0], path, format="GIF", save_all=True, append_images=frames[1:],
                     duration=int(seconds_per_frame * 1000), loop=0)
    return path


def _save_atomically(picture, path, **options):
    temporary = f"{path}.tmp-{os.getpid()}"
    picture.save(temporary, **options)
    os.replace(temporary, path)
