"""Data for the examples: MNIST and CIFAR-10 from their standard files, plus scaling, resizing and batching.

    from minigan.data import load_mnist, scale_images, resize_images, batches
    images, labels = load_mnist(data_dir)                      # uint8 (N, 28, 28), int64 (N,)
    images = resize_images(scale_images(images)[:, None], 32)  # float32 (N, 1, 32, 32) in [-1, 1]
    for indices in batches(len(images), 64, numpy.random.default_rng(seed)):
        batch = minigan.tensor(images[indices])
"""
from minigan.data.cifar import load_cifar10, read_cifar10_batch, write_cifar10_batch
from minigan.data.download import DownloadError, UntrustedDownloadError, data_root, download_file
from minigan.data.mnist import LabelledImages, load_mnist, read_idx, write_idx
from minigan.data.transforms import batches, interpolation_matrix, num_batches, resize_images, scale_images
