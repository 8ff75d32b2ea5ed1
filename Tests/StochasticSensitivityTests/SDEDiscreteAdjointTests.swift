// The SDE discrete adjoint: the exact derivative of the solve on a fixed Brownian-tree path,
// against pathwise forward mode (duals through the same solve) and central differences of the
// same solve, on fixed and adaptive steps, for every method and noise kind it supports.
import DiffEqCore
import Foundation
import Sensitivity
import StochasticDE
import StochasticSensitivity
import Testing

@Suite struct SDEDiscreteAdjointTests {
    static let gbm = SDEProblem(model: GBMModel(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])
    static let lv = SDEProblem(model: NoisyLotkaVolterra(), u0: [1, 1], tspan: (0, 1), p: [1.5, 1, 3, 1, 0.3, 0.2])
    static let scalar = SDEProblem(
        model: CrossCoupledScalarNoise(), u0: [1, 0.8], tspan: (0, 1), p: [0.5, 0.7, 0.4, 0.6], noise: .scalar)
    static let general = SDEProblem(
        model: GeneralNoiseModel(), u0: [1, 0.8], tspan: (0, 1), p: [0.5, 0.4, 0.3, 0.2], noise: .general(wienerProcesses: 2))

    /// The relative difference between the discrete adjoint and forward mode on the path of
    /// `seed`, fixed steps of 2⁻⁸, observations at step ends (0.25, 1) and inside a step (0.3,
    /// interpolated), plus the loss difference.
    static func againstForwardMode<M: SDEModel>(
        _ prob: SDEProblem<GenericSDE<M, Double>>, _ alg: any SDEAlgorithm, seed: UInt64 = 9, options: SolveOptions? = nil
    ) throws -> (gradient: Double, loss: Double, steps: Int) {
        let tree = try VirtualBrownianTree(
            t0: 0, t1: 1, dimension: prob.wienerCount, seed: seed, tolerance: 0x1p-14,
            auxiliary: alg.scheme.needsAuxiliaryIncrement)
        let opts = options ?? SolveOptions(saveat: .times([0.25, 0.3, 1]), dt: 0x1p-8, adaptive: false)
        let adj = try gradient(of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: opts, sensealg: SDEDiscreteAdjoint())
        let fwd = try gradient(
            of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: opts, sensealg: SDEForwardDiffSensitivity())
        return (relativeError(adj.dp + adj.du0, fwd.dp + fwd.du0), abs(adj.loss - fwd.loss) / abs(fwd.loss), adj.stats.backwardSteps)
    }

    /// On fixed steps the discrete adjoint and forward mode compute the same derivative (of the
    /// same solve), so they agree to rounding: measured at most 3.0e-15 relative over GBM, the 2-D
    /// Lotka-Volterra, scalar noise (cross-coupled) and general noise (2 Wiener processes; not
    /// for the SRI methods, which refuse it), seed 9, dt = 2⁻⁸, with an observation inside a
    /// step (0.3, interpolated); asserted 1e-13.
    @Test(arguments: ["EM", "LambaEM", "EulerHeun", "SRIW1", "SOSRI"])
    func matchesForwardModeOnFixedSteps(method: String) throws {
        let alg: any SDEAlgorithm = ["EM": EM(), "LambaEM": LambaEM(), "EulerHeun": EulerHeun(), "SRIW1": SRIW1()][method] ?? SOSRI()
        var results = [
            ("GBM", try Self.againstForwardMode(Self.gbm, alg)), ("LV", try Self.againstForwardMode(Self.lv, alg)),
            ("scalar", try Self.againstForwardMode(Self.scalar, alg)),
        ]
        if !alg.scheme.needsAuxiliaryIncrement { results.append(("general", try Self.againstForwardMode(Self.general, alg))) }
        for (problem, r) in results {
            #expect(r.gradient <= 1e-13 && r.loss <= 1e-14, "\(method) on \(problem): \(r)")
            #expect(r.steps == 256)
        }
    }

    /// Against central differences of the same solve on the same path (step 1e-6 relative),
    /// fixed steps of 2⁻⁸: within 1e-6 relative on GBM and on the Lotka-Volterra with σ in p,
    /// for EM, EulerHeun and SOSRI.
    @Test func matchesCentralDifferencesOnFixedSteps() throws {
        let cases: [(String, any SDEAlgorithm, Bool)] = [("EM", EM(), false), ("EulerHeun", EulerHeun(), false), ("SOSRI", SOSRI(), true)]
        for (name, alg, aux) in cases {
            try SDEAdjointTests.checkAgainstDifferences(Self.gbm, name: "GBM " + name, alg, auxiliary: aux, sensealg: SDEDiscreteAdjoint())
            try SDEAdjointTests.checkAgainstDifferences(Self.lv, name: "LV " + name, alg, auxiliary: aux, sensealg: SDEDiscreteAdjoint())
        }
    }

