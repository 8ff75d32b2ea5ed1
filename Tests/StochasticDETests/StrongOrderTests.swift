// Strong order on problems with analytic solutions, by the procedure of StochasticDiffEq.jl's
// test_convergence (DiffEqDevTools): dt = 2⁻², ..., 2⁻¹⁰ on [0, 1], the error at t = 1 against
// the exact solution of the same path, averaged over seeded trajectories, and the least-squares
// slope of log2(error) against log2(dt). Targets (issue #17): EM 0.5 ± 0.2, RKMil 1.0 ± 0.2,
// SRIW1/SOSRI/SRA1/SOSRA 1.5 ± 0.3.
//
// Each trajectory's path is a VirtualBrownianTree (seeded by the trajectory index, tolerance
// 2⁻¹⁰), so every level integrates the same W, and Z for the order-1.5 methods; all step ends are
// dyadic, i.e. tree nodes with exact Brownian values. The exact solution uses that path's W(1).
// Fixed seeds make the test deterministic; 50 trajectories keep it to seconds in debug builds.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

struct StrongOrderCase: CustomTestStringConvertible, Sendable {
    let name: String
    let expected: Double
    let tolerance: Double
    let measure: @Sendable () throws -> (order: Double, errors: [Double])
    var testDescription: String { name }
}

let strongOrderDts = (2...10).map { Foundation.pow(2.0, -Double($0)) }

/// Mean over `trajectories` seeded paths of max_i |u_i(1) − exact_i|, at each dt: each path is a
/// virtual Brownian tree seeded by its index, and `endState(tree, dt)` integrates on it with
/// fixed steps of `dt` (the kernel by hand here, `solve` in SolveTests).
func strongErrors<F: SDEFunction>(
    _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, trajectories: Int = 50,
    exact: ([Double]) -> [Double], endState: (VirtualBrownianTree, Double) throws -> [Double]
) throws -> (order: Double, errors: [Double]) where F.Scalar == Double {
    let m = prob.wienerCount
    let auxiliary = alg.scheme.needsAuxiliaryIncrement
    var errors = [Double](repeating: 0, count: strongOrderDts.count)
    var w1 = [Double](repeating: 0, count: auxiliary ? 2 * m : m)
    for seed in 0..<trajectories {
        let tree = try VirtualBrownianTree(
            t0: 0, t1: 1, dimension: m, seed: UInt64(seed), tolerance: 0x1p-10, auxiliary: auxiliary)
        try tree.value(at: 1, into: &w1)
        let reference = exact(Array(w1[0..<m]))
        for (level, dt) in strongOrderDts.enumerated() {
            let u = try endState(tree, dt)
            errors[level] += zip(u, reference).map { abs($0 - $1) }.max()! / Double(trajectories)
        }
    }
    return (fittedOrder(dts: strongOrderDts, errors: errors), errors)
}

/// ``strongErrors(_:_:trajectories:exact:endState:)`` with the kernel driven by hand.
func strongErrors<F: SDEFunction>(
    _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, trajectories: Int = 50,
    exact: ([Double]) -> [Double]
) throws -> (order: Double, errors: [Double]) where F.Scalar == Double {
    try strongErrors(prob, alg, trajectories: trajectories, exact: exact) { tree, dt in
        var noise = BrownianTreeNoise(tree)
        return try integrateFixed(prob, alg, noise: &noise, steps: Int((1 / dt).rounded()))
    }
}

let gbmParameters = [GBM.mu, GBM.sigma]
let gbmScalarProblem = SDEProblem(model: GBM(), u0: [GBM.u0], tspan: (0, 1), p: gbmParameters)
let gbm4Problem = SDEProblem(model: GBM(), u0: [0.5, 1, 1.5, 2], tspan: (0, 1), p: gbmParameters)
let gbmScalarNoiseProblem = SDEProblem(model: GBM(), u0: [0.5, 2], tspan: (0, 1), p: gbmParameters, noise: .scalar)
let cubicProblem = SDEProblem(model: Cubic(), u0: [Cubic.u0], tspan: (0, 1))
let additiveModel = Additive(alpha: 0.1, beta: 0.05)
let additiveProblem = SDEProblem(model: additiveModel, u0: [1.0], tspan: (0, 1), noise: .additive)
let loudAdditiveModel = Additive(alpha: 10, beta: 0.05)
let loudAdditiveProblem = SDEProblem(model: loudAdditiveModel, u0: [1.0], tspan: (0, 1), noise: .additive)
let generalProblem = SDEProblem(
    model: CommutingGeneral(), u0: CommutingGeneral.u0, tspan: (0, 1), noise: .general(wienerProcesses: 3))

let gbmIto: @Sendable ([Double]) -> [Double] = { [GBM.ito($0[0])] }
let gbmStrat: @Sendable ([Double]) -> [Double] = { [GBM.stratonovich($0[0])] }
let gbm4Ito: @Sendable ([Double]) -> [Double] = { w in (0..<4).map { GBM.ito(w[$0], u0: [0.5, 1, 1.5, 2][$0]) } }
let gbmScalarNoiseIto: @Sendable ([Double]) -> [Double] = { w in [GBM.ito(w[0], u0: 0.5), GBM.ito(w[0], u0: 2)] }
let cubicExact: @Sendable ([Double]) -> [Double] = { [Cubic.exact($0[0])] }
let additiveExact: @Sendable ([Double]) -> [Double] = { [additiveModel.exact($0[0])] }
let loudAdditiveExact: @Sendable ([Double]) -> [Double] = { [loudAdditiveModel.exact($0[0])] }

