import SparseLinearAlgebra

/// The block-diagonal preconditioner `P = I − γ J_bd`: `J_bd` keeps the square diagonal blocks
/// of the Jacobian (consecutive states `k·b ..< (k+1)·b`, e.g. the species of one grid cell)
/// and drops the coupling between blocks. Each block of `P` is LU-factored with partial
/// pivoting at setup; a solve is one small triangular pair per block (SparseLinearAlgebra's
/// `BlockDiagonalLU`, the same code as StiffSolvers' `BlockDiagonalPreconditioner`). The
/// Jacobian blocks are saved and reused while CVODE allows (`mayReuseJacobian`), rescaled by
/// the new `γ`.
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

    public var blockSize: Int { lu.blockSize }
    public var blockCount: Int { lu.blockCount }
    private let blockJacobian: BlockJacobian
    /// The saved Jacobian blocks, block after block.
    private var saved: [Double]
    /// `P`'s factors (SparseLinearAlgebra's, shared with the native GMRES's form).
    private var lu: BlockDiagonalLU

    /// `blockSize · blockCount` must be the number of states (checked at the first setup).
    public init(blockSize: Int, blockCount: Int, blockJacobian: @escaping BlockJacobian) {
        lu = BlockDiagonalLU(blockSize: blockSize, blockCount: blockCount)
        self.blockJacobian = blockJacobian
        saved = [Double](repeating: 0, count: lu.blockSize * lu.blockSize * lu.blockCount)
    }

    public func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double],
        mayReuseJacobian: Bool, gamma: Double
    ) throws -> Bool {
        let bb = lu.blockSize * lu.blockSize
        if let why = lu.mismatch(stateCount: u.count) {
            throw BlockPreconditionerError(description: "CVODEBlockDiagonalPreconditioner: \(why)")
        }
        if !mayReuseJacobian {
            saved.withUnsafeMutableBufferPointer { all in
                for k in 0..<lu.blockCount {
                    let block = UnsafeMutableBufferPointer(rebasing: all[(k * bb)..<((k + 1) * bb)])
                    for i in 0..<bb { block[i] = 0 }
                    blockJacobian(k, block, u, p, t)
                }
            }
        }
        var singular: Int?
        saved.withUnsafeBufferPointer { J in
            for k in 0..<lu.blockCount where singular == nil {
                let block = UnsafeBufferPointer(rebasing: J[(k * bb)..<((k + 1) * bb)])
                if !lu.factor(block: k, alpha: 1, beta: -gamma, jacobian: block) { singular = k }
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
        guard let x = z.baseAddress, z.count == lu.count, r.count == z.count else {
            throw BlockPreconditionerError(
                description: "CVODEBlockDiagonalPreconditioner: a vector of \(z.count) entries, the blocks cover \(lu.count)")
        }
        for i in 0..<z.count { z[i] = r[i] }
        lu.solve(x)
    }
}

/// A block count that does not match the problem.
struct BlockPreconditionerError: Error, CustomStringConvertible {
    let description: String
}
