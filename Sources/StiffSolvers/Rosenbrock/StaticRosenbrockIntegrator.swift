import DenseLinearAlgebra
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

/// `W` of a fixed-size state in memory (columns padded to the state's stride): its assembly, and
/// its LU factorization and solves by DenseLinearAlgebra's unblocked kernel (Golub & Van Loan,
/// Matrix Computations, 4th ed., Algorithm 3.4.1 and §3.1), the one the array form uses at these
/// sizes, so that both forms round the same. `n` and `ld` are compile-time constants where the
/// fixed-size integrator calls these, so the loops have known trip counts.
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

    /// Factors the matrix at `a` in place with DenseLinearAlgebra's unblocked kernel (the array
    /// form's at these sizes, so both forms round the same); `false` for an exactly zero pivot.
    @inlinable @inline(__always)
    static func factor(
        _ n: Int, _ ld: Int, _ a: UnsafeMutablePointer<Double>, _ pivots: UnsafeMutablePointer<Int32>,
        _ reciprocals: UnsafeMutablePointer<Double>
    ) -> Bool {
        _unblockedLUFactor(n, ld: ld, a, pivots, reciprocals) == 0
    }

    /// Overwrites `b` with the solution of `A x = b`, from the factors at `a`.
    @inlinable @inline(__always)
    static func solve(
        _ n: Int, _ ld: Int, _ a: UnsafePointer<Double>, _ pivots: UnsafePointer<Int32>,
        _ reciprocals: UnsafePointer<Double>, _ b: UnsafeMutablePointer<Double>
    ) {
        _unblockedLUSolve(n, ld: ld, a, pivots, reciprocals, b, transposed: false)
    }
}

/// Solves `W x = r` with `W`'s factors for the fixed-size integrator, writing `x` at a stage's
/// slot.
@usableFromInline
protocol StaticStageSolver {
    associatedtype Column: StaticState where Column.Scalar == Double
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>)
}

/// The factors in ``StaticRosenbrockStages``' memory, for the kernel's solve in place.
@usableFromInline
struct StaticLUInMemory<Column: StaticState>: StaticStageSolver where Column.Scalar == Double {
    @usableFromInline let n: Int
    @usableFromInline let ld: Int
    @usableFromInline let a: UnsafeMutablePointer<Double>
    @usableFromInline let pivots: UnsafeMutablePointer<Int32>
    @usableFromInline let reciprocals: UnsafeMutablePointer<Double>

