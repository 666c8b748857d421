"""ODE sampling and likelihood: the exact divergence is the Jacobian trace, a linear flow has the analytic
density, Hutchinson is the probe's quadratic form, and forward then backward integration returns the start."""

from __future__ import annotations

import math

import torch

from baselines.ecnf.egnn import EGNNVectorField
from baselines.ecnf.ode import (SolverSettings, exact_divergence, hutchinson_divergence, integrate, log_prob,
                                mean_free_normal, sample)
from baselines.toolkit.coordinates import centre
from tests.ecnf.helpers import lively

N = 5


def tiny_field() -> tuple[EGNNVectorField, torch.Tensor]:
    torch.manual_seed(0)
    net = lively(EGNNVectorField(4, 8, 2)).double()
    feats = torch.eye(3, dtype=torch.float64)[[0, 1, 1, 2, 0]][None]
    return net, feats


def brute_force_jacobians(f, x: torch.Tensor) -> torch.Tensor:
    """(B, 3N, 3N) per-sample Jacobians with torch.autograd.functional.jacobian, one sample at a time."""
    return torch.stack([torch.autograd.functional.jacobian(lambda y: f(y.reshape(1, N, 3)).reshape(-1), xi.reshape(-1))
                        for xi in x])


def test_exact_divergence_is_the_trace_of_the_autograd_jacobian():
    net, feats = tiny_field()
    t = torch.tensor(0.37, dtype=torch.float64)
    x = torch.randn(3, N, 3, dtype=torch.float64, requires_grad=True)
    div = exact_divergence(net(t, x, feats), x)
    jac = brute_force_jacobians(lambda y: net(t, y, feats), x.detach())
    trace = jac.diagonal(dim1=-2, dim2=-1).sum(-1)
    assert trace.abs().max() > 1e-2
    assert torch.allclose(div, trace, atol=1e-10)


def test_hutchinson_divergence_is_the_probe_quadratic_form_of_the_jacobian():
    net, feats = tiny_field()
    t = torch.tensor(0.6, dtype=torch.float64)
    x = torch.randn(2, N, 3, dtype=torch.float64, requires_grad=True)
    probe = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(3)).double() * 2 - 1
    est = hutchinson_divergence(net(t, x, feats), x, probe)
    jac = brute_force_jacobians(lambda y: net(t, y, feats), x.detach())
    p = probe.reshape(2, -1)
    assert torch.allclose(est, torch.einsum("bi,bij,bj->b", p, jac, p), atol=1e-10)


def test_a_linear_flow_has_the_analytic_density():
    # v(x) = centre(x) M^T: x(1) = z expm(M)^T for centred z, and on the CoM-free subspace the
    # divergence is (N - 1) tr M, so log q(x) = log N_{3N-3}(z) - (N - 1) tr M.
    m = torch.tensor([[0.3, -0.5, 0.1], [0.4, -0.2, 0.0], [0.2, 0.3, 0.6]], dtype=torch.float64)

    def field(t, x):
        return centre(x) @ m.T

    settings = SolverSettings(atol=1e-9, rtol=1e-9)
    z = mean_free_normal(4, N, torch.Generator().manual_seed(1), dtype=torch.float64)
    x, lq, nfe = sample(field, z, settings)
    expected_x = z @ torch.linalg.matrix_exp(m).T
    analytic = (-0.5 * (z * z).sum((1, 2)) - 0.5 * 3 * (N - 1) * math.log(2 * math.pi)
                - (N - 1) * torch.trace(m))
    assert nfe > 0
    assert torch.allclose(x, expected_x, atol=1e-7)
    assert torch.allclose(lq, analytic, atol=1e-7)
    back, _ = log_prob(field, expected_x, settings)
    assert torch.allclose(back, analytic, atol=1e-7)


def test_forward_then_backward_integration_returns_the_start():
    net, feats = tiny_field()
    settings = SolverSettings(atol=1e-5, rtol=1e-5)
    z = mean_free_normal(3, N, torch.Generator().manual_seed(2), dtype=torch.float64)
    field = lambda t, x: net(t, x, feats)  # noqa: E731
    x, lq, _ = sample(field, z, settings)
    assert (x - z).abs().max() > 1e-2
    back = integrate(field, x, 1.0, 0.0, settings)
    assert torch.allclose(back.x, z, atol=1e-4)
    lq_back, _ = log_prob(field, x, settings)
    assert torch.allclose(lq_back, lq, atol=1e-4)


def test_log_prob_is_differentiable_and_matches_finite_differences():
    net, feats = tiny_field()
    settings = SolverSettings(method="rk4", step_size=0.25)
    field = lambda t, x: net(t, x, feats)  # noqa: E731
    x = centre(torch.randn(1, N, 3, dtype=torch.float64)).requires_grad_(True)
    (grad,) = torch.autograd.grad(log_prob(field, x, settings)[0].sum(), x)
    d = centre(torch.randn(1, N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5)))
    eps = 1e-5
    with torch.no_grad():
        fd = (log_prob(field, x + eps * d, settings)[0] - log_prob(field, x - eps * d, settings)[0]) / (2 * eps)
    assert torch.allclose((grad * d).sum(), fd.sum(), rtol=1e-5, atol=1e-7)
