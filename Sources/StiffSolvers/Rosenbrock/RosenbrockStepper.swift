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

    /// `nil` (no matrix) is the identity; `M` column-major `n × n`.
    init(_ M: [Double]?, count n: Int) {
        guard let M else {
            self = .identity
            return
        }
        let diagonal = (0..<n).allSatisfy { j in (0..<n).allSatisfy { i in i == j || M[i + j * n] == 0 } }
        self = diagonal ? .diagonal((0..<n).map { M[$0 * (n + 1)] }) : .full(M)
    }
}

/// Sums over a stage block by their nonzero terms (``RosenbrockStageSums``): `terms` holds the
/// bounds (sum `r` is terms `terms[r] ..< terms[r + 1]`), then, at `termOffset + k`, where term
/// `k`'s stage starts in the block (`j · stride`, the state's ``DiffEqState/stageStride``);
/// `weights[k]` is its coefficient. Never written after `init`: copies of a stepper share it.
@usableFromInline
struct RosenbrockStageSumTable {
    @usableFromInline let terms: StageStorage<Int>
    @usableFromInline let weights: StageStorage<Double>
    @usableFromInline let termOffset: Int

    init(_ sums: RosenbrockStageSums, count stride: Int) {
        terms = StageStorage(sums.bounds + sums.stages.map { $0 * stride })
        weights = StageStorage(sums.weights)
        termOffset = sums.bounds.count
    }

    /// Sum `row`'s terms `first ..< last`, and where the table's offsets and weights start.
    @inlinable @inline(__always)
    func sum(_ row: Int) -> (first: Int, last: Int, offsets: UnsafePointer<Int>, weights: UnsafePointer<Double>) {
        let t = terms.base
        return (t[row], t[row &+ 1], UnsafePointer(t + termOffset), UnsafePointer(weights.base))
    }
}

