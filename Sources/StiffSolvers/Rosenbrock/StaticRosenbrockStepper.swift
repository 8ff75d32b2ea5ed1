import DenseLinearAlgebra
import DiffEqCore

// The Rosenbrock methods on the fixed-size state form (`StaticODEProblem`), for the same reason
// as the explicit methods' StaticRKStepper: at n = 2 ... 8 (VDPOL, HIRES) a step of the
// array form spends more time on array and pointer bookkeeping, runtime-length loops and the
// general LU's calls than on arithmetic. Here the state, `J`, `W` and its LU factors have a size
// the compiler knows: every loop has a constant trip count, and for the smallest systems the
// whole step, factors included, is straight-line code in registers.
//
// Same numbers as the array form: every sum is formed in the same order with the same roundings
// as RosenbrockStepper (stage arguments, stage right-hand sides, error estimate, dense output),
// `W` is assembled as IterationMatrix assembles it and factored and solved with the operations
// of DenseLinearAlgebra's unblocked kernel (its row-form solve, which gives the same bits as its
// column form; StaticIterationMatrix.swift), and the loop is ODEIntegrator's. With the same Jacobian (analytic in both forms,
// or forward differences in both) the accepted steps and end states are bit-identical
// (StaticRosenbrockTests).

/// The stage values `U_j` of a fixed-size Rosenbrock solve and the LU factors of `W`, in one
/// manually managed block, copied before writing when shared so that integrators keep value
/// semantics.
///
/// Above ``StaticRosenbrockStepper/registerLimit`` the factors live here, in memory, rather
/// than in a local value: the factorization's loops no longer unroll completely, and on a local
/// value of a SIMD state the optimizer turned each access by a loop index into a spill of the
/// whole column to the stack and a reload (a HIRES step, n = 8, took 16 % longer than the array
/// form's). The stages are then solved in place in their slots for the same reason.
@usableFromInline
final class StaticRosenbrockStages<State: StaticState> {
    @usableFromInline let U: UnsafeMutablePointer<State>
    @usableFromInline let count: Int
    /// `W`, then its LU factors, column `j` at `j * ld` (``StaticLUKernel/leadingDimension(_:)``).
    @usableFromInline let factors: UnsafeMutablePointer<Double>
    @usableFromInline let reciprocals: UnsafeMutablePointer<Double>
    @usableFromInline let pivots: UnsafeMutablePointer<Int32>
    @usableFromInline let n: Int
    @usableFromInline let ld: Int

    @usableFromInline init(count: Int) {
        self.count = count
        U = .allocate(capacity: count)
        U.initialize(repeating: State(), count: count)
        n = State().scalarCount
        ld = StaticLUKernel.leadingDimension(State.self)
        factors = .allocate(capacity: n * ld)
        factors.initialize(repeating: 0, count: n * ld)
        reciprocals = .allocate(capacity: n)
        reciprocals.initialize(repeating: 0, count: n)
        pivots = .allocate(capacity: n)
        pivots.initialize(repeating: 0, count: n)
    }

    @usableFromInline func copy() -> StaticRosenbrockStages {
        let c = StaticRosenbrockStages(count: count)
        c.U.update(from: U, count: count)
        c.factors.update(from: factors, count: n * ld)
        c.reciprocals.update(from: reciprocals, count: n)
        c.pivots.update(from: pivots, count: n)
        return c
    }

    deinit {
        U.deinitialize(count: count)
        U.deallocate()
        factors.deallocate()
        reciprocals.deallocate()
        pivots.deallocate()
    }
}

