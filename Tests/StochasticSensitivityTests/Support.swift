// Models of the SDE gradient tests.
import DiffEqCore
import Sensitivity
import StochasticDE

/// Geometric Brownian motion `du = μu dt + σu dW`, `p = [μ, σ]` (the GBM: μ = 1.01,
/// σ = 0.87, u0 = 1/2 on [0, 1]); multiplicative noise whose diffusion depends on `p`.
struct GBMModel: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
}

/// Lotka-Volterra with diagonal multiplicative noise, `p = [α, β, γ, δ, σ₁, σ₂]`:
/// `dx = (αx − βxy) dt + σ₁x dW₁`, `dy = (δxy − γy) dt + σ₂y dW₂`.
struct NoisyLotkaVolterra: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = p[3] * u[0] * u[1] - p[2] * u[1]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = p[4] * u[0]
        g[1] = p[5] * u[1]
    }
}

/// `g(u, t) = Σ u_i²` at every observation.
struct SquaresLoss: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        var s = S.zero
        for x in u { s += x * x }
        return s
    }
}

func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in a.indices {
        num = max(num, abs(a[i] - b[i]))
        den = max(den, abs(b[i]))
    }
    return num / den
}

/// Two states, one Wiener process whose coefficients cross-couple the states (`g₀` depends on
/// `u₁`), `p = [a, b, σ₁, σ₂]`: the Itô correction's off-diagonal terms `Σ_k ∂g_i/∂u_k g_k`.
struct CrossCoupledScalarNoise: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[1] - p[0] * u[0]
        du[1] = -p[1] * u[1] * u[0]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = p[2] * u[1]
        g[1] = p[3] * u[0] * u[1]
    }
}

/// Two states, two Wiener processes, a full noise-rate matrix (column-major), `p = [a, σ₁, σ₂, σ₃]`.
struct GeneralNoiseModel: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0] + u[1]
        du[1] = -u[1]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = p[1] * u[0]
        g[1] = p[3]
        g[2] = p[2]
        g[3] = p[1] * u[1]
    }
}

/// Central differences of `loss(u0, p)` at the problem's `u0`, `p` (step 1e-6 relative to each
/// component): `∂/∂p` then `∂/∂u0`, as `SensitivityResult`'s `dp + du0`.
func centralDifferences<F: SDEFunction>(
    _ prob: SDEProblem<F>, _ loss: ([Double], [Double]) throws -> Double
) rethrows -> [Double] where F.Scalar == Double {
    var fd = [Double]()
    for k in prob.p.indices {
        var a = prob.p, b = prob.p
        let eps = 1e-6 * abs(prob.p[k])
        a[k] += eps
        b[k] -= eps
        fd.append((try loss(prob.u0, a) - loss(prob.u0, b)) / (2 * eps))
    }
    for i in prob.u0.indices {
        var a = prob.u0, b = prob.u0
        let eps = 1e-6 * abs(prob.u0[i])
        a[i] += eps
        b[i] -= eps
        fd.append((try loss(a, prob.p) - loss(b, prob.p)) / (2 * eps))
    }
    return fd
}