    @inlinable @inline(__always)
    init(
        n: Int, ld: Int, a: UnsafeMutablePointer<Double>, pivots: UnsafeMutablePointer<Int32>,
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
struct StaticLU<Matrix: StaticSquareMatrix>: StaticStageSolver where Matrix.Column.Scalar == Double {
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
public struct StaticRosenbrockIntegrator<F: StaticODEFunction>: StaticIntegrator where F.State.Scalar == Double {
    public typealias Matrix = State.SquareMatrix

    public let tableau: RosenbrockTableau
    public let setup: SolveSetup<Double>
    public let f: F
    public let p: F.Parameters
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
    /// The difference increments (forward, or central for `.centralDifferences`) and the error
    /// weights they are scaled to: the array form's (``DifferenceIncrements``).
    @usableFromInline let increments: DifferenceIncrements
    @usableFromInline let tolerance: ErrorScale
    public let isAdaptive: Bool
    public let controller: PIController
    @usableFromInline let reltol: Double
    @usableFromInline let abstol: State
    @usableFromInline let maxConsecutiveSingular = 5
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
    /// The shared loop's state (``StaticIntegrator``).
    public var loop: StaticIntegratorState<State>

    /// Factorizations of `W` that found it singular, over the whole solve.
    public var singularFactorizations: Int { singularCount }

    /// Validates the input (the array form's checks), evaluates `f(t0, u0)` and chooses the
    /// initial step.
    public init(_ problem: StaticODEProblem<F>, tableau: RosenbrockTableau, jacobian: JacobianSource, options: SolveOptions)
        throws(DiffEqError)
    {
        let setup = try SolveSetup.staticForm(problem, options)
        try setup.checkFixedSteps(method: tableau.name, methodIsAdaptive: true)
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
        increments = DifferenceIncrements(uround: Double.ulpOfOne, central: jacobian == .centralDifferences)
        tolerance = ErrorScale(reltol: setup.reltol, abstol: setup.abstol)
        isAdaptive = setup.adaptive
        controller = tableau.controller
        reltol = setup.reltol
        abstol = setup.abstol(as: State.self)
        stages = StaticRosenbrockStages(count: tableau.stages)
        loop = StaticIntegratorState(t0: setup.t0, u0: problem.u0)
        begin()
    }

    /// `J` at `(t, u)` for steps of size `h`: the analytic Jacobian, or differences with
    /// ``DifferenceIncrements``' increments and rounding check, operation for operation as
    /// ``JacobianEvaluator`` (forward differences reuse `f0 = f(t, u)`).
    @inlinable
    mutating func evaluateJacobian(h: Double) {
        loop.stats.njacs += 1
        if analyticJacobian {
            J = f.jacobian(loop.u, p, loop.t)
            return
        }
        loop.stats.njacsFiniteDifference += 1
        let n = State().scalarCount
        let central = increments.central
        var squares = 0.0
        for i in 0..<n {
            let v = f0[i] / tolerance.scale(i, loop.u[i], loop.u[i])
            squares += v * v
        }
        let sigma0 = increments.minimumIncrement(weightedSquares: squares, h: h, count: n)
        var perturbed = loop.u
        for j in 0..<n {
            let x = loop.u[j]
            let scale = tolerance.scale(j, x, x)
            let ceiling = increments.ceiling(x, scale: scale)
            var inc = increments.increment(x, scale: scale, minimum: sigma0)
            var retries = 0
            while true {
                let up = (x + inc) - x
                perturbed[j] = x + inc
                let fPlus = f(perturbed, p, loop.t)
                loop.stats.nf += 1
                var base = f0
                var denominator = up
                if central {
                    perturbed[j] = x - inc
                    base = f(perturbed, p, loop.t)
                    loop.stats.nf += 1
                    denominator = up + (x - (x - inc))
                }
                perturbed[j] = x
                var change = 0.0
                var magnitude = 0.0
                for i in 0..<n {
                    let d = Swift.abs(fPlus[i] - base[i])
                    if d > change {
                        change = d
                        magnitude = Swift.max(Swift.abs(fPlus[i]), Swift.abs(base[i]))
                    }
                }
                if retries < DifferenceIncrements.maxRetries && increments.isRounding(change: change, magnitude: magnitude)
                    && inc * DifferenceIncrements.growth <= ceiling
                {
                    inc *= DifferenceIncrements.growth
                    retries += 1
                    continue
                }
                J[column: j] = (fPlus - base) * (1 / denominator)
                break
            }
        }
    }

    /// `∂f/∂t` at `(t, u)`: rodas.f's forward difference, as
    /// ``RosenbrockStepper``'s `evaluateTimeDerivative` (one evaluation of `f`).
    @inlinable
    mutating func evaluateTimeDerivative() {
        loop.stats.nf += 1
        let delta = (Double.ulpOfOne * Swift.max(1e-5, Swift.abs(loop.t))).squareRoot()
        let tShift = loop.t + delta
        let step = tShift - loop.t
        // Beyond |t| ~ 1/uround no shift is representable: treat f as autonomous there.
        let inv = step == 0 ? 0 : 1 / step
        dT = (f(loop.u, p, tShift) - f0) * inv
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

    /// Attempts a step of signed size `h` from `(t, u)` into `loop.uNew`; returns the scaled RMS
    /// error, or NaN when `W` is singular (or `J` not finite).
    @inlinable
    public mutating func attempt(h: Double) -> Double {
        // Gave up on a singular W: let the loop stop (finish says why).
        if consecutiveSingular >= maxConsecutiveSingular { return .nan }
        if !haveF0 {
            f0 = f(loop.u, p, loop.t)
            loop.stats.nf += 1
            haveF0 = true
        }
        if !haveJacobian || jacobianTime != loop.t {
            evaluateJacobian(h: h)
            let n = State().scalarCount
            var largest = 0.0
            for j in 0..<n { for i in 0..<n { largest = Swift.max(largest, Swift.abs(J[i, j])) } }
            jacobianMaxAbs = largest
            // For an f declared autonomous, ∂f/∂t is zero and dT keeps its zeros.
            if !autonomous { evaluateTimeDerivative() }
            haveJacobian = true
            jacobianTime = loop.t
        }
        // W is factored at every attempt: an attempt follows either an accepted step (new J) or
        // a rejection (new h), the two cases in which the array form refactors too. Factored
        // here, the factors are a local value: for a small system they stay in registers.
        loop.stats.nluFactorizations += 1
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
            lastSingularTime = loop.t
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
        let alpha = 1 / (gamma * h)
        let refine = gamma * Swift.abs(h) * jacobianMaxAbs > StageRefinement.threshold
        var arg = loop.u
        var du = f0
        for i in 0..<s {
            if i > 0 {
                arg = combine(loop.u, row: i, U: U)
                du = f(arg, p, loop.t + c[i] * h)
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
            let b = r + x
            lu.solve(b, into: U + i)
            if refine {
                // RosenbrockStepper.refineStage, in the same order of operations.
                let xi = U[i]
                var residual = State()
                for m in 0..<n {
                    var sum = b[m], carry = 0.0
                    StageRefinement.accumulate(&sum, &carry, -alpha, xi[m])
                    for j in 0..<n { StageRefinement.accumulate(&sum, &carry, J[m, j], xi[j]) }
                    residual[m] = sum + carry
                }
                var correction = State()
                lu.solve(residual, into: &correction)
                U[i] = xi + correction
            }
        }
        loop.stats.nf += s - 1
        loop.stats.nlinsolves += refine ? 2 &* s : s
        if fsal {
            // The last stage was evaluated at the new solution itself.
            loop.uNew = arg
            fLast = du
        } else {
            loop.uNew = combine(loop.u, row: 2 &* s &+ 1, U: U)
        }
        let e = combine(State(), row: 2 &* s, U: U)
        var sum = 0.0
        for m in 0..<n {
            let sc = errorWeight(abstol: abstol[m], reltol: reltol, loop.u[m], loop.uNew[m])
            sum += (e[m] * e[m]) / (sc * sc)
        }
        return (sum / Double(n)).squareRoot()
    }

    /// The Rodas dense output of the step just accepted at `loop.tPrev + θh`:
    /// `(1−θ)u₀ + θ(u₁ + (1−θ)(h₁ + θ(h₂ + …)))`, `h_k = Σ_j H_kj U_j` (rodas.f, CONTRO), summed
    /// as ``RosenbrockStepper``'s `interpolate`.
    @inlinable
    public func interpolate(theta: Double, dt _: Double) -> State {
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
        return loop.uPrev * (1 - theta) + (loop.u + poly * (1 - theta)) * theta
    }

    @inlinable public var algorithmName: String { tableau.name }
    @inlinable public var order: Int { tableau.order }
    @inlinable public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }

    /// `f(t0, u0)` is the first step's `f0`; `J` is evaluated by the first attempt.
    @inlinable
    public mutating func start(du0: State) {
        f0 = du0
        haveF0 = true
        haveJacobian = false
        consecutiveSingular = 0
    }

    @inlinable
    public mutating func restart() {
        singularCount = 0
    }

    /// A new starting point: `J` is evaluated again, and `f0` is an FSAL method's last stage.
    @inlinable
    public mutating func acceptAttempt() {
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
    @inlinable
    public func explainFailure(_ code: ReturnCode, _ why: String?) -> (code: ReturnCode, message: String)? {
        guard (code == .dtLessThanMin || code == .unstable) && consecutiveSingular > 0 else { return nil }
        let message = RosenbrockDiagnostics.message(
            method: tableau.name, consecutive: consecutiveSingular, t: lastSingularTime, h: lastSingularStep)
        return (.convergenceFailure, message + (why.map { " (the integrator stopped: \($0))" } ?? ""))
    }
}

extension RosenbrockAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> StaticRosenbrockIntegrator<F> where F.State.Scalar == Double
    {
        try StaticRosenbrockIntegrator(problem, tableau: tableau, jacobian: jacobian, options: options)
    }

    /// Solves a fixed-size problem with this method. A solve that ends because `W` stayed
    /// singular returns ``ReturnCode/convergenceFailure`` with a message saying where.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar == Double
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}

