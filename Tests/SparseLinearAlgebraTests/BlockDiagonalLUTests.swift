import SparseLinearAlgebra
import Testing

@Suite("Block-diagonal LU")
struct BlockDiagonalLUTests {
    /// Two 3 x 3 blocks of `P = α I + β J` whose solutions are known exactly: block 0 needs a row
    /// exchange (its first pivot candidate is 0), block 1 is diagonally dominant.
    @Test("solves each block against its exact solution, pivoting where the first entry is zero")
    func exactSolution() throws {
        // α = 1, β = −1: P_k = I − J_k. Column-major J_k, chosen so that P_0 = [[0, 1, 2],
        // [1, 0, 1], [2, 1, 0]] (zero first pivot) and P_1 = [[4, 1, 0], [1, 4, 1], [0, 1, 4]].
        let p0: [Double] = [0, 1, 2, 1, 0, 1, 2, 1, 0]
        let p1: [Double] = [4, 1, 0, 1, 4, 1, 0, 1, 4]
        func jacobian(_ p: [Double]) -> [Double] { (0..<9).map { (($0 % 4 == 0) ? 1 : 0) - p[$0] } }
        var lu = BlockDiagonalLU(blockSize: 3, blockCount: 2)
        for (k, p) in [p0, p1].enumerated() {
            let ok = jacobian(p).withUnsafeBufferPointer { lu.factor(block: k, alpha: 1, beta: -1, jacobian: $0) }
            #expect(ok)
        }
        // x = (1, 2, 3) in block 0, (−1, 0, 2) in block 1; b = P x.
        let x: [Double] = [1, 2, 3, -1, 0, 2]
        var b = [Double](repeating: 0, count: 6)
        for (k, p) in [p0, p1].enumerated() {
            for i in 0..<3 { for j in 0..<3 { b[3 * k + i] += p[i + 3 * j] * x[3 * k + j] } }
        }
        b.withUnsafeMutableBufferPointer { lu.solve($0.baseAddress!) }
        let worst = zip(b, x).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-14, "max error \(worst)")
    }

    @Test("a singular or non-finite block, an index out of range and a short Jacobian are refused, not crashes")
    func badInput() {
        var lu = BlockDiagonalLU(blockSize: 2, blockCount: 2)
        // P = 0·I + 1·J with J = [[1, 2], [2, 4]]: rank 1.
        let singular: [Double] = [1, 2, 2, 4]
        #expect(!singular.withUnsafeBufferPointer { lu.factor(block: 0, alpha: 0, beta: 1, jacobian: $0) })
        let nan: [Double] = [.nan, 0, 0, 1]
        #expect(!nan.withUnsafeBufferPointer { lu.factor(block: 1, alpha: 0, beta: 1, jacobian: $0) })
        let fine: [Double] = [1, 0, 0, 1]
        #expect(!fine.withUnsafeBufferPointer { lu.factor(block: 2, alpha: 1, beta: 0, jacobian: $0) })
        #expect(!fine.withUnsafeBufferPointer { lu.factor(block: -1, alpha: 1, beta: 0, jacobian: $0) })
        #expect(![1.0, 0].withUnsafeBufferPointer { lu.factor(block: 0, alpha: 1, beta: 0, jacobian: $0) })
        #expect(lu.mismatch(stateCount: 4) == nil)
        #expect(lu.mismatch(stateCount: 5) == "2 blocks of 2 cover 4 states, the problem has 5")
    }
}
