import DiffEqCore

/// What a Rosenbrock solve learned about singular iteration matrices: shared (a reference)
/// between the stepper inside an integrator and the `solve` that reports the return code.
public final class RosenbrockDiagnostics: @unchecked Sendable {
    /// Factorizations of `W` that found it singular, over the whole solve.
    @usableFromInline var singularCount = 0
    /// Singular factorizations since the last successful one.
    @usableFromInline var consecutiveSingular = 0
    @usableFromInline var lastSingularTime = 0.0
    @usableFromInline var lastSingularStep = 0.0

    public init() {}

    public var singularFactorizations: Int { singularCount }

    /// Why the solve failed, when it ended while `W` was singular.
    public func failureMessage(method: String) -> String? {
        guard consecutiveSingular > 0 else { return nil }
        return "\(method): the iteration matrix W = M/(γh) − J was singular at t = \(lastSingularTime) in "
            + "\(consecutiveSingular) consecutive attempt(s), the last with h = \(lastSingularStep); for a DAE, "
            + "check that the algebraic equations determine the algebraic variables (index 1) and that u0 is consistent"
    }

    @usableFromInline func recordSingular(t: Double, h: Double) {
        singularCount += 1
        consecutiveSingular += 1
        lastSingularTime = t
        lastSingularStep = h
    }
}

/// How the mass matrix enters the stage right-hand sides.
@usableFromInline
enum MassStructure: Sendable {
    case identity
    case diagonal([Double])
    /// Column-major `n x n`.
    case full([Double])
}

/// The one stepper behind every Rosenbrock method: the stages of ``RosenbrockTableau`` in the
/// W-transformed form of Hairer & Wanner II (7.25)-(7.27), `M u' = f` as in §VI.4, the embedded
/// error estimate and the Rodas-form dense output.
///
/// Per step attempt: `f(t, u)` (reused from the last stage of an FSAL method), `J` and `∂f/∂t`
/// at `(t, u)` (`∂f/∂t` only when `f` is not declared ``ODEFunction/isAutonomous``), one LU factorization of `W = M/(γh) − J`, then per stage one evaluation of `f`
/// and one solve with the factors.
///
/// **Jacobian reuse rule.** A Rosenbrock method needs the exact `J` of the step's start for its
/// order, so `J` (and `∂f/∂t`) are evaluated once per starting point `(t, u)`: when an attempt
/// is rejected (error test, non-finite values, singular `W`) the retry from the same `(t, u)`
/// reuses them and only refactors `W` for the new `h`. They are re-evaluated after every
/// accepted step and whenever the integrator restarts the method (`u`, `t` or `p` changed from
/// outside, an event's affect). `W` is refactored whenever `h` or `J` changed.
///
/// **Singular `W`.** The attempt is rejected with a non-finite error, so the integrator retries
/// with a ten times smaller step; after five consecutive singular factorizations (rodas.f gives
/// up after five as well) the stepper stops trying, the integration ends, and the algorithm's
/// `solve` reports ``ReturnCode/convergenceFailure`` with the ``RosenbrockDiagnostics`` message.
/// (The integrator asks ``explainFailure(_:)`` when it stops, so `solve` and an integrator driven
/// by hand both end with ``ReturnCode/convergenceFailure`` and the diagnostics' message.)
///
/// Caches are allocated in `init`; an attempt allocates nothing (the forward-mode Jacobian of
/// JacobianEvaluator aside).
public struct RosenbrockStepper<Function: ODEFunction>: ODEStepper {
    public typealias Scalar = Function.Scalar

