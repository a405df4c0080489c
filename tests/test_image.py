"""Images against torch in float64: interpolate, pooling, the padding modes and group norm, forward,
first and second order (inside a gradient penalty: through a conv, as a critic has them), on the
host and on the stand-in device, and over shapes drawn by hypothesis."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_matches_torch, on_cuda, torch

import minigan
import minigan.nn.functional as F

TF = torch.nn.functional
rng = numpy.random.default_rng(0)


def images(*shape):
    return rng.standard_normal(shape)


# --------------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------------
SIZES = [dict(scale_factor=2), dict(scale_factor=(2, 3)), dict(scale_factor=1.7), dict(scale_factor=0.5),
         dict(size=(5, 7)), dict(size=3), dict(size=(2, 9))]


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("options", SIZES, ids=str)
def test_interpolate_matches_torch(mode, align_corners, options):
    assert_matches_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **options),
                         [images(2, 3, 4, 6)],
                         torch_fn=lambda x: TF.interpolate(x, mode=mode, align_corners=align_corners, **options))


def test_interpolate_recompute_scale_factor_and_upsample_layer():
    assert_matches_torch(lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
                         [images(1, 2, 5, 3)], torch_fn=lambda x: TF.interpolate(
                             x, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True))
    assert repr(minigan.nn.Upsample(scale_factor=2)) == repr(torch.nn.Upsample(scale_factor=2))
    assert repr(minigan.nn.Upsample(size=(3, 4), mode="bilinear")) == repr(torch.nn.Upsample(size=(3, 4),
                                                                                             mode="bilinear"))


def test_interpolate_refuses_what_it_does_not_do():
    x = minigan.zeros(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(minigan.ShapeError, match=r"4-D input .* got shape \(4, 4\)"):
        F.interpolate(minigan.zeros(4, 4), scale_factor=2)


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------
WINDOWS = [(2, None, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 0)), (4, 4, 2)]


@pytest.mark.parametrize("kernel, stride, padding", WINDOWS)
def test_max_and_avg_pool2d_match_torch(kernel, stride, padding):
    x = images(2, 3, 7, 8)
    # torch's pool gradients are in the graph however constant they are (one fused node)
    assert_matches_torch(lambda x: F.max_pool2d(x, kernel, stride, padding), [x], torch_fused=True,
                         torch_fn=lambda x: TF.max_pool2d(x, kernel, stride, padding))
    for include in (True, False):
        assert_matches_torch(lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=include), [x],
                             torch_fused=True, torch_fn=lambda x: TF.avg_pool2d(x, kernel, stride, padding, count_include_pad=include))
    assert_matches_torch(lambda x: F.avg_pool2d(x, kernel, stride, padding, divisor_override=5), [x],
                         torch_fused=True, torch_fn=lambda x: TF.avg_pool2d(x, kernel, stride, padding, divisor_override=5))


def test_max_pool2d_dilation_and_ties_send_the_gradient_to_the_first_largest():
    assert_matches_torch(lambda x: F.max_pool2d(x, 2, 1, 0, 2), [images(1, 2, 6, 6)], torch_fused=True,
                         torch_fn=lambda x: TF.max_pool2d(x, 2, 1, 0, 2))
    after_relu = numpy.maximum(images(2, 2, 6, 6), 0)  # many zeros: ties in most windows
    assert_matches_torch(lambda x: F.max_pool2d(x, 3, 2, 1), [after_relu], torch_fused=True,
                         torch_fn=lambda x: TF.max_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize("output_size", [1, 3, (2, 5), (None, 3), (7, 8)], ids=str)
def test_adaptive_avg_pool2d_matches_torch(output_size):
    assert_matches_torch(lambda x: F.adaptive_avg_pool2d(x, output_size), [images(2, 3, 7, 8)], torch_fused=True,
                         torch_fn=lambda x: TF.adaptive_avg_pool2d(x, output_size))


def test_pooling_refuses_what_it_does_not_do():
    x = minigan.zeros(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        F.max_pool2d(x, 2, ceil_mode=True)
    with pytest.raises(ValueError, match="pad should be at most half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(minigan.ShapeError, match="does not fit"):
        F.max_pool2d(x, 5)


def test_pool_layers_match_torch_reprs_and_values():
    for build in [lambda nn: nn.MaxPool2d(3, 2, 1), lambda nn: nn.AvgPool2d(2), lambda nn: nn.AdaptiveAvgPool2d(4)]:
        ours, theirs = build(minigan.nn), build(torch.nn)
        assert repr(ours) == repr(theirs)
        x = images(2, 3, 8, 8)
        numpy.testing.assert_allclose(ours(minigan.tensor(x)).array, theirs(torch.tensor(x)).numpy(), rtol=1e-14)


# --------------------------------------------------------------------------------------------
# Padding modes
# --------------------------------------------------------------------------------------------
# torch's gradients of a pad are in the graph however constant they are (one fused node)
PADS = [((2, 3, 5, 6), (1, 2, 3, 0)), ((2, 3, 7), (2, 3)), ((3, 5, 6), (4, 1, 1, 2)),
        ((1, 2, 3, 4, 5), (1, 1, 2, 2, 0, 1)), ((2, 3, 4, 4), (0, 0, 0, 0))]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, widths", PADS, ids=str)
def test_pad_modes_match_torch(mode, shape, widths):
    assert_matches_torch(lambda x: F.pad(x, widths, mode), [images(*shape)], torch_fused=True,
                         torch_fn=lambda x: TF.pad(x, widths, mode))


def test_pad_modes_refuse_what_torch_refuses():
    with pytest.raises(ValueError, match="too large"):
        F.pad(minigan.zeros(1, 3, 3), (3, 0), "reflect")
    with pytest.raises(NotImplementedError, match="last 1 to 3 dims"):
        F.pad(minigan.zeros(3, 3), (1, 1, 1, 1), "replicate")
    with pytest.raises(ValueError, match="doesn't take in value"):
        F.pad(minigan.zeros(1, 3, 3), (1, 1), "reflect", value=2.0)


@pytest.mark.parametrize("layer", ["ZeroPad2d", "ReflectionPad2d", "ReplicationPad2d"])
@pytest.mark.parametrize("padding", [1, (1, 2, 0, 2)], ids=str)
def test_padding_layers_match_torch(layer, padding):
    ours, theirs = getattr(minigan.nn, layer)(padding), getattr(torch.nn, layer)(padding)
    assert repr(ours) == repr(theirs)
    assert_matches_torch(ours, [images(2, 3, 4, 5)], torch_fn=theirs, torch_fused=True)
    constant = minigan.nn.ConstantPad2d(padding, 3.5)
    assert repr(constant) == repr(torch.nn.ConstantPad2d(padding, 3.5))
    assert_matches_torch(constant, [images(2, 3, 4, 5)], torch_fn=torch.nn.ConstantPad2d(padding, 3.5))


# --------------------------------------------------------------------------------------------
# Group norm
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, groups", [((2, 6, 4, 5), 3), ((2, 6, 4, 5), 1), ((2, 6, 4, 5), 6), ((3, 4, 7), 2),
                                           ((3, 4), 2)], ids=str)
def test_group_norm_matches_torch(shape, groups):
    channels = shape[1]
    assert_matches_torch(lambda x, w, b: F.group_norm(x, groups, w, b), [images(*shape), images(channels),
                                                                          images(channels)],
                         torch_fn=lambda x, w, b: TF.group_norm(x, groups, w, b))
    assert_matches_torch(lambda x: F.group_norm(x, groups, eps=0.1), [images(*shape)],
                         torch_fn=lambda x: TF.group_norm(x, groups, eps=0.1))


def test_group_norm_layer_state_repr_and_refusals():
    ours, theirs = minigan.nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert list(minigan.nn.GroupNorm(2, 4, affine=False).state_dict()) == []
    assert repr(minigan.nn.GroupNorm(2, 4, bias=False)) == repr(torch.nn.GroupNorm(2, 4, bias=False))
    assert list(minigan.nn.GroupNorm(2, 4, bias=False).state_dict()) == ["weight"]
    with pytest.raises(ValueError, match="divisible"):
        minigan.nn.GroupNorm(3, 4)
    with pytest.raises(minigan.ShapeError, match=r"\(N, 4, \*\)"):
        ours(minigan.zeros(2, 6, 3))


# --------------------------------------------------------------------------------------------
# Inside a gradient penalty: a critic conv → op → sum, differentiated twice
# --------------------------------------------------------------------------------------------
CRITIC_OPS = {
    "max_pool2d": lambda F: lambda h: F.max_pool2d(h, 2),
    "avg_pool2d": lambda F: lambda h: F.avg_pool2d(h, 3, 2, 1),
    "adaptive_avg_pool2d": lambda F: lambda h: F.adaptive_avg_pool2d(h, 3),
    "interpolate-bilinear": lambda F: lambda h: F.interpolate(h, scale_factor=2, mode="bilinear"),
    "interpolate-nearest": lambda F: lambda h: F.interpolate(h, scale_factor=2),
    "reflect": lambda F: lambda h: F.pad(h, (1, 1, 2, 0), "reflect"),
    "replicate": lambda F: lambda h: F.pad(h, (1, 1, 2, 0), "replicate"),
    "group_norm": lambda F: lambda h: F.group_norm(h, 2),
}


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", CRITIC_OPS)
def test_each_image_op_inside_a_gradient_penalty_matches_torch(name, device, request):
    if device == "cuda":
        request.getfixturevalue("standin_cuda")
    build = CRITIC_OPS[name]

    def critic(F, conv2d):
        op = build(F)
        return lambda x, w: (op(conv2d(x, w, padding=1)).tanh() ** 2).sum()

    ours = critic(F, F.conv2d)
    assert_matches_torch(ours if device == "cpu" else on_cuda(ours), [images(2, 2, 6, 6), images(4, 2, 3, 3)],
                         torch_fn=critic(TF, TF.conv2d), torch_fused=True)


# --------------------------------------------------------------------------------------------
# Shapes drawn by hypothesis
# --------------------------------------------------------------------------------------------
sides = st.integers(1, 7)


@settings(max_examples=25, deadline=None)
@given(height=sides, width=sides, out_h=sides, out_w=sides, align=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_bilinear_and_adaptive_pool_match_torch_over_drawn_sizes(height, width, out_h, out_w, align, seed):
    x = numpy.random.default_rng(seed).standard_normal((1, 2, height, width))
    assert_matches_torch(lambda x: F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=align), [x],
                         torch_fn=lambda x: TF.interpolate(x, size=(out_h, out_w), mode="bilinear",
                                                           align_corners=align), second_order=False)
    assert_matches_torch(lambda x: F.adaptive_avg_pool2d(x, (out_h, out_w)), [x], second_order=False, torch_fused=True,
                         torch_fn=lambda x: TF.adaptive_avg_pool2d(x, (out_h, out_w)))


@settings(max_examples=25, deadline=None)
@given(height=sides, width=sides, kernel=st.integers(1, 3), stride=st.integers(1, 3), seed=st.integers(0, 2 ** 16),
       data=st.data())
def test_pools_and_pads_match_torch_over_drawn_sizes(height, width, kernel, stride, seed, data):
    x = numpy.random.default_rng(seed).standard_normal((2, 1, height, width))
    padding = data.draw(st.integers(0, kernel // 2))
    if (height + 2 * padding - kernel) >= 0 and (width + 2 * padding - kernel) >= 0:
        assert_matches_torch(lambda x: F.max_pool2d(x, kernel, stride, padding), [x], torch_fused=True,
                             second_order=False, torch_fn=lambda x: TF.max_pool2d(x, kernel, stride, padding))
        assert_matches_torch(lambda x: F.avg_pool2d(x, kernel, stride, padding), [x], second_order=False,
                             torch_fused=True,
                             torch_fn=lambda x: TF.avg_pool2d(x, kernel, stride, padding))
    widths = tuple(data.draw(st.integers(0, min(height, width) - 1)) for _ in range(4))
    for mode in ("reflect", "replicate", "circular"):
        assert_matches_torch(lambda x: F.pad(x, widths, mode), [x], second_order=False, torch_fused=True,
                             torch_fn=lambda x: TF.pad(x, widths, mode))
