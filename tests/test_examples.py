"""The example scripts: slanted faces reproduces its source; each MNIST GAN trains, writes its
files, and resumes from a checkpoint to exactly the parameters of an uninterrupted run."""
import argparse
import importlib
import json
import os
import subprocess
import sys

import matplotlib
import numpy
import pytest
from PIL import Image

import minigan
from minigan.optim import Adam

matplotlib.use("Agg")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def example(name):
    return importlib.import_module(name)


def test_slanted_faces_reproduces_the_published_result():
    """The source's final weights and generated face, to 1e-6; `train` also asserts at every
    update that autograd equals the hand-derived derivatives."""
    D, G, errors_D, errors_G, generated = example("slanted_faces").train()
    numpy.testing.assert_allclose(G.weights.detach().numpy(), [0.70702123, 0.03720449, -0.45703394, 0.79375751], atol=1e-6)
    numpy.testing.assert_allclose(G.biases.detach().numpy(), [2.48490157, -3.36725912, -2.90139211, 2.8172726], atol=1e-6)
    numpy.testing.assert_allclose(D.weights.detach().numpy(), [0.60175083, -0.29127513, -0.40093314, 0.37759987], atol=1e-6)
    assert abs(D.bias.item() - (-0.89551030)) < 1e-6
    numpy.testing.assert_allclose(generated[0], [0.94688171, 0.03401213, 0.04080795, 0.96308679], atol=1e-6)
    assert len(errors_D) == len(errors_G) == 5000


def test_slanted_faces_check_catches_a_wrong_derivative():
    slanted = example("slanted_faces")
    with pytest.raises(AssertionError, match="hand formula"):
        slanted.check([minigan.tensor([1.0, 2.0])], [numpy.array([1.0, 2.5])], "D on a real face")


RUNS = {
    "mnist_mlp": ["--batch-size", "16"],
    "mnist_mlp_bn": ["--arch", "bn", "--batch-size", "16"],
    "mnist_mlp_small": ["--arch", "small", "--batch-size", "16"],
    "dcgan": ["--batch-size", "16", "--ngf", "4", "--ndf", "4"],
    "wgan_gp": ["--batch-size", "16", "--ngf", "4", "--ndf", "4", "--n-critic", "2"],
    "wgan": ["--batch-size", "16", "--ngf", "4", "--ndf", "4", "--n-critic", "2"],
    "dcgan_spectral_norm_ema": ["--batch-size", "16", "--ngf", "4", "--ndf", "4", "--spectral-norm", "--ema", "0.9"],
    "mnist_mlp_ema": ["--batch-size", "16", "--ema", "0.99"],
    "mnist_mlp_tricks": ["--batch-size", "16", "--label-smoothing", "0.1", "--label-flip", "0.1", "--instance-noise",
                         "0.2", "--d-lr", "1e-4", "--d-steps", "2", "--clip-grad", "1", "--spectral-norm",
                         "--minibatch-std", "--feature-matching"],
    "dcgan_tricks": ["--batch-size", "16", "--ngf", "4", "--ndf", "4", "--label-smoothing", "0.1", "--label-flip",
                     "0.1", "--instance-noise", "0.2", "--d-lr", "1e-4", "--d-steps", "2", "--clip-grad", "1",
                     "--minibatch-std", "--feature-matching"],
    "cgan": ["--batch-size", "16", "--ngf", "4", "--ndf", "4"],
    "cgan_projection": ["--batch-size", "16", "--ngf", "4", "--ndf", "4", "--d-cond", "projection"],
}
SCRIPTS = {"mnist_mlp_bn": "mnist_mlp", "mnist_mlp_small": "mnist_mlp", "mnist_mlp_ema": "mnist_mlp",
           "mnist_mlp_tricks": "mnist_mlp", "dcgan_tricks": "dcgan",
           "dcgan_spectral_norm_ema": "dcgan", "cgan_projection": "cgan"}


def run_example(name, data_dir, out, *extra):
    script = SCRIPTS.get(name, name)
    argv = RUNS[name] + ["--data-dir", data_dir, "--out", str(out), "--epochs", "2", "--log-every", "2"] + list(extra)
    return example(script).main(argv)