    public let tableau: RosenbrockTableau
    @usableFromInline let n: Int
    @usableFromInline let s: Int
    @usableFromInline let gamma: Double
    /// Row `i` of `a` (and of `C`) starts at `i*(i-1)/2`.
    @usableFromInline let aFlat: [Double]
    @usableFromInline let cFlat: [Double]
    @usableFromInline let nodes: [Double]
    @usableFromInline let timeCoefficients: [Double]
    @usableFromInline let weights: [Double]
    @usableFromInline let errorWeights: [Double]
    /// Dense row `k` at `k*s`.
    @usableFromInline let denseFlat: [Double]
    @usableFromInline let denseRows: Int
    @usableFromInline let fsal: Bool
    @usableFromInline let mass: MassStructure
    @usableFromInline let massMatrix: [Double]?
    @usableFromInline let maxConsecutiveSingular = 5
    /// `f.isAutonomous`: `∂f/∂t` is zero and never evaluated.
    @usableFromInline let autonomous: Bool
    /// The unit roundoff of `Scalar`'s values (2^-52 for Double, 2^-23 for Float).
    @usableFromInline let unitRoundoff: Double

    @usableFromInline var jacobianEvaluator: JacobianEvaluator<Function>
    @usableFromInline var W: IterationMatrix<Scalar>
    @usableFromInline var J: [Scalar]
    /// `f(t, u)` at the current starting point.
    @usableFromInline var f0: [Scalar]
    @usableFromInline var dT: [Scalar]
    /// Stage `U_j` at `stages[j*n ..< (j+1)*n]`; after an accepted step, those of that step
    /// (the dense output reads them).
    @usableFromInline var stages: [Scalar]
    @usableFromInline var arg: [Scalar]
    @usableFromInline var du: [Scalar]
    @usableFromInline var rhs: [Scalar]
    @usableFromInline var massArg: [Scalar]
    /// The last stage's `f(t + h, u_new)` of an FSAL method.
    @usableFromInline var fLast: [Scalar]
    @usableFromInline var haveF0 = false
    @usableFromInline var haveJacobian = false
    @usableFromInline var jacobianTime = 0.0
    /// The `h` that `W` is factored for with the current `J` (0: not factored).
    @usableFromInline var factoredStep = 0.0

    /// Singular-`W` bookkeeping, shared with the `solve` that created this stepper.
    public let diagnostics: RosenbrockDiagnostics

    /// A stepper for states of `n` components. `massMatrix` is column-major `n x n` (`nil` is
    /// the identity).
    public init(
        tableau: RosenbrockTableau, function f: Function, count n: Int, massMatrix: [Double]? = nil,
        jacobian source: JacobianSource = .automatic, diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) {
        self.tableau = tableau
        self.n = n
        s = tableau.stages
        gamma = tableau.gamma
        aFlat = tableau.a.flatMap { $0 }
        cFlat = tableau.C.flatMap { $0 }
        nodes = tableau.c
        timeCoefficients = tableau.d
        weights = tableau.m
        errorWeights = tableau.errorWeights
        denseFlat = tableau.dense.flatMap { $0 }
        denseRows = tableau.dense.count
        fsal = tableau.isFSAL
        if let M = massMatrix, M.count == n * n {
            self.massMatrix = M
            let diagonal = (0..<n).allSatisfy { j in (0..<n).allSatisfy { i in i == j || M[i + j * n] == 0 } }
            mass = diagonal ? .diagonal((0..<n).map { M[$0 * (n + 1)] }) : .full(M)
        } else {
            self.massMatrix = nil
            mass = .identity
        }
        jacobianEvaluator = JacobianEvaluator(f, count: n, source: source)
        autonomous = f.isAutonomous
        var eps = 1.0
        while Scalar(1 + eps / 2).primal != 1 { eps /= 2 }
        unitRoundoff = eps
        W = IterationMatrix(count: n)
        let zeros = [Scalar](repeating: .zero, count: n)
        J = [Scalar](repeating: .zero, count: n * n)
        f0 = zeros
        dT = zeros
        stages = [Scalar](repeating: .zero, count: s * n)
        arg = zeros
        du = zeros
        rhs = zeros
        massArg = zeros
        fLast = zeros
        self.diagnostics = diagnostics
    }

    /// A singular `W` at every step size tried as the reason the step size collapsed.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        diagnostics.failureMessage(method: name).map { (.convergenceFailure, $0) }
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var supportsMassMatrix: Bool { true }
    /// How `J` is obtained for this right-hand side.
    public var jacobianKind: JacobianEvaluator<Function>.Kind { jacobianEvaluator.kind }

