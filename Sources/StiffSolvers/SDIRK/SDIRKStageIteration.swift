import DiffEqCore

// What SDIRKStepper derives from a tableau and keeps between attempts: the tables, the term table
// of its stage sums, the simplified Newton iteration's stopping and failure tests, and the error
// a failed attempt reports to the loop.

/// The tables a stepper derives from an ``SDIRKTableau`` once: the predictor of each stage and
/// the dense output's polynomial weights.
@usableFromInline
struct SDIRKStageTables: Sendable {
    /// For each stage, the earlier stage whose node `c_j` is nearest to `c_i` (ties to the
    /// later stage); its derivative predicts the stage (-1: `z = 0`).
    @usableFromInline let predictor: [Int]
    /// The stages the dense output uses, and their polynomials `b_i(θ)` (coefficients of
    /// `θ^1 … θ^d`).
    @usableFromInline let denseStages: [Int]
    @usableFromInline let denseCoefficients: [[Double]]
    /// The interpolant's `B_{jq}` over all stages: stage `j`'s `θ^1 … θ^d` at `[j·d, (j+1)·d)`
    /// (zero-padded), `d = denseDegree`.
    @usableFromInline let denseWeights: [Double]
    @usableFromInline let denseDegree: Int

    @usableFromInline init(_ tableau: SDIRKTableau) {
        let s = tableau.stages
        var predictor = [Int](repeating: -1, count: s)
        for i in 1..<Swift.max(s, 1) {
            var best = 0
            for j in 0..<i where Swift.abs(tableau.c[i] - tableau.c[j]) <= Swift.abs(tableau.c[i] - tableau.c[best]) {
                best = j
            }
            predictor[i] = best
        }
        self.predictor = predictor
        let used = (0..<s).filter { i in tableau.interpolant.coefficients[i].contains { $0 != 0 } }
        denseStages = used
        denseCoefficients = used.map { tableau.interpolant.coefficients[$0] }
        let d = tableau.interpolant.coefficients.map(\.count).max() ?? 0
        var flat = [Double](repeating: 0, count: s * d)
        for (j, poly) in tableau.interpolant.coefficients.enumerated() { for (q, c) in poly.enumerated() { flat[j * d + q] = c } }
        denseWeights = flat
        denseDegree = d
    }
}

/// The stage sums of ``SDIRKStepper`` as terms of one table, each term a stage's offset in the
/// block (stage `j` at `j · stride`) and its weight, for the gathered operations of
/// ``DiffEqState``: the rows of `A` with the diagonal (stage `i`'s `ũ_i` is row `i`'s terms
/// `j < i`, from `i(i+1)/2`; every `a_ij` is kept, zeros too, as both former steppers summed
/// them), then the nonzero `b_j` (`bFirst ..< bLast`), the nonzero `b_j − b̂_j` (`bLast ..<
/// errorTerm`) and one term of weight 1 at the spare slot `s` (the solved error estimate). The
/// weights are the tableau's; a step scales them by `h`. Never written after `init`: copies of a
/// stepper share it.
@usableFromInline
struct SDIRKStageTerms {
    /// The terms' offsets, then from ``predictorOffset`` stage `i`'s predictor as an offset in
    /// the block (`-1`: `z = 0`).
    @usableFromInline let offsets: StageStorage<Int>
    /// The terms' weights, then from ``nodeOffset`` the nodes `c_i`.
    @usableFromInline let weights: StageStorage<Double>
    @usableFromInline let predictorOffset: Int
    @usableFromInline let nodeOffset: Int
    @usableFromInline let bFirst: Int
    @usableFromInline let bLast: Int
    @usableFromInline let errorTerm: Int