def final_parameters(out):
    newest = sorted(f for f in os.listdir(out) if f.startswith("checkpoint-"))[-1]
    state = minigan.load(os.path.join(out, newest))
    return {f"{model}.{key}": value.numpy() for model, sd in state["models"].items() for key, value in sd.items()}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_trains_writes_its_files_and_resumes_exactly(name, mnist_fixture, tmp_path):
    summary = run_example(name, mnist_fixture, tmp_path / "whole", "--max-steps", "7")
    assert summary["steps"] == 7
    assert all(numpy.isfinite(v) for v in summary["final_losses"].values())
    assert numpy.isfinite(summary["digit_fid"]) and summary["digit_fid"] > 0  # 7 steps: far from real digits
    assert 0 <= summary["classes_covered"] <= 10 and 0 <= summary["class_entropy_bits"] <= numpy.log2(10) + 1e-9
    for path in summary["files"]:
        assert os.path.getsize(path) > 0, path
    with open(tmp_path / "whole" / "summary.json") as stream:
        assert json.load(stream)["steps"] == 7

    run_example(name, mnist_fixture, tmp_path / "resumed", "--max-steps", "3")
    resumed = run_example(name, mnist_fixture, tmp_path / "resumed", "--max-steps", "7", "--resume")
    assert resumed["steps"] == 7
    whole, continued = final_parameters(tmp_path / "whole"), final_parameters(tmp_path / "resumed")
    assert whole.keys() == continued.keys()
    for key in whole:
        numpy.testing.assert_array_equal(continued[key], whole[key], err_msg=key)


@pytest.mark.parametrize("g_loss", ["non-saturating", "saturating"])
def test_log_grads_prints_each_layers_gradient_norm_and_plots_them(g_loss, mnist_fixture, tmp_path, capsys):
    summary = run_example("mnist_mlp", mnist_fixture, tmp_path, "--max-steps", "4", "--log-grads", "--g-loss", g_loss)
    lines = [line for line in capsys.readouterr().out.splitlines() if "grad norms |" in line]
    assert len(lines) == 2  # steps 2 and 4
    fields = dict(field.rsplit(" ", 1) for field in lines[-1].split(" | ")[1:])
    layers = ["G.0 Linear", "G.2 Linear", "G.4 Linear", "D.0 Linear", "D.2 Linear", "D.4 Linear"]
    assert sorted(fields) == sorted(layers)
    assert all(float(norm) > 0 for norm in fields.values())
    assert os.path.join(str(tmp_path), "gradients.png") in summary["files"]


def test_spectral_norm_and_ema_flags_change_what_is_trained_and_saved(mnist_fixture, tmp_path):
    run_example("dcgan_spectral_norm_ema", mnist_fixture, tmp_path, "--max-steps", "3")
    models = minigan.load(tmp_path / "checkpoint-00000003.npz")["models"]
    assert set(models) == {"G", "D", "G_ema"}
    assert {"main.0.weight_orig", "main.0.weight_u", "main.0.weight_v"} <= set(models["D"])
    assert not any("running_mean" in key for key in models["D"])  # SNGAN's D: no BatchNorm
    assert list(models["G_ema"]) == list(models["G"])
    for key, value in models["G"].items():  # three steps of a 0.9 average: near G, not equal to it
        if value.dtype.kind == "f" and "running" not in key and "weight" in key:
            assert not numpy.array_equal(models["G_ema"][key].numpy(), value.numpy()), key


def test_the_saturating_loss_is_refused_where_d_gives_probabilities(mnist_fixture, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_example("mnist_mlp_bn", mnist_fixture, tmp_path, "--g-loss", "saturating")
    assert "--g-loss saturating needs D's logits" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): --backend cupy, and no host sync in a step
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_mlp_bn", "mnist_mlp_small", "dcgan", "wgan_gp", "wgan", "cgan",
                                  "cgan_projection"])
@pytest.mark.usefixtures("standin_cuda")
def test_example_trains_on_cuda_resumes_exactly_and_follows_the_cpu_run(name, mnist_fixture, tmp_path):
    summary = run_example(name, mnist_fixture, tmp_path / "whole", "--max-steps", "5", "--backend", "cupy")
    assert summary["steps"] == 5 and summary["backend"] == "cupy"
    assert all(numpy.isfinite(value) for value in summary["final_losses"].values())
    checkpoint = minigan.load(tmp_path / "whole" / "checkpoint-00000005.npz")  # saved from the device, read on the host
    assert all(type(value.array) is numpy.ndarray for value in checkpoint["models"]["G"].values())

    run_example(name, mnist_fixture, tmp_path / "resumed", "--max-steps", "2", "--backend", "cupy")
    run_example(name, mnist_fixture, tmp_path / "resumed", "--max-steps", "5", "--backend", "cupy", "--resume")
    whole, continued = final_parameters(tmp_path / "whole"), final_parameters(tmp_path / "resumed")
    for key in whole:  # the device's generator is in the checkpoint: its noise continues, not replays
        numpy.testing.assert_array_equal(continued[key], whole[key], err_msg=key)

    run_example(name, mnist_fixture, tmp_path / "cpu", "--max-steps", "5")
    on_cpu = final_parameters(tmp_path / "cpu")
    # The same seed draws the same weights and noise on both devices, so the runs agree up to float32
    # rounding (the device sums in another order), which Adam's first steps magnify where a gradient is
    # near 0: 5 steps at lr ≤ 2e-4 move a weight by at most 1e-3; other noise would move it by ~1e-2.
    for key in whole:
        numpy.testing.assert_allclose(whole[key], on_cpu[key], rtol=0, atol=5e-4, err_msg=key)


