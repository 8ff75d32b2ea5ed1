/// The LU factors of a block-diagonal matrix `P = α I + β J_bd`, `J_bd = diag(J_0, …, J_{K−1})`
/// with `K` square blocks of order `b` (consecutive unknowns `k·b ..< (k+1)·b`, e.g. the species
/// of one grid cell): each block factored on its own with partial pivoting (Golub & Van Loan,
/// Matrix Computations, 4th ed., Algorithm 3.4.1), a solve one small triangular pair per block.
///
/// The one implementation behind both block-diagonal preconditioners of the 2-D reaction-diffusion
/// examples (the cell-wise preconditioner of SUNDIALS' `cvsDiurnal_kry`, its `Precond` and
/// `PSolve`): StiffSolvers' `BlockDiagonalPreconditioner` for the native GMRES and
/// SundialsBridge's `CVODEBlockDiagonalPreconditioner` for CVODE's SPGMR.
///
/// A value: copies are independent (copy-on-write arrays); `Sendable`.
public struct BlockDiagonalLU: Sendable {
    public let blockSize: Int
    public let blockCount: Int
    /// Block after block, column-major `b × b`: `L` below the diagonal (unit diagonal implied),
    /// `U` on and above it.
    @usableFromInline var factors: [Double]
    /// Per block, LAPACK's `getrf` convention: at step `i`, row `i` was swapped with `pivots[i]`.
    @usableFromInline var pivots: [Int]

    /// Room for `blockCount` blocks of order `blockSize` (negative sizes are taken as 0, a zero
    /// block size as 1).
    public init(blockSize: Int, blockCount: Int) {
        self.blockSize = Swift.max(blockSize, 1)
        self.blockCount = Swift.max(blockCount, 0)
        factors = [Double](repeating: 0, count: self.blockSize * self.blockSize * self.blockCount)
        pivots = [Int](repeating: 0, count: self.blockSize * self.blockCount)
    }

    /// Unknowns covered: `blockSize · blockCount`.
    public var count: Int { blockSize * blockCount }

    /// Why these blocks do not fit a system of `stateCount` unknowns (`nil` when they do): the
    /// message a preconditioner's setup reports.
    public func mismatch(stateCount: Int) -> String? {
        count == stateCount
            ? nil
            : "\(blockCount) blocks of \(blockSize) cover \(count) states, the problem has \(stateCount)"
    }

    /// Forms block `k` of `P`, `α I + β J_k` (`jacobian`: `J_k` column-major, `b²` entries), and
    /// factors it. `false` when a pivot is zero or not finite (the block is singular, or `J_k`
    /// holds a NaN or infinity), or when `k` is not a block or `jacobian` holds fewer than `b²`
    /// entries; the block's factors are then not usable.
    @inlinable
    public mutating func factor(block k: Int, alpha: Double, beta: Double, jacobian: UnsafeBufferPointer<Double>) -> Bool {
        let b = blockSize, bb = b * b
        guard k >= 0, k < blockCount, jacobian.count >= bb else { return false }
        return factors.withUnsafeMutableBufferPointer { all in
            pivots.withUnsafeMutableBufferPointer { piv in
                let a = all.baseAddress! + k * bb, perm = piv.baseAddress! + k * b
                for i in 0..<bb { a[i] = beta * jacobian[i] }
                for i in 0..<b { a[i * b + i] += alpha }
                return Self.factorInPlace(a, perm, b)
            }
        }
    }

    /// Overwrites `x` (``count`` entries) with `P⁻¹ x`, block by block. Requires every block
    /// factored successfully.
    @inlinable
    public func solve(_ x: UnsafeMutablePointer<Double>) {
        let b = blockSize, bb = b * b
        factors.withUnsafeBufferPointer { all in
            pivots.withUnsafeBufferPointer { piv in
                guard let lu0 = all.baseAddress, let perm0 = piv.baseAddress else { return }
                for k in 0..<blockCount {
                    let lu = lu0 + k * bb, perm = perm0 + k * b, y = x + k * b
                    for i in 0..<b where perm[i] != i {
                        let t = y[i]
                        y[i] = y[perm[i]]
                        y[perm[i]] = t
                    }
                    for i in 0..<b { for j in 0..<i { y[i] -= lu[i + j * b] * y[j] } }
                    for i in stride(from: b - 1, through: 0, by: -1) {
                        for j in (i + 1)..<b { y[i] -= lu[i + j * b] * y[j] }
                        y[i] /= lu[i + i * b]
                    }
                }
            }
        }
    }

    /// In-place LU with partial pivoting of the column-major `b × b` matrix at `a` (the first
    /// largest magnitude in the column is the pivot). `false` if a pivot is zero or not finite.
    @inlinable
    static func factorInPlace(_ a: UnsafeMutablePointer<Double>, _ perm: UnsafeMutablePointer<Int>, _ b: Int) -> Bool {
        for j in 0..<b {
            var pivot = j
            for i in (j + 1)..<b where Swift.abs(a[i + j * b]) > Swift.abs(a[pivot + j * b]) { pivot = i }
            perm[j] = pivot
            let d = a[pivot + j * b]
            guard d != 0, d.isFinite else { return false }
            if pivot != j {
                for c in 0..<b {
                    let t = a[j + c * b]
                    a[j + c * b] = a[pivot + c * b]
                    a[pivot + c * b] = t
                }
            }
            for i in (j + 1)..<b { a[i + j * b] /= d }
            for c in (j + 1)..<b {
                let s = a[j + c * b]
                for i in (j + 1)..<b { a[i + c * b] -= a[i + j * b] * s }
            }
        }
        return true
    }
}