/// Any ``RosenbrockTableau`` on a fixed-size state (``StaticODEProblem``), stepped by the one
/// loop (``ODEIntegrator``) as ``RosenbrockStepper`` is for arrays, operation for operation:
/// the same stages, error estimate, Jacobian reuse rule (`J` and `∂f/∂t` once per starting
/// point, kept across rejected attempts), singular-`W` handling (the attempt is rejected; after
/// five consecutive singular factorizations the solve ends with
/// ``ReturnCode/convergenceFailure``) and Rodas dense output. The same problem in both forms
/// gives the same steps and the same numbers when both use the same Jacobian
/// (`StaticRosenbrockTests`), and the loop gives this form events, dense output
/// (`dense: true`), `saveat`, `tstops` and `isOutOfDomain`.
///
/// `J` is, under ``JacobianSource/automatic``, the function's analytic Jacobian when it has one
/// (``StaticODEFunction/hasAnalyticJacobian``), else forward-mode AD for the generic form
/// (``StaticModelRHS``: the model on nested duals, as ``GenericRHS`` in the array form), else
/// forward differences (as for a closure in the array form).
///
/// **States.** `Double` states (``StaticVector``, `SIMD`) and first-order dual states
/// (`FixedVector<N, Dual<K, Double>>`, forward-mode gradients): the scalar chooses how `W` is
/// factored (``StaticRosenbrockScalar``). For `Double`, `W = M/(γh) − J` is factored by
/// ``StaticLU`` (by value) or ``StaticLUInMemory``, the two implementations of
/// ``StaticStageSolver``. For dual numbers, as in the array form, only the values of `W` are
/// factored (``FirstOrderDualLU``) and the partials of each stage follow from them: the `J` of a
/// dual state is `∂f/∂u` at the dual point, so its partials are the derivatives of the Jacobian
/// along the seeded directions, and the dual solve is the derivative of the `Double` one.
///
/// **Mass matrix.** ``StaticODEProblem/massMatrix`` (`M u' = f`, `M` constant, possibly singular:
/// index-1 DAEs), used as ``RosenbrockStepper`` uses the array form's: `W = M/(γh) − J`, and
/// `M Σ_j (C_ij/h) U_j` in the stage right-hand sides.
///
/// Performance: the step loop allocates nothing; the stage block is a class instance checked
/// for uniqueness once per attempt; for `n ≤` ``registerLimit`` the factors are a local value
/// that stays in registers through the stage solves.
public struct StaticRosenbrockStepper<Function: StaticODEFunction>: ODEStepper
where Function.State.Scalar: StaticRosenbrockScalar {
    public typealias State = Function.State
    public typealias Scalar = State.Scalar
    public typealias Matrix = State.SquareMatrix

    public let tableau: RosenbrockTableau
    @usableFromInline let s: Int
    @usableFromInline let gamma: Double
    /// The tableau's nonzero stage-sum terms (``RosenbrockStageSums``), built for a system of
    /// one component so that a term's offset is its stage index.
    @usableFromInline let sums: RosenbrockStageSumTable
    /// `c`, then `d`, then the dense rows (row `k` at `2s + k*s`); read-only after `init`.
    @usableFromInline let coefficients: StageStorage<Double>
    @usableFromInline let denseRows: Int
    @usableFromInline let fsal: Bool
    @usableFromInline let autonomous: Bool
    /// Where `J` comes from (analytic, forward-mode AD or differences, ``StaticJacobian``).
    @usableFromInline let jacobianSource: StaticJacobian
    /// The mass matrix as the array form's stepper holds it (``MassStructure``), and as a
    /// fixed-size matrix for the `Double` factorization; `nil` and `.identity` for `M = I`.
    @usableFromInline let mass: MassStructure
    @usableFromInline let massColumns: [Double]?
    @usableFromInline let massMatrix: Matrix?
    /// The factors of `W` for a dual state (``FirstOrderDualLU``), `nil` for `Double`.
    @usableFromInline var dualFactors: StaticDualIterationMatrix<State>?
    @usableFromInline let maxConsecutiveSingular = 5
    /// The solve's absolute tolerances as a state, and its relative tolerance
    /// (``configure(tolerance:)``).
    @usableFromInline var abstol = State()
    @usableFromInline var reltol = 0.0
    @usableFromInline var stages: StaticRosenbrockStages<State>

    @usableFromInline var J = Matrix()
    /// `max_ij |J_ij|`, for the refinement rule of ``StageRefinement``.
    @usableFromInline var jacobianMaxAbs = 0.0
    @usableFromInline var dT = State()
    /// `f(t, u)` at the current starting point, and an FSAL method's last stage value.
    @usableFromInline var f0 = State()
    @usableFromInline var fLast = State()
    @usableFromInline var haveF0 = false
    @usableFromInline var haveJacobian = false
    @usableFromInline var jacobianTime = 0.0
    @usableFromInline var consecutiveSingular = 0
    @usableFromInline var singularCount = 0
    @usableFromInline var lastSingularTime = 0.0
    @usableFromInline var lastSingularStep = 0.0

    /// A stepper for `tableau` on `f`'s states, with `J` from `jacobian`; `massMatrix` is the
    /// problem's (``StaticODEProblem/massMatrix``, `nil` for the identity).
    public init(
        tableau: RosenbrockTableau, function f: Function, jacobian: JacobianSource = .automatic, massMatrix: Matrix? = nil
    ) {
        self.tableau = tableau
        s = tableau.stages
        gamma = tableau.gamma
        sums = RosenbrockStageSumTable(tableau.stageSums, count: 1)
        coefficients = StageStorage(tableau.c + tableau.d + tableau.dense.flatMap { $0 })
        denseRows = tableau.dense.count
        fsal = tableau.isFSAL
        autonomous = f.isAutonomous
        jacobianSource = StaticJacobian(jacobian, for: f)
        stages = StaticRosenbrockStages(count: tableau.stages)
        let n = State().scalarCount
        // As SolveSetup does for the array form: an identity given explicitly is no mass matrix.
        let columns = massMatrix.map { m in (0..<(n * n)).map { k in m[k % n, k / n].primal } }
        if let M = columns, !(0..<n).allSatisfy({ j in (0..<n).allSatisfy { i in M[i + j * n] == (i == j ? 1 : 0) } }) {
            massColumns = M
            self.massMatrix = massMatrix
            let diagonal = (0..<n).allSatisfy { j in (0..<n).allSatisfy { i in i == j || M[i + j * n] == 0 } }
            mass = diagonal ? .diagonal((0..<n).map { M[$0 * (n + 1)] }) : .full(M)
        } else {
            massColumns = nil
            self.massMatrix = nil
            mass = .identity
        }
        dualFactors = Scalar.firstOrderPartialCount == nil ? nil : StaticDualIterationMatrix(count: n)
    }

    public var supportsMassMatrix: Bool { true }

    /// Factorizations of `W` that found it singular, over the whole solve.
    public var singularFactorizations: Int { singularCount }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }

    public mutating func configure(tolerance: ErrorScale) {
        abstol = State().assigning(primal: tolerance.abstol)
        reltol = tolerance.reltol
    }

    /// `f(t, u)` is the next step's `f0`; `J` is evaluated by the next attempt.
    @inlinable
    public mutating func start(t: Double, u: State, du: State) {
        f0 = du
        haveF0 = true
        haveJacobian = false
        consecutiveSingular = 0
    }

    /// A new starting point: `J` is evaluated again, and `f0` is an FSAL method's last stage.
    @inlinable
    public mutating func accept() {
        haveJacobian = false
        if fsal {
            f0 = fLast
            haveF0 = true
        } else {
            haveF0 = false
        }
    }

    /// A step-size collapse while `W` stayed singular is reported as
    /// ``ReturnCode/convergenceFailure`` with the array form's message.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        guard consecutiveSingular > 0 else { return nil }
        let message = RosenbrockDiagnostics.message(
            method: tableau.name, consecutive: consecutiveSingular, t: lastSingularTime, h: lastSingularStep)
        return (.convergenceFailure, message)
    }

    /// `J` at `(t, u)` for steps of size `h` (``StaticJacobian``; forward differences reuse
    /// `f0 = f(t, u)`).
    @inlinable
    mutating func evaluateJacobian(
        _ f: Function, _ p: Function.Parameters, t: Double, u: State, h: Double, tolerance: ErrorScale,
        stats: inout SolverStats
    ) {
        J = jacobianSource.evaluate(f, p, t: t, u: u, fu: f0, h: h, tolerance: tolerance, stats: &stats)
    }

    /// `∂f/∂t` at `(t, u)`: rodas.f's forward difference, as
    /// ``RosenbrockStepper``'s `evaluateTimeDerivative` (one evaluation of `f`).
    @inlinable
    mutating func evaluateTimeDerivative(_ f: Function, _ p: Function.Parameters, t: Double, u: State, stats: inout SolverStats) {
        stats.nf += 1
        let delta = (Double.ulpOfOne * Swift.max(1e-5, Swift.abs(t))).squareRoot()
        let tShift = t + delta
        let step = tShift - t
        // Beyond |t| ~ 1/uround no shift is representable: treat f as autonomous there.
        let inv = step == 0 ? 0 : 1 / step
        dT = (f(u, p, tShift) - f0) * inv
    }

    /// `u + Σ_k w_k U_{j_k}` over the terms of sum `row` of the flattened tableau, in order.
    @inlinable @inline(__always)
    func combine(_ u: State, row: Int, U: UnsafeMutablePointer<State>) -> State {
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        let w = sums.weights.base
        var acc = u
        var k = terms[row]
        let last = terms[row &+ 1]
        while k < last {
            acc = acc + U[offsets[k]] * w[k]
            k &+= 1
        }
        return acc
    }

    /// Attempts a step of signed size `h` from `(t, u)` into `uNew`; returns the scaled RMS
    /// error, or NaN when `W` is singular (or `J` not finite).
    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Function.Parameters, t: Double, dt h: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        // Gave up on a singular W: let the loop stop (explainFailure says why).
        if consecutiveSingular >= maxConsecutiveSingular { return .nan }
        if !haveF0 {
            f0 = f(u, p, t)
            stats.nf += 1
            haveF0 = true
        }
        if !haveJacobian || jacobianTime != t {
            evaluateJacobian(f, p, t: t, u: u, h: h, tolerance: tolerance, stats: &stats)
            let n = State().scalarCount
            var largest = 0.0
            for j in 0..<n { for i in 0..<n { largest = Swift.max(largest, Swift.abs(J[i, j].primal)) } }
            jacobianMaxAbs = largest
            // For an f declared autonomous, ∂f/∂t is zero and dT keeps its zeros.
            if !autonomous { evaluateTimeDerivative(f, p, t: t, u: u, stats: &stats) }
            haveJacobian = true
            jacobianTime = t
        }
        // W is factored at every attempt: an attempt follows either an accepted step (new J) or
        // a rejection (new h), the two cases in which the array form refactors too.
        stats.nluFactorizations += 1
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        return Scalar._factorAndRunStages(&self, f, p, t: t, h: h, u: u, uNew: &uNew, stats: &stats)
    }

    /// The largest state solved with the LU factors held by value (``StaticLU``); above it they
    /// are kept in memory (``StaticRosenbrockStages``). Measured (rosen-step-bench, ns per
    /// step): n = 2, VDPOL Rodas5P, by value 215 against 280 in memory; n = 3, OREGO (`SIMD3`),
    /// in memory 303 against 309 (Rodas5P) and 248 against 262 (Rodas4), alternating runs;
    /// n = 8, HIRES Rodas5P, in memory 620 against 1350 (by value, the loops no longer unroll
    /// and each access by a loop index moves a whole column through the stack).
    @inlinable static var registerLimit: Int { 2 }

    /// Records a singular `W` (unless `J` itself is not finite: that is f's doing, which the loop
    /// reports as such) and returns the NaN error that rejects the attempt.
    @inlinable
    mutating func singular(t: Double, h: Double) -> Double {
        var finiteJ = true
        for j in 0..<State().scalarCount { finiteJ = finiteJ && J[column: j].isFiniteState }
        if finiteJ {
            singularCount += 1
            consecutiveSingular += 1
            lastSingularTime = t
            lastSingularStep = h
        }
        return .nan
    }

    /// The stages with `W` factored (`lu`), then `uNew` and the scaled RMS error. (Generic over
    /// the factors' form rather than taking a closure: the closure was compiled as a function of
    /// its own, called per stage, with the factors read back from memory.)
    @inlinable @inline(__always)
    mutating func stagesAndError<LU: StaticColumnSolver>(
        _ f: Function, _ p: Function.Parameters, t: Double, h: Double, u: State, uNew: inout State, _ lu: LU,
        stats: inout SolverStats
    ) -> Double where LU.Column == State {
        consecutiveSingular = 0
        let n = State().scalarCount
        let U = stages.U
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        let w = sums.weights.base
        let c = coefficients.base
        let d = c + s
        let invH = 1 / h
        let alpha = 1 / (gamma * h)
        // As the array form: `Double` states with the identity mass matrix only.
        let refine = LU.refinesStages && massMatrix == nil && gamma * Swift.abs(h) * jacobianMaxAbs > StageRefinement.threshold
        var arg = u
        var du = f0
        for i in 0..<s {
            if i > 0 {
                arg = combine(u, row: i, U: U)
                du = f(arg, p, t + c[i] * h)
            }
            // W U_i = f + h d_i ∂f/∂t + M Σ_j (C_ij/h) U_j, solved in U_i's slot.
            let hd = h * d[i]
            var r = du
            if hd != 0 && !autonomous { r = r + dT * hd }
            var x = State()
            var k = terms[s &+ i]
            let last = terms[s &+ i &+ 1]
            while k < last {
                x = x + U[offsets[k]] * (w[k] * invH)
                k &+= 1
            }
            let b = Self.addingMass(mass, x, to: r)
            lu.solve(b, into: U + i)
            if refine { U[i] = lu.refined(U[i], rhs: b, jacobian: J, alpha: alpha) }
        }
        stats.nf += s - 1
        stats.nlinsolves += refine ? 2 &* s : s
        if fsal {
            // The last stage was evaluated at the new solution itself.
            uNew = arg
            fLast = du
        } else {
            uNew = combine(u, row: 2 &* s &+ 1, U: U)
        }
        let e = combine(State(), row: 2 &* s, U: U)
        var sum = 0.0
        for m in 0..<n {
            let sc = errorWeight(abstol: abstol[m].primal, reltol: reltol, u[m].primal, uNew[m].primal)
            sum += e[m].sumOfSquaredComponents / (sc * sc)
        }
        // Over values and partials (DESIGN.md §4), as the array form.
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    /// `r + M x` summed as ``RosenbrockStepper``'s `applyMass` (zero entries of `x` and `M`
    /// skipped), `r + x` for the identity.
    @inlinable @inline(__always)
    static func addingMass(_ mass: MassStructure, _ x: State, to r: State) -> State {
        switch mass {
        case .identity:
            return r + x
        case .diagonal(let diagonal):
            var out = r
            for m in 0..<x.scalarCount { out[m] += x[m].scaled(by: diagonal[m]) }
            return out
        case .full(let M):
            let n = x.scalarCount
            var out = r
            for k in 0..<n where x[k] != .zero {
                for m in 0..<n {
                    let mk = M[m &+ k &* n]
                    if mk != 0 { out[m] += x[k].scaled(by: mk) }
                }
            }
            return out
        }
    }

    /// The dense vector `h_k = Σ_j H_kj U_j` of the last accepted step (rodas.f, CONTRO), summed
    /// as ``RosenbrockStepper``'s `denseVector`.
    @inlinable @inline(__always)
    func denseVector(_ k: Int) -> State {
        let U = stages.U
        let dense = coefficients.base + 2 &* s
        var hk = State()
        for j in 0..<s {
            let w = dense[k &* s &+ j]
            if w != 0 { hk = hk + U[j] * w }
        }
        return hk
    }

    /// The Rodas dense output of the step just accepted at `t + θh`:
    /// `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))`, summed as ``RosenbrockStepper``'s
    /// `interpolate`.
    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: Function.Parameters, theta: Double, t: Double, dt: Double, u: State, uNew: State,
        into out: inout State, stats: inout SolverStats
    ) {
        var poly = State()
        var k = denseRows &- 1
        while k >= 0 {
            poly = denseVector(k) + poly * theta
            k &-= 1
        }
        out = u * (1 - theta) + (uNew + poly * (1 - theta)) * theta
    }

    /// Appends the step in the Rodas form, which is ``PiecewisePolynomial``'s (`c_k = h_{k+1}`),
    /// as ``RosenbrockStepper/appendDenseStep(_:_:t:dt:end:u:uNew:to:stats:)`` does: the same
    /// sums, so the same values as the array form's dense output.
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let (n, rows) = (State().scalarCount, denseRows)
        dense.appendStep(from: t, to: end, step: dt, rows: rows, order: rows + 1) { v in
            for m in 0..<n {
                v[m] = u[m]
                v[n + m] = uNew[m]
            }
            for k in 0..<rows {
                let hk = denseVector(k)
                for m in 0..<n { v[(2 + k) * n + m] = hk[m] }
            }
        }
    }
}

