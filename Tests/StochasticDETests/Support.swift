// Shared test support: the fixed-step driver (the product's adaptive `solve` joins the shared
// integrator loop of issue #15; until then the kernels are driven here), the analytic test
// problems of the issue, and the Kolmogorov–Smirnov statistic.
import DiffEqCore
import Foundation
import StochasticDE

/// Integrates `prob` over its span with `steps` equal steps, drawing the increments from `noise`.
func integrateFixed<F: SDEFunction, N: NoiseProcess>(
    _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, noise: inout N, steps: Int
) throws -> [F.Scalar] {
    var stepper = try SDEStepper(problem: prob, algorithm: alg)
    try stepper.check(noise)
    let times = fixedStepTimes(prob.tspan, steps: steps)
    var u = prob.u0
    var dW = [Double](repeating: 0, count: prob.wienerCount)
    var dZ = [Double](repeating: 0, count: noise.hasAuxiliary ? prob.wienerCount : 0)
    for k in 0..<steps {
        let ta = times[k]
        let tb = times[k + 1]
        try noise.increment(to: tb, &dW, &dZ)
        try stepper.step(&u, t: ta, dt: tb - ta, dW: dW, dZ: dZ)
        try noise.accept()
    }
    return u
}

/// The step ends of `integrateFixed`: `t0 + k h`, the last one exactly `t1`.
func fixedStepTimes(_ span: (Double, Double), steps: Int) -> [Double] {
    let h = (span.1 - span.0) / Double(steps)
    return (0...steps).map { $0 == steps ? span.1 : span.0 + Double($0) * h }
}

/// Kolmogorov–Smirnov statistic of a sample against the standard normal CDF.
func ksStatistic(_ sample: [Double]) -> Double {
    let xs = sample.sorted()
    let n = Double(xs.count)
    var d = 0.0
    for (i, x) in xs.enumerated() {
        let f = 0.5 * erfc(-x / 2.0.squareRoot())
        d = max(d, abs(f - Double(i) / n), abs(Double(i + 1) / n - f))
    }
    return d
}

/// Asymptotic critical value of the one-sample KS statistic at level 0.001:
/// `√(−ln(α/2)/2)/√n` (Smirnov's limit law).
func ksCritical(_ n: Int) -> Double { (-Foundation.log(0.0005) / 2).squareRoot() / Double(n).squareRoot() }

/// Least-squares slope of log2(error) against log2(dt).
func fittedOrder(dts: [Double], errors: [Double]) -> Double {
    let x = dts.map { Foundation.log2($0) }
    let y = errors.map { Foundation.log2($0) }
    let mx = x.reduce(0, +) / Double(x.count)
    let my = y.reduce(0, +) / Double(y.count)
    var sxy = 0.0
    var sxx = 0.0
    for i in x.indices {
        sxy += (x[i] - mx) * (y[i] - my)
        sxx += (x[i] - mx) * (x[i] - mx)
    }
    return sxy / sxx
}

// MARK: The analytic problems of issue #17 (StochasticDiffEq's DiffEqProblemLibrary uses the same).

/// Geometric Brownian motion `du = μ u dt + σ u dW`, `u0 = 1/2` on [0, 1], μ = 1.01, σ = 0.87.
/// Itô solution `u0 exp((μ − σ²/2) t + σ W)`, Stratonovich `u0 exp(μ t + σ W)`.
struct GBM: SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { du[i] = p[0] * u[i] }
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { g[i] = p[1] * u[i] }
    }
    static let mu = 1.01, sigma = 0.87, u0 = 0.5
    static func ito(_ w: Double, u0: Double = u0, t: Double = 1) -> Double {
        u0 * Foundation.exp((mu - sigma * sigma / 2) * t + sigma * w)
    }
    static func stratonovich(_ w: Double, u0: Double = u0, t: Double = 1) -> Double { u0 * Foundation.exp(mu * t + sigma * w) }
}

/// The cubic `du = −¼ u (1 − u²) dt + ½ (1 − u²) dW` (Itô), u0 = 1/2, solution
/// `((1 + u0) e^W + u0 − 1)/((1 + u0) e^W + 1 − u0)`.
struct Cubic: SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = S(-0.25) * u[0] * (S(1.0) - u[0] * u[0])
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(0.5) * (S(1.0) - u[0] * u[0])
    }
    static let u0 = 0.5
    static func exact(_ w: Double) -> Double {
        let e = Foundation.exp(w)
        return ((1 + u0) * e + u0 - 1) / ((1 + u0) * e + 1 - u0)
    }
}

/// The additive problem `du = (β/√(1+t) − u/(2(1+t))) dt + αβ/√(1+t) dW`, α = 0.1, β = 0.05,
/// u0 = 1, solution `u0/√(1+t) + β (t + α W)/√(1+t)`.
struct Additive: SDEModel {
    let alpha: Double, beta: Double
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let s = sqrt(S(1.0) + t)
        du[0] = S(beta) / s - u[0] / (S(2.0) * (S(1.0) + t))
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(alpha * beta) / sqrt(S(1.0) + t)
    }
    func exact(_ w: Double, u0: Double = 1, t: Double = 1) -> Double {
        (u0 + beta * (t + alpha * w)) / (1 + t).squareRoot()
    }
}

/// Two states, three Wiener processes, noise-rate matrix `G[i, j] = b[i][j] u_i` (the matrices
/// `diag(b[·][j])` commute), drift `a_i u_i`. Itô solution
/// `u_i = u0_i exp((a_i − ½ Σ_j b_ij²) t + Σ_j b_ij W_j)`; Stratonovich without the ½ Σ b².
struct CommutingGeneral: SDEModel {
    static let a = [0.4, -0.3]
    static let b = [[0.3, 0.2, 0.1], [0.1, -0.25, 0.35]]
    static let u0 = [1.0, 0.8]
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in 0..<2 { du[i] = S(Self.a[i]) * u[i] }
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for j in 0..<3 { for i in 0..<2 { g[i + 2 * j] = S(Self.b[i][j]) * u[i] } }
    }
    static func exact(_ w: [Double], ito: Bool) -> [Double] {
        (0..<2).map { i in
            let drift = a[i] - (ito ? 0.5 * b[i].reduce(0) { $0 + $1 * $1 } : 0)
            return u0[i] * Foundation.exp(drift + (0..<3).reduce(0) { $0 + b[i][$1] * w[$1] })
        }
    }
}
