// The discrete adjoint with binomial checkpointing: the same gradient as keeping every step, bit
// for bit, on fixed and adaptive steps, with memory bounded by the number of checkpoints and
// forward work given by Griewank & Walther's binomial formula.
import DiffEqCore
import Foundation
import Sensitivity
import StochasticDE
import StochasticSensitivity
import Testing

@Suite struct SDECheckpointingTests {
    typealias Cases = SDEDiscreteAdjointTests

    /// Both gradients on the path of `seed`; `#expect`s bitwise equality of loss, `dp`, `du0`
    /// and that the sweep went over the same steps.
    static func expectSameBits<M: SDEModel>(
        _ prob: SDEProblem<GenericSDE<M, Double>>, _ alg: any SDEAlgorithm, options: SolveOptions, checkpoints: [Int],
        seed: UInt64 = 9, _ label: String
    ) throws {
        let tree = try VirtualBrownianTree(
            t0: 0, t1: 1, dimension: prob.wienerCount, seed: seed, tolerance: 0x1p-14,
            auxiliary: alg.scheme.needsAuxiliaryIncrement)
        let all = try gradient(of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: options, sensealg: SDEDiscreteAdjoint())
        for c in checkpoints {
            let r = try gradient(
                of: SquaresLoss(), prob, algorithm: alg, noise: tree, options: options,
                sensealg: SDEDiscreteAdjoint(checkpoints: .binomial(c)))
            #expect(r.loss == all.loss && r.dp == all.dp && r.du0 == all.du0, "\(label), c = \(c): \(r.dp + r.du0) vs \(all.dp + all.du0)")
            #expect(r.stats.backwardSteps == all.stats.backwardSteps && r.stats.peakStoredStates <= c, "\(label), c = \(c): \(r.stats)")
            #expect(r.stats.vjps == all.stats.vjps && r.stats.backwardEvaluations == all.stats.backwardEvaluations)
        }
    }

    /// Fixed steps of 2⁻⁸ (256 steps) with observations at step ends and inside a step (0.3),
    /// every supported method and noise kind (general noise not for the SRI methods, which
    /// refuse it), 1, 2, 3, 8 and 300 (more than the steps) checkpoints.
    @Test(arguments: ["EM", "LambaEM", "EulerHeun", "SRIW1", "SOSRI"])
    func equalsStoreAllBitForBitOnFixedSteps(method: String) throws {
        let alg: any SDEAlgorithm = ["EM": EM(), "LambaEM": LambaEM(), "EulerHeun": EulerHeun(), "SRIW1": SRIW1()][method] ?? SOSRI()
        let options = SolveOptions(saveat: .times([0.25, 0.3, 1]), dt: 0x1p-8, adaptive: false)
        let c = [1, 2, 3, 8, 300]
        try Self.expectSameBits(Cases.gbm, alg, options: options, checkpoints: c, "\(method) GBM")
        try Self.expectSameBits(Cases.lv, alg, options: options, checkpoints: c, "\(method) LV")
        try Self.expectSameBits(Cases.scalar, alg, options: options, checkpoints: c, "\(method) scalar noise")
        if !alg.scheme.needsAuxiliaryIncrement {
            try Self.expectSameBits(Cases.general, alg, options: options, checkpoints: c, "\(method) general noise")
        }
    }

    /// Adaptive steps (the redone steps go through the same controller, rejections included):
    /// LambaEM, SRIW1 and SOSRI at reltol = abstol = 1e-3, with a `tstops` time the loop lands on
    /// and observations between steps; 2, 5 and 10,000 checkpoints (one checkpoint is the
    /// quadratic schedule, tested on fixed steps above).
    @Test(arguments: ["LambaEM", "SRIW1", "SOSRI"])
    func equalsStoreAllBitForBitOnAdaptiveSteps(method: String) throws {
        let alg: any SDEAlgorithm = ["LambaEM": LambaEM(), "SRIW1": SRIW1()][method] ?? SOSRI()
        let options = SolveOptions(reltol: 1e-3, abstol: .scalar(1e-3), saveat: .times([0.25, 0.3, 1]), tstops: [0.6])
        let c = [2, 5, 10_000]
        try Self.expectSameBits(Cases.gbm, alg, options: options, checkpoints: c, "\(method) GBM")
        try Self.expectSameBits(Cases.lv, alg, options: options, checkpoints: c, "\(method) LV")
        try Self.expectSameBits(Cases.scalar, alg, options: options, checkpoints: c, "\(method) scalar noise")
        if !alg.scheme.needsAuxiliaryIncrement {
            try Self.expectSameBits(Cases.general, alg, options: options, checkpoints: c, "\(method) general noise")
        }
        // LambaEM (on GBM) and SOSRI (on LV) rejected steps here, so the replay went through
        // rejections too; SRIW1 rejected none at this tolerance (measured).
        func tree(_ m: Int) throws -> BrownianTreeNoise {
            BrownianTreeNoise(
                try VirtualBrownianTree(t0: 0, t1: 1, dimension: m, seed: 9, tolerance: 0x1p-14, auxiliary: alg.scheme.needsAuxiliaryIncrement))
        }
        let rejected = try solve(Cases.gbm, alg, noise: tree(1), options: options).stats.nreject
            + solve(Cases.lv, alg, noise: tree(2), options: options).stats.nreject
        #expect(rejected > 0 || method == "SRIW1", "\(method): no rejected step on GBM and LV")
    }