extension RosenbrockAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use: the one loop
    /// (``ODEIntegrator``) with this method's fixed-size stepper.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<StaticRosenbrockStepper<F>> where F.State.Scalar: StaticRosenbrockScalar
    {
        try ODEIntegrator(
            problem,
            stepper: StaticRosenbrockStepper(
                tableau: tableau, function: problem.f, jacobian: jacobian, massMatrix: problem.massMatrix),
            options: options)
    }

    /// Solves a fixed-size problem with this method. A solve that ends because `W` stayed
    /// singular returns ``ReturnCode/convergenceFailure`` with a message saying where.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

/// A scalar the fixed-size Rosenbrock and SDIRK methods solve over: it chooses how `W` is
/// factored for states of its type. `Double` (``StaticLU``, ``StaticLUInMemory``) and first-order dual numbers
/// over `Double`, `Dual<K, Double>` (the values factored once, ``FirstOrderDualLU``, as the array
/// form does), conform. The choice is a static requirement so that it is made when the stepper is
/// specialized, not per step.
public protocol StaticRosenbrockScalar: DiffEqScalar {
    /// Factors `W` of `stepper`'s current `J` for a step of size `h` and runs the stages;
    /// returns the attempt's scaled error (NaN when `W` is singular).
    static func _factorAndRunStages<F: StaticODEFunction>(
        _ stepper: inout StaticRosenbrockStepper<F>, _ f: F, _ p: F.Parameters, t: Double, h: Double, u: F.State,
        uNew: inout F.State, stats: inout SolverStats
    ) -> Double where F.State.Scalar == Self