def _tiny_steps():
    """One training step of each example's model, tiny, on 'cuda': name -> step()."""
    mlp, dcgan_example, wgan = example("mnist_mlp"), example("dcgan"), example("wgan_gp")
    minigan.manual_seed(0)
    real = minigan.rand(4, 784, device="cuda") * 2 - 1
    images = minigan.rand(4, 1, 32, 32, device="cuda") * 2 - 1

    G, D = (model.cuda() for model in mlp.build_small())
    adam = lambda model: Adam(model.parameters(), lr=1e-3)  # noqa: E731
    optimizer_G, optimizer_D = adam(G), adam(D)
    mlp_step = lambda: mlp.logits_step(G, D, optimizer_G, optimizer_D, real,  # noqa: E731
                                       lambda: minigan.rand(4, 100, device="cuda"), 0.9)

    conv_G = dcgan_example.Generator(8, 2, 1, 32).cuda()
    conv_D = dcgan_example.Discriminator(2, 1, 32).cuda()
    critic = dcgan_example.Discriminator(2, 1, 32, norm=lambda w: minigan.nn.InstanceNorm2d(w, affine=True),
                                         sigmoid=False).cuda()
    optimizer_conv_G, optimizer_conv_D, optimizer_C = adam(conv_G), adam(conv_D), adam(critic)
    dcgan_step = lambda: dcgan_example.train_step(conv_G, conv_D, minigan.nn.BCELoss(), optimizer_conv_G,  # noqa: E731
                                                  optimizer_conv_D, images, 8)
    wgan_step = lambda: (wgan.critic_step(conv_G, critic, optimizer_C, images, 8, 10.0),  # noqa: E731
                         wgan.generator_step(conv_G, critic, optimizer_conv_G, 4, 8, "cuda"))
    return {"mnist_mlp": mlp_step, "dcgan": dcgan_step, "wgan_gp": wgan_step}


@pytest.mark.usefixtures("standin_cuda")
def test_a_training_step_on_cuda_never_waits_for_the_device(standin_cuda):
    """No .item(), float() or copy to the host inside a step: the GPU runs ahead of Python."""
    for name, step in _tiny_steps().items():
        step()  # the first step creates the optimizers' state
        standin_cuda.reset()
        step()
        assert standin_cuda.syncs == 0, f"{name}: {standin_cuda.syncs} host synchronisations in one step"
        assert standin_cuda.launches > 0, name


def test_the_conditional_example_scores_label_accuracy_and_each_class(mnist_fixture, tmp_path):
    summary = run_example("cgan", mnist_fixture, tmp_path, "--max-steps", "3")
    assert 0 <= summary["label_accuracy"] <= 1 and len(summary["class_digit_fid"]) == 10
    assert all(numpy.isfinite(fid) and fid > 0 for fid in summary["class_digit_fid"])
    with Image.open(tmp_path / "samples_step0000003.png") as grid:
        assert grid.size[0] == grid.size[1]  # 10 rows (one per digit) of 10 samples


# --------------------------------------------------------------------------------------------
# The stabilising tricks of examples/gan_tricks.py
# --------------------------------------------------------------------------------------------
def trick_options(**flags):
    parser = argparse.ArgumentParser()
    example("gan_tricks").add_arguments(parser)
    return parser.parse_args([item for name, value in flags.items()
                              for item in ([f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)]))])


def test_label_smoothing_sets_the_real_target_and_flips_swap_about_p_of_the_targets():
    gan_tricks = example("gan_tricks")
    minigan.manual_seed(0)
    smoothed = gan_tricks.targets(4, 1.0, trick_options(label_smoothing=0.1), "cpu").numpy().ravel()
    assert numpy.allclose(smoothed, [0.9] * 4 + [0] * 4)
    flipped = gan_tricks.targets(5000, 1.0, trick_options(label_flip=0.2), "cpu").numpy().ravel()
    assert abs((flipped[:5000] == 0).mean() - 0.2) < 0.02 and abs((flipped[5000:] == 1).mean() - 0.2) < 0.02
    assert set(numpy.unique(flipped)) == {0.0, 1.0}


