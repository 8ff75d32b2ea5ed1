// Duals flow through the kernels of the generic model form: the pathwise derivative of the EM
// solution of GBM with respect to μ, on a fixed path, against the derivative of the EM recursion
// written out by hand and against central differences.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

@Suite struct PathwiseDualTests {
    @Test func emDerivativeWithRespectToTheDrift() throws {
        typealias D = Dual<1, Double>
        let steps = 64
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 4, tolerance: 1.0 / 1024)
        let mu = GBM.mu, sigma = GBM.sigma
        let prob = SDEProblem(model: GBM(), u0: [D(constant: 0.5)], tspan: (0, 1), p: [D(mu, seed: 0), D(constant: sigma)])
        var noise = BrownianTreeNoise(tree)
        let u = try integrateFixed(prob, EM(), noise: &noise, steps: steps)
        // u_N = u0 Π (1 + μ h + σ ΔW_k), so du_N/dμ = u_N Σ h / (1 + μ h + σ ΔW_k).
        var w = [0.0], previous = 0.0
        var product = 0.5, derivative = 0.0
        let h = 1.0 / Double(steps)
        for k in 1...steps {
            try tree.value(at: Double(k) * h, into: &w)
            let factor = 1 + mu * h + sigma * (w[0] - previous)
            previous = w[0]
            product *= factor
            derivative += h / factor
        }
        derivative *= product
        #expect(abs(u[0].value - product) <= 1e-13 * abs(product))
        #expect(abs(u[0].partials[0] - derivative) <= 1e-12 * abs(derivative))
        // Central differences on the same path (Double problems).
        func solve(_ m: Double) throws -> Double {
            var n = BrownianTreeNoise(tree)
            return try integrateFixed(SDEProblem(model: GBM(), u0: [0.5], tspan: (0, 1), p: [m, sigma]), EM(), noise: &n, steps: steps)[0]
        }
        let eps = 1e-6
        let fd = (try solve(mu + eps) - solve(mu - eps)) / (2 * eps)
        #expect(abs(fd - derivative) <= 1e-7 * abs(derivative))
    }

    @Test func sriPassesDualsThrough() throws {
        typealias D = Dual<1, Double>
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 8, tolerance: 1.0 / 1024, auxiliary: true)
        let prob = SDEProblem(model: GBM(), u0: [D(0.5, seed: 0)], tspan: (0, 1), p: [D(constant: GBM.mu), D(constant: GBM.sigma)])
        var noise = BrownianTreeNoise(tree)
        let u = try integrateFixed(prob, SOSRI(), noise: &noise, steps: 128)
        // GBM is linear in u0: du(1)/du0 = u(1)/u0 exactly, for any linear-in-u scheme.
        #expect(abs(u[0].partials[0] - u[0].value / 0.5) <= 1e-13 * abs(u[0].value))
    }
}