    /// Factors `W = I − γh J` of `stepper`'s current `J` for a step of size `dt` (unless its
    /// factors may be reused) and solves the stages; returns the failure, or `nil` with the
    /// attempt's scaled error in `err` (``StaticSDIRKStepper``, `StaticSDIRKStepper.swift`).
    static func _factorAndSolveSDIRKStages<F: StaticODEFunction>(
        _ stepper: inout StaticSDIRKStepper<F>, _ f: F, _ p: F.Parameters, t: Double, dt: Double, u: F.State,
        uNew: inout F.State, err: inout Double, stats: inout SolverStats
    ) -> SDIRKFailure? where F.State.Scalar == Self
}

extension StaticRosenbrockScalar {
    /// First-order dual states: the values of `W` factored (``FirstOrderDualLU``, the array
    /// form's), then the stages.
    @inlinable @inline(__always)
    public static func _factorAndRunStages<F: StaticODEFunction>(
        _ stepper: inout StaticRosenbrockStepper<F>, _ f: F, _ p: F.Parameters, t: Double, h: Double, u: F.State,
        uNew: inout F.State, stats: inout SolverStats
    ) -> Double where F.State.Scalar == Self {
        // Taken out of the stepper while factored, so that its buffers are uniquely referenced.
        guard var factors = stepper.dualFactors else { return .nan }
        stepper.dualFactors = nil
        let ok = factors.factor(stepper.J, alpha: 1 / (stepper.gamma * h), mass: stepper.massColumns)
        stepper.dualFactors = factors
        guard ok else { return stepper.singular(t: t, h: h) }
        return stepper.stagesAndError(f, p, t: t, h: h, u: u, uNew: &uNew, factors, stats: &stats)
    }
}

