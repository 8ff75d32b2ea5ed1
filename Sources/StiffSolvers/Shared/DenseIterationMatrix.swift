import DenseLinearAlgebra
import DiffEqCore

/// The dense LU of an iteration matrix `W = α M + β J` (``IterationMatrix``'s dense solver, and
/// its solver of the diagonal block of a variational structure). For `Double` and `Float` the factorization is
/// DenseLinearAlgebra's ``LUFactorization`` (its Swift kernel for the small systems of most
/// stiff problems, LAPACK's `?getrf`/`?getrs` above its crossover); for first-order dual numbers
/// over `Double` (forward-mode sensitivities) ``FirstOrderDualLU``, which factors only the primal
/// part; for other scalars a partial-pivoting LU in Swift with the same semantics.
/// A zero pivot is reported as `false` from ``factor(alpha:beta:J:mass:stats:)``: the caller
/// rejects the step and retries with a smaller one, never crashes.
///
/// The storage is chosen by the scalar type, which is known when the solver is specialised: the
/// `Scalar.self == Double.self` tests fold away, and factor and solve reach the factors in place
/// (no copy of an enum payload, no retain of its buffers, on every call).
public struct DenseIterationMatrix<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    /// `Double`: `W` is assembled here, then factored by exchanging buffers with `luDouble`.
    @usableFromInline var assemblyDouble: Matrix<Double>?
    @usableFromInline var luDouble: LUFactorization<Double>?
    @usableFromInline var assemblyFloat: Matrix<Float>?
    @usableFromInline var luFloat: LUFactorization<Float>?
    /// First-order dual numbers over `Double`: the primal factors and the partials of `W`.
    @usableFromInline var dual: FirstOrderDualLU<Scalar>?
    /// Any other scalar type.
    @usableFromInline var generic: GenericLU<Scalar>?
    /// The `(α, β)` of the current factorization, and whether it is valid.
    @usableFromInline var _alpha = 0.0
    @usableFromInline var _beta = 0.0
    @usableFromInline var _isFactored = false
    public var alpha: Double { _alpha }
    public var beta: Double { _beta }
    public var isFactored: Bool { _isFactored }

    public init(count n: Int) {
        self.n = n
        if Scalar.self == Double.self {
            assemblyDouble = try! Matrix(rows: n, columns: n, repeating: 0)
            luDouble = try! LUFactorization(dimension: n)
        } else if Scalar.self == Float.self {
            assemblyFloat = try! Matrix(rows: n, columns: n, repeating: 0)
            luFloat = try! LUFactorization(dimension: n)
        } else if Scalar.firstOrderPartialCount != nil {
            dual = FirstOrderDualLU(count: n)
        } else {
            generic = GenericLU(count: n)
        }
    }

    /// Forms `W = α M + β J` (`M` column-major, `nil` for the identity) and factors it. Returns
    /// `false` when `W` is singular (or has non-finite entries).
    @inlinable
    public mutating func factor(alpha: Double, beta: Double, J: [Scalar], mass: [Double]?, stats: inout SolverStats) -> Bool {
        _alpha = alpha
        _beta = beta
        stats.nluFactorizations += 1
        let n = self.n
        var ok = true
        if Scalar.self == Double.self {
            // Scalar is Double here: view J as [Double].
            J.withUnsafeBufferPointer { jb in
                jb.withMemoryRebound(to: Double.self) { jd in
                    assemblyDouble!.withUnsafeMutableBufferPointer { w in
                        ok = Self.assemble(into: w, jd, alpha: alpha, beta: beta, mass: mass, n: n)
                    }
                }
            }
            if ok {
                do { try luDouble!.factor(exchanging: &assemblyDouble!) } catch { ok = false }
            }
        } else if Scalar.self == Float.self {
            for j in 0..<n { for i in 0..<n {
                let v = Float(entry(i, j, alpha: alpha, beta: beta, J: J, mass: mass).primal)
                assemblyFloat![i, j] = v
                if !v.isFinite { ok = false }
            } }
            if ok {
                do { try luFloat!.factor(exchanging: &assemblyFloat!) } catch { ok = false }
            }
        } else if Scalar.firstOrderPartialCount != nil {
            J.withUnsafeBufferPointer { jb in
                // An empty system (n = 0) has nothing to factor.
                guard let base = jb.baseAddress else { return }
                ok = dual!.factor(alpha: alpha, beta: beta, J: base, mass: mass)
            }
        } else {
            for j in 0..<n { for i in 0..<n { generic!.a[i + j * n] = entry(i, j, alpha: alpha, beta: beta, J: J, mass: mass) } }
            ok = generic!.factor()
        }
        _isFactored = ok
        return ok
    }

    /// Entry `(i, j)` of `α M + β J`.
    @inlinable
    func entry(_ i: Int, _ j: Int, alpha: Double, beta: Double, J: [Scalar], mass: [Double]?) -> Scalar {
        let k = i + j * n
        let m = mass.map { $0[k] } ?? (i == j ? 1 : 0)
        return J[k].scaled(by: beta) + Scalar(alpha * m)
    }

    /// `w = α M + β J`; `false` if an entry is not finite.
    ///
    /// Branch-free and in unit stride (the identity's diagonal set in a second pass, the
    /// finiteness test folded into one flag), so that it vectorizes: written entry by entry with
    /// a test and a branch on each, this assembly took a tenth of a Rodas5P step on HIRES
    /// (n = 8). The entries are the same to the bit: `α·0` off the diagonal (its sign follows
    /// `α`'s) and `α·1 = α` on it, added to `β J` as before.
    @inlinable
    static func assemble(
        into w: UnsafeMutableBufferPointer<Double>, _ J: UnsafeBufferPointer<Double>, alpha: Double, beta: Double,
        mass: [Double]?, n: Int
    ) -> Bool {
        let count = n &* n
        if let mass {
            mass.withUnsafeBufferPointer { m in
                for k in 0..<count { w[k] = beta * J[k] + alpha * m[k] }
            }
        } else {
            let offDiagonal = alpha * 0
            for k in 0..<count { w[k] = beta * J[k] + offDiagonal }
            var k = 0
            while k < count {
                w[k] = beta * J[k] + alpha
                k &+= n &+ 1
            }
        }
        var nonFinite = 0
        for k in 0..<count { nonFinite |= w[k].isFinite ? 0 : 1 }
        return nonFinite == 0
    }

    /// Solves `W x = b` in place. Requires a successful ``factor(alpha:beta:J:mass:stats:)``.
    @inlinable
    public func solve(_ b: inout [Scalar], stats: inout SolverStats) {
        b.withUnsafeMutableBufferPointer { x in
            // An empty system (n = 0) has no base address and nothing to solve.
            if let base = x.baseAddress { solve(base, stats: &stats) } else { stats.nlinsolves += 1 }
        }
    }

    /// Solves `W x = b` in place for the `n` entries at `b` (a stage inside a larger buffer):
    /// no array, so no uniqueness check or copy. Requires a successful
    /// ``factor(alpha:beta:J:mass:stats:)``.
    @inlinable
    public func solve(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        stats.nlinsolves += 1
        let n = self.n
        if Scalar.self == Double.self {
            // Scalar is Double here: the memory is bound to Double.
            let x = UnsafeMutableRawPointer(b).assumingMemoryBound(to: Double.self)
            try? luDouble.unsafelyUnwrapped.solve(UnsafeMutableBufferPointer(start: x, count: n))
        } else if Scalar.self == Float.self {
            let x = UnsafeMutableRawPointer(b).assumingMemoryBound(to: Float.self)
            try? luFloat.unsafelyUnwrapped.solve(UnsafeMutableBufferPointer(start: x, count: n))
        } else if Scalar.firstOrderPartialCount != nil {
            dual.unsafelyUnwrapped.solve(b)
        } else {
            generic.unsafelyUnwrapped.solve(b)
        }
    }

    /// ``solve(_:stats:)`` on a value its owner reaches `inout` (``IterationMatrix``'s stored
    /// LU): `mutating` although it only reads, so that `self` is passed by address rather than
    /// copied first. `Double` states read their factors here; the others go through
    /// ``solve(_:stats:)``.
    @inlinable @inline(__always)
    mutating func solveInPlace(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        guard Scalar.self == Double.self else {
            solve(b, stats: &stats)
            return
        }
        stats.nlinsolves += 1
        // Scalar is Double here: the memory is bound to Double.
        let x = UnsafeMutableRawPointer(b).assumingMemoryBound(to: Double.self)
        try? luDouble.unsafelyUnwrapped.solve(UnsafeMutableBufferPointer(start: x, count: n))
    }
}

