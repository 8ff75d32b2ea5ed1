import DiffEqCore

// The Rosenbrock methods on the fixed-size state form (`StaticODEProblem`), for the same reason
// as the explicit methods' StaticRKIntegrator: at n = 2 ... 8 (VDPOL, HIRES) a step of the
// array form spends more time on array and pointer bookkeeping, runtime-length loops and the
// general LU's calls than on arithmetic. Here the state, `J`, `W` and its LU factors have a size
// the compiler knows: every loop has a constant trip count, and for the smallest systems the
// whole step, factors included, is straight-line code in registers.
//
// Same numbers as the array form: every sum is formed in the same order with the same roundings
// as RosenbrockStepper (stage arguments, stage right-hand sides, error estimate, dense output),
// `W` is assembled as IterationMatrix assembles it and factored and solved with the operations
// of DenseLinearAlgebra's unblocked kernel (its row-form solve, which gives the same bits as its
// column form), and the loop is ODEIntegrator's. With the same Jacobian (analytic in both forms,
// or forward differences in both) the accepted steps and end states are bit-identical
// (StaticRosenbrockTests).

/// The stage values `U_j` of a fixed-size Rosenbrock solve and the LU factors of `W`, in one
/// manually managed block, copied before writing when shared so that integrators keep value
/// semantics.
///
/// Above ``StaticRosenbrockIntegrator/registerLimit`` the factors live here, in memory, rather
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
    @usableFromInline let pivots: UnsafeMutablePointer<Int>
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

/// LU factorization with partial pivoting of a small matrix in memory and the solves with it:
/// Golub & Van Loan, Matrix Computations (4th ed.), Algorithm 3.4.1 and §3.1, with the operations
/// (and so the roundings) of DenseLinearAlgebra's unblocked kernel, which the array form uses at
/// these sizes: the first row of largest magnitude as pivot, multipliers by division, zero
/// entries of a pivot row skipped, reciprocals of `U`'s diagonal for the back substitution,
/// row-form triangular solves. `n` and `ld` are compile-time constants where the fixed-size
/// integrator calls these, so the loops have known trip counts.
@usableFromInline
enum StaticLUKernel {
    /// Entries of a column in memory: the state's stride in `Double`s (4 for `SIMD3`, whose
    /// values are padded to 32 bytes).
    @inlinable @inline(__always)
    static func leadingDimension<State: StaticState>(_: State.Type) -> Int {
        MemoryLayout<State>.stride / MemoryLayout<Double>.stride
    }

    /// Writes `W = α I + β J` at `w` (`J` at `jacobian`, both with column `j` at `j*ld`) as
    /// ``IterationMatrix`` assembles it, branch-free so that it vectorizes: `β J + α·0` for every
    /// entry, then `α` added on the diagonal, then one finiteness test; `false` when an entry is
    /// not finite. The entries are IterationMatrix's to the bit: `(βJ + α·0) + α` equals
    /// `βJ + α` (adding `α·0` changes at most the sign of a zero, which adding `α` then
    /// absorbs).
    @inlinable @inline(__always)
    static func assemble(
        _ n: Int, _ ld: Int, _ jacobian: UnsafePointer<Double>, into w: UnsafeMutablePointer<Double>, alpha: Double,
        beta: Double
    ) -> Bool {
        let offDiagonal = alpha * 0
        for j in 0..<n {
            for i in 0..<n { w[i &+ j &* ld] = beta * jacobian[i &+ j &* ld] + offDiagonal }
        }
        for j in 0..<n { w[j &+ j &* ld] += alpha }
        var nonFinite = 0
        for j in 0..<n {
            for i in 0..<n { nonFinite |= w[i &+ j &* ld].isFinite ? 0 : 1 }
        }
        return nonFinite == 0
    }