extension Double: StaticRosenbrockScalar {
    /// `W` factored by value (at most ``StaticRosenbrockStepper/registerLimit`` components: for
    /// a small system the factors stay in registers) or in the stage block (larger systems, and
    /// any mass matrix), then the stages.
    @inlinable @inline(__always)
    public static func _factorAndRunStages<F: StaticODEFunction>(
        _ stepper: inout StaticRosenbrockStepper<F>, _ f: F, _ p: F.Parameters, t: Double, h: Double, u: F.State,
        uNew: inout F.State, stats: inout SolverStats
    ) -> Double where F.State.Scalar == Double {
        let alpha = 1 / (stepper.gamma * h)
        if stepper.massMatrix == nil && F.State().scalarCount <= StaticRosenbrockStepper<F>.registerLimit {
            guard let lu = StaticLU.factoring(stepper.J, alpha: alpha) else { return stepper.singular(t: t, h: h) }
            return stepper.stagesAndError(f, p, t: t, h: h, u: u, uNew: &uNew, lu, stats: &stats)
        }
        let block = stepper.stages
        guard
            let lu = StaticLUInMemory<F.State>.factoring(
                &stepper.J, alpha: alpha, mass: stepper.massMatrix, a: block.factors, pivots: block.pivots,
                reciprocals: block.reciprocals)
        else { return stepper.singular(t: t, h: h) }
        return stepper.stagesAndError(f, p, t: t, h: h, u: u, uNew: &uNew, lu, stats: &stats)
    }
}

extension Dual: StaticRosenbrockScalar where V == Double {}