let strongOrderCases: [StrongOrderCase] = [
    .init(name: "EM, GBM (Itô)", expected: 0.5, tolerance: 0.2) { try strongErrors(gbmScalarProblem, EM(), exact: gbmIto) },
    .init(name: "EM, cubic", expected: 0.5, tolerance: 0.2) { try strongErrors(cubicProblem, EM(), exact: cubicExact) },
    .init(name: "EM, 4-D diagonal GBM", expected: 0.5, tolerance: 0.2) { try strongErrors(gbm4Problem, EM(), exact: gbm4Ito) },
    .init(name: "EM, general noise (2 states, 3 processes)", expected: 0.5, tolerance: 0.2) {
        try strongErrors(generalProblem, EM()) { CommutingGeneral.exact($0, ito: true) }
    },
    .init(name: "EulerHeun, GBM (Stratonovich, commutative)", expected: 1.0, tolerance: 0.2) {
        try strongErrors(gbmScalarProblem, EulerHeun(), exact: gbmStrat)
    },
    .init(name: "EulerHeun, general commuting noise (Stratonovich)", expected: 1.0, tolerance: 0.2) {
        try strongErrors(generalProblem, EulerHeun()) { CommutingGeneral.exact($0, ito: false) }
    },
    .init(name: "RKMil, GBM (Itô)", expected: 1.0, tolerance: 0.2) { try strongErrors(gbmScalarProblem, RKMil(), exact: gbmIto) },
    .init(name: "RKMil, GBM (Stratonovich)", expected: 1.0, tolerance: 0.2) {
        try strongErrors(gbmScalarProblem, RKMil(interpretation: .stratonovich), exact: gbmStrat)
    },
    .init(name: "RKMil, cubic", expected: 1.0, tolerance: 0.2) { try strongErrors(cubicProblem, RKMil(), exact: cubicExact) },
    .init(name: "RKMil, 2-D scalar noise", expected: 1.0, tolerance: 0.2) {
        try strongErrors(gbmScalarNoiseProblem, RKMil(), exact: gbmScalarNoiseIto)
    },
    .init(name: "SRIW1, GBM", expected: 1.5, tolerance: 0.3) { try strongErrors(gbmScalarProblem, SRIW1(), exact: gbmIto) },
    .init(name: "SOSRI, GBM", expected: 1.5, tolerance: 0.3) { try strongErrors(gbmScalarProblem, SOSRI(), exact: gbmIto) },
    .init(name: "SRIW1, cubic", expected: 1.5, tolerance: 0.3) { try strongErrors(cubicProblem, SRIW1(), exact: cubicExact) },
    .init(name: "SOSRI, cubic", expected: 1.5, tolerance: 0.3) { try strongErrors(cubicProblem, SOSRI(), exact: cubicExact) },
    .init(name: "SRIW1, 4-D diagonal GBM", expected: 1.5, tolerance: 0.3) { try strongErrors(gbm4Problem, SRIW1(), exact: gbm4Ito) },
    .init(name: "SOSRI, 2-D scalar noise", expected: 1.5, tolerance: 0.3) {
        try strongErrors(gbmScalarNoiseProblem, SOSRI(), exact: gbmScalarNoiseIto)
    },
    // The SRA methods on the additive problem (drift linear in u, noise a function of t):
    // measured 2.00 (SRA1) and 2.00 (SOSRA), above the 1.5 ± 0.3 band, and 2.00 / 2.02
    // with α = 10, where the noise part of the error is 2.5-8x larger; so the order-2 slope is
    // not the deterministic error hiding the stochastic one. Rößler's 1.5 is what the SRA
    // conditions guarantee for any additive problem; on this one the error terms that would
    // limit it to 1.5 do not appear. Asserted as measured (2 ± 0.2); no analytic nonlinear
    // additive problem is available here to exhibit the 1.5 bound itself.
    .init(name: "SRA1, additive", expected: 2.0, tolerance: 0.2) { try strongErrors(additiveProblem, SRA1(), exact: additiveExact) },
    .init(name: "SOSRA, additive", expected: 2.0, tolerance: 0.2) { try strongErrors(additiveProblem, SOSRA(), exact: additiveExact) },
    .init(name: "SRA1, additive α = 10", expected: 2.0, tolerance: 0.2) { try strongErrors(loudAdditiveProblem, SRA1(), exact: loudAdditiveExact) },
    .init(name: "SOSRA, additive α = 10", expected: 2.0, tolerance: 0.2) { try strongErrors(loudAdditiveProblem, SOSRA(), exact: loudAdditiveExact) },
    .init(name: "EM, additive α = 10", expected: 1.0, tolerance: 0.2) { try strongErrors(loudAdditiveProblem, EM(), exact: loudAdditiveExact) },
]

@Suite struct StrongOrderTests {
    @Test(arguments: strongOrderCases)
    func observedStrongOrder(_ c: StrongOrderCase) throws {
        let (order, errors) = try c.measure()
        #expect(abs(order - c.expected) <= c.tolerance, "\(c.name): order \(order), errors \(errors)")
    }
}