    /// Factors the matrix at `a` in place; `false` at the first exactly zero pivot.
    @inlinable @inline(__always)
    static func factor(
        _ n: Int, _ ld: Int, _ a: UnsafeMutablePointer<Double>, _ pivots: UnsafeMutablePointer<Int>,
        _ reciprocals: UnsafeMutablePointer<Double>
    ) -> Bool {
        var k = 0
        while k < n {
            let columnK = a + k &* ld
            var p = k
            var largest = Swift.abs(columnK[k])
            var i = k &+ 1
            while i < n {
                let v = Swift.abs(columnK[i])
                if v > largest {
                    largest = v
                    p = i
                }
                i &+= 1
            }
            pivots[k] = p
            if largest == 0 { return false }
            if p != k {
                var j = 0
                while j < n {
                    let column = a + j &* ld
                    let t = column[k]
                    column[k] = column[p]
                    column[p] = t
                    j &+= 1
                }
            }
            let pivot = columnK[k]
            reciprocals[k] = 1 / pivot
            i = k &+ 1
            while i < n {
                columnK[i] /= pivot
                i &+= 1
            }
            var j = k &+ 1
            while j < n {
                let column = a + j &* ld
                let ukj = column[k]
                if ukj != 0 {
                    i = k &+ 1
                    while i < n {
                        column[i] -= columnK[i] * ukj
                        i &+= 1
                    }
                }
                j &+= 1
            }
            k &+= 1
        }
        return true
    }

    /// Overwrites `b` with the solution of `A x = b`, from the factors at `a`.
    @inlinable @inline(__always)
    static func solve(
        _ n: Int, _ ld: Int, _ a: UnsafePointer<Double>, _ pivots: UnsafePointer<Int>,
        _ reciprocals: UnsafePointer<Double>, _ b: UnsafeMutablePointer<Double>
    ) {
        var k = 0
        while k < n {
            let p = pivots[k]
            if p != k {
                let t = b[k]
                b[k] = b[p]
                b[p] = t
            }
            k &+= 1
        }
        var i = 1
        while i < n {
            var s = b[i]
            var j = 0
            while j < i {
                s -= b[j] * a[i &+ j &* ld]
                j &+= 1
            }
            b[i] = s
            i &+= 1
        }
        i = n &- 1
        while i >= 0 {
            var s = b[i]
            var j = n &- 1
            while j > i {
                s -= b[j] * a[i &+ j &* ld]
                j &-= 1
            }
            b[i] = s * reciprocals[i]
            i &-= 1
        }
    }
}

/// Solves `W x = r` with `W`'s factors for the fixed-size integrator, writing `x` at a stage's
/// slot.
@usableFromInline
protocol StaticStageSolver {
    associatedtype Column: StaticState
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>)
}

/// The factors in ``StaticRosenbrockStages``' memory, for the kernel's solve in place.
@usableFromInline
struct StaticLUInMemory<Column: StaticState>: StaticStageSolver {
    @usableFromInline let n: Int
    @usableFromInline let ld: Int
    @usableFromInline let a: UnsafeMutablePointer<Double>
    @usableFromInline let pivots: UnsafeMutablePointer<Int>
    @usableFromInline let reciprocals: UnsafeMutablePointer<Double>

    @inlinable @inline(__always)
    init(
        n: Int, ld: Int, a: UnsafeMutablePointer<Double>, pivots: UnsafeMutablePointer<Int>,
        reciprocals: UnsafeMutablePointer<Double>
    ) {
        self.n = n
        self.ld = ld
        self.a = a
        self.pivots = pivots
        self.reciprocals = reciprocals
    }

    @inlinable @inline(__always)
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>) {
        x.pointee = r
        x.withMemoryRebound(to: Double.self, capacity: ld) { b in
            StaticLUKernel.solve(n, ld, a, pivots, reciprocals, b)
        }
    }
}

/// ``StaticLUKernel`` on a matrix held by value, for the smallest states
/// (``StaticRosenbrockIntegrator/registerLimit``): the loops unroll completely, every index
/// becomes a constant, and the factors stay in registers through the step's solves (VDPOL,
/// n = 2: a Rodas5P step in 215 ns against 280 ns with the factors in memory). The same
/// operations in the same order as the kernel, so the same bits.
@usableFromInline
struct StaticLU<Matrix: StaticSquareMatrix>: StaticStageSolver {
    public typealias Column = Matrix.Column
    /// `L` (unit, below the diagonal) and `U` packed as LAPACK packs them.
    @usableFromInline var a: Matrix
    /// The row exchanged with row `k` at step `k`, as an exact integer in a `Double` (the state
    /// type is the one fixed-size vector available here).
    @usableFromInline var pivots: Column
    @usableFromInline var reciprocals: Column

    @inlinable @inline(__always)
    init(_ a: Matrix) {
        self.a = a
        pivots = Column()
        reciprocals = Column()
    }