    public mutating func start(t: Double, u: [Scalar], du f: [Scalar]) {
        for m in 0..<n { f0[m] = f[m] }
        haveF0 = true
        haveJacobian = false
        factoredStep = 0
        diagnostics.consecutiveSingular = 0
    }

    /// `∂f/∂t` at `(t, u)` into `dT`, by the forward difference of rodas.f (Hairer & Wanner):
    /// `(f(t + δ, u) − f(t, u))/δ`, `δ = sqrt(uround · max(1e-5, |t|))`, reusing `f0 = f(t, u)`.
    /// One evaluation of `f` per starting point; exactly zero for an autonomous `f`.
    ///
    /// Forward-mode AD in `t` would be exact for generic models, but `ODEFunction` offers no
    /// entry point for it, and reaching the model through a dynamic cast runs unspecialized
    /// (measured: it doubled the time of a HIRES solve). Measured on Prothero-Robinson
    /// (λ = −10 … −1e6), the difference quotient changes the error by less than 1e-11.
    @inlinable
    mutating func evaluateTimeDerivative(_ f: Function, _ p: [Scalar], t: Double, u: [Scalar], stats: inout SolverStats) {
        stats.nf += 1
        let delta = (unitRoundoff * Swift.max(1e-5, Swift.abs(t))).squareRoot()
        // The step as the scalar type represents it: (t + δ) − t.
        let tShift = Scalar(t + delta)
        let step = tShift.primal - Scalar(t).primal
        // Beyond |t| ~ 1/uround no shift is representable: treat f as autonomous there.
        let inv = step == 0 ? 0 : 1 / step
        var out: [Scalar] = []
        swap(&out, &du)
        f(&out, u, p, tShift)
        for m in 0..<n { dT[m] = (out[m] - f0[m]).scaled(by: inv) }
        swap(&out, &du)
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt h: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        // Gave up on a singular W: let the integrator stop (solve reports why).
        if diagnostics.consecutiveSingular >= maxConsecutiveSingular { return .nan }
        if !haveF0 {
            f(&f0, u, p, Scalar(t))
            stats.nf += 1
            haveF0 = true
        }
        if !haveJacobian || jacobianTime != t {
            jacobianEvaluator.evaluate(f, p, t: t, u: u, fu: f0, into: &J, stats: &stats)
            // For an f declared autonomous, ∂f/∂t is zero: dT keeps the zeros it was created
            // with (the difference quotient would compute exactly those, for one f evaluation).
            if !autonomous { evaluateTimeDerivative(f, p, t: t, u: u, stats: &stats) }
            haveJacobian = true
            jacobianTime = t
            factoredStep = 0
        }
        if factoredStep != h {
            guard W.factor(alpha: 1 / (gamma * h), beta: -1, J: J, mass: massMatrix, stats: &stats) else {
                factoredStep = 0
                // A non-finite J is f's doing (the integrator reports it as such), not a
                // singular W.
                if J.allSatisfy(\.isFiniteScalar) { diagnostics.recordSingular(t: t, h: h) }
                return .nan
            }
            factoredStep = h
        }
        diagnostics.consecutiveSingular = 0
        computeStages(f, p, t: t, h: h, u: u, uNew: &uNew, stats: &stats)
        return errorNorm(u: u, uNew: uNew, tolerance: tolerance)
    }