    /// Against central differences of the same solve (step 1e-6 relative), 4 checkpoints for
    /// 256 steps: within 1e-6 relative, as the store-all adjoint.
    @Test func matchesCentralDifferences() throws {
        let cases: [(String, any SDEAlgorithm, Bool)] = [("EM", EM(), false), ("EulerHeun", EulerHeun(), false), ("SOSRI", SOSRI(), true)]
        for (name, alg, aux) in cases {
            let sensealg = SDEDiscreteAdjoint(checkpoints: .binomial(4))
            try SDEAdjointTests.checkAgainstDifferences(Cases.gbm, name: "GBM " + name, alg, auxiliary: aux, sensealg: sensealg)
            try SDEAdjointTests.checkAgainstDifferences(Cases.lv, name: "LV " + name, alg, auxiliary: aux, sensealg: sensealg)
        }
    }

    /// `C(s + r, s)`, computed here independently of the library's schedule.
    static func binomial(_ s: Int, _ r: Int) -> Int {
        guard r >= 0 else { return 0 }
        var b = 1.0
        for i in 0..<r { b = b * Double(s + r - i) / Double(r - i) }
        return Int(b.rounded())
    }

    /// Griewank & Walther's minimal forward steps for reversing `l` steps with `s` checkpoints
    /// ("Algorithm 799: revolve", ACM TOMS 26(1), 2000): `r·l − β(s + 1, r − 1)` with
    /// `β(s, r) = C(s + r, s)` and `r` the smallest with `β(s, r) ≥ l`.
    static func revolveSteps(_ l: Int, checkpoints s: Int) -> Int {
        var r = 0
        while binomial(s, r) < l { r += 1 }
        return r * l - binomial(s + 1, r - 1)
    }

    /// EM on the Lotka-Volterra, 10,000 fixed steps, 8 checkpoints: at most 8 states held
    /// (the store-all sweep holds 20,000), and the forward work is the counting solve, the
    /// revolve minimum T(10⁴, 8) = 8·10⁴ − C(16, 9) = 68,560 (each step redone at most r = 8
    /// times: C(15, 8) = 6,435 < 10⁴ ≤ C(16, 8) = 12,870), nothing more: a turn does not redo
    /// its step (it was 2N + T, one step per turn to read its size, before the sizes were kept
    /// with the schedule's intervals). One checkpoint on 100 steps: T = 100·99/2. The gradients
    /// are the store-all ones bit for bit.
    @Test func memoryAndWorkFollowTheBinomialSchedule() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 2, seed: 5, tolerance: 0x1p-16)
        for (steps, c) in [(10_000, 8), (100, 1), (100, 2), (1_000, 3)] {
            let options = SolveOptions(saveat: .times([0.5, 1]), dt: 1 / Double(steps), adaptive: false)
            let all = try gradient(of: SquaresLoss(), Cases.lv, algorithm: EM(), noise: tree, options: options, sensealg: SDEDiscreteAdjoint())
            let r = try gradient(
                of: SquaresLoss(), Cases.lv, algorithm: EM(), noise: tree, options: options,
                sensealg: SDEDiscreteAdjoint(checkpoints: .binomial(c)))
            #expect(all.stats.backwardSteps == steps && r.stats.backwardSteps == steps)
            #expect(all.stats.peakStoredStates == 2 * steps)
            #expect(r.stats.peakStoredStates == c, "\(steps) steps, c = \(c): \(r.stats)")
            #expect(r.stats.forwardSteps == steps + Self.revolveSteps(steps, checkpoints: c), "\(steps) steps, c = \(c): \(r.stats)")
            // EM evaluates the drift once per step.
            #expect(r.stats.forwardEvaluations == all.stats.forwardEvaluations + r.stats.forwardSteps - steps)
            #expect(r.loss == all.loss && r.dp == all.dp && r.du0 == all.du0)
        }
        #expect(Self.revolveSteps(10_000, checkpoints: 8) == 68_560)
        #expect(Self.revolveSteps(100, checkpoints: 1) == 100 * 99 / 2)
    }

    /// Fewer than one checkpoint is refused before any work with a typed error.
    @Test func refusesFewerThanOneCheckpoint() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 1, tolerance: 0x1p-10)
        let options = SolveOptions(dt: 0x1p-6, adaptive: false)
        for c in [0, -3] {
            let error = #expect(throws: SensitivityError.self) {
                try gradient(
                    of: SquaresLoss(), Cases.gbm, algorithm: EM(), noise: tree, options: options,
                    sensealg: SDEDiscreteAdjoint(checkpoints: .binomial(c)))
            }
            guard case .invalidInput(let e) = error else {
                Issue.record("c = \(c): \(String(describing: error))")
                continue
            }
            #expect("\(e)".contains("at least 1 checkpoint (the state at t0), got \(c)"))
        }
    }
}
