import DiffEqCore
import SparseLinearAlgebra

/// `W = α I + β J` for a sparse `J` (``JacobianStructure/sparse(_:)``), factored by KLU
/// (SparseLinearAlgebra's ``SparseLUFactorization``): ``IterationMatrix``'s solver for
/// ``LinearSolver/sparseLU``.
///
/// `J` arrives compressed, one value per entry of its pattern in the pattern's order (as
/// ``JacobianEvaluator`` writes it for this solver). `W`'s pattern is `J`'s with the diagonal
/// added; it is analysed once (ordering, block triangular form) when the stepper is built, and
/// every factorization after the first reuses the pivot order (`klu_refactor`) unless it turns
/// out poorly conditioned (see ``SparseLUFactorization``). Memory: `O(nnz(W) + nnz(L + U))`,
/// never `n²`. `Double` and `Float` (solved in `Double`) states.
@usableFromInline
struct SparseIterationMatrix<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline let pattern: SparsityPattern
    /// `W`'s pattern (`J`'s plus the diagonal), analysed once.
    @usableFromInline let wPattern: SparsityPattern
    /// Position in `W`'s values of `J`'s entry `k`, and of the diagonal entry `i`.
    @usableFromInline let jacobianSlot: [Int]
    @usableFromInline let diagonalSlot: [Int]
    @usableFromInline var values: [Double]
    /// `Float` states: the right-hand side in `Double` (a reference, so a solve allocates nothing).
    @usableFromInline let scratch: LinearSolverScratch
    @usableFromInline var lu: SparseLUFactorization
    @usableFromInline var isFactored = false

    /// `nil` when KLU refuses the pattern (it cannot for a valid ``SparsityPattern``).
    @usableFromInline
    init?(pattern: SparsityPattern) {
        let n = pattern.columns
        self.n = n
        self.pattern = pattern
        let w = pattern.addingDiagonal()
        wPattern = w
        var jacobianSlot = [Int](repeating: 0, count: pattern.nonzeroCount)
        var diagonalSlot = [Int](repeating: 0, count: n)
        for j in 0..<n {
            var k = pattern.columnStart[j]
            for slot in w.columnStart[j]..<w.columnStart[j + 1] {
                let i = w.rowIndices[slot]
                if i == j { diagonalSlot[j] = slot }
                if k < pattern.columnStart[j + 1], pattern.rowIndices[k] == i {
                    jacobianSlot[k] = slot
                    k += 1
                }
            }
        }
        self.jacobianSlot = jacobianSlot
        self.diagonalSlot = diagonalSlot
        values = [Double](repeating: 0, count: w.nonzeroCount)
        scratch = LinearSolverScratch(count: Scalar.self == Double.self ? 0 : n)
        guard let lu = try? SparseLUFactorization(count: n, columnStarts: w.columnStart, rowIndices: w.rowIndices) else { return nil }
        self.lu = lu
    }

    /// The nonzeros of `W` and of its current factors.
    @usableFromInline var nonzeroCounts: (matrix: Int, factors: Int) { (wPattern.nonzeroCount, lu.factorNonzeroCount) }

    @inlinable
    mutating func factor(alpha: Double, beta: Double, J: [Scalar], stats: inout SolverStats) -> Bool {
        stats.nluFactorizations += 1
        isFactored = false
        // A copy of the stepper (which would share the C factors) analyses its own.
        if !isKnownUniquelyReferenced(&lu) {
            guard let fresh = try? SparseLUFactorization(count: n, columnStarts: wPattern.columnStart, rowIndices: wPattern.rowIndices)
            else { return false }
            lu = fresh
        }
        for k in 0..<values.count { values[k] = 0 }
        for k in 0..<jacobianSlot.count { values[jacobianSlot[k]] = beta * J[k].primal }
        for i in 0..<n { values[diagonalSlot[i]] += alpha }
        let lu = self.lu
        do {
            try values.withUnsafeBufferPointer { v throws(SparseLUError) in try lu.factor(v) }
        } catch {
            return false
        }
        isFactored = true
        return true
    }

    @inlinable
    func solve(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        stats.nlinsolves += 1
        if Scalar.self == Double.self {
            let x = UnsafeMutableRawPointer(b).assumingMemoryBound(to: Double.self)
            try? lu.solve(UnsafeMutableBufferPointer(start: x, count: n))
        } else {
            let lu = self.lu
            scratch.values.withUnsafeMutableBufferPointer { s in
                for i in 0..<n { s[i] = b[i].primal }
                try? lu.solve(s)
                for i in 0..<n { b[i] = Scalar(s[i]) }
            }
        }
    }
}

/// A buffer of `Double`s reached through a reference from non-mutating solves.
@usableFromInline
final class LinearSolverScratch {
    @usableFromInline var values: [Double]
    @usableFromInline init(count: Int) { values = [Double](repeating: 0, count: count) }
}
