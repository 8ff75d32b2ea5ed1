import DenseLinearAlgebra
import DiffEqCore

// The iteration matrix `W = I/(γh) − J` of a fixed-size state (StaticRosenbrockStepper;
// `I − γhJ` for StaticSDIRKStepper): the fixed-size sibling of IterationMatrix, which holds `W`
// for array states. `W` is assembled as
// IterationMatrix assembles it and factored and solved with the operations of
// DenseLinearAlgebra's unblocked kernel, so that both forms round the same. Two implementations
// of the one interface a stage solve needs (StaticStageSolver): the factors held by value
// (StaticLU, for the smallest states: straight-line code in registers) and the factors in a
// stepper's memory (StaticLUInMemory, columns padded to the state's stride).

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

/// The factors of a fixed-size `W` over any scalar, as a stage solve uses them: solves `W x = r`,
/// writing `x` at a stage's slot, and refines a solution where the factorization supports it.
@usableFromInline
protocol StaticColumnSolver {
    associatedtype Column: StaticState
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>)
    /// Whether ``refined(_:rhs:jacobian:alpha:)`` refines (`W = αI − J`, ``StageRefinement``).
    static var refinesStages: Bool { get }
    /// `x` after one step of iterative refinement of `W x = b` (``StageRefinement``).
    func refined(_ x: Column, rhs b: Column, jacobian J: Column.SquareMatrix, alpha: Double) -> Column
}

/// The factors of a fixed-size `W` of `Double`s, as a stage solve uses them: solves `W x = r`,
/// writing `x` at a stage's slot.
@usableFromInline
protocol StaticStageSolver: StaticColumnSolver where Column.Scalar == Double {
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>)
}

extension StaticStageSolver {
    @inlinable static var refinesStages: Bool { true }

    /// One step of iterative refinement with the residual `b − αx + J x` summed in twice the
    /// working precision, in ``RosenbrockStepper``'s `refineStage` order of operations (why:
    /// ``StageRefinement``).
    @inlinable @inline(__always)
    func refined(_ x: Column, rhs b: Column, jacobian J: Column.SquareMatrix, alpha: Double) -> Column {
        let n = x.scalarCount
        var residual = Column()
        for m in 0..<n {
            var sum = b[m], carry = 0.0
            StageRefinement.accumulate(&sum, &carry, -alpha, x[m])
            for j in 0..<n { StageRefinement.accumulate(&sum, &carry, J[m, j], x[j]) }
            residual[m] = sum + carry
        }
        var correction = Column()
        solve(residual, into: &correction)
        return x + correction
    }
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

