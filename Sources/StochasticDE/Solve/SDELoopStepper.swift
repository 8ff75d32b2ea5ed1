import DiffEqCore

/// The drift of an SDE as the right-hand side the shared loop evaluates (its initial step, its
/// restarts after events): `du/dt = f(u, p, t)`.
public struct SDEDrift<F: SDEFunction>: ODEFunction {
    public typealias Scalar = F.Scalar
    public let sde: F

    @inlinable public init(_ sde: F) { self.sde = sde }

    @inlinable
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        sde.drift(&du, u, p, t)
    }
}

extension SDEDrift: Sendable where F: Sendable {}

/// An SDE method on the shared integrator loop (`ODEIntegrator` of DiffEqCore): the stepper owns
/// the step kernel (``SDEStepper``, with the diffusion and the tableau) and the noise process;
/// the loop owns time, saving, `saveat`, `tstops`, events, `isOutOfDomain`, the step-size
/// controller, NaN handling and the return codes, exactly as for the ODE methods.
///
/// How the loop's calls map onto an SDE step:
/// - ``attempt(_:_:t:dt:u:uNew:tolerance:stats:)`` proposes `ΔW` over `[t, t + dt]` from the
///   noise and runs the kernel. A rejected attempt is followed by another `attempt` from the same
///   `t` without ``accept()``: the noise then draws the shorter increment by the Brownian bridge
///   from what it already drew (rejection sampling with memory, Rackauckas & Nie 2017), so the
///   path is not biased by the rejections.
/// - ``accept()`` moves the noise's time to the end of the step.
/// - ``start(t:u:du:)`` (the loop's begin and restarts) and an attempt from a time the noise is
///   not at (an event cut the last step short, `t` was set from outside) move the noise back or
///   forward with ``NoiseProcess/rewind(to:)``; the path does not change.
/// - The error estimate of the adaptive methods is Rackauckas & Nie's (2017, §3) `δ E₁ + E₂`
///   (``SDEScheme/hasErrorEstimate``), in the loop's error weights and RMS norm.
/// - Between steps the solution is interpolated linearly (what StochasticDiffEq.jl does: an
///   SDE solution has no higher-order dense output; the Brownian path itself is interpolated by
///   the bridge in ``WienerProcess/value(at:into:)``). For that reason an adaptive `solve`
///   steps onto the `saveat` times (`stepsOntoSaveTimes` in Solve.swift).
///
/// The `[Scalar]`-specific code is in ``attempt(_:_:t:dt:u:uNew:tolerance:stats:)`` (the copy into
/// `uNew` and the error norm) and ``interpolate(_:_:theta:t:dt:u:uNew:into:stats:)``.
///
/// Performance: nothing is allocated per step (the increments are written into arrays owned by
/// the stepper; the kernel allocates its workspaces once): `solve(_:_:seed:)` with EM makes 30-32
/// mallocs (scalar GBM) and 44 (4-D) at 10³ and at 10⁵ steps alike (scripts/malloc-count.c,
/// sde-bench with `SDE_BENCH_EM_STEPS`). Instructions per EM step on GBM (callgrind, sde-bench
/// `--case`, release, counts 1 and 3): the kernel on pre-drawn increments 339 (scalar); kernel
/// plus WienerProcess draws by hand 699 (scalar) / 1,490 (4-D); the whole `solve` on the shared
/// loop with the same draws 1,035 (scalar) / 1,876 (4-D). Path stream version 2 (two draws per
/// Philox block and transform) took these from 833 / 1,523 and 1,188 / 1,926. Where the scalar
/// solve's instructions went (callgrind_annotate, exclusive): the draw with the path's append 212,
/// the EM kernel 185 plus about 75 of uniqueness checks and retain/release in it, the shared
/// loop's `step` and `recordStep` 181 (DiffEqCore), this stepper's `attempt` 166 and `accept`
/// 25, the Wiener process's increment, propose and accept 120. `solve` now runs EM, EulerHeun
/// and RKMil without callbacks in `solveWithFixedSteps` instead (304 / 877 instructions per
/// step; this stepper on the shared loop, with the same kernel, 955 for the scalar problem).
public struct SDELoopStepper<F: SDEFunction, Noise: NoiseProcess>: ODEStepper {
    public typealias Function = SDEDrift<F>
    public typealias Scalar = F.Scalar

