import DiffEqCore

/// What a Rosenbrock solve learned about singular iteration matrices: shared (a reference)
/// between the stepper inside an integrator and the `solve` that reports the return code.
public final class RosenbrockDiagnostics {
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
        return Self.message(method: method, consecutive: consecutiveSingular, t: lastSingularTime, h: lastSingularStep)
    }

    /// The failure message, shared with the fixed-size integrator (which keeps these counters
    /// in its own value).
    @usableFromInline
    static func message(method: String, consecutive: Int, t: Double, h: Double) -> String {
        "\(method): the iteration matrix W = M/(γh) − J was singular at t = \(t) in "
            + "\(consecutive) consecutive attempt(s), the last with h = \(h); for a DAE, "
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

/// A tableau's ``RosenbrockStageSums`` laid out for the stage loops of a system of `n`
/// components: `terms` holds the bounds (sum `r` is terms `terms[r] ..< terms[r + 1]`), then, at
/// `termOffset + k`, where term `k`'s stage starts in the stage block (`j * n`); `weights[k]` is
/// its coefficient. Never written after `init`: copies of a stepper share it.
@usableFromInline
struct RosenbrockStageSumTable {
    @usableFromInline let terms: StageStorage<Int>
    @usableFromInline let weights: StageStorage<Double>
    @usableFromInline let termOffset: Int

    init(_ sums: RosenbrockStageSums, count n: Int) {
        terms = StageStorage(sums.bounds + sums.stages.map { $0 * n })
        weights = StageStorage(sums.weights)
        termOffset = sums.bounds.count
    }
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
    @usableFromInline let sums: RosenbrockStageSumTable
    @usableFromInline let nodes: [Double]
    @usableFromInline let timeCoefficients: [Double]
    /// Dense row `k` at `k*s`.
    @usableFromInline let denseFlat: [Double]
    @usableFromInline let denseRows: Int
    @usableFromInline let fsal: Bool
    @usableFromInline let mass: MassStructure
    @usableFromInline let massIsIdentity: Bool
    @usableFromInline let massMatrix: [Double]?
    @usableFromInline let maxConsecutiveSingular = 5
    /// `f.isAutonomous`: `∂f/∂t` is zero and never evaluated.
    @usableFromInline let autonomous: Bool
    /// `f`'s declared Jacobian structure (validated in ``validateSettings()``).
    @usableFromInline let structure: JacobianStructure
    /// The unit roundoff of `Scalar`'s values (2^-52 for Double, 2^-23 for Float).
    @usableFromInline let unitRoundoff: Double

    @usableFromInline var jacobianEvaluator: JacobianEvaluator<Function>
    @usableFromInline var W: IterationMatrix<Scalar>
    @usableFromInline var J: [Scalar]
    /// `f(t, u)` at the current starting point.
    @usableFromInline var f0: [Scalar]
    @usableFromInline var dT: [Scalar]
    /// Stage `U_j` at `stages.base + j*n`; after an accepted step, those of that step (the
    /// dense output reads them). Then `n` entries of scratch for `Σ_j (C_ij/h) U_j` before a
    /// non-identity mass matrix is applied, or for a refined stage solve's right-hand side
    /// (identity mass only), and `n` for that solve's residual.
    @usableFromInline var stages: StageStorage<Scalar>
    /// The `C` weights of ``sums`` divided by the step's `h`.
    @usableFromInline var scaledC: StageStorage<Double>
    /// `f` takes and writes Swift arrays: the stage arguments are formed in `arg`, `f` writes
    /// `du`.
    @usableFromInline var arg: [Scalar]
    @usableFromInline var du: [Scalar]
    /// The last stage's `f(t + h, u_new)` of an FSAL method.
    @usableFromInline var fLast: [Scalar]
    @usableFromInline var haveF0 = false
    @usableFromInline var haveJacobian = false
    @usableFromInline var jacobianTime = 0.0
    /// The `h` that `W` is factored for with the current `J` (0: not factored).
    @usableFromInline var factoredStep = 0.0
    /// The dense vectors `h_k` (``denseVector(_:_:)``) of the last accepted step, row `k` at
    /// `k n`, formed by the first ``interpolate(_:_:theta:t:dt:u:uNew:into:stats:)`` after the
    /// step and reused by the others: a solve saving at many points per step (POLLU's 121
    /// observations over some 25 steps) formed them once per save, 8% of a forward-mode
    /// gradient's time. Invalid once new stages are computed.
    @usableFromInline var denseCache: StageStorage<Scalar>
    @usableFromInline var denseCacheValid = false
    /// `max_ij |J_ij|` of the current `J`, for the refinement rule.
    @usableFromInline var jacobianMaxAbs = 0.0
    /// Whether this attempt's stage solves are refined (``refineStage(_:rhs:alpha:stats:)``).
    @usableFromInline var refineStages = false

    /// Singular-`W` bookkeeping, shared with the `solve` that created this stepper.
    public let diagnostics: RosenbrockDiagnostics

    /// A stepper for states of `n` components. `massMatrix` is column-major `n x n` (`nil` is
    /// the identity).
    public init(
        tableau: RosenbrockTableau, function f: Function, count n: Int, massMatrix: [Double]? = nil,
        jacobian source: JacobianSource = .automatic, linearSolver: LinearSolver = .automatic,
        diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) {
        self.tableau = tableau
        self.n = n
        s = tableau.stages
        gamma = tableau.gamma
        sums = RosenbrockStageSumTable(tableau.stageSums, count: n)
        nodes = tableau.c
        timeCoefficients = tableau.d
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
        if case .identity = mass { massIsIdentity = true } else { massIsIdentity = false }
        let structure = f.jacobianStructure.resolved(count: n, hasMass: self.massMatrix != nil, solver: linearSolver)
        jacobianEvaluator = JacobianEvaluator(f, count: n, source: source, structure: structure, solver: linearSolver)
        autonomous = f.isAutonomous
        self.structure = f.jacobianStructure
        var eps = 1.0
        while Scalar(1 + eps / 2).primal != 1 { eps /= 2 }
        unitRoundoff = eps
        W = IterationMatrix(
            count: n, structure: structure, solver: linearSolver, hasMass: self.massMatrix != nil,
            linearization: jacobianEvaluator.linearization)
        let zeros = [Scalar](repeating: .zero, count: n)
        J = [Scalar](repeating: .zero, count: jacobianEvaluator.storageCount)
        f0 = zeros
        dT = zeros
        stages = StageStorage(count: s * n + 2 * n)
        denseCache = StageStorage(count: tableau.dense.count * n)
        scaledC = StageStorage(count: sums.terms.base[2 * s] - sums.terms.base[s])
        arg = zeros
        du = zeros
        fLast = zeros
        self.diagnostics = diagnostics
    }

    /// The right-hand side's Jacobian structure, checked before any work.
    public func validateSettings() throws(DiffEqError) {
        try structure.validateForStiffMethods(count: n, hasMass: massMatrix != nil)
        if let error = W.setupError { throw error }
    }

    /// A singular `W` at every step size tried as the reason the step size collapsed.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        // An iterative linear solver that kept failing (or whose preconditioner did) is the reason.
        if let linear = W.failureMessage { return (.convergenceFailure, "\(name): \(linear)") }
        return diagnostics.failureMessage(method: name).map { (.convergenceFailure, $0) }
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }
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
            jacobianEvaluator.evaluate(f, p, t: t, u: u, fu: f0, h: h, tolerance: tolerance, into: &J, stats: &stats)
            // For an f declared autonomous, ∂f/∂t is zero: dT keeps the zeros it was created
            // with (the difference quotient would compute exactly those, for one f evaluation).
            if !autonomous { evaluateTimeDerivative(f, p, t: t, u: u, stats: &stats) }
            // Read only by the refinement rule, which needs Double states and M = I.
            if Scalar.self == Double.self && massIsIdentity {
                jacobianMaxAbs = J.withUnsafeBytes { StageRefinement.largestMagnitude($0) }
            }
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
        refineStages = Scalar.self == Double.self && massIsIdentity && W.isDense
            && gamma * Swift.abs(h) * jacobianMaxAbs > StageRefinement.threshold
        computeStages(f, p, t: t, h: h, u: u, uNew: &uNew, stats: &stats)
        return Self.errorNorm(stages.base, sums, stages: s, count: n, u: u, uNew: uNew, tolerance: tolerance)
    }

    /// The stages, then `u_new = u + Σ m_j U_j` (or the last stage's argument for FSAL).
    ///
    /// The stage vectors, coefficients and scratch are reached through pointers taken once per
    /// step (``StageStorage``): reaching Swift arrays through `self` or through closures inside
    /// the stage loop cost uniqueness checks and retains per stage, which at n = 2 ... 8 weighed
    /// as much as the arithmetic. Each stage's right-hand side is formed in its slot of
    /// `stages` and solved there in place.
    @inlinable
    mutating func computeStages(
        _ f: Function, _ p: [Scalar], t: Double, h: Double, u: [Scalar], uNew: inout [Scalar],
        stats: inout SolverStats
    ) {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        if !isKnownUniquelyReferenced(&scaledC) { scaledC = scaledC.copy() }
        denseCacheValid = false
        let (n, s) = (self.n, self.s)
        let U = stages.base
        let terms = sums.terms.base
        let w = sums.weights.base
        // C_ij/h, once per step rather than once per component.
        let invH = 1 / h
        let c0 = terms[s]
        for k in 0..<scaledC.count { scaledC.base[k] = w[c0 &+ k] * invH }
        // The argument and output buffers of `f` move into locals for the stage loop: uniquely
        // owned, no exclusivity checks against `self` when passed to `f`.
        var arg: [Scalar] = []
        var du: [Scalar] = []
        swap(&arg, &self.arg)
        swap(&du, &self.du)
        for i in 0..<s {
            stage(i, f, p, t: t, h: h, u: u, arg: &arg, du: &du, stats: &stats)
        }
        if fsal {
            // The last stage was evaluated at the new solution itself.
            for m in 0..<n {
                uNew[m] = arg[m]
                fLast[m] = du[m]
            }
        } else {
            Self.combine(u, into: &uNew, terms: 2 &* s &+ 1, n: n, stages: U, sums: sums)
        }
        swap(&arg, &self.arg)
        swap(&du, &self.du)
    }

    /// `out_m = u_m + Σ_k w_k U_{j_k, m}` over the nonzero terms of sum number `row` of the
    /// flattened tableau (a stage argument, or the new solution), summed in a register per
    /// component in the tableau's order (the same rounding as stage by stage; for the n = 2 ... 20
    /// of the test problems this avoids a load-add-store round trip through `out` per term).
    @inlinable @inline(__always)
    static func combine(
        _ u: [Scalar], into out: inout [Scalar], terms row: Int, n: Int, stages U: UnsafeMutablePointer<Scalar>,
        sums: RosenbrockStageSumTable
    ) {
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        let w = sums.weights.base
        let first = terms[row], last = terms[row &+ 1]
        u.withUnsafeBufferPointer { u in
            out.withUnsafeMutableBufferPointer { x in
                for m in 0..<n {
                    x[m] = termSum(u[m], component: m, first, last, offsets: offsets, stages: U, weights: w)
                }
            }
        }
    }

    /// `start + Σ_k weights[k] U_{j_k, m}` for the terms `first ..< last` (added in order).
    @inlinable @inline(__always)
    static func termSum(
        _ start: Scalar, component m: Int, _ first: Int, _ last: Int, offsets: UnsafeMutablePointer<Int>,
        stages U: UnsafeMutablePointer<Scalar>, weights: UnsafeMutablePointer<Double>
    ) -> Scalar {
        var acc = start
        var k = first
        while k < last {
            acc += U[offsets[k] &+ m].scaled(by: weights[k])
            k &+= 1
        }
        return acc
    }

    /// Stage `i`: `f` at `u + Σ_j a_ij U_j` (or `f0` for the first stage), then `U_i` from
    /// `W U_i = f + h d_i ∂f/∂t + M Σ_j (C_ij/h) U_j`. (`mutating` although it writes only
    /// through pointers: a non-mutating method had the optimizer copy the whole stepper, some
    /// 600 bytes, at every step.)
    @inlinable @inline(__always)
    mutating func stage(
        _ i: Int, _ f: Function, _ p: [Scalar], t: Double, h: Double, u: [Scalar], arg: inout [Scalar],
        du: inout [Scalar], stats: inout SolverStats
    ) {
        let n = self.n
        let U = stages.base
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        if i == 0 {
            f0.withUnsafeBufferPointer { f0 in
                du.withUnsafeMutableBufferPointer { d in
                    for m in 0..<n { d[m] = f0[m] }
                }
            }
        } else {
            Self.combine(u, into: &arg, terms: i, n: n, stages: U, sums: sums)
            f(&du, arg, p, Scalar(t + nodes[i] * h))
            stats.nf += 1
        }
        // The right-hand side, written into U_i's slot: f + h d_i ∂f/∂t + M x with
        // x = Σ_j (C_ij/h) U_j (the mass matrix applied once, in the form it has).
        let Ui = U + i &* n
        let hd = h * timeCoefficients[i]
        let withTime = hd != 0 && !autonomous
        let first = terms[s &+ i], last = terms[s &+ i &+ 1]
        let cOverH = scaledC.base - terms[s]
        du.withUnsafeBufferPointer { fi in
            if massIsIdentity {
                for m in 0..<n {
                    let x = Self.termSum(.zero, component: m, first, last, offsets: offsets, stages: U, weights: cOverH)
                    var r = fi[m]
                    if withTime { r += dT[m].scaled(by: hd) }
                    Ui[m] = r + x
                }
                // A refined solve needs the right-hand side again: kept in the scratch slot
                // (unused with the identity mass matrix).
                if refineStages { (U + s &* n).update(from: Ui, count: n) }
            } else {
                let x = U + s &* n
                for m in 0..<n {
                    x[m] = Self.termSum(.zero, component: m, first, last, offsets: offsets, stages: U, weights: cOverH)
                }
                for m in 0..<n {
                    var r = fi[m]
                    if withTime { r += dT[m].scaled(by: hd) }
                    Ui[m] = r
                }
                Self.applyMass(mass, x, into: Ui, count: n)
            }
        }
        W.solveInPlace(Ui, stats: &stats)
        if refineStages { refineStage(Ui, rhs: U + s &* n, alpha: 1 / (gamma * h), stats: &stats) }
    }

    /// One step of iterative refinement of the stage solve `W x = b`, `W = I/(γh) − J`, with the
    /// residual `b − x/(γh) + J x` summed in twice the working precision
    /// (``StageRefinement/accumulate(_:_:_:_:)``), when `γ|h|·max|J_ij|` exceeds
    /// ``StageRefinement/threshold``. `Double` states with the identity mass matrix only; the
    /// residual is formed in the last `n` entries of ``stages``.
    ///
    /// Why: the rounding of the LU solve perturbs `x` by about `ε·γ|h|·|J||x|`, which is
    /// invisible to the error estimate (both solutions share the rounded stages) but breaks
    /// linear invariants `wᵀf = 0` that the exact method keeps. On E5 (issue #13) the invariant
    /// `y₂ − y₃ − y₄ = 0` drifted by 1e-21 per step at `γh|J| ≈ 4e6` (t in [1e2, 1e4], where
    /// `y ≈ 1e-10`, well inside the tolerance), and since E5 conserves it while `y₂, y₃` decay
    /// to 9e-23, Rodas5P ended with `y₂ = 2.1e-21, y₃ ≈ 0` (2e3 tolerances at reltol 1e-8,
    /// `success`). Refinement with a residual in working precision does not help (its own
    /// rounding is as large: Rodas5P stays 200-5000 tolerances off); with this residual Rodas5P
    /// holds the invariant to 1e-24 and ends within 0.4-6 tolerances at reltol 1e-4 ... 1e-8.
    @inlinable @inline(__always)
    mutating func refineStage(
        _ x: UnsafeMutablePointer<Scalar>, rhs b: UnsafeMutablePointer<Scalar>, alpha: Double, stats: inout SolverStats
    ) {
        // Only for `Double` states (``refineStages``): `Scalar` is `Double` here, and the
        // memory is bound to it.
        let n = self.n
        let r = UnsafeMutableRawPointer(stages.base + (s &+ 1) &* n).assumingMemoryBound(to: Double.self)
        let xd = UnsafeMutableRawPointer(x).assumingMemoryBound(to: Double.self)
        Self.refinementResidual(
            J, b: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Double.self), x: xd, alpha: alpha, into: r, n: n)
        W.solveInPlace(UnsafeMutableRawPointer(r).assumingMemoryBound(to: Scalar.self), stats: &stats)
        for i in 0..<n { xd[i] += r[i] }
    }

    /// `r = b − αx + J x`, each component summed by ``StageRefinement/accumulate(_:_:_:_:)``
    /// (static: nothing of the stepper is copied).
    @inlinable @inline(__always)
    static func refinementResidual(
        _ J: [Scalar], b: UnsafeMutablePointer<Double>, x: UnsafeMutablePointer<Double>, alpha: Double,
        into r: UnsafeMutablePointer<Double>, n: Int
    ) {
        J.withUnsafeBufferPointer { jb in
            guard let base = jb.baseAddress else { return }
            let J = UnsafeRawPointer(base).assumingMemoryBound(to: Double.self)
            for i in 0..<n {
                var sum = b[i], carry = 0.0
                StageRefinement.accumulate(&sum, &carry, -alpha, x[i])
                for j in 0..<n { StageRefinement.accumulate(&sum, &carry, J[i &+ j &* n], x[j]) }
                r[i] = sum + carry
            }
        }
    }

    /// `r += M x` for a diagonal or full mass matrix, skipping zero entries of `x` and `M`.
    /// (Static: as a method it had the optimizer copy the whole stepper, some 600 bytes, for a
    /// call that identity-mass problems never make.)
    @inlinable
    static func applyMass(
        _ mass: MassStructure, _ x: UnsafeMutablePointer<Scalar>, into r: UnsafeMutablePointer<Scalar>, count n: Int
    ) {
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

    /// The scaled RMS norm of `Σ e_j U_j`. (Static, for the reason given at ``applyMass``.)
    @inlinable
    static func errorNorm(
        _ U: UnsafePointer<Scalar>, _ sums: RosenbrockStageSumTable, stages s: Int, count n: Int, u: [Scalar],
        uNew: [Scalar], tolerance: ErrorScale
    ) -> Double {
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        let w = sums.weights.base
        let first = terms[2 &* s], last = terms[2 &* s &+ 1]
        var sum = 0.0
        for m in 0..<n {
            var e = Scalar.zero
            var k = first
            while k < last {
                e += U[offsets[k] &+ m].scaled(by: w[k])
                k &+= 1
            }
            let sc = tolerance.scale(m, u[m].primal, uNew[m].primal)
            sum += e.sumOfSquaredComponents / (sc * sc)
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
            if w != 0 { acc += stages.base[j * n + m].scaled(by: w) }
        }
        return acc
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        if !denseCacheValid {
            if !isKnownUniquelyReferenced(&denseCache) { denseCache = denseCache.copy() }
            // ``denseVector(_:_:)`` for every component, a stage at a time (unit stride, the
            // weight loaded once): the same sums in the same order.
            let U = stages.base
            for k in 0..<denseRows {
                let row = denseCache.base + k &* n
                for m in 0..<n { row[m] = .zero }
                for j in 0..<s {
                    let w = denseFlat[k &* s &+ j]
                    if w == 0 { continue }
                    let Uj = U + j &* n
                    for m in 0..<n { row[m] += Uj[m].scaled(by: w) }
                }
            }
            denseCacheValid = true
        }
        let h = denseCache.base
        for m in 0..<n {
            var poly = Scalar.zero
            for k in stride(from: denseRows - 1, through: 0, by: -1) {
                poly = h[k * n + m] + poly.scaled(by: theta)
            }
            out[m] = u[m].scaled(by: 1 - theta) + (uNew[m] + poly.scaled(by: 1 - theta)).scaled(by: theta)
        }
    }

    /// Appends the step as the Rodas dense output `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))`
    /// (rodas.f, CONTRO), which is the form of ``PiecewisePolynomial``: `c_k = h_{k+1}`, the
    /// dense vectors ``denseVector(_:_:)``, so its values are those of ``interpolate``. The
    /// Rodas-form interpolant with `r` dense rows has order `r + 1` (Rosenbrock23: 2; Rodas4: 3,
    /// Hairer & Wanner II §VI.4; Rodas5P: 4, Steinebach 2023).
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let (n, rows) = (self.n, denseRows)
        dense.appendStep(from: t, to: end, step: dt, rows: rows, order: rows + 1) { v in
            for m in 0..<n {
                v[m] = u[m]
                v[n + m] = uNew[m]
            }
            for k in 0..<rows {
                for m in 0..<n { v[(2 + k) * n + m] = denseVector(k, m) }
            }
        }
    }

    // Performance: the stored `W` (an `IterationMatrix`, 448 bytes) is solved with through the
    // `mutating` ``IterationMatrix/solveInPlace(_:stats:)``. Called as the non-mutating `W.solve`
    // on the stored property, the optimizer copied the whole value to the stack (`memcpy`) at
    // every stage solve, and inside the refinement's closures with its ten retains and releases
    // as well: Rodas5P on VDPOL at 1e-6 took 11,355 instructions per step attempt, 9,299 on
    // 123f1f7 with a04a921 (the refinement) alone. Passed `inout` to a static `solve`, one copy
    // was left before the stage loop and one before each refined solve (8,078 on VDPOL, 76 per
    // HIRES attempt in `memcpy`); with `self` passed by address to the end, none: 7,666 on VDPOL,
    // HIRES 20,293 → 20,198 (123f1f7 + a04a921: 20,214; callgrind, stripped release,
    // rosen-step-bench `ONLY=... SOLVES=11` − `SOLVES=1`, `SWIFT_DETERMINISTIC_HASHING=1`, same
    // bits).
}