    /// Methods whose steps it does not differentiate are refused before any work, with a typed
    /// error naming the alternatives.
    @Test func unsupportedMethods() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 1, tolerance: 0x1p-10, auxiliary: true)
        let options = SolveOptions(dt: 0x1p-6, adaptive: false)
        for alg in [RKMil() as any SDEAlgorithm, SOSRA(), ImplicitEM()] {
            #expect(throws: SensitivityError.self) {
                try gradient(of: SquaresLoss(), Self.gbm, algorithm: alg, noise: tree, options: options, sensealg: SDEDiscreteAdjoint())
            }
        }
    }

    /// What the memory grows with: the kept dense output, two states per accepted step
    /// (``SDEBacksolveAdjoint`` keeps the observation states only).
    @Test func memoryGrowsWithTheSteps() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 2, seed: 5, tolerance: 0x1p-14)
        for dt in [0x1p-6, 0x1p-10] {
            let options = SolveOptions(saveat: .times([0.5, 1]), dt: dt, adaptive: false)
            let r = try gradient(
                of: SquaresLoss(), Self.lv, algorithm: EulerHeun(), noise: tree, options: options, sensealg: SDEDiscreteAdjoint())
            #expect(r.stats.backwardSteps == Int(1 / dt) && r.stats.peakStoredStates == 2 * Int(1 / dt))
        }
    }

    /// On adaptive steps it is the derivative of the solve with the accepted steps held. The
    /// reference: the same steps replayed as a fixed-step solve that lands on each accepted
    /// step's end (`tstops`, `adaptive: false`), differentiated by forward mode and by central
    /// differences (both smooth in p there). GBM with SOSRI and Lotka-Volterra with LambaEM at
    /// reltol = abstol = 1e-4 on seed 3 (2,570 and 6,345 steps, landing on the saveat time 0.5):
    /// measured 7.5e-15 and 3.1e-15 from forward mode on the replay, 1.5e-9 and 1.4e-8 from
    /// central differences (asserted
    /// 1e-12, the replay's steps being differences of the accepted times, a few ulps from the
    /// steps the adaptive solve took, and 1e-6).
    @Test func adaptiveStepsHeld() throws {
        try Self.checkAdaptive(Self.gbm, SOSRI())
        try Self.checkAdaptive(Self.lv, LambaEM())
    }

    static func checkAdaptive<M: SDEModel, A: SDEAlgorithm>(_ prob: SDEProblem<GenericSDE<M, Double>>, _ alg: A) throws {
        let tree = try VirtualBrownianTree(
            t0: 0, t1: 1, dimension: prob.wienerCount, seed: 3, tolerance: 0x1p-16, auxiliary: alg.scheme.needsAuxiliaryIncrement)
        let adaptive = SolveOptions(reltol: 1e-4, abstol: .scalar(1e-4), saveat: .times([0.5, 1]))
        let r = try gradient(of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: adaptive, sensealg: SDEDiscreteAdjoint())
        // The adaptive solve steps onto its saveat times: the same steps are those with 0.5 a stop.
        let steps = try solve(
            prob, alg, noise: BrownianTreeNoise(tree),
            options: SolveOptions(reltol: 1e-4, abstol: .scalar(1e-4), saveEverystep: true, tstops: [0.5]))
        let replay = SolveOptions(saveat: .times([0.5, 1]), dt: 1, tstops: Array(steps.t.dropFirst()), adaptive: false)
        let fwd = try gradient(of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: replay, sensealg: SDEForwardDiffSensitivity())
        #expect(fwd.stats.forwardSteps == r.stats.backwardSteps && r.stats.backwardSteps > 100)
        let err = relativeError(r.dp + r.du0, fwd.dp + fwd.du0)
        #expect(err <= 1e-12, "\(alg.scheme.name): adaptive discrete adjoint vs forward mode on the replayed steps: \(err)")
        let fd = try centralDifferences(prob) { u0, p in
            try solve(prob.remake(u0: u0, p: p), alg, noise: BrownianTreeNoise(tree), options: replay).u.reduce(0) { $0 + SquaresLoss()($1, 0) }
        }
        let errFD = relativeError(r.dp + r.du0, fd)
        #expect(errFD <= 1e-6, "\(alg.scheme.name): adaptive discrete adjoint vs central differences on the replayed steps: \(errFD)")
    }
}
