import DenseLinearAlgebra
import DiffEqCore

/// The iteration matrix of an implicit or linearly implicit method, `W = α M + β J`, factored
/// once and solved against many times (every stage, every Newton iteration).
///
/// Rosenbrock methods use `W = M/(γ h) − J` (α = 1/(γh), β = −1) and SDIRK Newton iterations
/// `W = M − γ h J` (α = 1, β = −γh). For `Double` and `Float` the factorization is LAPACK's
/// `?getrf` and the solves `?getrs` (through DenseLinearAlgebra); for other scalars (dual
/// numbers carrying sensitivities) a partial-pivoting LU in Swift with the same semantics.
/// A zero pivot is reported as `false` from ``factor(alpha:beta:J:mass:)``: the caller rejects
/// the step and retries with a smaller one, never crashes.
public struct IterationMatrix<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline var storage: Storage
    /// The `(α, β)` of the current factorization, and whether it is valid.
    @usableFromInline var _alpha = 0.0
    @usableFromInline var _beta = 0.0
    @usableFromInline var _isFactored = false
    public var alpha: Double { _alpha }
    public var beta: Double { _beta }
    public var isFactored: Bool { _isFactored }

    @usableFromInline enum Storage {
        case double(Matrix<Double>, LUFactorization<Double>)
        case float(Matrix<Float>, LUFactorization<Float>)
        case generic(GenericLU<Scalar>)
    }

    public init(count n: Int) {
        self.n = n
        if Scalar.self == Double.self {
            storage = .double(try! Matrix(rows: n, columns: n, repeating: 0), try! LUFactorization(dimension: n))
        } else if Scalar.self == Float.self {
            storage = .float(try! Matrix(rows: n, columns: n, repeating: 0), try! LUFactorization(dimension: n))
        } else {
            storage = .generic(GenericLU(count: n))
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
        func entry(_ i: Int, _ j: Int) -> Scalar {
            let k = i + j * n
            let m = mass.map { $0[k] } ?? (i == j ? 1 : 0)
            return J[k].scaled(by: beta) + Scalar(alpha * m)
        }
        var ok = true
        switch storage {
        case .double(var W, var lu):
            storage = .generic(GenericLU(count: 0))  // release the buffers so they stay unique
            W.withUnsafeMutableBufferPointer { w in
                J.withUnsafeBufferPointer { jb in
                    jb.withMemoryRebound(to: Double.self) { jd in
                        for k in 0..<(n * n) {
                            let m = mass.map { $0[k] } ?? (k % (n + 1) == 0 ? 1 : 0)
                            w[k] = beta * jd[k] + alpha * m
                            if !w[k].isFinite { ok = false }
                        }
                    }
                }
            }
            if ok {
                do { try lu.factor(exchanging: &W) } catch { ok = false }
            }
            storage = .double(W, lu)
        case .float(var W, var lu):
            storage = .generic(GenericLU(count: 0))
            for j in 0..<n { for i in 0..<n {
                let v = Float(entry(i, j).primal)
                W[i, j] = v
                if !v.isFinite { ok = false }
            } }
            if ok {
                do { try lu.factor(exchanging: &W) } catch { ok = false }
            }
            storage = .float(W, lu)
        case .generic(var g):
            storage = .generic(GenericLU(count: 0))
            for j in 0..<n { for i in 0..<n { g.a[i + j * n] = entry(i, j) } }
            ok = g.factor()
            storage = .generic(g)
        }
        _isFactored = ok
        return ok
    }

    /// Solves `W x = b` in place. Requires a successful ``factor(alpha:beta:J:mass:stats:)``.
    @inlinable
    public func solve(_ b: inout [Scalar], stats: inout SolverStats) {
        stats.nlinsolves += 1
        switch storage {
        case .double(_, let lu):
            // Scalar is Double here (the storage was chosen by type): view the array as [Double].
            withUnsafeMutablePointer(to: &b) { pb in
                pb.withMemoryRebound(to: [Double].self, capacity: 1) { try? lu.solve(&$0.pointee) }
            }
        case .float(_, let lu):
            withUnsafeMutablePointer(to: &b) { pb in
                pb.withMemoryRebound(to: [Float].self, capacity: 1) { try? lu.solve(&$0.pointee) }
            }
        case .generic(let g):
            g.solve(&b)
        }
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
    func solve(_ b: inout [Scalar]) {
        for k in 0..<n where pivots[k] != k { b.swapAt(k, pivots[k]) }
        for i in 0..<n { for j in 0..<i { b[i] = b[i] - a[i + j * n] * b[j] } }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in (i + 1)..<n { b[i] = b[i] - a[i + j * n] * b[j] }
            b[i] = b[i] / a[i + i * n]
        }
    }
}