/// LU with partial pivoting in Swift, for scalar types LAPACK does not know (dual numbers):
/// Golub & Van Loan, Matrix Computations (4th ed.), Algorithm 3.4.1. Pivoting compares primal
/// magnitudes, so the pivot sequence is the one the plain-real solve would choose.
public struct GenericLU<Scalar: DiffEqScalar> {
    @usableFromInline var a: [Scalar]
    @usableFromInline var pivots: [Int]
    @usableFromInline let n: Int

    public init(count n: Int) {
        self.n = n
        a = [Scalar](repeating: .zero, count: n * n)
        pivots = [Int](repeating: 0, count: n)
    }

    @inlinable
    mutating func factor() -> Bool {
        for k in 0..<n {
            var p = k
            var best = Swift.abs(a[k + k * n].primal)
            for i in (k + 1)..<Swift.max(n, k + 1) where Swift.abs(a[i + k * n].primal) > best {
                best = Swift.abs(a[i + k * n].primal)
                p = i
            }
            pivots[k] = p
            guard best > 0, best.isFinite else { return false }
            if p != k { for j in 0..<n { a.swapAt(k + j * n, p + j * n) } }
            let pivot = a[k + k * n]
            for i in (k + 1)..<Swift.max(n, k + 1) {
                let l = a[i + k * n] / pivot
                a[i + k * n] = l
                for j in (k + 1)..<n { a[i + j * n] = a[i + j * n] - l * a[k + j * n] }
            }
        }
        return true
    }

    @inlinable
    func solve(_ b: UnsafeMutablePointer<Scalar>) {
        for k in 0..<n where pivots[k] != k {
            let t = b[k]
            b[k] = b[pivots[k]]
            b[pivots[k]] = t
        }
        for i in 0..<n { for j in 0..<i { b[i] = b[i] - a[i + j * n] * b[j] } }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in (i + 1)..<n { b[i] = b[i] - a[i + j * n] * b[j] }
            b[i] = b[i] / a[i + i * n]
        }
    }
}

// Arrays of its scalars only (a block preconditioner holding its factors is part of an algorithm value).
extension GenericLU: Sendable where Scalar: Sendable {}