    /// Factors in place; `false` at the first exactly zero pivot (the matrix is singular).
    @inlinable @inline(__always)
    mutating func factor() -> Bool {
        let n = Column().scalarCount
        var k = 0
        while k < n {
            var columnK = a[column: k]
            var p = k
            var largest = Swift.abs(columnK[k])
            var i = k &+ 1
            while i < n {
                let v = Swift.abs(columnK[i])
                if v > largest {
                    largest = v
                    p = i
                }
                i &+= 1
            }
            pivots[k] = Double(p)
            if largest == 0 { return false }
            if p != k {
                var j = 0
                while j < n {
                    var column = a[column: j]
                    let t = column[k]
                    column[k] = column[p]
                    column[p] = t
                    a[column: j] = column
                    j &+= 1
                }
                columnK = a[column: k]
            }
            let pivot = columnK[k]
            reciprocals[k] = 1 / pivot
            i = k &+ 1
            while i < n {
                columnK[i] = columnK[i] / pivot
                i &+= 1
            }
            a[column: k] = columnK
            var j = k &+ 1
            while j < n {
                var column = a[column: j]
                let ukj = column[k]
                if ukj != 0 {
                    i = k &+ 1
                    while i < n {
                        column[i] = column[i] - columnK[i] * ukj
                        i &+= 1
                    }
                    a[column: j] = column
                }
                j &+= 1
            }
            k &+= 1
        }
        return true
    }

    /// The solution of `A x = r`, written at `x`.
    @inlinable @inline(__always)
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>) {
        x.pointee = solve(r)
    }

    /// The solution of `A x = b`.
    @inlinable @inline(__always)
    func solve(_ rhs: Column) -> Column {
        let n = Column().scalarCount
        var b = rhs
        var k = 0
        while k < n {
            let p = Int(pivots[k])
            if p != k {
                let t = b[k]
                b[k] = b[p]
                b[p] = t
            }
            k &+= 1
        }
        var i = 1
        while i < n {
            var s = b[i]
            var j = 0
            while j < i {
                s -= b[j] * a[column: j][i]
                j &+= 1
            }
            b[i] = s
            i &+= 1
        }
        i = n &- 1
        while i >= 0 {
            var s = b[i]
            var j = n &- 1
            while j > i {
                s -= b[j] * a[column: j][i]
                j &-= 1
            }
            b[i] = s * reciprocals[i]
            i &-= 1
        }
        return b
    }
}

/// Any ``RosenbrockTableau`` run on a fixed-size state (``StaticODEProblem``) with the array
/// form's semantics, operation for operation: ``RosenbrockStepper``'s stages, error estimate,
/// Jacobian reuse rule (`J` and `∂f/∂t` once per starting point, kept across rejected attempts),
/// singular-`W` handling (the attempt is rejected; after five consecutive singular
/// factorizations the solve ends with ``ReturnCode/convergenceFailure``) and Rodas dense output
/// for `saveat`, inside ``ODEIntegrator``'s loop (controller, initial step, step floor, stops).
/// The same problem in both forms gives the same steps and the same numbers when both use the
/// same Jacobian.
///
/// `J` is the function's analytic Jacobian when it has one
/// (``StaticODEFunction/hasAnalyticJacobian``), else forward differences (as for a closure in
/// the array form; the fixed-size form has no dual-number evaluation of `f`). No mass matrix, no
/// callbacks, no dense output (use `saveat`), no `isOutOfDomain` test. The step loop allocates
/// nothing.
public struct StaticRosenbrockIntegrator<F: StaticODEFunction> {
    public typealias State = F.State
    public typealias Matrix = State.SquareMatrix

    public let tableau: RosenbrockTableau
    public let setup: SolveSetup<Double>
    @usableFromInline let f: F
    @usableFromInline let p: F.Parameters
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
    @usableFromInline let analyticJacobian: Bool
    @usableFromInline let adaptive: Bool
    @usableFromInline let controller: PIController
    @usableFromInline let reltol: Double
    @usableFromInline let abstol: State
    @usableFromInline let maxConsecutiveSingular = 5
    @usableFromInline var stages: StaticRosenbrockStages<State>

    @usableFromInline var J = Matrix()
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