    /// The stages, then `u_new = u + Σ m_j U_j` (or the last stage's argument for FSAL).
    @inlinable
    mutating func computeStages(
        _ f: Function, _ p: [Scalar], t: Double, h: Double, u: [Scalar], uNew: inout [Scalar],
        stats: inout SolverStats
    ) {
        let n = self.n
        let invH = 1 / h
        // The buffers move into locals for the stage loop: uniquely owned, no exclusivity
        // checks against `self` when passed to `f` and to the linear solve.
        var arg: [Scalar] = []
        var du: [Scalar] = []
        var rhs: [Scalar] = []
        var stages: [Scalar] = []
        var massArg: [Scalar] = []
        swap(&arg, &self.arg)
        swap(&du, &self.du)
        swap(&rhs, &self.rhs)
        swap(&stages, &self.stages)
        swap(&massArg, &self.massArg)
        for i in 0..<s {
            let row = i * (i - 1) / 2
            if i == 0 {
                for m in 0..<n { du[m] = f0[m] }
            } else {
                // x_m = u_m + Σ_j a_ij U_j,m, summed in a register per component (the same order
                // of additions as stage by stage, so the same rounding; for the n = 2 ... 20 of
                // the test problems this avoids a load-add-store round trip through x per term).
                stages.withUnsafeBufferPointer { U in
                    arg.withUnsafeMutableBufferPointer { x in
                        u.withUnsafeBufferPointer { u in
                            aFlat.withUnsafeBufferPointer { a in
                                for m in 0..<n {
                                    var acc = u[m]
                                    for j in 0..<i {
                                        let w = a[row &+ j]
                                        if w != 0 { acc += U[j &* n &+ m].scaled(by: w) }
                                    }
                                    x[m] = acc
                                }
                            }
                        }
                    }
                }
                f(&du, arg, p, Scalar(t + nodes[i] * h))
                stats.nf += 1
            }
            // rhs = f + h d_i ∂f/∂t + M x with x = Σ_j (C_ij/h) U_j (the mass matrix applied
            // once, in the form it has: identity, diagonal or full).
            let hd = h * timeCoefficients[i]
            stages.withUnsafeBufferPointer { U in
                massArg.withUnsafeMutableBufferPointer { x in
                    cFlat.withUnsafeBufferPointer { c in
                        for m in 0..<n {
                            var acc = Scalar.zero
                            for j in 0..<i {
                                let w = c[row &+ j] * invH
                                if w != 0 { acc += U[j &* n &+ m].scaled(by: w) }
                            }
                            x[m] = acc
                        }
                    }
                    rhs.withUnsafeMutableBufferPointer { r in
                        for m in 0..<n { r[m] = du[m] }
                        if hd != 0 && !autonomous { for m in 0..<n { r[m] += dT[m].scaled(by: hd) } }
                        switch mass {
                        case .identity:
                            for m in 0..<n { r[m] += x[m] }
                        case .diagonal(let diag):
                            for m in 0..<n { r[m] += x[m].scaled(by: diag[m]) }
                        case .full(let M):
                            for k in 0..<n where x[k] != .zero {
                                for m in 0..<n {
                                    let mk = M[m + k * n]
                                    if mk != 0 { r[m] += x[k].scaled(by: mk) }
                                }
                            }
                        }
                    }
                }
            }
            W.solve(&rhs, stats: &stats)
            stages.withUnsafeMutableBufferPointer { U in
                let Ui = U.baseAddress! + i * n
                for m in 0..<n { Ui[m] = rhs[m] }
            }
        }
        if fsal {
            // The last stage was evaluated at the new solution itself.
            for m in 0..<n {
                uNew[m] = arg[m]
                fLast[m] = du[m]
            }
        } else {
            stages.withUnsafeBufferPointer { U in
                weights.withUnsafeBufferPointer { b in
                    for m in 0..<n {
                        var acc = u[m]
                        for j in 0..<s {
                            let w = b[j]
                            if w != 0 { acc += U[j &* n &+ m].scaled(by: w) }
                        }
                        uNew[m] = acc
                    }
                }
            }
        }
        swap(&arg, &self.arg)
        swap(&du, &self.du)
        swap(&rhs, &self.rhs)
        swap(&stages, &self.stages)
        swap(&massArg, &self.massArg)
    }

