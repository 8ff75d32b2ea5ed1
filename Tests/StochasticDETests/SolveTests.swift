// The SDE solve on the shared integrator loop: strong order of the solve itself (the procedure
// of StrongOrderTests, through `solve` with fixed steps), the solve against the bare kernel
// driver, saving and dense output, and events.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

/// Strong errors of `solve` with fixed steps (the procedure and problems of StrongOrderTests).
func solveStrongErrors<F: SDEFunction>(
    _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, trajectories: Int = 50, exact: ([Double]) -> [Double]
) throws -> (order: Double, errors: [Double]) where F.Scalar == Double {
    try strongErrors(prob, alg, trajectories: trajectories, exact: exact) { tree, dt in
        let sol = try solve(
            prob, alg, noise: BrownianTreeNoise(tree),
            options: SolveOptions(saveEverystep: false, dt: dt, adaptive: false))
        #expect(sol.retcode == .success)
        #expect(sol.stats.naccept == Int((1 / dt).rounded()))
        return sol.u.last!
    }
}

let solveStrongOrderCases: [StrongOrderCase] = [
    .init(name: "solve: EM, GBM", expected: 0.5, tolerance: 0.2) { try solveStrongErrors(gbmScalarProblem, EM(), exact: gbmIto) },
    .init(name: "solve: EM, general noise", expected: 0.5, tolerance: 0.2) {
        try solveStrongErrors(generalProblem, EM()) { CommutingGeneral.exact($0, ito: true) }
    },
    .init(name: "solve: RKMil, GBM", expected: 1.0, tolerance: 0.2) { try solveStrongErrors(gbmScalarProblem, RKMil(), exact: gbmIto) },
    .init(name: "solve: SRIW1, GBM", expected: 1.5, tolerance: 0.3) { try solveStrongErrors(gbmScalarProblem, SRIW1(), exact: gbmIto) },
    .init(name: "solve: SOSRI, cubic", expected: 1.5, tolerance: 0.3) { try solveStrongErrors(cubicProblem, SOSRI(), exact: cubicExact) },
    .init(name: "solve: SOSRI, 4-D diagonal GBM", expected: 1.5, tolerance: 0.3) {
        try solveStrongErrors(gbm4Problem, SOSRI(), exact: gbm4Ito)
    },
    // 2.0 measured on this problem for the SRA methods (see StrongOrderTests).
    .init(name: "solve: SRA1, additive", expected: 2.0, tolerance: 0.2) { try solveStrongErrors(additiveProblem, SRA1(), exact: additiveExact) },
    .init(name: "solve: SOSRA, additive", expected: 2.0, tolerance: 0.2) { try solveStrongErrors(additiveProblem, SOSRA(), exact: additiveExact) },
]

@Suite struct SDESolveTests {
    @Test(arguments: solveStrongOrderCases)
    func strongOrderOfTheSolve(_ c: StrongOrderCase) throws {
        let (order, errors) = try c.measure()
        #expect(abs(order - c.expected) <= c.tolerance, "\(c.name): order \(order), errors \(errors)")
    }

    /// With dyadic steps the loop's times `t + h` are exact, so the solve must reproduce the
    /// kernel driven by hand bit for bit: the loop adds nothing to the arithmetic of a step.
    @Test func fixedStepSolveIsTheKernelRecursionBitForBit() throws {
        let algorithms: [any SDEAlgorithm] = [EM(), EulerHeun(), RKMil(), RKMil(interpretation: .stratonovich), SRIW1(), SOSRI()]
        for alg in algorithms {
            try Self.compare(gbm4Problem, alg)
        }
        try Self.compare(additiveProblem, SRA1())
        try Self.compare(additiveProblem, SOSRA())
        try Self.compare(generalProblem, EM())
    }

