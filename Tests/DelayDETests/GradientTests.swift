import DiffEqCore
import ExplicitRK
import Foundation
import Testing

@testable import DelayDE

/// Hutchinson's delayed logistic equation u' = r·u·(1 − u(t − τ)/K), history φ (Hutchinson
/// 1948; the setting r = 1.8, K = 1, τ = 1, φ = 0.5, t ∈ [0, 10]). p = [r, K, τ, φ]:
/// the lag is a parameter (`constantLagParameters: [2]`) and so is the history.
struct Hutchinson: DDEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] * (1 - h(p, t - p[2], idxs: 0) / p[1])
    }
    func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S) { out[0] = p[3] }
}

/// The seed's delay Lotka-Volterra (DiffEqFlux's "delay_lotka_volterra"): du₁ = (α − βu₂)·u₁(t − τ),
/// du₂ = (δu₁ − γ)u₂, φ = (1, 1); p = [α, β, δ, γ, τ].
struct DelayLotkaVolterra: DDEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
        du[0] = (p[0] - p[1] * u[1]) * h(p, t - p[4], idxs: 0)
        du[1] = (p[2] * u[0] - p[3]) * u[1]
    }
    func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S) {
        out[0] = 1
        out[1] = 1
    }
}

/// Central differences of `g`, Richardson-extrapolated over δ and δ/2 (error O(δ⁴)), δ = 1e-3·max(1, |x_i|).
func centralDifferences(_ x: [Double], _ g: ([Double]) throws -> Double) rethrows -> [Double] {
    try x.indices.map { i in
        func d(_ delta: Double) throws -> Double {
            var a = x, b = x
            a[i] += delta
            b[i] -= delta
            return (try g(a) - g(b)) / (2 * delta)
        }
        let delta = 1e-3 * max(1, abs(x[i]))
        return (4 * (try d(delta / 2)) - (try d(delta))) / 3
    }
}

@Suite struct DDEGradientTests {
    /// ∂u(10)/∂(r, K, τ, φ, u0) from duals through MethodOfSteps(Vern9()) against converged
    /// central differences, 1e-6 relative. τ moves the propagated discontinuities τ, 2τ, …: the
    /// duals differentiate `u(t − τ)` through its time (`−u'(t − τ)`), read on the side of each
    /// discontinuity the stage lies on.
    @Test func hutchinsonForwardModeMatchesCentralDifferences() throws {
        let x = [1.8, 1.0, 1.0, 0.5, 0.5]
        func end(_ x: [Double]) throws -> Double {
            let prob = DDEProblem(
                model: Hutchinson(), u0: [x[4]], tspan: (0, 10), p: Array(x[0..<4]), constantLagParameters: [2])
            let sol = try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12, saveEverystep: false)
            return sol.u.last![0]
        }
        let fd = try centralDifferences(x, end)
        typealias D = Dual<5, Double>
        let p = (0..<4).map { D(x[$0], seed: $0) }
        let prob = DDEProblem(model: Hutchinson(), u0: [D(x[4], seed: 4)], tspan: (0, 10), p: p, constantLagParameters: [2])
        let sol = try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12, saveEverystep: false)
        #expect(sol.retcode == .success)
        let end = sol.u.last![0]
        #expect(abs(end.value - (try DDEGradientTests.hutchinsonEnd())) < 1e-9)
        for i in 0..<5 {
            let ad = end.partials[i]
            #expect(abs(ad - fd[i]) <= 1e-6 * max(abs(fd[i]), 1e-3), "∂u(10)/∂x[\(i)]: forward \(ad), differences \(fd[i])")
        }
    }

    static func hutchinsonEnd() throws -> Double {
        let prob = DDEProblem(model: Hutchinson(), u0: [0.5], tspan: (0, 10), p: [1.8, 1.0, 1.0, 0.5], constantLagParameters: [2])
        return try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12).u.last![0]
    }

    /// The loss of the seed's fit, Σ_k (u₁(t_k) − 1)² on t_k = 0, 0.1, …, 10, and its gradient with
    /// respect to (α, β, δ, γ, τ) at the fit's start p = [2.2, 1.0, 2.0, 0.4], τ = 0.1.
    @Test func delayLotkaVolterraLossGradient() throws {
        let x = [2.2, 1.0, 2.0, 0.4, 0.1]
        func loss(_ x: [Double]) throws -> Double {
            let prob = DDEProblem(model: DelayLotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: x, constantLagParameters: [4])
            let sol = try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12, saveat: .every(0.1))
            return sol.u.reduce(0) { $0 + ($1[0] - 1) * ($1[0] - 1) }
        }
        let fd = try centralDifferences(x, loss)
        typealias D = Dual<5, Double>
        let p = (0..<5).map { D(x[$0], seed: $0) }
        let prob = DDEProblem(model: DelayLotkaVolterra(), u0: [D(1.0), D(1.0)], tspan: (0, 10), p: p, constantLagParameters: [4])
        let sol = try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12, saveat: .every(0.1))
        #expect(sol.retcode == .success)
        #expect(sol.u.count == 101)
        let l = sol.u.reduce(D(0)) { $0 + ($1[0] - 1) * ($1[0] - 1) }
        #expect(abs(l.value - (try loss(x))) < 1e-8)
        for i in 0..<5 {
            #expect(abs(l.partials[i] - fd[i]) <= 1e-6 * abs(fd[i]), "∂L/∂x[\(i)]: forward \(l.partials[i]), differences \(fd[i])")
        }
    }
}
