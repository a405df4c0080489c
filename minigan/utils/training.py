"""The plumbing every GAN example shares: flags, data, progress, sample grids, checkpoints, summary.

An example keeps its models and its training step in plain sight and hands the rest to a
`TrainingRun`:

    run = TrainingRun("mnist_mlp", args, models={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D})
    run.set_sampler(lambda: G(fixed_noise))
    for epoch, batch_index, indices in run.batches(len(images)):
        ...one D step and one G step...
        run.log({"D": loss_D, "G": loss_G})
    run.finish()

Checkpoints hold both networks, both optimizers, the random generators and the position in the
data, so `--resume` continues a run exactly where it stopped. They are written atomically at each
epoch's end, every `--checkpoint-every` steps, on Ctrl-C and at the end; the newest
`--keep-checkpoints` are kept, and a newest one that cannot be read is skipped for the one before.
"""
import argparse
import glob
import json
import os
import shlex
import signal
import sys
import threading
import time

import numpy as np

import minigan
from minigan import distributed
from minigan.backend import DeviceUnavailableError
from minigan.data.download import DownloadError, UntrustedDownloadError
from minigan.serialization import CheckpointError
from minigan.utils import images as image_files
from minigan.utils.ema import ExponentialMovingAverage

# what a user of an example can cause and fix: reported as a message, not a traceback (run_main)
USER_ERRORS = (DeviceUnavailableError, distributed.DistributedUnavailableError, CheckpointError, DownloadError,
               UntrustedDownloadError, FileNotFoundError)

CHECKPOINT_PATTERN = "checkpoint-{step:08d}.npz"


