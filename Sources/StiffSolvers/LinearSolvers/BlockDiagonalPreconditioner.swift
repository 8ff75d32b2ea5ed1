import DiffEqCore

/// The block-diagonal preconditioner `P = α I + β J_bd` for ``LinearSolver/gmres(_:)``: `J_bd`
/// keeps the square diagonal blocks of the Jacobian (consecutive states `k·b ..< (k+1)·b`, e.g.
/// the species of one grid cell) and drops the coupling between blocks; each block of `P` is
/// LU-factored with partial pivoting at setup (``GenericLU``). This is the preconditioner of
/// SUNDIALS' example `cvsDiurnal_kry` (its `Precond` and `PSolve`), for any block size; the
/// CVODE form is SundialsBridge's `CVODEBlockDiagonalPreconditioner`.
///
/// ```swift
/// let P = BlockDiagonalPreconditioner(blockSize: 2, blockCount: 100) { k, J, u, p, t in ... }
/// let sol = try KenCarp4(linearSolver: .gmres(preconditioner: P)).solve(prob)
/// ```
public struct BlockDiagonalPreconditioner: GMRESPreconditioner {
    /// Writes block `k` of `∂f/∂u` at `(u, p, t)` (column-major `b × b`, `u` the whole state) into `J`.
    public typealias BlockJacobian =
        @Sendable (_ block: Int, _ J: UnsafeMutableBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>, _ p: [Double], _ t: Double)
        -> Void

    public let blockSize: Int
    public let blockCount: Int
    @usableFromInline let blockJacobian: BlockJacobian
    @usableFromInline var jacobianBlock: [Double]
    @usableFromInline var factors: [GenericLU<Double>]

    /// `blockSize · blockCount` must be the number of states (checked at the first setup).
    public init(blockSize: Int, blockCount: Int, blockJacobian: @escaping BlockJacobian) {
        self.blockSize = Swift.max(blockSize, 1)
        self.blockCount = Swift.max(blockCount, 0)
        self.blockJacobian = blockJacobian
        jacobianBlock = [Double](repeating: 0, count: self.blockSize * self.blockSize)
        factors = []
    }

    public mutating func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double
    ) throws(GMRESPreconditionerFailure) {
        let b = blockSize
        guard b * blockCount == u.count else {
            throw GMRESPreconditionerFailure(
                "BlockDiagonalPreconditioner: \(blockCount) blocks of \(b) cover \(b * blockCount) states, the problem has \(u.count)")
        }
        if factors.count != blockCount { factors = [GenericLU<Double>](repeating: GenericLU(count: b), count: blockCount) }
        for k in 0..<blockCount {
            for i in 0..<(b * b) { jacobianBlock[i] = 0 }
            jacobianBlock.withUnsafeMutableBufferPointer { J in blockJacobian(k, J, u, p, t) }
            for j in 0..<b {
                for i in 0..<b { factors[k].a[i + j * b] = beta * jacobianBlock[i + j * b] + (i == j ? alpha : 0) }
            }
            guard factors[k].factor() else {
                // A smaller step moves αI + βJ towards αI: the method retries smaller.
                throw GMRESPreconditionerFailure("block \(k) of αI + βJ is singular or not finite at t = \(t)")
            }
        }
    }

    public func solve(_ r: UnsafeMutableBufferPointer<Double>) {
        let b = blockSize
        guard let base = r.baseAddress, factors.count == blockCount else { return }
        for k in 0..<blockCount { factors[k].solve(base + k * b) }
    }
}