/// Every Rosenbrock method on every state form: the stages of ``RosenbrockTableau`` in the
/// W-transformed form of Hairer & Wanner II (7.25)-(7.27), `M u' = f` as in §VI.4, the embedded
/// error estimate and the Rodas-form dense output, written once over the state protocol
/// (``DiffEqState``) with the linear algebra as a parameter (``StiffLinearSystem``):
/// ``ArrayStiffLinearSystem`` for arrays (``ArrayRosenbrockStepper``), ``StaticStiffLinearSystem``
/// for fixed-size states (``StaticRosenbrockStepper``). The stages live in a block in the
/// state's own layout, and every sum over them is one of the state's gathered fused operations
/// (``DiffEqState/gatheredCombination(base:stages:offsets:coefficients:terms:to:)``), each
/// component summed in the tableau's term order: the same problem gives the same bits in both
/// forms when both use the same Jacobian.
///
/// Per step attempt: `f(t, u)` (reused from the last stage of an FSAL method), `J` and `∂f/∂t`
/// at `(t, u)` (`∂f/∂t` only when `f` is not declared autonomous), one factorization of
/// `W = M/(γh) − J`, then per stage one evaluation of `f` and one solve with the factors.
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
/// up after five as well) the stepper stops trying, the integration ends, and the loop reports
/// ``ReturnCode/convergenceFailure`` with the ``RosenbrockDiagnostics`` message
/// (``explainFailure(_:)``).
///
/// **Mass matrix.** Constant, possibly singular (index-1 DAEs): `W = M/(γh) − J`, and
/// `M Σ_j (C_ij/h) U_j` in the stage right-hand sides.
///
/// Buffers are allocated in `init`; an attempt allocates nothing (the array form's forward-mode
/// Jacobian of ``JacobianEvaluator`` aside).
public struct RosenbrockStepper<Function: DiffEqFunction, Linear: StiffLinearSystem>: ODEStepper
where Linear.Function == Function {
    public typealias State = Function.State
    public typealias Parameters = Function.Parameters
    public typealias Scalar = Function.State.Scalar

    public let tableau: RosenbrockTableau
    @usableFromInline let n: Int
    @usableFromInline let s: Int
    /// Block elements per stage (``DiffEqState/stageStride``).
    @usableFromInline let stride: Int
    @usableFromInline let gamma: Double
    @usableFromInline let sums: RosenbrockStageSumTable
    /// The dense rows' nonzero terms (row `k`: the dense vector `h_k = Σ_j H_kj U_j`).
    @usableFromInline let denseSums: RosenbrockStageSumTable
    /// `c`, then `d`; read-only after `init`.
    @usableFromInline let coefficients: StageStorage<Double>
    @usableFromInline let denseRows: Int
    @usableFromInline let fsal: Bool
    @usableFromInline let mass: MassStructure
    @usableFromInline let massIsIdentity: Bool
    @usableFromInline let maxConsecutiveSingular = 5
    /// `f.isAutonomous`: `∂f/∂t` is zero and never evaluated.
    @usableFromInline let autonomous: Bool
    /// The unit roundoff of `Scalar`'s values (2^-52 for Double, 2^-23 for Float).
    @usableFromInline let unitRoundoff: Double

    /// `J`, `W` and the solves with it.
    public var linearSystem: Linear
    /// `f(t, u)` at the current starting point.
    @usableFromInline var f0: State
    @usableFromInline var dT: State
    /// The last stage's `f(t + h, u_new)` of an FSAL method.
    @usableFromInline var fLast: State
    /// The stage arguments and `f`'s outputs (scratch: an array's buffers change hands for the
    /// attempt, ``DiffEqState/takeScratch(_:)``).
    @usableFromInline var arg: State
    @usableFromInline var du: State
    /// A zero state (the dense vectors' sums start from it), and for a non-identity mass matrix
    /// the scratch of `Σ_j (C_ij/h) U_j` and of a stage's right-hand side.
    @usableFromInline let zeros: State
    @usableFromInline var massSum: State
    @usableFromInline var massRHS: State
    /// The absolute tolerances as a state (``configure(tolerance:)``).
    @usableFromInline var abstol: State
    /// Stage `U_j` at `j · stride`; after an accepted step, those of that step (the dense output
    /// reads them). Then a slot for a refined stage solve's right-hand side and one for its
    /// residual.
    @usableFromInline var stages: StageStorage<State.StageElement>
    /// The `C` weights of ``sums`` divided by the step's `h`.
    @usableFromInline var scaledC: StageStorage<Double>
    /// The dense vectors `h_k` of the last accepted step (slot `k`), formed by the first
    /// ``interpolate(_:_:theta:t:dt:u:uNew:into:stats:)`` or ``appendDenseStep(_:_:t:dt:end:u:uNew:to:stats:)``
    /// after the step and reused by the others: a solve saving at many points per step (POLLU's
    /// 121 observations over some 25 steps) formed them once per save, 8% of a forward-mode
    /// gradient's time. Invalid once new stages are computed.
    @usableFromInline var denseCache: StageStorage<State.StageElement>
    @usableFromInline var denseCacheValid = false
    @usableFromInline var haveF0 = false
    @usableFromInline var haveJacobian = false
    @usableFromInline var jacobianTime = 0.0
    /// The `h` that `W` is factored for with the current `J` (0: not factored).
    @usableFromInline var factoredStep = 0.0
    /// Whether this attempt's stage solves are refined (``StiffLinearSystem/refine(_:rhs:scratch:alpha:stats:)``).
    @usableFromInline var refineStages = false
    /// ``RosenbrockDiagnostics``' count of consecutive singular factorizations, kept here as
    /// well so that an attempt reads and resets a stored integer rather than a class property
    /// (which costs a dynamic exclusivity check per access, some 70 instructions per attempt).
    @usableFromInline var consecutiveSingular = 0

    /// Singular-`W` bookkeeping, shared with the `solve` that created this stepper.
    public let diagnostics: RosenbrockDiagnostics

    /// A stepper for `tableau` on states shaped like `prototype`, with `linearSystem` built for
    /// the same `f` and mass matrix (`massMatrix` column-major `n × n`, `nil` for the identity);
    /// `autonomous`: `f` is declared not to depend on `t`.
    public init(
        tableau: RosenbrockTableau, linearSystem: Linear, prototype: State, massMatrix: [Double]?,
        autonomous: Bool, diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) {
        self.tableau = tableau
        n = prototype.count
        s = tableau.stages
        stride = prototype.stageStride
        gamma = tableau.gamma
        sums = RosenbrockStageSumTable(tableau.stageSums, count: stride)
        denseSums = RosenbrockStageSumTable(RosenbrockStageSums(rows: tableau.dense), count: stride)
        coefficients = StageStorage(tableau.c + tableau.d)
        denseRows = tableau.dense.count
        fsal = tableau.isFSAL
        mass = MassStructure(massMatrix, count: prototype.count)
        if case .identity = mass { massIsIdentity = true } else { massIsIdentity = false }
        self.autonomous = autonomous
        var eps = 1.0
        while Scalar(1 + eps / 2).primal != 1 { eps /= 2 }
        unitRoundoff = eps
        self.linearSystem = linearSystem
        let zero = prototype.zeroed()
        f0 = zero
        dT = prototype.zeroed()
        fLast = prototype.zeroed()
        arg = prototype.zeroed()
        du = prototype.zeroed()
        zeros = prototype.zeroed()
        massSum = massIsIdentity ? zero.vacated() : prototype.zeroed()
        massRHS = massIsIdentity ? zero.vacated() : prototype.zeroed()
        abstol = prototype.zeroed()
        stages = StageStorage(repeating: prototype.stageElementZero, count: (tableau.stages + 2) * stride)
        scaledC = StageStorage(repeating: 0, count: Swift.max(1, tableau.stageSums.bounds[2 * s] - tableau.stageSums.bounds[s]))
        denseCache = StageStorage(repeating: prototype.stageElementZero, count: Swift.max(1, tableau.dense.count * stride))
        self.diagnostics = diagnostics
    }

    /// The linear system's settings, checked before any work.
    public func validateSettings() throws(DiffEqError) {
        try linearSystem.validate()
    }

    /// A singular `W` at every step size tried as the reason the step size collapsed.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        // An iterative linear solver that kept failing (or whose preconditioner did) is the reason.
        if let linear = linearSystem.failureMessage { return (.convergenceFailure, "\(name): \(linear)") }
        return diagnostics.failureMessage(method: name).map { (.convergenceFailure, $0) }
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }
    public var supportsMassMatrix: Bool { true }
    /// Factorizations of `W` that found it singular, over the whole solve.
    public var singularFactorizations: Int { diagnostics.singularFactorizations }
    /// `‖J‖∞` of the last Jacobian (``StiffLinearSystem/jacobianNorm``; NaN where not
    /// computed): a bound on the dominant eigenvalue's magnitude, the stiff side's estimate for
    /// switching back (``AutoSwitch``, as DifferentialEquations.jl's Rosenbrock23 reports).
    public var stiffnessEstimate: Double { linearSystem.jacobianNorm }

    public mutating func configure(tolerance: ErrorScale) {
        abstol = abstol.assigning(primal: tolerance.abstol)
    }

    @inlinable
    public mutating func start(t: Double, u: State, du f: State) {
        f0.copyComponents(from: f)
        haveF0 = true
        haveJacobian = false
        factoredStep = 0
        resetSingular()
    }

    @inlinable @inline(__always)
    mutating func resetSingular() {
        if consecutiveSingular != 0 {
            consecutiveSingular = 0
            diagnostics.consecutiveSingular = 0
        }
    }

    /// `∂f/∂t` at `(t, u)` into `dT`, by the forward difference of rodas.f (Hairer & Wanner):
    /// `(f(t + δ, u) − f(t, u))/δ`, `δ = sqrt(uround · max(1e-5, |t|))`, reusing `f0 = f(t, u)`.
    /// One evaluation of `f` per starting point; exactly zero for an autonomous `f`.
    ///
    /// Forward-mode AD in `t` would be exact for generic models, but the function protocols offer
    /// no entry point for it. Measured on Prothero-Robinson (λ = −10 … −1e6), the difference
    /// quotient changes the error by less than 1e-11.
    @inlinable
    mutating func evaluateTimeDerivative(
        _ f: Function, _ p: Parameters, t: Double, u: State, stats: inout SolverStats
    ) {
        stats.nf += 1
        let delta = (unitRoundoff * Swift.max(1e-5, Swift.abs(t))).squareRoot()
        let tShift = t + delta
        // The step as the scalar type represents it: (t + δ) − t.
        let step = Scalar(tShift).primal - Scalar(t).primal
        // Beyond |t| ~ 1/uround no shift is representable: treat f as autonomous there.
        let inv = step == 0 ? 0 : 1 / step
        var out = State.takeScratch(&du)
        f.evaluate(into: &out, u, p, tShift)
        // `(f(t + δ) − f0)·inv`, the subtraction as `+ f0·(−1)` (the same IEEE operation).
        out.addScaled(f0, -1)
        dT.assignScaled(out, inv)
        State.returnScratch(&out, to: &du)
    }

    /// Attempts a step of signed size `h` from `(t, u)` into `uNew`; returns the scaled RMS
    /// error, or NaN when `W` is singular (or `J` not finite).
    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Parameters, t: Double, dt h: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        // Gave up on a singular W: let the integrator stop (explainFailure says why).
        if consecutiveSingular >= maxConsecutiveSingular { return .nan }
        if !haveF0 {
            f.evaluate(into: &f0, u, p, t)
            stats.nf += 1
            haveF0 = true
        }
        if !haveJacobian || jacobianTime != t {
            linearSystem.evaluateJacobian(f, p, t: t, u: u, fu: f0, h: h, tolerance: tolerance, stats: &stats)
            // For an f declared autonomous, ∂f/∂t is zero: dT keeps the zeros it was created
            // with (the difference quotient would compute exactly those, for one f evaluation).
            if !autonomous { evaluateTimeDerivative(f, p, t: t, u: u, stats: &stats) }
            haveJacobian = true
            jacobianTime = t
            factoredStep = 0
        }
        if factoredStep != h {
            guard linearSystem.factor(alpha: 1 / (gamma * h), beta: -1, stats: &stats) else {
                factoredStep = 0
                // A non-finite J is f's doing (the integrator reports it as such), not a
                // singular W.
                if linearSystem.jacobianIsFinite {
                    diagnostics.recordSingular(t: t, h: h)
                    consecutiveSingular = diagnostics.consecutiveSingular
                }
                return .nan
            }
            factoredStep = h
        }
        resetSingular()
        refineStages = linearSystem.refinesSolves(gammaStep: gamma * Swift.abs(h))
        let sum = computeStages(f, p, t: t, h: h, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
        // Over values and partials (DESIGN.md §4).
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    /// The stages, then `uNew` and the error estimate's weighted sum of squares (here, where
    /// the block's and the tables' pointers are at hand). The stage block, the coefficients and the scratch are reached
    /// through pointers taken once per attempt (``StageStorage``) and passed to each stage:
    /// reached through `self` inside the stage loop they were loaded again for every stage (the
    /// stores through the block may alias them), and Swift arrays cost uniqueness checks and
    /// retains per stage, which at n = 2 ... 8 weighed as much as the arithmetic. Each stage's
    /// right-hand side is formed in its slot of the block and solved there in place.
    @inlinable
    mutating func computeStages(
        _ f: Function, _ p: Parameters, t: Double, h: Double, u: State, uNew: inout State, tolerance: ErrorScale,
        stats: inout SolverStats
    ) -> Double {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        denseCacheValid = false
        let U = stages.base
        let terms = sums.terms.base
        let offsets = UnsafePointer(terms + sums.termOffset)
        let weights = UnsafePointer(sums.weights.base)
        let coefficients = UnsafePointer(self.coefficients.base)
        // C_ij/h = w_k·(1/h). With one block element per stage (a value state; `stageStride` is
        // then a constant 1) and the identity mass matrix each product is used once and formed
        // where it is used; otherwise once per step rather than once per component, `cOverH[k]`
        // being term `k`'s. The same products either way.
        let invH = 1 / h
        // `u.stageStride` rather than the stored `stride`: a constant 1 for a value state once
        // specialized (no multiply per stage slot, no loop for a slot copy).
        let stride = u.stageStride
        let formsScaleInline = stride == 1 && massIsIdentity
        var cOverH = weights
        if !formsScaleInline {
            if !isKnownUniquelyReferenced(&scaledC) { scaledC = scaledC.copy() }
            let c0 = terms[s]
            for k in 0..<scaledC.count { scaledC.base[k] = weights[c0 &+ k] * invH }
            cOverH = UnsafePointer(scaledC.base - c0)
        }
        let refine = refineStages
        let alpha = 1 / (gamma * h)
        // `f`'s argument and output move into locals for the stage loop: uniquely owned, no
        // exclusivity checks against `self` when passed to `f`.
        var arg = State.takeScratch(&self.arg)
        var du = State.takeScratch(&self.du)
        for i in 0..<s {
            if i == 0 {
                du.copyComponents(from: f0)
            } else {
                arg.gatheredCombination(
                    base: u, stages: U, offsets: offsets, coefficients: weights, terms: terms[i], to: terms[i &+ 1])
                f.evaluate(into: &du, arg, p, t + coefficients[i] * h)
            }
            let slot = U + i &* stride
            stageRightHandSide(
                i, into: slot, du, hd: h * coefficients[s &+ i], U: U, terms: terms,
                offsets: offsets, cOverH: cOverH, scaleBy: formsScaleInline ? invH : nil)
            linearSystem.solve(slot, stats: &stats)
            if refine {
                linearSystem.refine(
                    slot, rhs: U + s &* stride, scratch: U + (s &+ 1) &* stride, alpha: alpha, stats: &stats)
            }
        }
        stats.nf += s &- 1
        linearSystem.countSolves(refine ? 2 &* s : s, stats: &stats)
        if fsal {
            // The last stage was evaluated at the new solution itself.
            uNew.copyComponents(from: arg)
            fLast.copyComponents(from: du)
        } else {
            uNew.gatheredCombination(
                base: u, stages: U, offsets: offsets, coefficients: weights, terms: terms[2 &* s &+ 1],
                to: terms[2 &* s &+ 2])
        }
        State.returnScratch(&arg, to: &self.arg)
        State.returnScratch(&du, to: &self.du)
        return State.gatheredWeightedSumOfSquares(
            stages: U, offsets: offsets, coefficients: weights, terms: terms[2 &* s], to: terms[2 &* s &+ 1], from: u,
            to: uNew, abstol: abstol, tolerance: tolerance)
    }

    /// Stage `i`'s right-hand side `f + h d_i ∂f/∂t + M Σ_j (C_ij/h) U_j` (`fi` is `f` at the
    /// stage's argument; term `k`'s `C_ij/h` is `cOverH[k]`, or `cOverH[k]·invH` given `invH`)
    /// into its slot; with refinement, kept again in the first spare slot. (`mutating` although
    /// it writes only through pointers: a non-mutating method had the optimizer copy the whole
    /// stepper at every step.)
    @inlinable @inline(__always)
    mutating func stageRightHandSide(
        _ i: Int, into slot: UnsafeMutablePointer<State.StageElement>, _ fi: State, hd: Double,
        U: UnsafeMutablePointer<State.StageElement>, terms: UnsafeMutablePointer<Int>, offsets: UnsafePointer<Int>,
        cOverH: UnsafePointer<Double>, scaleBy invH: Double?
    ) {
        let withTime = hd != 0 && !autonomous
        let first = terms[s &+ i]
        let last = terms[s &+ i &+ 1]
        if massIsIdentity {
            if let invH {
                State.storeGatheredSum(
                    into: slot, fi, plus: dT, scaledBy: hd, addingB: withTime, stages: U, offsets: offsets,
                    coefficients: cOverH, scale: invH, terms: first, to: last)
            } else {
                // The products precomputed: the `· 1` folds away.
                State.storeGatheredSum(
                    into: slot, fi, plus: dT, scaledBy: hd, addingB: withTime, stages: U, offsets: offsets,
                    coefficients: cOverH, scale: 1, terms: first, to: last)
            }
            // A refined solve needs the right-hand side again (a loop: `update(from:count:)`
            // calls `memmove`).
            if refineStages {
                let stride = fi.stageStride
                let copy = U + s &* stride
                for o in 0..<stride { copy[o] = slot[o] }
            }
        } else {
            stageWithMass(
                i, slot, withTime: withTime, hd: hd, U: U, offsets: offsets, coefficients: cOverH, terms: first,
                to: last, fi: fi)
        }
    }

    /// A stage's right-hand side `f + h d_i ∂f/∂t + M x`, `x = Σ_j (C_ij/h) U_j`, with the mass
    /// matrix applied once in the form it has (zero entries of `x` and `M` skipped).
    @inlinable
    mutating func stageWithMass(
        _ i: Int, _ slot: UnsafeMutablePointer<State.StageElement>, withTime: Bool, hd: Double,
        U: UnsafeMutablePointer<State.StageElement>, offsets: UnsafePointer<Int>, coefficients: UnsafePointer<Double>,
        terms first: Int, to last: Int, fi: State
    ) {
        var x = State.takeScratch(&massSum)
        var r = State.takeScratch(&massRHS)
        x.gatheredCombination(
            base: zeros, stages: U, offsets: offsets, coefficients: coefficients, terms: first, to: last)
        r.copyComponents(from: fi)
        if withTime { r.addScaled(dT, hd) }
        switch mass {
        case .identity:
            r.addScaled(x, 1)
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
        r.store(into: U, stage: i)
        State.returnScratch(&x, to: &massSum)
        State.returnScratch(&r, to: &massRHS)
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

    /// The dense vectors `h_k = Σ_j H_kj U_j` of the last accepted step into ``denseCache``
    /// (each from zero, over the row's nonzero terms in stage order), unless already there.
    @inlinable
    mutating func formDenseVectors() {
        if denseCacheValid { return }
        if !isKnownUniquelyReferenced(&denseCache) { denseCache = denseCache.copy() }
        let U = stages.base
        for k in 0..<denseRows {
            let d = denseSums.sum(k)
            State.storeGatheredSum(
                into: denseCache.base + k &* stride, zeros, plus: zeros, scaledBy: 0, addingB: false, stages: U,
                offsets: d.offsets, coefficients: d.weights, scale: 1, terms: d.first, to: d.last)
        }
        denseCacheValid = true
    }

    /// The Rodas dense output of the step just accepted at `t + θh`:
    /// `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))` (rodas.f, CONTRO).
    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: Parameters, theta: Double, t: Double, dt: Double, u: State, uNew: State,
        into out: inout State, stats: inout SolverStats
    ) {
        formDenseVectors()
        let h = UnsafePointer(denseCache.base)
        for m in 0..<n {
            var poly = Scalar.zero
            for k in Swift.stride(from: denseRows - 1, through: 0, by: -1) {
                poly = State.component(m, ofStage: k, in: h, stride: stride) + poly.scaled(by: theta)
            }
            out[m] = u[m].scaled(by: 1 - theta) + (uNew[m] + poly.scaled(by: 1 - theta)).scaled(by: theta)
        }
    }

    /// Appends the step as the Rodas dense output `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))`
    /// (rodas.f, CONTRO), which is the form of ``PiecewisePolynomial``: `c_k = h_{k+1}`, the
    /// dense vectors, so its values are those of ``interpolate``. The Rodas-form interpolant
    /// with `r` dense rows has order `r + 1` (Rosenbrock23: 2; Rodas4: 3, Hairer & Wanner II
    /// §VI.4; Rodas5P: 4, Steinebach 2023).
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        formDenseVectors()
        let (n, rows, stride) = (self.n, denseRows, self.stride)
        let h = UnsafePointer(denseCache.base)
        dense.appendStep(from: t, to: end, step: dt, rows: rows, order: rows + 1) { v in
            for m in 0..<n {
                v[m] = u[m]
                v[n + m] = uNew[m]
            }
            for k in 0..<rows {
                for m in 0..<n { v[(2 + k) * n + m] = State.component(m, ofStage: k, in: h, stride: stride) }
            }
        }
    }

    // Performance: the linear system (for arrays an `IterationMatrix` of 448 bytes) is stored
    // and reached `inout` through `mutating` requirements: called as a non-mutating method on a
    // stored property, the optimizer copied the whole value to the stack (`memcpy`) at every
    // stage solve (Rodas5P VDPOL at 1e-6: 11,355 instructions per step attempt against 7,666
    // with `self` passed by address; callgrind, stripped release, rosen-step-bench).
    // The gathered sums run over the term table's indices `first ..< last` from its base
    // pointers, and a value state forms `C_ij/h` inline (`formsScaleInline`): with a term count
    // and pointers offset to the run, and `C/h` filled into a table per attempt, Rodas5P at
    // 1e-6 took 3,088 instructions per attempt on VDPOL fixed-size (2,694 after) and 20,806 on
    // HIRES `[Double]` (20,334). The error estimate's sum is formed in `computeStages`, where
    // the block's and tables' pointers are live (2,677 and 20,266; base main 13d79d1's two
    // steppers 2,634 and 20,073). Tried and dropped: one test of `refine` per stage with the
    // solve written twice (VDPOL fixed-size 2,713, HIRES `[Double]` 20,603, VDPOL `[Double]`
    // 7,788 against 7,634).
}