    /// Assembles `W = α I − J` at `a` and factors it there; `nil` when an entry is not finite or
    /// `W` is singular.
    @inlinable @inline(__always)
    static func factoring(
        _ J: inout Column.SquareMatrix, alpha: Double, a: UnsafeMutablePointer<Double>,
        pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory? {
        factoring(&J, alpha: alpha, beta: -1, a: a, pivots: pivots, reciprocals: reciprocals)
    }

    /// `W = α I + β J` (the SDIRK form is `I − γhJ`) assembled at `a`
    /// (``StaticLUKernel/assemble(_:_:_:into:alpha:beta:)``) and factored there; `nil` when an
    /// entry is not finite or `W` is singular.
    @inlinable @inline(__always)
    static func factoring(
        _ J: inout Column.SquareMatrix, alpha: Double, beta: Double, a: UnsafeMutablePointer<Double>,
        pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory? {
        let n = Column().scalarCount
        let ld = StaticLUKernel.leadingDimension(Column.self)
        let assembled = withUnsafePointer(to: &J) { matrix in
            matrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { jacobian in
                StaticLUKernel.assemble(n, ld, jacobian, into: a, alpha: alpha, beta: beta)
            }
        }
        guard assembled, StaticLUKernel.factor(n, ld, a, pivots, reciprocals) else { return nil }
        return StaticLUInMemory(n: n, ld: ld, a: a, pivots: pivots, reciprocals: reciprocals)
    }

    /// The factors already at `a` (a `W` factored earlier and still current: the SDIRK methods
    /// keep `W` across steps).
    @inlinable @inline(__always)
    static func factored(
        a: UnsafeMutablePointer<Double>, pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory {
        StaticLUInMemory(
            n: Column().scalarCount, ld: StaticLUKernel.leadingDimension(Column.self), a: a, pivots: pivots,
            reciprocals: reciprocals)
    }

    /// ``factoring(_:alpha:a:pivots:reciprocals:)`` of `W = α M − J`, as the array form's
    /// ``DenseIterationMatrix`` assembles it with a mass matrix (`−J + α m` for every entry);
    /// `mass == nil` is the identity (the same bits as the form without it).
    @inlinable @inline(__always)
    static func factoring(
        _ J: inout Column.SquareMatrix, alpha: Double, mass: Column.SquareMatrix?, a: UnsafeMutablePointer<Double>,
        pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory? {
        guard var M = mass else { return factoring(&J, alpha: alpha, a: a, pivots: pivots, reciprocals: reciprocals) }
        let n = Column().scalarCount
        let ld = StaticLUKernel.leadingDimension(Column.self)
        var nonFinite = 0
        withUnsafePointer(to: &J) { matrix in
            matrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { jacobian in
                withUnsafePointer(to: &M) { massMatrix in
                    massMatrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { m in
                        for j in 0..<n {
                            for i in 0..<n {
                                let e = i &+ j &* ld
                                a[e] = -1 * jacobian[e] + alpha * m[e]
                                nonFinite |= a[e].isFinite ? 0 : 1
                            }
                        }
                    }
                }
            }
        }
        guard nonFinite == 0, StaticLUKernel.factor(n, ld, a, pivots, reciprocals) else { return nil }
        return StaticLUInMemory(n: n, ld: ld, a: a, pivots: pivots, reciprocals: reciprocals)
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
/// (``StaticRosenbrockStepper/registerLimit``): the loops unroll completely, every index
/// becomes a constant, and the factors stay in registers through the step's solves (VDPOL,
/// n = 2: a Rodas5P step in 215 ns against 280 ns with the factors in memory). The same
/// operations in the same order as the kernel, so the same bits.
@usableFromInline
struct StaticLU<Matrix: StaticSquareMatrix> {
    public typealias Column = Matrix.Column
    /// `L` (unit, below the diagonal) and `U` packed as LAPACK packs them.
    @usableFromInline var a: Matrix
    /// The row exchanged with row `k` at step `k`, as an exact integer in a `Double` (the state
    /// type is the one fixed-size vector available here).
    @usableFromInline var pivots: Column
    @usableFromInline var reciprocals: Column
    /// The pivot rows again, four bits each (row `k`'s at bits `4k ..< 4k + 4`), for
    /// `n ≤` ``packedPivotLimit``: read as integers without the checked conversion of
    /// `Int(pivots[k])`, which the optimizer cannot hoist out of a stage loop when the factors
    /// are stored (a stepper's property) rather than a local.
    @usableFromInline var packedPivots = 0

    @inlinable static var packedPivotLimit: Int { 16 }

    @inlinable @inline(__always)
    init(_ a: Matrix) {
        self.a = a
        pivots = Column()
        reciprocals = Column()
    }

}

/// The factorization and solves, for `Double` entries (the type is declared for any scalar so
/// that a stepper generic over the scalar can hold it).
extension StaticLU: StaticColumnSolver, StaticStageSolver where Matrix.Column.Scalar == Double {

    /// The pivot row of step `k` (``pivots``, or ``packedPivots`` where they fit).
    @inlinable @inline(__always)
    func pivot(_ k: Int) -> Int {
        if Column().scalarCount <= Self.packedPivotLimit { return (packedPivots &>> (4 &* k)) & 15 }
        return Int(pivots[k])
    }

    /// `W = α I − J` assembled and factored (``factoring(_:alpha:beta:)``).
    @inlinable @inline(__always)
    static func factoring(_ J: Matrix, alpha: Double) -> StaticLU? {
        factoring(J, alpha: alpha, beta: -1)
    }

    /// `W = α I + β J` assembled as ``IterationMatrix`` assembles it (`βJ + α·0` off the
    /// diagonal, so the signs of zeros match; `βJ + α` on it) and factored; `nil` when an entry
    /// is not finite or `W` is singular.
    /// `W = α M − J` assembled as ``StaticLUInMemory``'s `factoring(_:alpha:mass:a:pivots:reciprocals:)`
    /// assembles it (`−1·J_ij + α·M_ij`, the array form's), factored by value.
    @inlinable @inline(__always)
    static func factoring(_ J: Matrix, alpha: Double, mass M: Matrix) -> StaticLU? {
        let n = Column().scalarCount
        var w = Matrix()
        var finite = true
        for j in 0..<n {
            let jacobianColumn = J[column: j], massColumn = M[column: j]
            var column = Column()
            for i in 0..<n { column[i] = -1 * jacobianColumn[i] + alpha * massColumn[i] }
            finite = finite && column.isFiniteState
            w[column: j] = column
        }
        guard finite else { return nil }
        var lu = StaticLU(w)
        return lu.factor() ? lu : nil
    }

    @inlinable @inline(__always)
    static func factoring(_ J: Matrix, alpha: Double, beta: Double) -> StaticLU? {
        let n = Column().scalarCount
        let offDiagonal = Column() * alpha
        var w = Matrix()
        var finite = true
        for j in 0..<n {
            let jacobianColumn = J[column: j]
            var column = jacobianColumn * beta + offDiagonal
            column[j] = beta * jacobianColumn[j] + alpha
            finite = finite && column.isFiniteState
            w[column: j] = column
        }
        guard finite else { return nil }
        var lu = StaticLU(w)
        return lu.factor() ? lu : nil
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
            if n <= Self.packedPivotLimit { packedPivots |= p &<< (4 &* k) }
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
            let p = pivot(k)
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


/// `W = α M − J` of a fixed-size state of first-order dual numbers over `Double`
/// (``DiffEqScalar/firstOrderPartialCount``), factored as the array form factors it: only the
/// values, by ``FirstOrderDualLU`` (the partials of each solve follow from the factors of the
/// values and the partials of `J`). The same operations as the array form's dense dual
/// iteration matrix, so the same numbers: a fixed-size dual solve equals the array form's.
///
/// `J` and each right-hand side are copied component by component into the LU's column-major
/// buffers (no assumption on the state's layout); at the sizes of this form that is small
/// beside the factorization.
@usableFromInline
struct StaticDualIterationMatrix<Column: StaticState>: StaticColumnSolver {
    @usableFromInline var lu: FirstOrderDualLU<Column.Scalar>
    /// `J`, column-major, as the LU reads it.
    @usableFromInline var jacobian: StageStorage<Column.Scalar>

    @usableFromInline
    init(count n: Int) {
        lu = FirstOrderDualLU(count: n)
        jacobian = StageStorage(count: n * n)
    }

    /// Factors the values of `α M + β J` (`mass` column-major, `nil` for the identity; `β = −1`
    /// for the Rosenbrock methods, `−γh` for SDIRK); `false` when an entry is not finite or `W`
    /// is singular.
    @inlinable
    mutating func factor(_ J: Column.SquareMatrix, alpha: Double, beta: Double = -1, mass: [Double]?) -> Bool {
        if !isKnownUniquelyReferenced(&jacobian) { jacobian = jacobian.copy() }
        let n = Column().scalarCount
        let buffer = jacobian.base
        for j in 0..<n {
            let column = J[column: j]
            for i in 0..<n { buffer[i &+ j &* n] = column[i] }
        }
        return lu.factor(alpha: alpha, beta: beta, J: buffer, mass: mass)
    }

    @inlinable
    func solve(_ r: Column, into x: UnsafeMutablePointer<Column>) {
        let n = r.scalarCount
        withUnsafeTemporaryAllocation(of: Column.Scalar.self, capacity: Swift.max(n, 1)) { buffer in
            let b = buffer.baseAddress.unsafelyUnwrapped
            for i in 0..<n { b.advanced(by: i).initialize(to: r[i]) }
            lu.solve(b)
            var out = r
            for i in 0..<n { out[i] = b[i] }
            b.deinitialize(count: n)
            x.pointee = out
        }
    }

    /// The array form refines the stage solves of `Double` states only.
    @inlinable static var refinesStages: Bool { false }

    @inlinable
    func refined(_ x: Column, rhs b: Column, jacobian J: Column.SquareMatrix, alpha: Double) -> Column { x }
}