    @usableFromInline var _t: Double
    @usableFromInline var _u: State
    @usableFromInline var _dt: Double
    @usableFromInline var uNew: State
    @usableFromInline var tPrev: Double
    @usableFromInline var uPrev: State
    @usableFromInline var _retcode: ReturnCode?
    @usableFromInline var _message: String?
    @usableFromInline var _stats = SolverStats()
    @usableFromInline var logErrPrev = PIController.logErrorFloor
    @usableFromInline var lastWasRejected = false
    @usableFromInline var iterations = 0
    @usableFromInline var nextStop = 0
    @usableFromInline var nextSave = 0
    @usableFromInline var savedT: [Double] = []
    @usableFromInline var savedU: [State] = []

    /// Current time.
    public var t: Double { _t }
    /// Current state.
    public var u: State { _u }
    /// Signed size of the next step attempt; setting it overrides the controller once.
    public var dt: Double {
        get { _dt }
        set { _dt = newValue }
    }
    /// Why the integration stopped; `nil` while it can continue.
    public var retcode: ReturnCode? { _retcode }
    public var message: String? { _message }
    public var stats: SolverStats { _stats }
    @inlinable public var isFinished: Bool { _retcode != nil }
    /// Factorizations of `W` that found it singular, over the whole solve.
    public var singularFactorizations: Int { singularCount }

    /// Validates the input (the array form's checks), evaluates `f(t0, u0)` and chooses the
    /// initial step.
    public init(_ problem: StaticODEProblem<F>, tableau: RosenbrockTableau, jacobian: JacobianSource, options: SolveOptions)
        throws(DiffEqError)
    {
        if options.dense == true {
            throw .unsupported("a fixed-size (StaticODEProblem) solve keeps no dense output: use saveat")
        }
        if options.isOutOfDomain != nil {
            throw .unsupported("a fixed-size (StaticODEProblem) solve has no isOutOfDomain test: use the array form")
        }
        var plain = options
        plain.dense = false
        let setup = try SolveSetup(u0: problem.u0.array, tspan: problem.tspan, massMatrix: nil, plain)
        self.tableau = tableau
        self.setup = setup
        f = problem.f
        p = problem.p
        s = tableau.stages
        gamma = tableau.gamma
        sums = RosenbrockStageSumTable(tableau.stageSums, count: 1)
        coefficients = StageStorage(tableau.c + tableau.d + tableau.dense.flatMap { $0 })
        denseRows = tableau.dense.count
        fsal = tableau.isFSAL
        autonomous = problem.f.isAutonomous
        analyticJacobian = jacobian == .automatic && problem.f.hasAnalyticJacobian
        adaptive = setup.adaptive
        controller = tableau.controller
        reltol = setup.reltol
        var tolerances = State()
        for i in 0..<setup.count { tolerances[i] = setup.abstol[i] }
        abstol = tolerances
        stages = StaticRosenbrockStages(count: tableau.stages)
        _t = setup.t0
        _u = problem.u0
        _dt = 0
        uNew = problem.u0
        tPrev = setup.t0
        uPrev = problem.u0
        begin()
    }

    /// Evaluates `f` at the start, chooses the first step and saves the initial state.
    @usableFromInline
    mutating func begin() {
        let du0 = f(_u, p, _t)
        _stats.nf += 1
        if let h = setup.dt {
            _dt = setup.direction * Swift.min(h, setup.dtmax)
        } else {
            _dt = setup.direction * initialStepSize(du0: du0)
        }
        f0 = du0
        haveF0 = true
        haveJacobian = false
        consecutiveSingular = 0
        if setup.saveEverystep || setup.saveTimes.isEmpty {
            savedT.append(_t)
            savedU.append(_u)
        }
        while nextSave < setup.saveTimes.count && setup.saveTimes[nextSave] == _t {
            savedT.append(_t)
            savedU.append(_u)
            nextSave += 1
        }
    }