    @usableFromInline init(_ tableau: SDIRKTableau, predictor: [Int], stride: Int) {
        let s = tableau.stages
        let (b, btilde) = (tableau.b, tableau.btilde)
        var offsets: [Int] = []
        var weights: [Double] = []
        offsets.reserveCapacity(s * (s + 1) / 2 + 4 * s + 1)
        weights.reserveCapacity(s * (s + 1) / 2 + 3 * s + 1)
        for row in tableau.a {
            for (j, a) in row.enumerated() {
                offsets.append(j * stride)
                weights.append(a)
            }
        }
        bFirst = offsets.count
        for j in 0..<s where b[j] != 0 {
            offsets.append(j * stride)
            weights.append(b[j])
        }
        bLast = offsets.count
        for j in 0..<s where btilde[j] != 0 {
            offsets.append(j * stride)
            weights.append(btilde[j])
        }
        errorTerm = offsets.count
        offsets.append(s * stride)
        weights.append(1)
        predictorOffset = offsets.count
        for i in 0..<s { offsets.append(predictor[i] >= 0 ? predictor[i] * stride : -1) }
        nodeOffset = weights.count
        weights.append(contentsOf: tableau.c)
        self.offsets = StageStorage(offsets)
        self.weights = StageStorage(weights)
    }
}

/// Where the explicit first stage `f(t_n, u_n)` of the next step is.
@usableFromInline enum SDIRKFirstStage { case missing, current, inLast }

/// The stopping and failure tests of one stage's simplified Newton iteration (Hairer & Wanner,
/// Solving ODEs II, §IV.8; the rules are spelled out on ``SDIRKStepper``), fed the scaled norm
/// of each correction in turn.
@usableFromInline
struct SDIRKNewtonMonitor {
    @usableFromInline let kappa: Double
    @usableFromInline let maxIterations: Int
    /// `η`: `max(η_old, uround)^0.8` before the second iteration, then `θ/(1 − θ)`.
    @usableFromInline var eta: Double
    @usableFromInline var previous = 0.0

    /// What the iteration does after a correction.
    @usableFromInline enum Verdict { case converged, iterate, failed(SDIRKFailure) }

    @inlinable @inline(__always)
    init(_ options: SDIRKNewtonOptions, etaOld: Double) {
        kappa = options.kappa
        maxIterations = options.maxIterations
        eta = Double.pow(Swift.max(etaOld, Double.ulpOfOne), 0.8)
    }

    /// The verdict after iteration `iteration` (from 0) whose correction has scaled norm
    /// `size`; `mayStopAfterOneIteration` is `false` for the first implicit stage of a step
    /// solved with a `J` from an earlier step ("Stale Jacobian" on ``SDIRKStepper``).
    /// `maxRate` collects the step's slowest contraction rate.
    @inlinable @inline(__always)
    mutating func judge(size: Double, iteration: Int, mayStopAfterOneIteration: Bool, maxRate: inout Double) -> Verdict {
        guard size.isFinite else { return .failed(.nonFiniteResidual) }
        if iteration == 0 {
            if mayStopAfterOneIteration && eta * size <= kappa && size <= kappa { return .converged }
        } else {
            let rate = size / previous
            maxRate = Swift.max(maxRate, rate)
            if rate >= 1 { return .failed(.newtonDiverged(rate: rate)) }
            eta = rate / (1 - rate)
            if eta * size <= kappa { return .converged }
            let remaining = maxIterations - 1 - iteration
            if remaining == 0 || Double.pow(rate, Double(remaining)) / (1 - rate) * size > kappa {
                return .failed(.newtonTooSlow(rate: rate))
            }
        }
        previous = size
        return .iterate
    }
}

extension SDIRKFailure {
    /// The error norm with which a failed attempt makes the loop reject the step and shrink it
    /// by 2 (the first failure, `consecutive == 1`) or 4 (consecutive failures); NaN, which the
    /// loop treats as a non-finite step (shrink by 10, or stop in a fixed-step solve), for
    /// non-finite values and for fixed-step solves.
    @inlinable
    func rejectionError(consecutive: Int, fixedStep: Bool, controller ctrl: PIController) -> Double {
        if fixedStep || self == .nonFiniteResidual { return .nan }
        let shrink = consecutive == 1 ? 0.5 : 0.25
        guard ctrl.beta1 > 0 else { return 1e300 }
        // rejectedFactor(err) = safety / err^β1 = shrink.
        return Double.pow(ctrl.safety / shrink, 1 / ctrl.beta1)
    }

    /// The message of a solve stopped by `consecutive` failed attempts, the last at `t` with
    /// step `h` (both forms report the same text).
    func message(method: String, consecutive: Int, t: Double, h: Double) -> String {
        "\(method): \(self) in \(consecutive) consecutive attempts at t = \(t) (last step size tried \(Swift.abs(h)))"
    }
}