/// The Rosenbrock stepper of array states (``ODEProblem``).
public typealias ArrayRosenbrockStepper<F: ODEFunction> = RosenbrockStepper<F, ArrayStiffLinearSystem<F>>

/// The Rosenbrock stepper of fixed-size states (``StaticODEProblem``): `Double` states
/// (``StaticVector``, `SIMD`) and first-order dual states (`FixedVector<N, Dual<K, Double>>`,
/// forward-mode gradients).
public typealias StaticRosenbrockStepper<F: StaticODEFunction> = RosenbrockStepper<F, StaticStiffLinearSystem<F>>
where F.State.Scalar: StaticRosenbrockScalar

extension RosenbrockStepper where Function: ODEFunction, Linear == ArrayStiffLinearSystem<Function> {
    /// A stepper for states of `n` components. `massMatrix` is column-major `n x n` (`nil` is
    /// the identity).
    public init(
        tableau: RosenbrockTableau, function f: Function, count n: Int, massMatrix: [Double]? = nil,
        jacobian source: JacobianSource = .automatic, linearSolver: LinearSolver = .automatic,
        diagnostics: RosenbrockDiagnostics = RosenbrockDiagnostics()
    ) {
        let M = massMatrix.flatMap { $0.count == n * n ? $0 : nil }
        self.init(
            tableau: tableau,
            linearSystem: ArrayStiffLinearSystem(
                function: f, count: n, massMatrix: M, jacobian: source, linearSolver: linearSolver),
            prototype: [Function.Scalar](repeating: .zero, count: n), massMatrix: M, autonomous: f.isAutonomous,
            diagnostics: diagnostics)
    }

    /// How `J` is obtained for this right-hand side.
    public var jacobianKind: JacobianEvaluator<Function>.Kind { linearSystem.jacobianKind }
}

extension RosenbrockStepper
where Function: StaticODEFunction, Function.State.Scalar: StaticRosenbrockScalar,
    Linear == StaticStiffLinearSystem<Function> {
    /// A stepper for `tableau` on `f`'s states, with `J` from `jacobian`; `massMatrix` is the
    /// problem's (``StaticODEProblem/massMatrix``, `nil` for the identity).
    public init(
        tableau: RosenbrockTableau, function f: Function, jacobian: JacobianSource = .automatic,
        massMatrix: Function.State.SquareMatrix? = nil
    ) {
        let linear = StaticStiffLinearSystem(function: f, jacobian: jacobian, massMatrix: massMatrix)
        self.init(
            tableau: tableau, linearSystem: linear, prototype: Function.State(), massMatrix: linear.massColumns,
            autonomous: f.isAutonomous)
    }
}
