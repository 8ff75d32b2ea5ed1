// The adjoint on scalar and general noise: its gradient and pathwise forward mode converge to
// each other as the step shrinks (Itô problems through the drift correction).
import DiffEqCore
import Foundation
import Sensitivity
import StochasticDE
import StochasticSensitivity
import Testing

@Suite struct SDEAdjointNoiseKindTests {
    /// The mean relative difference between the adjoint and forward mode over 4 seeded paths
    /// at each `dt = 2^-e`.
    static func differences<M: SDEModel>(
        _ prob: SDEProblem<GenericSDE<M, Double>>, _ alg: any SDEAlgorithm, exponents: [Int]
    ) throws -> [Double] {
        var out = [Double](repeating: 0, count: exponents.count)
        let seeds: [UInt64] = [12, 13, 14, 15]
        for seed in seeds {
            let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: prob.wienerCount, seed: seed, tolerance: 0x1p-14)
            for (k, e) in exponents.enumerated() {
                let options = SolveOptions(saveat: .times([0.5, 1]), dt: pow(2, -Double(e)), adaptive: false)
                let adj = try gradient(
                    of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: options, sensealg: SDEBacksolveAdjoint())
                let fwd = try gradient(
                    of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: options, sensealg: SDEForwardDiffSensitivity())
                out[k] += relativeError(adj.dp + adj.du0, fwd.dp + fwd.du0) / Double(seeds.count)
            }
        }
        return out
    }

    /// Scalar noise whose coefficients couple the states (commutative, so order 1 for both
    /// passes): measured mean differences 6.5e-3 … 4.3e-4 (EulerHeun, slope 0.97) and 1.2e-2 …
    /// 7.9e-4 (Itô RKMil, through the cross terms of the correction, slope 1.00) at dt = 2⁻⁶ … 2⁻¹⁰.
    @Test(arguments: [false, true])
    func scalarNoise(ito: Bool) throws {
        let prob = SDEProblem(model: CrossCoupledScalarNoise(), u0: [1, 0.8], tspan: (0, 1), p: [0.5, 0.7, 0.4, 0.6], noise: .scalar)
        let alg: any SDEAlgorithm = ito ? RKMil(interpretation: .ito) : EulerHeun()
        let exponents = [6, 7, 8, 9, 10]
        let d = try Self.differences(prob, alg, exponents: exponents)
        let order = fittedSlope(exponents.map { pow(2, -Double($0)) }, d)
        #expect(abs(order - 1) <= 0.3, "order \(order), differences \(d)")
    }

    /// A full 2 × 2 noise-rate matrix: measured slopes 0.92 (EulerHeun, 8.7e-4 … 7.3e-5) and 0.58
    /// (Itô EM, whose own strong order is ½: 8.1e-2 … 1.4e-2); asserted at least 0.4.
    @Test func generalNoise() throws {
        let prob = SDEProblem(
            model: GeneralNoiseModel(), u0: [1, 0.8], tspan: (0, 1), p: [0.5, 0.4, 0.3, 0.2], noise: .general(wienerProcesses: 2))
        let exponents = [6, 7, 8, 9, 10]
        for (name, alg) in [("EulerHeun", EulerHeun() as any SDEAlgorithm), ("EM", EM() as any SDEAlgorithm)] {
            let d = try Self.differences(prob, alg, exponents: exponents)
            let order = fittedSlope(exponents.map { pow(2, -Double($0)) }, d)
            #expect(order >= 0.4, "\(name): order \(order), differences \(d)")
        }
    }
}

/// A drift that turns NaN once the state passes a threshold.
struct BlowsUp: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[0].primal > 2 ? S(Double.nan) : p[0] * u[0]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
}

@Suite struct SDEGradientInputTests {
    /// `wrt: .parameters` gives the same dL/dp and an empty dL/du0, for both methods.
    @Test func parametersOnly() throws {
        let prob = SDEProblem(model: GBMModel(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 2, tolerance: 0x1p-10)
        let options = SolveOptions(saveat: .every(0.25), dt: 0x1p-6, adaptive: false)
        for sensealg in [SDEBacksolveAdjoint() as any SDESensitivityAlgorithm, SDEForwardDiffSensitivity()] {
            func run(_ inputs: GradientInputs) throws -> SensitivityResult {
                try gradient(of: SquaresLoss(), prob, algorithm: EulerHeun(), noise: tree, options: options, sensealg: sensealg, wrt: inputs)
            }
            let all = try run(.parametersAndInitialState), only = try run(.parameters)
            #expect(only.du0.isEmpty && all.du0.count == 1)
            #expect(only.dp == all.dp && only.loss == all.loss)
        }
    }

    /// NaN from the drift ends the forward solve, and the gradient throws `solveFailed`.
    @Test func nanFromTheModelIsATypedError() throws {
        let prob = SDEProblem(model: BlowsUp(), u0: [1], tspan: (0, 1), p: [3, 0.1])
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 2, tolerance: 0x1p-10)
        let options = SolveOptions(dt: 0x1p-6, adaptive: false)
        for sensealg in [SDEBacksolveAdjoint() as any SDESensitivityAlgorithm, SDEForwardDiffSensitivity()] {
            #expect {
                try gradient(of: SquaresLoss(), prob, algorithm: EulerHeun(), noise: tree, options: options, sensealg: sensealg)
            } throws: { error in
                if case SensitivityError.solveFailed = error { return true }
                return false
            }
        }
    }
}

@Suite struct SDEMeanGradientTests {
    /// The ensemble-mean gradient by the adjoint on GBM: the mean of the paths' closed-form
    /// gradients over 8 seeds, to the adjoint's discretisation error (measured 6.3e-4 relative at
    /// dt = 2⁻¹⁰; asserted below 1e-3), and the loss is the mean of the paths' losses.
    @Test func adjointMeanGradientOnGBM() throws {
        let prob = SDEProblem(model: GBMModel(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])
        let seeds: [UInt64] = Array(20..<28)
        let options = SolveOptions(saveat: .times([0.5, 1]), dt: 0x1p-10, adaptive: false)
        let r = try meanGradient(
            of: SquaresLoss(), prob, algorithm: EulerHeun(), seeds: seeds, treeTolerance: 0x1p-16, options: options,
            sensealg: SDEBacksolveAdjoint())
        var exact = [0.0, 0.0, 0.0]
        var loss = 0.0
        for seed in seeds {
            let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: seed, tolerance: 0x1p-16)
            let g = try gbmExactGradient(tree: tree, times: [0.5, 1], mu: 1.01, sigma: 0.87, u0: 0.5, ito: false)
            for k in 0..<3 { exact[k] += g[k] / Double(seeds.count) }
            let sol = try solve(prob, EulerHeun(), noise: BrownianTreeNoise(tree), options: options)
            loss += sol.u.reduce(0) { $0 + SquaresLoss()($1, 0) } / Double(seeds.count)
        }
        let err = relativeError(r.dp + r.du0, exact)
        #expect(err < 1e-3, "mean gradient \(r.dp + r.du0) vs closed form \(exact): \(err)")
        #expect(abs(r.loss - loss) <= 1e-13 * loss)
        #expect(r.stats.backwardSteps == 8 * 1024)
    }
}