    /// The scaled RMS norm of `Σ e_j U_j`.
    @inlinable
    func errorNorm(u: [Scalar], uNew: [Scalar], tolerance: ErrorScale) -> Double {
        let n = self.n
        var sum = 0.0
        stages.withUnsafeBufferPointer { U in
            for m in 0..<n {
                var e = Scalar.zero
                for j in 0..<s {
                    let w = errorWeights[j]
                    if w != 0 { e += U[j * n + m].scaled(by: w) }
                }
                let sc = tolerance.scale(m, u[m].primal, uNew[m].primal)
                sum += e.sumOfSquaredComponents / (sc * sc)
            }
        }
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    @inlinable
    public mutating func accept() {
        haveJacobian = false
        factoredStep = 0
        if fsal {
            swap(&f0, &fLast)
            haveF0 = true
        } else {
            haveF0 = false
        }
    }

    /// The dense vector `h_k = Σ_j H_kj U_j`, component `m`, of the last accepted step.
    @inlinable
    func denseVector(_ k: Int, _ m: Int) -> Scalar {
        var acc = Scalar.zero
        for j in 0..<s {
            let w = denseFlat[k * s + j]
            if w != 0 { acc += stages[j * n + m].scaled(by: w) }
        }
        return acc
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        for m in 0..<n {
            var poly = Scalar.zero
            for k in stride(from: denseRows - 1, through: 0, by: -1) {
                poly = denseVector(k, m) + poly.scaled(by: theta)
            }
            out[m] = u[m].scaled(by: 1 - theta) + (uNew[m] + poly.scaled(by: 1 - theta)).scaled(by: theta)
        }
    }

    @inlinable
    public mutating func denseStepData(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: [Scalar],
        stats: inout SolverStats
    ) -> [Scalar] {
        var data = [Scalar](repeating: .zero, count: (denseRows + 1) * n)
        for m in 0..<n { data[m] = uNew[m] }
        for k in 0..<denseRows {
            for m in 0..<n { data[(k + 1) * n + m] = denseVector(k, m) }
        }
        return data
    }

    public func makeDenseOutput(times: [Double], stepSizes: [Double], states: [[Scalar]], data: [[Scalar]])
        -> any DenseOutput<Scalar>
    {
        RosenbrockDenseOutput(times: times, stepSizes: stepSizes, states: states, data: data, rows: denseRows)
    }
}

/// The dense output of a Rosenbrock solve: per step the end state `u₁` of the step and the
/// vectors `h_k`, evaluated as `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))` (rodas.f, CONTRO).
public struct RosenbrockDenseOutput<Scalar: DiffEqScalar>: DenseOutput {
    public let times: [Double]
    public let stepSizes: [Double]
    public let states: [[Scalar]]
    /// Step `i`: `u₁` followed by `rows` vectors `h_k`, or empty across an event's jump.
    public let data: [[Scalar]]
    public let rows: Int

    public var domain: (Double, Double) {
        (Swift.min(times[0], times[times.count - 1]), Swift.max(times[0], times[times.count - 1]))
    }

    // Inlinable so that code which knows the concrete type (the adjoint methods, which evaluate
    // the forward solution at every backward stage) gets it specialised; through
    // `any DenseOutput` it runs generic.
    @inlinable
    public func evaluate(at t: Double, into out: inout [Scalar]) {
        let i = intervalIndex(times, t)
        let u0 = states[i]
        let n = u0.count
        let h = stepSizes[i]
        let d = data[i]
        guard h != 0, d.count == (rows + 1) * n else {
            let u1 = states[i + 1]
            let span = times[i + 1] - times[i]
            let theta = span == 0 ? 0 : (t - times[i]) / span
            for m in 0..<n { out[m] = u0[m].scaled(by: 1 - theta) + u1[m].scaled(by: theta) }
            return
        }
        let theta = (t - times[i]) / h
        for m in 0..<n {
            var poly = Scalar.zero
            for k in stride(from: rows, through: 1, by: -1) { poly = d[k * n + m] + poly.scaled(by: theta) }
            out[m] = u0[m].scaled(by: 1 - theta) + (d[m] + poly.scaled(by: 1 - theta)).scaled(by: theta)
        }
    }
}