    @usableFromInline var kernel: SDEStepper<F>
    @usableFromInline var _noise: Noise
    /// The noise process; read it after a solve (``WienerProcess/knownTimes``, ...).
    public var noise: Noise { _noise }
    @usableFromInline var dW: [Double]
    @usableFromInline var dZ: [Double]
    /// The weight `δ` of the drift error term `E₁` in `δ E₁ + E₂`.
    public let driftErrorWeight: Double
    @usableFromInline let t1: Double
    /// `4 ulp(t1)`: a step end this close to `t1` is `t1` (computed once: `ulp` is an
    /// out-of-line call, 70 instructions per step when it was evaluated in `attempt`).
    @usableFromInline let endSnap: Double
    /// ``SDEScheme/hasErrorEstimate``, read once: the scheme's SRI/SRA payloads hold arrays, and
    /// reading it per step retains them.
    @usableFromInline let estimatesError: Bool
    /// Why the noise could not serve the last attempt, or which function returned NaN.
    @usableFromInline var failure: String?
    /// A more specific return code for ``failure`` (a Newton failure), if any.
    @usableFromInline var failureCode: ReturnCode?

    /// `noise` must match the problem (``SDEStepper/check(_:)``) and start at the problem's `t0`.
    public init(
        problem: SDEProblem<F>, algorithm: some SDEAlgorithm, noise: Noise, driftErrorWeight: Double = 1.0 / 6
    ) throws(SDEError) {
        kernel = try SDEStepper(problem: problem, algorithm: algorithm)
        try kernel.check(noise)
        try SDESetup.validate(driftErrorWeight: driftErrorWeight)
        self._noise = noise
        self.driftErrorWeight = driftErrorWeight
        self.t1 = problem.tspan.1
        self.endSnap = 4 * Swift.abs(problem.tspan.1).ulp
        self.estimatesError = algorithm.scheme.hasErrorEstimate
        let p = algorithm.scheme.strongOrder
        self.controller = PIController(beta1: 0.7 / p, beta2: 0.4 / p, safety: 0.9, qmin: 0.2, qmax: 9.0 / 8)
        dW = [Double](repeating: 0, count: problem.wienerCount)
        dZ = [Double](repeating: 0, count: noise.hasAuxiliary ? problem.wienerCount : 0)
    }

