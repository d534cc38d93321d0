"""The networks nn.lstm, nn.mlp and nn.lstm_mlp: shapes, range, gradients, modes, init, errors."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable

import pytest
import torch

from delta_core.interfaces.nn import NN, NNOutput, NNSpec, NNSpecError
from delta_nn._common import NNInputError, squash
from delta_nn.config import LSTMConfig, LSTMMLPConfig, MLPConfig
from delta_nn.lstm import LSTMNet
from delta_nn.lstm_mlp import LSTMMLPNet
from delta_nn.mlp import MLPNet

T, B, F, G, ND, NS, H = 6, 4, 3, 2, 4, 5, 8


def lstm(spec: NNSpec, **kw: object) -> NN:
    return LSTMNet(spec, LSTMConfig(hidden_size=H, **kw))  # type: ignore[arg-type]


def mlp(spec: NNSpec, **kw: object) -> NN:
    return MLPNet(spec, MLPConfig(hidden_size=H, **kw))  # type: ignore[arg-type]


def lstm_mlp(spec: NNSpec, **kw: object) -> NN:
    lstm_kw = {k: v for k, v in kw.items() if k in attrs_fields(LSTMConfig)}
    mlp_kw = {k: v for k, v in kw.items() if k in attrs_fields(MLPConfig)}
    return LSTMMLPNet(
        spec, LSTMMLPConfig(lstm=LSTMConfig(hidden_size=H, **lstm_kw), mlp=MLPConfig(hidden_size=H, **mlp_kw))
    )


def attrs_fields(cls: type) -> set[str]:
    return {f.name for f in cls.__attrs_attrs__}  # type: ignore[attr-defined]


BUILDERS: dict[str, Callable[..., NN]] = {"nn.lstm": lstm, "nn.mlp": mlp, "nn.lstm_mlp": lstm_mlp}
NAMES = list(BUILDERS)


def inputs(spec: NNSpec, seed: int = 0) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(seed)
    x_dyn = torch.randn(T, B, spec.n_dynamic_inputs, generator=gen) if spec.n_dynamic_inputs else None
    x_sta = torch.randn(B, spec.n_static_inputs, generator=gen) if spec.n_static_inputs else None
    return x_dyn, x_sta


def possible(name: str, spec: NNSpec) -> bool:
    """What each network documents it can provide."""
    if spec.n_dynamic_outputs == 0 and spec.n_static_outputs == 0:
        return False
    if spec.n_dynamic_outputs and spec.n_dynamic_inputs == 0:
        return False
    if name == "nn.lstm":
        return spec.n_dynamic_inputs > 0
    return not (spec.n_static_outputs and spec.n_static_inputs == 0)


ALL_SPECS = [
    NNSpec(fi, gi, no, so)
    for fi, gi, no, so in itertools.product((0, F), (0, G), (0, ND), (0, NS))
]
VALID = [(n, s) for n in NAMES for s in ALL_SPECS if possible(n, s)]
INVALID = [(n, s) for n in NAMES for s in ALL_SPECS if not possible(n, s)]
FULL = NNSpec(F, G, ND, NS)


def spec_id(spec: NNSpec) -> str:
    s = spec
    return f"in{s.n_dynamic_inputs}d{s.n_static_inputs}s-out{s.n_dynamic_outputs}d{s.n_static_outputs}s"


def test_the_combination_table_covers_every_case() -> None:
    # each network must be usable in several input/output layouts
    assert len(ALL_SPECS) == 16
    counts = {n: sum(1 for m, _ in VALID if m == n) for n in NAMES}
    assert counts == {"nn.lstm": 6, "nn.mlp": 5, "nn.lstm_mlp": 5}


# -- shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "spec"), VALID, ids=[f"{n}-{spec_id(s)}" for n, s in VALID])
def test_output_shapes_for_every_possible_spec(name: str, spec: NNSpec) -> None:
    torch.manual_seed(0)
    net = BUILDERS[name](spec).eval()
    out = net(*inputs(spec))
    assert isinstance(out, NNOutput)
    if spec.n_dynamic_outputs:
        assert out.dynamic is not None and out.dynamic.shape == (T, B, ND)
    else:
        assert out.dynamic is None
    if spec.n_static_outputs:
        assert out.static is not None and out.static.shape == (B, NS)
    else:
        assert out.static is None
    for part in (out.dynamic, out.static):
        if part is not None:
            assert torch.isfinite(part).all() and ((part >= 0) & (part <= 1)).all()


@pytest.mark.parametrize(("name", "spec"), INVALID, ids=[f"{n}-{spec_id(s)}" for n, s in INVALID])
def test_impossible_specs_raise_nnspecerror(name: str, spec: NNSpec) -> None:
    with pytest.raises(NNSpecError, match=rf"^{name}: "):
        BUILDERS[name](spec)


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        (
            name,
            NNSpec(F, G, 0, 0),
            f"{name}: the spec asks for no outputs (n_dynamic_outputs = n_static_outputs = 0)",
        )
        for name in NAMES
    ]
    + [
        (
            name,
            NNSpec(0, G, ND, 0),
            f"{name}: 4 dynamic outputs need dynamic inputs (n_dynamic_inputs = 0 leaves no time axis)",
        )
        for name in NAMES
    ]
    + [
        (
            "nn.lstm",
            NNSpec(0, G, 0, NS),
            "nn.lstm: an LSTM needs dynamic inputs (n_dynamic_inputs = 0); use nn.mlp for static inputs only",
        ),
        (
            "nn.mlp",
            NNSpec(0, 0, 0, NS),
            "nn.mlp: 5 static outputs need static inputs (n_static_inputs = 0); "
            "use nn.lstm to derive static outputs from dynamic inputs",
        ),
        (
            "nn.mlp",
            NNSpec(F, 0, ND, NS),
            "nn.mlp: 5 static outputs need static inputs (n_static_inputs = 0); "
            "use nn.lstm to derive static outputs from dynamic inputs",
        ),
        (
            "nn.lstm_mlp",
            NNSpec(F, 0, ND, NS),
            "nn.lstm_mlp: 5 static outputs need static inputs for the MLP (n_static_inputs = 0); "
            "use nn.lstm to derive static outputs from dynamic inputs",
        ),
    ],
)
def test_spec_error_messages(name: str, spec: NNSpec, message: str) -> None:
    with pytest.raises(NNSpecError) as err:
        BUILDERS[name](spec)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("cls", "config", "message"),
    [
        (LSTMNet, MLPConfig(), "nn.lstm: config must be an LSTMConfig, got MLPConfig"),
        (MLPNet, LSTMConfig(), "nn.mlp: config must be an MLPConfig, got LSTMConfig"),
        (LSTMMLPNet, LSTMConfig(), "nn.lstm_mlp: config must be an LSTMMLPConfig, got LSTMConfig"),
    ],
)
def test_wrong_config_class_is_a_type_error(cls: type, config: object, message: str) -> None:
    with pytest.raises(TypeError) as err:
        cls(FULL, config)
    assert str(err.value) == message


@pytest.mark.parametrize("cls", [LSTMNet, MLPNet, LSTMMLPNet])
def test_config_none_means_defaults(cls: type) -> None:
    net = cls(NNSpec(F, G, 1, 1))
    assert net.config == type(net.config)()
    assert net.spec == NNSpec(F, G, 1, 1)


# -- inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_input_errors_name_the_input(name: str) -> None:
    net = BUILDERS[name](FULL)
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    cases = [
        ((None, x_sta), f"{name}: x_dynamic [time, batch, 3] is required, got None"),
        ((x_dyn, None), f"{name}: x_static [batch, 2] is required, got None"),
        ((x_dyn[..., :2], x_sta), f"{name}: x_dynamic must be [time, batch, 3], got shape (6, 4, 2)"),
        ((x_dyn[0], x_sta), f"{name}: x_dynamic must be [time, batch, 3], got shape (4, 3)"),
        ((x_dyn, x_sta[None]), f"{name}: x_static must be [batch, 2], got shape (1, 4, 2)"),
        ((x_dyn[:0], x_sta), f"{name}: x_dynamic has no time steps"),
        ((x_dyn, x_sta[:3]), f"{name}: batch sizes differ: x_dynamic (6, 4, 3), x_static (3, 2)"),
    ]
    for args, message in cases:
        with pytest.raises(NNInputError) as err:
            net(*args)
        assert str(err.value) == message


def test_input_not_in_spec_is_rejected_but_zero_width_counts_as_absent() -> None:
    spec = NNSpec(F, 0, ND, 0)
    net = lstm(spec).eval()
    x_dyn, _ = inputs(spec)
    with pytest.raises(NNInputError) as err:
        net(x_dyn, torch.zeros(B, 2))
    assert str(err.value) == (
        "nn.lstm: got x_static of shape (4, 2) but the spec declares no static inputs"
    )
    torch.testing.assert_close(net(x_dyn, torch.zeros(B, 0)).dynamic, net(x_dyn, None).dynamic)


# -- output range ---------------------------------------------------------------------------
def _amplify(net: torch.nn.Module, factor: float = 50.0) -> None:
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(factor).add_(torch.randn_like(p) * factor)


@pytest.mark.parametrize("activation", ["sigmoid", "hardsigmoid", "clamp"])
@pytest.mark.parametrize("name", NAMES)
def test_unit_range_holds_for_extreme_raw_values(name: str, activation: str) -> None:
    torch.manual_seed(1)
    net = BUILDERS[name](FULL, output_activation=activation).eval()
    _amplify(net)
    x_dyn, x_sta = inputs(FULL)
    out = net(x_dyn * 10, x_sta * 10)
    for part in (out.dynamic, out.static):
        assert part is not None
        assert ((part >= 0) & (part <= 1)).all()
        # the raw values are large, so the activation must have saturated at both ends
        assert part.min() < 0.01 and part.max() > 0.99


@pytest.mark.parametrize("name", NAMES)
def test_unbounded_range_is_identity(name: str) -> None:
    torch.manual_seed(1)
    unit = BUILDERS[name](FULL).eval()
    raw = BUILDERS[name](NNSpec(F, G, ND, NS, output_range="unbounded")).eval()
    _amplify(unit)
    raw.load_state_dict(unit.state_dict())
    x_dyn, x_sta = inputs(FULL)
    u, r = unit(x_dyn, x_sta), raw(x_dyn, x_sta)
    assert u.dynamic is not None and r.dynamic is not None and u.static is not None and r.static is not None
    assert r.dynamic.min() < 0 and r.dynamic.max() > 1 and r.static.min() < 0 and r.static.max() > 1
    torch.testing.assert_close(u.dynamic, torch.sigmoid(r.dynamic))
    torch.testing.assert_close(u.static, torch.sigmoid(r.static))


def test_squash_functions() -> None:
    raw = torch.tensor([-4.0, -1.5, 0.0, 0.5, 1.5, 4.0])
    unit, free = NNSpec(1, 0, 1), NNSpec(1, 0, 1, output_range="unbounded")
    torch.testing.assert_close(squash(raw, unit, "sigmoid"), torch.sigmoid(raw))
    hard = torch.tensor([0.0, 0.25, 0.5, 7 / 12, 0.75, 1.0])
    torch.testing.assert_close(squash(raw, unit, "hardsigmoid"), hard)
    torch.testing.assert_close(squash(raw, unit, "clamp"), torch.tensor([0.0, 0.0, 0.0, 0.5, 1.0, 1.0]))
    for activation in ("sigmoid", "hardsigmoid", "clamp"):
        assert squash(raw, free, activation) is raw


def test_lstm_mlp_uses_each_parts_output_activation() -> None:
    config = LSTMMLPConfig(
        lstm=LSTMConfig(hidden_size=H, output_activation="clamp"),
        mlp=MLPConfig(hidden_size=H, output_activation="hardsigmoid"),
    )
    net = LSTMMLPNet(FULL, config)
    raw = torch.tensor([-0.6, 0.3, 1.2])
    torch.testing.assert_close(net.squash(raw, "dynamic"), torch.tensor([0.0, 0.3, 1.0]))
    torch.testing.assert_close(net.squash(raw, "static"), torch.tensor([0.4, 0.55, 0.7]))
    # and forward applies them: compare with the raw outputs of an unbounded twin
    torch.manual_seed(2)
    _amplify(net, 2.0)
    twin = LSTMMLPNet(NNSpec(F, G, ND, NS, output_range="unbounded"), config)
    twin.load_state_dict(net.state_dict())
    x_dyn, x_sta = inputs(FULL)
    out, free = net.eval()(x_dyn, x_sta), twin.eval()(x_dyn, x_sta)
    assert out.dynamic is not None and free.dynamic is not None
    assert out.static is not None and free.static is not None
    torch.testing.assert_close(out.dynamic, free.dynamic.clamp(0, 1))
    torch.testing.assert_close(out.static, torch.nn.functional.hardsigmoid(free.static))
    assert not torch.allclose(free.static.clamp(0, 1), torch.nn.functional.hardsigmoid(free.static))


# -- where outputs come from ------------------------------------------------------------------
def test_lstm_static_outputs_come_from_the_last_time_step() -> None:
    torch.manual_seed(3)
    spec = NNSpec(F, G, ND, ND)
    net = LSTMNet(spec, LSTMConfig(hidden_size=H, dropout=0.0)).eval()
    assert net.static_head is not None and net.dynamic_head is not None
    net.static_head.load_state_dict(net.dynamic_head.state_dict())
    x_dyn, x_sta = inputs(spec)
    out = net(x_dyn, x_sta)
    assert out.dynamic is not None and out.static is not None
    torch.testing.assert_close(out.static, out.dynamic[-1])
    assert not torch.allclose(out.static, out.dynamic[-2])


@pytest.mark.parametrize("name", ["nn.lstm", "nn.lstm_mlp"])
def test_lstm_is_causal_and_reads_static_inputs(name: str) -> None:
    torch.manual_seed(4)
    net = BUILDERS[name](FULL, dropout=0.0).eval()
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    full = net(x_dyn, x_sta).dynamic
    prefix = net(x_dyn[:3], x_sta).dynamic
    assert full is not None and prefix is not None
    torch.testing.assert_close(full[:3], prefix)
    other = net(x_dyn, x_sta + 1.0).dynamic
    assert other is not None and not torch.allclose(other, full)


def test_mlp_dynamic_outputs_are_per_step_and_read_static_inputs() -> None:
    torch.manual_seed(5)
    net = mlp(FULL).eval()
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    out = net(x_dyn, x_sta)
    perm = torch.randperm(T)
    shuffled = net(x_dyn[perm], x_sta)
    assert out.dynamic is not None and shuffled.dynamic is not None
    torch.testing.assert_close(shuffled.dynamic, out.dynamic[perm])
    other = net(x_dyn, x_sta + 1.0)
    assert other.dynamic is not None and not torch.allclose(other.dynamic, out.dynamic)


@pytest.mark.parametrize("name", ["nn.mlp", "nn.lstm_mlp"])
def test_static_outputs_depend_on_static_inputs_only(name: str) -> None:
    torch.manual_seed(6)
    net = BUILDERS[name](FULL).eval()
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    a = net(x_dyn, x_sta).static
    b = net(torch.randn_like(x_dyn), x_sta).static
    c = net(x_dyn, x_sta + 1.0).static
    assert a is not None and b is not None and c is not None
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_lstm_mlp_builds_only_the_parts_it_needs() -> None:
    static_only = lstm_mlp(NNSpec(F, G, 0, NS))
    assert static_only.encoder is None and static_only.dynamic_head is None
    assert static_only.static_net is not None
    dynamic_only = lstm_mlp(NNSpec(F, G, ND, 0))
    assert dynamic_only.static_net is None and dynamic_only.encoder is not None


# -- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "spec"), VALID, ids=[f"{n}-{spec_id(s)}" for n, s in VALID])
def test_gradients_reach_every_parameter(name: str, spec: NNSpec) -> None:
    torch.manual_seed(7)
    net = BUILDERS[name](spec, dropout=0.0).train()
    out = net(*inputs(spec))
    loss = sum(
        (part * torch.randn_like(part)).sum() for part in (out.dynamic, out.static) if part is not None
    )
    loss.backward()  # type: ignore[union-attr]
    names = [n for n, _ in net.named_parameters()]
    assert names
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert p.grad.abs().sum() > 0, f"{pname} got a zero gradient"


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_the_inputs(name: str) -> None:
    net = BUILDERS[name](FULL, dropout=0.0)
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    x_dyn.requires_grad_(True)
    x_sta.requires_grad_(True)
    out = net(x_dyn, x_sta)
    assert out.dynamic is not None and out.static is not None
    (out.dynamic.sum() + out.static.sum()).backward()
    assert x_dyn.grad is not None and x_dyn.grad.abs().sum() > 0
    assert x_sta.grad is not None and x_sta.grad.abs().sum() > 0


# -- determinism and dropout -------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_network_and_outputs(name: str) -> None:
    def run(seed: int) -> tuple[dict[str, torch.Tensor], NNOutput]:
        torch.manual_seed(seed)
        net = BUILDERS[name](FULL, dropout=0.3).train()
        return net.state_dict(), net(*inputs(FULL))

    (sd_a, out_a), (sd_b, out_b), (sd_c, _) = run(11), run(11), run(12)
    assert sd_a.keys() == sd_b.keys()
    for key in sd_a:
        assert torch.equal(sd_a[key], sd_b[key]), key
    assert out_a.dynamic is not None and out_b.dynamic is not None
    assert torch.equal(out_a.dynamic, out_b.dynamic)
    assert out_a.static is not None and out_b.static is not None
    assert torch.equal(out_a.static, out_b.static)
    assert any(not torch.equal(sd_a[k], sd_c[k]) for k in sd_a)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("nn.lstm", {"dropout": 0.5}),
        ("nn.lstm", {"dropout": 0.0, "input_dropout": 0.5}),
        ("nn.lstm", {"dropout": 0.5, "num_layers": 2}),
        ("nn.mlp", {"dropout": 0.5}),
        ("nn.lstm_mlp", {"dropout": 0.5}),
    ],
)
def test_dropout_is_active_only_in_train_mode(name: str, kw: dict[str, object]) -> None:
    torch.manual_seed(8)
    net = BUILDERS[name](FULL, **kw)
    x_dyn, x_sta = inputs(FULL)

    def both(out: NNOutput) -> torch.Tensor:
        assert out.dynamic is not None and out.static is not None
        return torch.cat([out.dynamic.flatten(), out.static.flatten()])

    net.train()
    assert not torch.equal(both(net(x_dyn, x_sta)), both(net(x_dyn, x_sta)))
    net.eval()
    assert torch.equal(both(net(x_dyn, x_sta)), both(net(x_dyn, x_sta)))


@pytest.mark.parametrize("name", NAMES)
def test_no_dropout_means_train_mode_is_deterministic(name: str) -> None:
    net = BUILDERS[name](FULL, dropout=0.0).train()
    x_dyn, x_sta = inputs(FULL)
    a, b = net(x_dyn, x_sta), net(x_dyn, x_sta)
    assert a.dynamic is not None and b.dynamic is not None and torch.equal(a.dynamic, b.dynamic)


def test_lstm_dropout_between_layers_only_when_stacked() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns about dropout on a single-layer LSTM
        one = LSTMNet(FULL, LSTMConfig(hidden_size=H, num_layers=1, dropout=0.4))
    two = LSTMNet(FULL, LSTMConfig(hidden_size=H, num_layers=2, dropout=0.4))
    assert one.encoder.lstm.dropout == 0.0 and one.encoder.output_dropout.p == 0.4
    assert two.encoder.lstm.dropout == 0.4 and two.encoder.lstm.num_layers == 2


# -- initialisation ---------------------------------------------------------------------------
@pytest.mark.parametrize("forget_bias", [1.0, 2.5, -0.5])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_lstm_forget_gate_bias(forget_bias: float, num_layers: int) -> None:
    torch.manual_seed(9)
    net = LSTMNet(FULL, LSTMConfig(hidden_size=H, num_layers=num_layers, forget_bias=forget_bias))
    lstm = net.encoder.lstm
    for k in range(num_layers):
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}"), getattr(lstm, f"bias_hh_l{k}")
        effective = (b_ih + b_hh).detach()
        torch.testing.assert_close(effective[H : 2 * H], torch.full((H,), forget_bias))  # forget gate
        assert torch.equal(effective[:H], torch.zeros(H))  # input gate
        assert torch.equal(effective[2 * H :], torch.zeros(2 * H))  # cell and output gates
        bound = 1 / math.sqrt(H)
        for wname in (f"weight_ih_l{k}", f"weight_hh_l{k}"):
            w = getattr(lstm, wname)
            assert w.abs().max() <= bound and w.std() > bound / 4  # PyTorch's default uniform


def test_lstm_forget_bias_none_keeps_pytorch_default() -> None:
    torch.manual_seed(10)
    net = LSTMNet(FULL, LSTMConfig(hidden_size=H, forget_bias=None))
    bound = 1 / math.sqrt(H)
    for b in (net.encoder.lstm.bias_ih_l0, net.encoder.lstm.bias_hh_l0):
        assert b.abs().max() <= bound and b.std() > bound / 4


def _linears(net: torch.nn.Module) -> list[torch.nn.Linear]:
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("name", NAMES)
def test_linear_layers_are_xavier_uniform_with_zero_bias(name: str) -> None:
    torch.manual_seed(11)
    net = BUILDERS[name](NNSpec(F, G, 40, 40), linear_init="xavier_uniform")
    layers = _linears(net)
    assert len(layers) >= 3
    for layer in layers:
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        assert layer.weight.abs().max() <= bound
        # Xavier-uniform has std bound / sqrt(3); PyTorch's default would be much narrower here
        assert layer.weight.std() > 0.6 * bound / math.sqrt(3)


@pytest.mark.parametrize("name", NAMES)
def test_torch_default_linear_init(name: str) -> None:
    torch.manual_seed(12)
    net = BUILDERS[name](NNSpec(F, G, 40, 40), linear_init="torch_default")
    for layer in _linears(net):
        bound = 1 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound
        assert layer.bias.abs().max() <= bound and layer.bias.abs().sum() > 0


def test_fresh_network_outputs_sit_mid_range() -> None:
    # Xavier heads with zero bias: a fresh network starts near the middle of every bound
    torch.manual_seed(13)
    for name in NAMES:
        out = BUILDERS[name](FULL).eval()(*inputs(FULL))
        for part in (out.dynamic, out.static):
            assert part is not None and 0.2 < part.mean() < 0.8


def test_input_layer_is_optional() -> None:
    with_layer = LSTMNet(FULL, LSTMConfig(hidden_size=H, input_layer=True))
    without = LSTMNet(FULL, LSTMConfig(hidden_size=H, input_layer=False))
    assert with_layer.encoder.lstm.input_size == H
    assert without.encoder.lstm.input_size == F + G
    assert len(_linears(without.encoder)) == 0
    out = without.eval()(*inputs(FULL))
    assert out.dynamic is not None and out.dynamic.shape == (T, B, ND)


# -- devices and dtypes -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_constructor_places_nothing_on_a_device_and_follows_to(name: str) -> None:
    net = BUILDERS[name](FULL)
    assert {p.device.type for p in net.parameters()} == {"cpu"}
    net = net.to(torch.float64).eval()
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    out = net(x_dyn.double(), x_sta.double())
    assert out.dynamic is not None and out.dynamic.dtype == torch.float64
    assert out.static is not None and out.static.dtype == torch.float64


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name: str) -> None:
    torch.manual_seed(14)
    net = BUILDERS[name](FULL).eval()
    x_dyn, x_sta = inputs(FULL)
    assert x_dyn is not None and x_sta is not None
    cpu = net(x_dyn, x_sta)
    gpu_net = net.to("cuda")
    gpu = gpu_net(x_dyn.cuda(), x_sta.cuda())
    assert gpu.dynamic is not None and cpu.dynamic is not None
    assert gpu.static is not None and cpu.static is not None
    torch.testing.assert_close(gpu.dynamic.cpu(), cpu.dynamic, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(gpu.static.cpu(), cpu.static, atol=1e-5, rtol=1e-4)