    /// Hairer, Nørsett & Wanner's starting step (Solving ODEs I, §II.4), as ``ODEIntegrator``.
    @usableFromInline
    mutating func initialStepSize(du0: State) -> Double {
        let n = setup.count
        var d0 = 0.0, d1 = 0.0
        for i in 0..<n {
            let sc = setup.abstol[i] + reltol * Swift.abs(_u[i])
            d0 += (_u[i] * _u[i]) / (sc * sc)
            d1 += (du0[i] * du0[i]) / (sc * sc)
        }
        let m = Double(n)
        d0 = (d0 / m).squareRoot()
        d1 = (d1 / m).squareRoot()
        let h0 = initialTrialStep(d0: d0, d1: d1, dtmax: setup.dtmax)
        let u1 = _u + du0 * (setup.direction * h0)
        let du1 = f(u1, p, _t + setup.direction * h0)
        _stats.nf += 1
        var d2 = 0.0
        for i in 0..<n {
            let sc = setup.abstol[i] + reltol * Swift.abs(_u[i])
            let d = du1[i] - du0[i]
            d2 += (d * d) / (sc * sc)
        }
        d2 = (d2 / m).squareRoot() / h0
        return initialStep(h0: h0, d1: d1, d2: d2, order: tableau.order, dtmax: setup.dtmax)
    }

    /// `J` at `(t, u)`: the analytic Jacobian, or forward differences with
    /// ``JacobianEvaluator``'s step (Dennis & Schnabel §5.4), reusing `f0 = f(t, u)`.
    @inlinable
    mutating func evaluateJacobian() {
        _stats.njacs += 1
        if analyticJacobian {
            J = f.jacobian(_u, p, _t)
            return
        }
        _stats.njacsFiniteDifference += 1
        let n = State().scalarCount
        let rootEps = Double.ulpOfOne.squareRoot()
        var perturbed = _u
        for j in 0..<n {
            let uj = _u[j]
            var h = rootEps * Swift.max(Swift.abs(uj), 1)
            // Exactly representable, so that (u + h) - u == h.
            h = (uj + h) - uj
            perturbed[j] = uj + h
            let fPerturbed = f(perturbed, p, _t)
            J[column: j] = (fPerturbed - f0) * (1 / h)
            perturbed[j] = uj
        }
        _stats.nf += n
    }

    /// `∂f/∂t` at `(t, u)`: rodas.f's forward difference, as
    /// ``RosenbrockStepper``'s `evaluateTimeDerivative` (one evaluation of `f`).
    @inlinable
    mutating func evaluateTimeDerivative() {
        _stats.nf += 1
        let delta = (Double.ulpOfOne * Swift.max(1e-5, Swift.abs(_t))).squareRoot()
        let tShift = _t + delta
        let step = tShift - _t
        // Beyond |t| ~ 1/uround no shift is representable: treat f as autonomous there.
        let inv = step == 0 ? 0 : 1 / step
        dT = (f(_u, p, tShift) - f0) * inv
    }

