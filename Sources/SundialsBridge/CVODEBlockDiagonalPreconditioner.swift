/// The block-diagonal preconditioner `P = I − γ J_bd`: `J_bd` keeps the square diagonal blocks
/// of the Jacobian (consecutive states `k·b ..< (k+1)·b`, e.g. the species of one grid cell)
/// and drops the coupling between blocks. Each block of `P` is LU-factored with partial
/// pivoting at setup; a solve is one small triangular pair per block. The Jacobian blocks are
/// saved and reused while CVODE allows (`mayReuseJacobian`), rescaled by the new `γ`.
///
/// This is the preconditioner of SUNDIALS' example `cvsDiurnal_kry` (its `Precond` and
/// `PSolve`), written once for any block size.
///
/// ```swift
/// let krylov = CVODEKrylov(preconditioner: {
///     CVODEBlockDiagonalPreconditioner(blockSize: 2, blockCount: 100) { k, J, u, p, t in ... }
/// })
/// let sol = try solve(prob, CVODE_BDF(linearSolver: .gmres(krylov)))
/// ```
public final class CVODEBlockDiagonalPreconditioner: CVODEPreconditioner {
    /// Writes block `k` of `∂f/∂u` at `(u, p, t)` (column-major `b x b`) into `J`.
    public typealias BlockJacobian =
        (_ block: Int, _ J: UnsafeMutableBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>, _ p: [Double], _ t: Double)
        -> Void

    public let blockSize: Int
    public let blockCount: Int
    private let blockJacobian: BlockJacobian
    /// The saved Jacobian blocks, then `P`'s LU factors, block after block.
    private var saved: [Double]
    private var factors: [Double]
    private var pivots: [Int]

    /// `blockSize · blockCount` must be the number of states (checked at the first setup).
    public init(blockSize: Int, blockCount: Int, blockJacobian: @escaping BlockJacobian) {
        self.blockSize = max(blockSize, 1)
        self.blockCount = max(blockCount, 0)
        self.blockJacobian = blockJacobian
        let b = self.blockSize
        saved = [Double](repeating: 0, count: b * b * self.blockCount)
        factors = saved
        pivots = [Int](repeating: 0, count: b * self.blockCount)
    }

    public func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double],
        mayReuseJacobian: Bool, gamma: Double
    ) throws -> Bool {
        let b = blockSize, bb = b * b
        guard b * blockCount == u.count else {
            throw BlockPreconditionerError(
                description: "CVODEBlockDiagonalPreconditioner: \(blockCount) blocks of \(b) cover \(b * blockCount) states, "
                    + "the problem has \(u.count)")
        }
        if !mayReuseJacobian {
            saved.withUnsafeMutableBufferPointer { all in
                for k in 0..<blockCount {
                    let block = UnsafeMutableBufferPointer(rebasing: all[(k * bb)..<((k + 1) * bb)])
                    for i in 0..<bb { block[i] = 0 }
                    blockJacobian(k, block, u, p, t)
                }
            }
        }
        var singular: Int?
        saved.withUnsafeBufferPointer { J in
            factors.withUnsafeMutableBufferPointer { P in
                pivots.withUnsafeMutableBufferPointer { piv in
                    for k in 0..<blockCount where singular == nil {
                        let base = k * bb
                        for i in 0..<bb { P[base + i] = -gamma * J[base + i] }
                        for i in 0..<b { P[base + i * b + i] += 1 }
                        if !Self.factor(P.baseAddress! + base, piv.baseAddress! + k * b, b) { singular = k }
                    }
                }
            }
        }
        if let k = singular {
            // A smaller γ (step) moves I − γJ towards I: CVODE retries.
            throw CVODEPreconditionerFailure.recoverable("block \(k) of I − γJ is singular or not finite at t = \(t)")
        }
        return !mayReuseJacobian
    }

    public func solve(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double],
        r: UnsafeBufferPointer<Double>, z: UnsafeMutableBufferPointer<Double>, gamma: Double, delta: Double, left: Bool
    ) throws {
        let b = blockSize, bb = b * b
        for i in 0..<z.count { z[i] = r[i] }
        factors.withUnsafeBufferPointer { P in
            pivots.withUnsafeBufferPointer { piv in
                for k in 0..<blockCount {
                    let lu = P.baseAddress! + k * bb, perm = piv.baseAddress! + k * b, x = z.baseAddress! + k * b
                    for i in 0..<b where perm[i] != i { x.swapAt(i, perm[i]) }
                    for j in 0..<b {
                        for i in (j + 1)..<b { x[i] -= lu[i + j * b] * x[j] }
                    }
                    for j in stride(from: b - 1, through: 0, by: -1) {
                        x[j] /= lu[j + j * b]
                        for i in 0..<j { x[i] -= lu[i + j * b] * x[j] }
                    }
                }
            }
        }
    }

    /// In-place LU with partial pivoting of the column-major `b x b` matrix at `a` (LAPACK's
    /// `getrf` convention: row `i` was swapped with `perm[i]` at step `i`). False if a pivot is
    /// zero or not finite.
    private static func factor(_ a: UnsafeMutablePointer<Double>, _ perm: UnsafeMutablePointer<Int>, _ b: Int) -> Bool {
        for j in 0..<b {
            var pivot = j
            for i in (j + 1)..<b where abs(a[i + j * b]) > abs(a[pivot + j * b]) { pivot = i }
            perm[j] = pivot
            let d = a[pivot + j * b]
            guard d != 0, d.isFinite else { return false }
            if pivot != j {
                for c in 0..<b { swap(&a[j + c * b], &a[pivot + c * b]) }
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

/// A block count that does not match the problem.
struct BlockPreconditionerError: Error, CustomStringConvertible {
    let description: String
}

extension UnsafeMutablePointer {
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
