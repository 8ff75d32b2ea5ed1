import DiffEqCore
import SparseLinearAlgebra

/// The block-diagonal preconditioner `P = α I + β J_bd` for ``LinearSolver/gmres(_:)``: `J_bd`
/// keeps the square diagonal blocks of the Jacobian (consecutive states `k·b ..< (k+1)·b`, e.g.
/// the species of one grid cell) and drops the coupling between blocks; each block of `P` is
/// LU-factored with partial pivoting at setup (SparseLinearAlgebra's `BlockDiagonalLU`, the same
/// code as the CVODE form). This is the preconditioner of
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

    public var blockSize: Int { lu.blockSize }
    public var blockCount: Int { lu.blockCount }
    @usableFromInline let blockJacobian: BlockJacobian
    @usableFromInline var jacobianBlock: [Double]
    /// The factors of `P`, block by block (SparseLinearAlgebra's, shared with CVODE's form).
    @usableFromInline var lu: BlockDiagonalLU

    /// `blockSize · blockCount` must be the number of states (checked at the first setup).
    public init(blockSize: Int, blockCount: Int, blockJacobian: @escaping BlockJacobian) {
        lu = BlockDiagonalLU(blockSize: blockSize, blockCount: blockCount)
        self.blockJacobian = blockJacobian
        jacobianBlock = [Double](repeating: 0, count: lu.blockSize * lu.blockSize)
    }

    public mutating func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double
    ) throws(GMRESPreconditionerFailure) {
        if let why = lu.mismatch(stateCount: u.count) { throw GMRESPreconditionerFailure("BlockDiagonalPreconditioner: \(why)") }
        for k in 0..<lu.blockCount {
            for i in 0..<jacobianBlock.count { jacobianBlock[i] = 0 }
            jacobianBlock.withUnsafeMutableBufferPointer { J in blockJacobian(k, J, u, p, t) }
            let factored = jacobianBlock.withUnsafeBufferPointer { J in lu.factor(block: k, alpha: alpha, beta: beta, jacobian: J) }
            guard factored else {
                // A smaller step moves αI + βJ towards αI: the method retries smaller.
                throw GMRESPreconditionerFailure("block \(k) of αI + βJ is singular or not finite at t = \(t)")
            }
        }
    }

    public func solve(_ r: UnsafeMutableBufferPointer<Double>) {
        guard let base = r.baseAddress, r.count == lu.count else { return }
        lu.solve(base)
    }
}