    public var name: String { kernel.scheme.name }
    public var isAdaptive: Bool { estimatesError }
    /// The strong order rounded down (at least 1): only the automatic first step reads it.
    public var order: Int { Swift.max(1, Int(kernel.scheme.strongOrder)) }
    /// StochasticDiffEq.jl's defaults for SDE methods (`alg_utils.jl`): PI gains
    /// `β₁ = 7/(10 p)`, `β₂ = 2/(5 p)` with `p` the strong order, `qmax = 9/8`, `qmin = 1/5`,
    /// safety 0.9. The small `qmax` keeps a lucky small error from growing the step much: the
    /// error of an SDE step is itself random.
    public let controller: PIController

    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        failure.map { (failureCode ?? code, $0) }
    }

    public mutating func start(t: Double, u: [Scalar], du: [Scalar]) {
        if noise.currentTime != t { moveNoise(to: t) }
    }

    /// Puts the noise at `t` with nothing proposed, as it was when a checkpoint of the loop was
    /// taken there (`ODEIntegrator.restore`): the path does not change, so the steps redone from
    /// the checkpoint read the same increments bit for bit.
    @inlinable
    package mutating func restoreNoise(at t: Double) throws(NoiseError) {
        failure = nil
        failureCode = nil
        try _noise.rewind(to: t)
    }

    @usableFromInline
    mutating func moveNoise(to t: Double) {
        do {
            try _noise.rewind(to: t)
        } catch {
            failure = "the noise process cannot continue from t = \(t): \(error)"
        }
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        // The loop lands on stops and the end with `t + (target − t)`, which can differ from
        // `target` in the last bits; the noise is then a few ulps away and continues from there.
        // A real gap (an event inside the last step, `t` set from outside) moves it.
        // The failure of this attempt, if any, is what `explainFailure` reports.
        if failure != nil {
            failure = nil
            failureCode = nil
        }
        let now = noise.currentTime
        if now != t && Swift.abs(now - t) > 4 * Swift.max(Swift.abs(t), Swift.abs(t1)).ulp {
            moveNoise(to: t)
        }
        var end = t + dt
        if Swift.abs(end - t1) <= endSnap { end = t1 }
        do {
            try _noise.increment(to: end, &dW, &dZ)
        } catch {
            failure = "the noise process could not give the increment to t = \(end): \(error)"
            return .nan
        }
        // The loop passes the same parameter array every step: assign (a retain and a release)
        // only when it is another buffer.
        if kernel.p.withUnsafeBufferPointer({ $0.baseAddress }) != p.withUnsafeBufferPointer({ $0.baseAddress })
            || kernel.p.count != p.count {
            kernel.p = p
        }
        for i in uNew.indices { uNew[i] = u[i] }
        do {
            try kernel.step(&uNew, t: t, dt: dt, dW: dW, dZ: dZ)
        } catch {
            failure = "the step failed: \(error)"
            return .nan
        }
        stats.nf += kernel.driftEvaluationsPerStep
        if kernel.kernel == .implicitEM {
            stats.njacs += 1
            stats.njacsFiniteDifference += 1
            stats.nluFactorizations += 1
            stats.nnonliniter += kernel.newton.iterations
            stats.nlinsolves += kernel.newton.iterations
            if !kernel.newton.converged {
                stats.nnonlinconvfail += 1
                failureCode = .convergenceFailure
                failure = kernel.newton.singular
                    ? "the Newton iteration matrix I - θh∂f/∂u was singular near t = \(t)"
                    : "the Newton iteration of the implicit drift did not converge in 20 iterations near t = \(t)"
                return .nan
            }
        }
        // The finiteness scan first, inline: `nonFiniteSource` is a method on the whole kernel,
        // and calling it copied the stepper (a memcpy, 64 instructions per step).
        if !uNew.isFiniteState, let bad = kernel.nonFiniteSource(uNew) {
            failure = "\(bad) returned NaN or Inf near t = \(t) and reducing dt did not avoid it"
            return .nan
        }
        guard estimatesError else { return 0 }
        let e1 = kernel.errorDrift
        let e2 = kernel.errorDiffusion
        var sum = 0.0
        for i in uNew.indices {
            let sc = tolerance.scale(i, u[i].primal, uNew[i].primal)
            let e = e1[i].scaled(by: driftErrorWeight) + e2[i]
            sum += e.sumOfSquaredComponents / (sc * sc)
        }
        return ErrorScale.finish(sum, count: uNew.count, as: Scalar.self)
    }

    @inlinable
    public mutating func accept() {
        // Tested first, as in `attempt`: the common path stores nothing.
        if failure != nil {
            failure = nil
            failureCode = nil
        }
        do {
            try _noise.accept()
        } catch {
            failure = "the noise process refused to accept the step: \(error)"
        }
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        for i in out.indices { out[i] = u[i].scaled(by: 1 - theta) + uNew[i].scaled(by: theta) }
    }

    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        dense.appendLinear(from: t, to: end, step: dt, u0: u, u1: uNew)
    }
}

extension SDEStepper {
    /// Evaluations of the drift in one step (counted as the loop's `nf`).
    @inlinable
    var driftEvaluationsPerStep: Int {
        switch kernel {
        case .eulerMaruyama, .rkMilIto, .rkMilStratonovich: return 1
        case .eulerHeun, .lambaEM: return 2
        case .implicitEM: return 2 + stateCount + newton.iterations
        case .sri, .sra: return stages
        }
    }

    /// `nil` when `u` is finite; otherwise which function's output of the last step was not
    /// finite first, for the failure message. The stage values are scanned in the order the
    /// kernel evaluated them (all diffusions first for SRA, otherwise drift then diffusion
    /// stage by stage), since a NaN from one then reaches the other's arguments.
    @inlinable
    func nonFiniteSource(_ u: [Scalar]) -> String? {
        guard u.contains(where: { !$0.isFiniteScalar }) else { return nil }
        func bad(_ v: [Scalar]) -> Bool { v.contains { !$0.isFiniteScalar } }
        if kernel == .sra {
            for g in gs where bad(g) { return "the diffusion g" }
            for d in k where bad(d) { return "the drift f" }
        } else {
            for j in 0..<stages {
                if bad(k[j]) { return "the drift f" }
                if bad(gs[j]) { return "the diffusion g" }
            }
        }
        return "the step (overflow)"
    }
}