    static func compare<F: SDEFunction>(_ prob: SDEProblem<F>, _ alg: some SDEAlgorithm) throws where F.Scalar == Double {
        let m = prob.wienerCount
        let aux = alg.scheme.needsAuxiliaryIncrement
        var byHand = try WienerProcess(dimension: m, seed: 11, auxiliary: aux)
        let expected = try integrateFixed(prob, alg, noise: &byHand, steps: 64)
        let sol = try solve(prob, alg, seed: 11, options: SolveOptions(dt: 1.0 / 64, adaptive: false))
        #expect(sol.retcode == .success)
        #expect(sol.u.last! == expected, "\(alg.scheme.name)")
        #expect(sol.t.count == 65)
    }

    @Test func saveatDenseOutputAndStats() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 3, tolerance: 1e-8, auxiliary: true)
        let sol = try solve(
            gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(tree),
            options: SolveOptions(reltol: 1e-3, abstol: 1e-3, saveat: .every(0.1), dense: true))
        #expect(sol.retcode == .success)
        #expect(sol.t.count == 11)
        for (k, t) in sol.t.enumerated() { #expect(abs(t - Double(k) * 0.1) < 1e-15) }
        #expect(sol.stats.naccept > 5)
        #expect(sol.stats.nf >= 2 * sol.stats.naccept)
        #expect(sol.algorithm == "SOSRI")
        // Linear between steps: dense output at a save time equals the saved (interpolated) value.
        let u = try sol(0.55)
        #expect(u[0].isFinite)
        #expect(abs(try sol(0.5)[0] - sol.u[5][0]) <= 1e-14 * abs(sol.u[5][0]))
    }

    /// `tstops` are stepped onto exactly, and a domain test rejects steps (retried on the same
    /// path by the bridge) instead of leaving the domain.
    @Test func tstopsAndDomain() throws {
        let sol = try solve(
            gbmScalarProblem, SOSRI(), seed: 8, options: SolveOptions(reltol: 1e-2, abstol: 1e-2, tstops: [1.0 / 3, 0.7]))
        #expect(sol.retcode == .success)
        #expect(sol.t.contains(1.0 / 3) && sol.t.contains(0.7))
        // GBM from 0.5 with a cap at 3: some paths would cross it; those solves must stop
        // (dtLessThanMin) rather than save a state above the cap.
        var capped = 0
        for seed in 0..<20 as Range<UInt64> {
            let s = try solve(
                gbmScalarProblem, SOSRI(), seed: seed,
                options: SolveOptions(reltol: 1e-2, abstol: 1e-2, isOutOfDomain: { u, _, _ in u[0] > 3 }))
            #expect(s.u.allSatisfy { $0[0] <= 3 })
            #expect(s.retcode == .success || s.retcode == .dtLessThanMin)
            if s.retcode == .dtLessThanMin { capped += 1 }
        }
        #expect(capped > 0)
    }

    /// A terminating event and an event that changes the state: the noise is moved back to the
    /// event time inside the accepted step and the solve goes on from there.
    @Test func eventsCutStepsAndTheNoiseFollows() throws {
        let stop = ContinuousCallback<Double>(condition: { u, _, _ in u[0] - 1.0 }, affect: { $0.terminate() })
        let sol = try solve(
            gbmScalarProblem, SOSRI(), seed: 5, options: SolveOptions(reltol: 1e-2, abstol: 1e-2), callback: CallbackSet(stop))
        #expect(sol.retcode == .terminated || sol.retcode == .success)
        if sol.retcode == .terminated { #expect(abs(sol.u.last![0] - 1) < 1e-6) }
        // Halve u whenever it crosses 1 upward: the state jumps, the method restarts.
        let halve = ContinuousCallback<Double>(
            condition: { u, _, _ in u[0] - 1.0 }, upcrossing: { $0.u[0] *= 0.5 }, downcrossing: nil)
        for seed in 0..<20 as Range<UInt64> {
            let s = try solve(
                gbmScalarProblem, SOSRI(), seed: seed, options: SolveOptions(reltol: 1e-2, abstol: 1e-2), callback: CallbackSet(halve))
            #expect(s.retcode == .success, "\(s.message ?? "")")
            #expect(s.u.allSatisfy { $0[0] <= 1 + 1e-6 })
        }
    }
}