    /// `W = I/(γh) − J` assembled as ``IterationMatrix`` assembles it (`α·0` added off the
    /// diagonal, so the signs of zeros match), or `nil` when an entry is not finite.
    @inlinable @inline(__always)
    func iterationMatrix(alpha: Double) -> Matrix? {
        let n = State().scalarCount
        let offDiagonal = State() * alpha
        var w = Matrix()
        var finite = true
        for j in 0..<n {
            var column = J[column: j] * -1 + offDiagonal
            column[j] = -1 * J[column: j][j] + alpha
            finite = finite && column.isFiniteState
            w[column: j] = column
        }
        return finite ? w : nil
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
    mutating func attempt(h: Double) -> Double {
        // Gave up on a singular W: let the loop stop (finish says why).
        if consecutiveSingular >= maxConsecutiveSingular { return .nan }
        if !haveF0 {
            f0 = f(_u, p, _t)
            _stats.nf += 1
            haveF0 = true
        }
        if !haveJacobian || jacobianTime != _t {
            evaluateJacobian()
            // For an f declared autonomous, ∂f/∂t is zero and dT keeps its zeros.
            if !autonomous { evaluateTimeDerivative() }
            haveJacobian = true
            jacobianTime = _t
        }
        // W is factored at every attempt: an attempt follows either an accepted step (new J) or
        // a rejection (new h), the two cases in which the array form refactors too. Factored
        // here, the factors are a local value: for a small system they stay in registers.
        _stats.nluFactorizations += 1
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        let n = State().scalarCount
        if n <= Self.registerLimit {
            var lu = StaticLU(Matrix())
            var factored = false
            if let w = iterationMatrix(alpha: 1 / (gamma * h)) {
                lu = StaticLU(w)
                factored = lu.factor()
            }
            guard factored else { return singular(h: h) }
            return stagesAndError(h: h, lu)
        }
        let ld = StaticLUKernel.leadingDimension(State.self)
        let a = stages.factors
        let pivots = stages.pivots
        let reciprocals = stages.reciprocals
        let alpha = 1 / (gamma * h)
        let assembled = withUnsafePointer(to: &J) { matrix in
            matrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { jacobian in
                StaticLUKernel.assemble(n, ld, jacobian, into: a, alpha: alpha, beta: -1)
            }
        }
        guard assembled, StaticLUKernel.factor(n, ld, a, pivots, reciprocals) else { return singular(h: h) }
        return stagesAndError(
            h: h, StaticLUInMemory<State>(n: n, ld: ld, a: a, pivots: pivots, reciprocals: reciprocals))
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
    mutating func singular(h: Double) -> Double {
        var finiteJ = true
        for j in 0..<State().scalarCount { finiteJ = finiteJ && J[column: j].isFiniteState }
        if finiteJ {
            singularCount += 1
            consecutiveSingular += 1
            lastSingularTime = _t
            lastSingularStep = h
        }
        return .nan
    }

    /// The stages with `W` factored (`lu`), then `uNew` and the scaled RMS error. (Generic over
    /// the factors' form rather than taking a closure: the closure was compiled as a function of
    /// its own, called per stage, with the factors read back from memory.)
    @inlinable @inline(__always)
    mutating func stagesAndError<LU: StaticStageSolver>(h: Double, _ lu: LU) -> Double where LU.Column == State {
        consecutiveSingular = 0
        let n = State().scalarCount
        let U = stages.U
        let terms = sums.terms.base
        let offsets = terms + sums.termOffset
        let w = sums.weights.base
        let c = coefficients.base
        let d = c + s
        let invH = 1 / h
        var arg = _u
        var du = f0
        for i in 0..<s {
            if i > 0 {
                arg = combine(_u, row: i, U: U)
                du = f(arg, p, _t + c[i] * h)
            }
            // W U_i = f + h d_i ∂f/∂t + Σ_j (C_ij/h) U_j, solved in U_i's slot.
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
            lu.solve(r + x, into: U + i)
        }
        _stats.nf += s - 1
        _stats.nlinsolves += s
        if fsal {
            // The last stage was evaluated at the new solution itself.
            uNew = arg
            fLast = du
        } else {
            uNew = combine(_u, row: 2 &* s &+ 1, U: U)
        }
        let e = combine(State(), row: 2 &* s, U: U)
        var sum = 0.0
        for m in 0..<n {
            let sc = abstol[m] + reltol * Swift.max(Swift.abs(_u[m]), Swift.abs(uNew[m]))
            sum += (e[m] * e[m]) / (sc * sc)
        }
        return (sum / Double(n)).squareRoot()
    }

    /// The smallest step magnitude allowed at the current time (as ``ODEIntegrator``).
    @inlinable var dtFloor: Double {
        stepFloor(at: _t, dtmin: setup.dtmin)
    }

    /// Takes one accepted step (with as many rejected attempts as needed). Returns `false` once
    /// the integration is finished (`retcode` says why).
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard _retcode == nil else { return false }
        let dir = setup.direction
        var sawNonFinite = false
        while true {
            if iterations >= setup.maxiters {
                finish(.maxIters, "reached maxiters = \(setup.maxiters) at t = \(_t)")
                return false
            }
            let target = nextStop < setup.tstops.count ? setup.tstops[nextStop] : setup.t1
            let (h, landing) = clippedStep(from: _t, dt: _dt, toward: target, direction: dir)
            iterations += 1
            let err = attempt(h: h)
            let finite = err.isFinite && uNew.isFiniteState
            if finite && (err <= 1 || !adaptive) {
                _stats.naccept += 1
                tPrev = _t
                _t = landing ? target : _t + h
                uPrev = _u
                _u = uNew
                haveJacobian = false
                if fsal {
                    f0 = fLast
                    haveF0 = true
                } else {
                    haveF0 = false
                }
                if landing && nextStop < setup.tstops.count { nextStop += 1 }
                if adaptive {
                    controller.update(
                        afterAccepting: err, step: h, landing: landing, afterRejection: lastWasRejected, dt: &_dt,
                        logErrPrev: &logErrPrev, direction: dir, dtmax: setup.dtmax)
                }
                lastWasRejected = false
                recordStep(h: h)
                if landing && _t == setup.t1 { finish(.success, nil) }
                return _retcode == nil
            }
            if !finite { sawNonFinite = true }
            lastWasRejected = true
            let (dt, failure) = rejectAttempt(
                h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive, controller: controller,
                t: _t, dtFloor: dtFloor, stats: &_stats)
            _dt = dt
            if let (code, message) = failure {
                finish(code, message)
                return false
            }
        }
    }

    /// Saves what the options ask for after the accepted step from `tPrev` of size `h`.
    @inlinable
    mutating func recordStep(h: Double) {
        let dir = setup.direction
        while nextSave < setup.saveTimes.count {
            let time = setup.saveTimes[nextSave]
            guard dir * (_t - time) >= 0 else { break }
            savedU.append(time == _t ? _u : interpolate(theta: (time - tPrev) / h))
            savedT.append(time)
            nextSave += 1
        }
        if setup.saveEverystep {
            savedT.append(_t)
            savedU.append(_u)
        }
    }

    /// The Rodas dense output of the step just accepted at `tPrev + θh`:
    /// `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))`, `h_k = Σ_j H_kj U_j` (rodas.f, CONTRO), summed
    /// as ``RosenbrockStepper``'s `interpolate`.
    @inlinable
    func interpolate(theta: Double) -> State {
        let U = stages.U
        let dense = coefficients.base + 2 &* s
        var poly = State()
        var k = denseRows &- 1
        while k >= 0 {
            var hk = State()
            for j in 0..<s {
                let w = dense[k &* s &+ j]
                if w != 0 { hk = hk + U[j] * w }
            }
            poly = hk + poly * theta
            k &-= 1
        }
        return uPrev * (1 - theta) + (_u + poly * (1 - theta)) * theta
    }

    /// Ends the integration; a step-size collapse while `W` stayed singular is reported as
    /// ``ReturnCode/convergenceFailure`` with the array form's message.
    @inlinable
    mutating func finish(_ code: ReturnCode, _ why: String?) {
        _retcode = code
        _message = why
        if (code == .dtLessThanMin || code == .unstable) && consecutiveSingular > 0 {
            _retcode = .convergenceFailure
            _message = RosenbrockDiagnostics.message(
                method: tableau.name, consecutive: consecutiveSingular, t: lastSingularTime, h: lastSingularStep)
                + (why.map { " (the integrator stopped: \($0))" } ?? "")
        }
        if !setup.saveEverystep && setup.saveTimes.isEmpty && savedT.last != _t {
            savedT.append(_t)
            savedU.append(_u)
        }
    }

    /// Starts again from `u0` (default: the problem's) at the problem's `t0`, keeping every
    /// buffer's capacity.
    public mutating func reinit(u0: State? = nil) throws(DiffEqError) {
        var start = State()
        if let u0 { start = u0 } else { for i in 0..<setup.count { start[i] = setup.u0[i] } }
        guard start.isFiniteState else {
            throw .nonFiniteInitialState(component: (0..<setup.count).first { !start[$0].isFinite } ?? 0)
        }
        _u = start
        _t = setup.t0
        tPrev = _t
        uPrev = _u
        _retcode = nil
        _message = nil
        _stats = SolverStats()
        logErrPrev = PIController.logErrorFloor
        lastWasRejected = false
        iterations = 0
        nextStop = 0
        nextSave = 0
        singularCount = 0
        savedT.removeAll(keepingCapacity: true)
        savedU.removeAll(keepingCapacity: true)
        begin()
    }

    /// Steps until the end of the span or a failure.
    @inlinable
    public mutating func solve() -> StaticODESolution<State> {
        while step() {}
        return solution
    }

    /// The solution so far.
    public var solution: StaticODESolution<State> {
        StaticODESolution(
            t: savedT, u: savedU, retcode: _retcode ?? .default, message: _message, stats: _stats,
            algorithm: tableau.name)
    }
}

extension RosenbrockAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> StaticRosenbrockIntegrator<F>
    {
        try StaticRosenbrockIntegrator(problem, tableau: tableau, jacobian: jacobian, options: options)
    }

    /// Solves a fixed-size problem with this method. A solve that ends because `W` stayed
    /// singular returns ``ReturnCode/convergenceFailure`` with a message saying where.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