def test_instance_noise_starts_at_sigma_and_is_gone_at_the_end():
    gan_tricks = example("gan_tricks")
    images = minigan.zeros(200, 784)
    assert abs(gan_tricks.noisy(images, trick_options(instance_noise=0.3), 0.0).numpy().std() - 0.3) < 0.01
    assert abs(gan_tricks.noisy(images, trick_options(instance_noise=0.3), 0.5).numpy().std() - 0.15) < 0.01
    assert not gan_tricks.noisy(images, trick_options(instance_noise=0.3), 1.0).numpy().any()
    assert gan_tricks.noisy(images, trick_options(), 0.0) is images


def test_minibatch_std_and_feature_matching_compute_their_formulas():
    gan_tricks = example("gan_tricks")
    x = numpy.random.default_rng(0).standard_normal((6, 5))
    out = gan_tricks.MinibatchStd()(minigan.tensor(x)).numpy()
    assert out.shape == (6, 6) and numpy.allclose(out[:, :5], x)
    assert numpy.allclose(out[:, 5], x.std(0).mean())  # numpy's std divides by N, as unbiased=False
    maps = numpy.random.default_rng(1).standard_normal((4, 3, 2, 2))
    out = gan_tricks.MinibatchStd()(minigan.tensor(maps)).numpy()
    assert out.shape == (4, 4, 2, 2) and numpy.allclose(out[:, 3], maps.std(0).mean())
    features = minigan.nn.Linear(5, 3).double()
    real, fake = minigan.tensor(x), minigan.tensor(x[::-1] * 2)
    weight, bias = features.weight.detach().numpy(), features.bias.detach().numpy()
    expected = (((x @ weight.T + bias).mean(0) - ((x[::-1] * 2) @ weight.T + bias).mean(0)) ** 2).sum()
    assert numpy.isclose(gan_tricks.feature_matching_loss(features, real, fake).item(), expected)


def test_the_tricks_change_d_as_asked_and_bad_values_are_refused(mnist_fixture, tmp_path, capsys):
    gan_tricks = example("gan_tricks")
    D = minigan.nn.Sequential(minigan.nn.Linear(784, 8), minigan.nn.LeakyReLU(0.2), minigan.nn.Linear(8, 1))
    prepared = gan_tricks.prepare_discriminator(D, trick_options(spectral_norm=True, minibatch_std=True))
    assert [type(layer).__name__ for layer in prepared] == ["Linear", "LeakyReLU", "MinibatchStd", "Linear"]
    assert "0.weight_orig" in prepared.state_dict() and prepared[3].in_features == 9
    for flags, message in ((["--arch", "bn", "--label-smoothing", "0.1"], "need D's logits"),
                           (["--label-flip", "0.7"], "--label-flip in"), (["--d-steps", "0"], "--d-steps >= 1")):
        with pytest.raises(SystemExit):
            example("mnist_mlp").main(flags + ["--data-dir", mnist_fixture, "--out", str(tmp_path)])
        assert message in capsys.readouterr().err


def test_a_checkpoint_of_an_older_minigan_resumes_with_a_fresh_stream(mnist_fixture, tmp_path):
    """Before the Philox stream, checkpoints held numpy's generator state (a dict): such a run
    resumes, its parameters exact, its noise from a fresh (seed, rank, step) stream."""
    run_example("mnist_mlp", mnist_fixture, tmp_path, "--max-steps", "2")
    path = tmp_path / "checkpoint-00000002.npz"
    state = minigan.load(path)
    state["rng"] = {"bit_generator": "PCG64", "state": {"state": 1, "inc": 3}, "has_uint32": 0, "uinteger": 0}
    state["rng_by_rank"] = [state["rng"]]
    minigan.save(state, path)
    resumed = run_example("mnist_mlp", mnist_fixture, tmp_path, "--max-steps", "4", "--resume")
    assert resumed["steps"] == 4 and all(numpy.isfinite(v) for v in resumed["final_losses"].values())


@pytest.mark.parametrize("script", ["mnist_mlp", "dcgan", "wgan_gp", "wgan", "cgan"])
def test_a_users_mistake_prints_its_message_without_a_traceback_and_exits_2(script, mnist_fixture, tmp_path):
    command = [sys.executable, os.path.join(EXAMPLES, f"{script}.py"), "--resume", "--out", str(tmp_path),
               "--data-dir", mnist_fixture]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert f"{script}.py: error: --resume: no checkpoint-*.npz in {tmp_path}" in completed.stderr
    assert "Traceback" not in completed.stderr
    debug = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, MINIGAN_DEBUG="1"))
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "FileNotFoundError" in debug.stderr