def run_main(main):
    """Run an example's `main()`. The errors a user causes and can fix (USER_ERRORS: no GPU, no
    data, an unreadable checkpoint, ...) print `<script>: error: <message>` and exit with status 2,
    as argparse does for a bad flag; MINIGAN_DEBUG=1 shows the traceback instead."""
    try:
        return main()
    except USER_ERRORS as error:
        if os.environ.get("MINIGAN_DEBUG") == "1":
            raise
        print(f"{os.path.basename(sys.argv[0])}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def example_arguments(description, **defaults):
    """The flags every MNIST example accepts; `defaults` sets each example's own values."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"],
                        help="array library: numpy (CPU) or cupy (GPU)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"passes over the data (default: as many as {defaults.get('epochs', 5)} epochs "
                             "of the full 60,000-image MNIST take, so a smaller data set trains as long)")
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 128))
    parser.add_argument("--lr", type=float, default=defaults.get("lr", 2e-4))
    parser.add_argument("--seed", type=int, default=defaults.get("seed", 0))
    parser.add_argument("--out", default=None, help="output folder (default: runs/<example>/)")
    parser.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (a quick run)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--sample-every", type=int, default=None,
                        help="also write a sample grid every N steps (default: once per epoch)")
    parser.add_argument("--log-every", type=int, default=20, help="print a loss line every N steps")
    parser.add_argument("--log-grads", action="store_true",
                        help="every --log-every steps also print each layer's gradient norm; "
                             "plot them in gradients.png")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over MPI, under mpiexec -n N: --batch-size is each process's part "
                             'of the batch (needs the MPI extra: pip install -e ".[mpi]")')
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="also checkpoint every N steps (default: at each epoch's end and at the end)")
    parser.add_argument("--keep-checkpoints", type=int, default=3, help="how many checkpoints to keep")
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="also keep an exponential moving average of G's weights (e.g. 0.999), checkpointed, "
                             "and draw the samples and digit scores from it")
    parser.add_argument("--show", action="store_true", help="open the final figures in windows")
    return parser


def resolve_epochs(args, count, source_epochs, source_size=60000):
    """Without --epochs, train for as many steps as the source's run on full MNIST took."""
    if args.epochs is None:
        args.epochs = max(1, round(source_epochs * source_size / count))
        if count < source_size and distributed.is_main():
            print(f"{count} training images: {args.epochs} epochs match the source's {source_epochs} "
                  f"epochs of {source_size}")
    return args.epochs


def example_device(args):
    """The device `--backend` asks for, 'cpu' (numpy) or 'cuda' (cupy), checked before any data
    is loaded: without CuPy or a usable GPU, `--backend cupy` stops at once with
    minigan.backend.DeviceUnavailableError saying what is missing.

    With --distributed, this joins the MPI world first and seeds this rank's generator with
    (seed, rank), so that each rank draws its own noise."""
    device = "cuda" if args.backend == "cupy" else "cpu"
    if args.distributed:
        rank, _ = distributed.init()
        minigan.manual_seed(int(np.random.SeedSequence([args.seed, rank]).generate_state(1)[0]))
        if device == "cuda":  # a GPU per rank
            cuda = minigan.backend.module_for(device).cuda
            cuda.Device(distributed.local_device(cuda.runtime.getDeviceCount())).use()
    minigan.backend.module_for(device)
    return device


def data_parallel(args, *models):
    """The models, each wrapped in DistributedDataParallel with --distributed (rank 0's weights
    everywhere, gradients averaged after each backward), else as they are."""
    if not args.distributed:
        return models
    return tuple(distributed.DistributedDataParallel(model) for model in models)


def moving_average(args, G):
    """With --ema DECAY, an ExponentialMovingAverage of G (minigan/utils/ema.py), else None."""
    return None if args.ema is None else ExponentialMovingAverage(G, args.ema)


def check_arguments(parser, args):
    """Refuse flags out of range with a message that names the flag."""
    positive = {"--epochs": args.epochs if args.epochs is not None else 1, "--batch-size": args.batch_size,
                "--log-every": args.log_every, "--keep-checkpoints": args.keep_checkpoints}
    if args.max_steps is not None:
        positive["--max-steps"] = args.max_steps
    for flag, value in (("--sample-every", args.sample_every), ("--checkpoint-every", args.checkpoint_every)):
        if value is not None:
            positive[flag] = value
    for flag, value in positive.items():
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.ema is not None and not 0 < args.ema < 1:
        parser.error(f"--ema must lie between 0 and 1 (a decay such as 0.999), got {args.ema}")


class _StopOnInterrupt:
    """While training, the first Ctrl-C asks to stop after the current step (which then saves a
    checkpoint); a second one stops at once, as Ctrl-C always does."""

    def __enter__(self):
        self.requested = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc_info):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _on_interrupt(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this step with a checkpoint (press it again to stop at once)", flush=True)


class TrainingRun:
    def __init__(self, name, args, models, optimizers):
        self.name, self.args = name, args
        # checkpoints hold the models themselves, so that any number of ranks can resume them
        self.models = {key: model.module if isinstance(model, distributed.DistributedDataParallel) else model
                       for key, model in models.items()}
        self.optimizers = optimizers
        self.main = distributed.is_main()  # only rank 0 prints and writes files
        self.out = args.out or os.path.join("runs", name)
        if self.main:
            os.makedirs(self.out, exist_ok=True)
            for stale in glob.glob(os.path.join(self.out, ".checkpoint-*.part")):
                os.remove(stale)  # left by a writer killed mid-write; the finished checkpoints are intact
        distributed.barrier()
        self.epoch, self.batch_index, self.step = 0, 0, 0
        self.total_steps = None  # the run's planned length (its epochs), once batches() has begun
        self.history = {}
        self.gradient_norms = {}  # "G.0 Linear" -> [(step, norm)], with --log-grads
        self.digit_check = None   # (sample, real digits) once set_digit_scores is called
        self.sample_paths = []
        self.started = time.perf_counter()
        self.steps_this_session = 0
        self.progress = None
        if args.resume:
            self._resume()

    # -- data order ---------------------------------------------------------------------------
    def batches(self, count):
        """(epoch, batch index, example indices) for every remaining step of the run.

        Each epoch's order is a permutation drawn from a generator seeded by (seed, epoch), so a
        resumed run sees exactly the batches an uninterrupted one would.
        """
        from tqdm import tqdm

        global_batch = self.args.batch_size * distributed.world_size()  # each rank takes its part
        per_epoch = count // global_batch
        if per_epoch == 0:
            raise ValueError(f"{self.name}: --batch-size {self.args.batch_size} on {distributed.world_size()} "
                             f"process(es) is larger than the {count} training images")
        total = self.total_steps = self.args.epochs * per_epoch  # the run's planned length, for schedules
        if self.args.max_steps is not None:
            total = min(total, self.args.max_steps)
        self.progress = tqdm(total=total, initial=self.step, desc=self.name, unit="step",
                             dynamic_ncols=True, leave=True, disable=not self.main)
        with _StopOnInterrupt() as interrupt:
            while self.step < total:
                order = np.random.default_rng([self.args.seed, self.epoch]).permutation(count)
                while self.step < total:
                    start = self.batch_index * global_batch
                    yield self.epoch, self.batch_index, distributed.shard(order[start:start + global_batch])
                    self._after_step(per_epoch)
                    if distributed.any_rank(interrupt.requested):
                        self._stop()
                    if self.batch_index == 0:  # a new epoch: a new order
                        break
        self.progress.close()

    def _after_step(self, per_epoch):
        """Count the step; write the samples and checkpoints that are due."""
        self.batch_index += 1
        self.step += 1
        self.steps_this_session += 1
        if self.args.sample_every and self.step % self.args.sample_every == 0:
            self.write_samples(f"step{self.step:07d}")
        if self.batch_index == per_epoch:
            self.epoch, self.batch_index = self.epoch + 1, 0
            self.end_epoch()
        elif self.args.checkpoint_every and self.step % self.args.checkpoint_every == 0:
            self.save_checkpoint()

    def _stop(self):
        """Ctrl-C (on any rank): checkpoint the step just finished and exit, saying how to go on."""
        path = self.save_checkpoint()
        self.progress.close()
        if self.main:
            command = sys.argv if "--resume" in sys.argv else sys.argv + ["--resume"]
            launcher = ["mpiexec", "-n", str(distributed.world_size())] if distributed.world_size() > 1 else []
            print(f"\ninterrupted after step {self.step}: saved {path}\nresume with: "
                  f"{shlex.join(launcher + [os.path.basename(sys.executable)] + command)}")
        raise SystemExit(130)

    # -- logging ------------------------------------------------------------------------------
    def log(self, losses):
        """Record this step's losses (tensors or numbers); print a line every --log-every steps.

        Losses stay on their device until a line is printed: no synchronisation on other steps.
        """
        for key, value in losses.items():
            # detached: a loss tensor would otherwise keep its whole graph alive
            self.history.setdefault(key, []).append(value.detach() if hasattr(value, "detach") else value)
        self.progress.update(1)
        if self.main and (self.step + 1) % self.args.log_every == 0:
            latest = {key: float(values[-1]) for key, values in self.history.items()}
            self.progress.set_postfix({k: f"{v:.3f}" for k, v in latest.items()})
            fields = " | ".join(f"{k} {v:.4f}" for k, v in latest.items())
            self.progress.write(f"Epoch {self.epoch + 1}/{self.args.epochs} | Iter {self.batch_index + 1} | {fields}")
            if getattr(self.args, "log_grads", False):
                norms = self._record_gradient_norms()
                self.progress.write("  grad norms | " + " | ".join(f"{k} {v:.2e}" for k, v in norms.items()))

    def _record_gradient_norms(self):
        """Each layer's gradient norm, ‖all its parameters' .grad‖₂, as the step left them (for a
        model its step froze, those of its last update)."""
        norms = {}
        for model_name, model in self.models.items():
            for layer_name, layer in model.named_modules():
                grads = [p.grad for p in layer._parameters.values() if p is not None and p.grad is not None]
                if grads:
                    label = f"{model_name}.{layer_name} {type(layer).__name__}"
                    norms[label] = sum(float((g * g).sum()) for g in grads) ** 0.5
                    self.gradient_norms.setdefault(label, []).append((self.step + 1, norms[label]))
        return norms

    # -- samples ------------------------------------------------------------------------------
    def set_sampler(self, sample_fn):
        """`sample_fn()` returns images (N, C, H, W) in [-1, 1] drawn from fixed noise."""
        self.sample_fn = sample_fn

    def set_digit_scores(self, sample, real_images, count=1000):
        """At the end, score `count` digits from `sample(n)` (n digits) against as many real ones
        with minigan.metrics (digit FID, coverage), print the scores and add them to the summary."""
        rows = np.random.default_rng(0).permutation(len(real_images))[:count]  # MNIST files may be sorted by class
        self.digit_check = sample, real_images[rows]

    def _digit_scores(self, batch_size=250):
        from minigan import metrics

        sample, real = self.digit_check
        with minigan.no_grad():
            generated = np.concatenate([minigan.backend.to_numpy(sample(min(batch_size, len(real) - start)).array)
                                        for start in range(0, len(real), batch_size)])
        scores = metrics.digit_scores(generated, real)
        print(f"digit FID {scores['digit_fid']:.2f} over {len(real)} samples (lower is better; real against real "
              f"digits gives about 2), {scores['classes_covered']} of 10 digits covered, class entropy "
              f"{scores['class_entropy_bits']:.2f} bits of 3.32")
        return scores

    def write_samples(self, label):
        if not self.main:
            return None
        images = self.sample_fn()
        path = os.path.join(self.out, f"samples_{label}.png")
        image_files.save_grid(images.numpy() if hasattr(images, "numpy") else images, path)
        self.sample_paths.append(path)
        return path

    def end_epoch(self):
        self.write_samples(f"epoch{self.epoch:03d}")
        self.save_checkpoint()

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self):
        """Rank 0 writes the checkpoint (atomically) with every rank's random generator; returns its path."""
        rng_states = distributed.gather_object(minigan.get_rng_state())
        path = os.path.join(self.out, CHECKPOINT_PATTERN.format(step=self.step))
        if self.main:
            state = {
                "example": self.name, "epoch": self.epoch, "batch_index": self.batch_index, "step": self.step,
                "models": {k: m.state_dict() for k, m in self.models.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": rng_states[0], "rng_by_rank": rng_states,
                "history": {k: np.array([float(v) for v in values]) for k, values in self.history.items()},
            }
            minigan.save(state, path)
            for old in sorted(glob.glob(os.path.join(self.out, "checkpoint-*.npz")))[:-self.args.keep_checkpoints]:
                os.remove(old)
        distributed.barrier()  # the checkpoint exists for every rank once save_checkpoint returns
        return path

    def _resume(self):
        candidates = sorted(glob.glob(os.path.join(self.out, "checkpoint-*.npz")), reverse=True)
        if not candidates:
            raise FileNotFoundError(f"--resume: no checkpoint-*.npz in {self.out}; run without --resume first")
        for path in candidates:
            try:
                state = minigan.load(path)
                break
            except (ValueError, OSError) as error:
                print(f"warning: skipping unreadable checkpoint {path}: {error}")
        else:
            raise CheckpointError(f"--resume: none of the checkpoints in {self.out} could be read")
        if state["example"] != self.name:
            raise CheckpointError(f"--resume: {path} was written by {state['example']}, not {self.name}")
        for key, model in self.models.items():
            model.load_state_dict(state["models"][key])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        by_rank = state.get("rng_by_rank", [state["rng"]])
        if len(by_rank) == distributed.world_size() and isinstance(by_rank[0], minigan.Tensor):
            minigan.set_rng_state(by_rank[distributed.rank()])  # one stream for every device
        else:  # another number of ranks, or an older minigan's generator: a fresh (seed, rank, step) stream for each
            minigan.manual_seed(int(np.random.SeedSequence(
                [self.args.seed, distributed.rank(), state["step"]]).generate_state(1)[0]))
        for model in self.models.values():
            distributed.broadcast_parameters(model)  # identical everywhere, whatever each rank read
        self.epoch, self.batch_index, self.step = state["epoch"], state["batch_index"], state["step"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        if self.main:
            print(f"resumed from {path} at epoch {self.epoch + 1}, step {self.step}")

    # -- the end --------------------------------------------------------------------------------
    def finish(self, extra_summary=None):
        """Checkpoint, the last sample grid, the GIF, the loss curves and the summary JSON (rank 0;
        the other ranks return None). `extra_summary`: more entries for the summary, or a function
        giving them, called after the checkpoint, so that samples it draws leave the random state
        that a resumed run continues from alone."""
        checkpoint = self.save_checkpoint()
        if not self.main:
            return None
        files = [checkpoint, self.write_samples(f"step{self.step:07d}")]
        files.append(image_files.save_gif(self.sample_paths, os.path.join(self.out, "samples.gif")))
        files.append(self._plot_losses())
        if self.gradient_norms:
            files.append(self._plot_gradient_norms())
        if callable(extra_summary):
            extra_summary = extra_summary()
        quality = self._digit_scores() if self.digit_check is not None else {}
        seconds = time.perf_counter() - self.started
        summary = {
            "example": self.name, "epochs": self.args.epochs, "steps": self.step,
            "seconds": round(seconds, 2), "steps_per_second": round(self.steps_this_session / max(seconds, 1e-9), 3),
            "final_losses": {k: float(v[-1]) for k, v in self.history.items() if v},
            "backend": self.args.backend, "world_size": distributed.world_size(),
            "images_per_second": round(self.steps_this_session * self.args.batch_size * distributed.world_size()
                                       / max(seconds, 1e-9), 1),
            "files": files, **quality, **(extra_summary or {}),
        }
        summary_path = os.path.join(self.out, "summary.json")
        with open(summary_path + ".tmp", "w") as stream:
            json.dump(summary, stream, indent=2)
        os.replace(summary_path + ".tmp", summary_path)
        summary["files"].append(summary_path)
        print(f"\n{self.name}: {self.step} steps in {seconds:.1f} s ({summary['steps_per_second']} steps/s); "
              "final losses " + ", ".join(f"{k} {v:.4f}" for k, v in summary["final_losses"].items()))
        for path in summary["files"]:
            print("wrote", path)
        return summary

    def _plot_losses(self):
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(7, 4))
        for key, values in self.history.items():
            ax.plot([float(v) for v in values], label=key, linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        return self._save_figure(figure, "losses.png")

    def _plot_gradient_norms(self):
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(7, 4))
        for label, points in self.gradient_norms.items():
            steps, norms = zip(*points)
            ax.plot(steps, norms, label=label, linewidth=0.8, linestyle="-" if label.startswith("G") else "--")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("gradient norm per layer")
        ax.legend(fontsize=7)
        return self._save_figure(figure, "gradients.png")

    def _save_figure(self, figure, name):
        import matplotlib.pyplot as plt

        path = os.path.join(self.out, name)
        figure.savefig(path + ".tmp.png", dpi=90)
        os.replace(path + ".tmp.png", path)
        if self.args.show:
            plt.show()
        plt.close(figure)
        return path
