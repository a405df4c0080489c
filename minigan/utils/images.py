"""Sample grids as PNG and an animated GIF of them, with Pillow (which matplotlib brings)."""
import math
import os

import numpy as np
from PIL import Image


def grid(images, nrow=None, value_range=(-1.0, 1.0), padding=2):
    """Tile images (N, H, W) or (N, C, H, W) into one uint8 picture, `nrow` images per row."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[:, None]
    count, channels, height, width = images.shape
    nrow = nrow or math.ceil(math.sqrt(count))
    rows = math.ceil(count / nrow)
    low, high = value_range
    # each image gets a border on its top and left, then the batch is folded into rows and columns
    cells = np.ones((rows * nrow, channels, height + padding, width + padding))
    cells[:count, :, padding:, padding:] = np.clip((images - low) / (high - low), 0, 1)
    canvas = cells.reshape(rows, nrow, channels, height + padding, width + padding)
    canvas = canvas.transpose(2, 0, 3, 1, 4).reshape(channels, rows * (height + padding), nrow * (width + padding))
    canvas = np.pad(canvas, ((0, 0), (0, padding), (0, padding)), constant_values=1.0)
    pixels = (canvas * 255 + 0.5).astype(np.uint8)
    return pixels[0] if channels == 1 else pixels.transpose(1, 2, 0)


def save_grid(images, path, nrow=None, value_range=(-1.0, 1.0), scale=2):
    """Write a grid of `images` as a PNG, each pixel drawn `scale` times larger; returns the path."""
    picture = Image.fromarray(grid(images, nrow, value_range))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    _save_atomically(picture, path, format="PNG")
    return path


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