/// The state the SDIRK stepper keeps between attempts, and its rules: where the first stage
/// is, whether `J` and the factors of `W` may be reused ("Reuse" on ``SDIRKStepper``), the
/// Newton rate carried from stage to stage, and the record of consecutive failed attempts.
@usableFromInline
struct SDIRKStepControl {
    @usableFromInline var firstStage: SDIRKFirstStage = .missing
    @usableFromInline var hasJacobian = false
    /// `J` was evaluated at the current step's `(t, u)`.
    @usableFromInline var jacobianIsCurrent = false
    @usableFromInline var jacobianRequested = true
    /// `W`'s factors are those of `I − γh_W J` for the current `J`.
    @usableFromInline var wIsCurrent = false
    @usableFromInline var factoredGammaH = 0.0
    @usableFromInline var etaOld = 1.0
    /// The slowest contraction rate of the current attempt.
    @usableFromInline var stepMaxRate = 0.0
    @usableFromInline var consecutiveFailures = 0
    /// What ``explanation(method:)`` reports: the failures before the last success, the last
    /// one's reason, time and step size.
    @usableFromInline var loggedFailures = 0
    @usableFromInline var lastFailure: SDIRKFailure?
    @usableFromInline var failureTime = 0.0
    @usableFromInline var failureStep = 0.0

    @usableFromInline init() {}

    @inlinable var needsJacobian: Bool { jacobianRequested || !hasJacobian }

    /// A new state (the start, or a change from outside): `J` is evaluated there.
    @inlinable mutating func restart() {
        jacobianIsCurrent = false
        jacobianRequested = true
        consecutiveFailures = 0
    }

    @inlinable mutating func jacobianEvaluated() {
        hasJacobian = true
        jacobianIsCurrent = true
        jacobianRequested = false
        wIsCurrent = false
    }

    /// Whether the factors may be reused for `γh = gh` (`|gh/γh_W − 1| ≤ threshold` with a
    /// current `W`); otherwise `gh` becomes `γh_W`, and the caller factors `W` and sets
    /// ``wIsCurrent``.
    @inlinable @inline(__always)
    mutating func mayReuseFactors(gh: Double, threshold: Double) -> Bool {
        if wIsCurrent && Swift.abs(gh / factoredGammaH - 1) <= threshold { return true }
        factoredGammaH = gh
        return false
    }

    /// After a failed stage solve: with a `J` from an earlier step, the step is retried once
    /// with a fresh one (`true`, and `J` is requested).
    @inlinable mutating func retriesWithFreshJacobian(after why: SDIRKFailure, retried: Bool) -> Bool {
        guard !jacobianIsCurrent && !retried && why != .nonFiniteResidual else { return false }
        jacobianRequested = true
        return true
    }

    @inlinable mutating func succeeded() {
        consecutiveFailures = 0
        loggedFailures = 0
    }

    /// Records a failed attempt at `t` with step `dt` and returns the error norm with which
    /// the loop rejects it (``SDIRKFailure/rejectionError(consecutive:fixedStep:controller:)``).
    @inlinable
    mutating func reject(_ why: SDIRKFailure, t: Double, dt: Double, fixedStep: Bool, controller: PIController) -> Double {
        consecutiveFailures += 1
        loggedFailures = consecutiveFailures
        lastFailure = why
        failureTime = t
        failureStep = dt
        return why.rejectionError(consecutive: consecutiveFailures, fixedStep: fixedStep, controller: controller)
    }

    /// An accepted step: the stages stay in place for its dense output (a stiffly accurate
    /// method's last stage is the next step's first, copied when that step starts), and `J` is
    /// requested when the step's slowest rate exceeded `slowRate`.
    @inlinable mutating func accept(fsal: Bool, slowRate: Double) {
        firstStage = fsal ? .inLast : .missing
        jacobianIsCurrent = false
        if stepMaxRate > slowRate { jacobianRequested = true }
    }

    /// Repeated stage-solve failures as the reason the step size collapsed.
    func explanation(method: String) -> (code: ReturnCode, message: String)? {
        guard let why = lastFailure, loggedFailures > 0 else { return nil }
        return (.convergenceFailure, why.message(method: method, consecutive: loggedFailures, t: failureTime, h: failureStep))
    }
}
