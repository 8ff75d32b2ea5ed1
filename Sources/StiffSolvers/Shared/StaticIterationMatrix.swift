import DenseLinearAlgebra
import DiffEqCore

// The iteration matrix `W = I/(γh) − J` of a fixed-size state (StaticRosenbrockStepper): the
// fixed-size sibling of IterationMatrix, which holds `W` for array states. `W` is assembled as
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

/// The factors of a fixed-size `W`, as a stage solve uses them: solves `W x = r`, writing `x` at
/// a stage's slot.
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

    /// Assembles `W = α I − J` at `a` and factors it there; `nil` when an entry is not finite or
    /// `W` is singular.
    @inlinable @inline(__always)
    static func factoring(
        _ J: inout Column.SquareMatrix, alpha: Double, a: UnsafeMutablePointer<Double>,
        pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory? {
        let n = Column().scalarCount
        let ld = StaticLUKernel.leadingDimension(Column.self)
        let assembled = withUnsafePointer(to: &J) { matrix in
            matrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { jacobian in
                StaticLUKernel.assemble(n, ld, jacobian, into: a, alpha: alpha, beta: -1)
            }
        }
        guard assembled, StaticLUKernel.factor(n, ld, a, pivots, reciprocals) else { return nil }
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

    /// `W = α I − J` assembled as ``IterationMatrix`` assembles it (`α·0` added off the
    /// diagonal, so the signs of zeros match) and factored; `nil` when an entry is not finite or
    /// `W` is singular.
    @inlinable @inline(__always)
    static func factoring(_ J: Matrix, alpha: Double) -> StaticLU? {
        let n = Column().scalarCount
        let offDiagonal = Column() * alpha
        var w = Matrix()
        var finite = true
        for j in 0..<n {
            var column = J[column: j] * -1 + offDiagonal
            column[j] = -1 * J[column: j][j] + alpha
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

