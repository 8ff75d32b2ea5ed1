import DiffEqCore
import StiffSolvers
import Testing

/// The iteration matrix on first-order duals over `Double` factors only the primal part
/// (FirstOrderDualLU); these tests hold its solves to the dual-arithmetic definition.
struct IterationMatrixDualTests {
    typealias D = Dual<3, Double>

    /// Deterministic pseudo-random numbers in [-1, 1) (a linear congruential generator; the
    /// matrices only need to be generic, not statistically random).
    struct Numbers {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 52) - 1
        }
    }

    /// A dual matrix with a sparsity pattern (some entries zero in value and partials, some with
    /// zero value but nonzero partials) and a dual right-hand side.
    static func system(_ n: Int, seed: UInt64) -> (J: [D], b: [D]) {
        var r = Numbers(state: seed)
        var J = [D](repeating: .zero, count: n * n)
        for k in 0..<(n * n) {
            let pattern = k % 5
            if pattern == 1 { continue }
            var d = D(constant: pattern == 3 ? 0 : r.next())
            for c in 0..<3 { d.partials[c] = c == 1 && pattern == 4 ? 0 : r.next() }
            J[k] = d
        }
        var b = [D](repeating: .zero, count: n)
        for i in 0..<n {
            b[i] = D(constant: r.next())
            for c in 0..<3 { b[i].partials[c] = r.next() }
        }
        return (J, b)
    }

    /// `W x = b` in dual arithmetic, `W = α I + β J`, value and every partial, for sizes from 1
    /// to beyond the primal crossover sizes used elsewhere (the dual path has none).
    @Test(arguments: [1, 2, 5, 9, 20])
    func dualSolveSatisfiesTheDualSystem(n: Int) {
        let (alpha, beta) = (0.7, -1.0)
        let (J, b) = Self.system(n, seed: UInt64(n))
        var W = IterationMatrix<D>(count: n)
        var stats = SolverStats()
        #expect(W.factor(alpha: alpha, beta: beta, J: J, mass: nil, stats: &stats))
        var x = b
        W.solve(&x, stats: &stats)
        for i in 0..<n {
            var r = D.zero
            for j in 0..<n {
                let w = J[i + j * n].scaled(by: beta) + D(i == j ? alpha : 0)
                r += w * x[j]
            }
            let scale = 1 + x.map { Swift.abs($0.value) + $0.partials[0].magnitude + $0.partials[1].magnitude
                + $0.partials[2].magnitude }.max()!
            #expect(Swift.abs(r.value - b[i].value) < 1e-12 * scale)
            for c in 0..<3 { #expect(Swift.abs(r.partials[c] - b[i].partials[c]) < 1e-12 * scale) }
        }
    }

    /// With a full mass matrix, `W = α M + β J`.
    @Test func dualSolveWithMassMatrix() {
        let n = 6
        let (J, b) = Self.system(n, seed: 42)
        var r = Numbers(state: 7)
        let M = (0..<(n * n)).map { k in k % (n + 1) == 0 ? 2 + r.next() : 0.1 * r.next() }
        var W = IterationMatrix<D>(count: n)
        var stats = SolverStats()
        #expect(W.factor(alpha: 1.5, beta: -0.5, J: J, mass: M, stats: &stats))
        var x = b
        W.solve(&x, stats: &stats)
        for i in 0..<n {
            var res = D.zero
            for j in 0..<n { res += (J[i + j * n].scaled(by: -0.5) + D(1.5 * M[i + j * n])) * x[j] }
            #expect(Swift.abs(res.value - b[i].value) < 1e-12)
            for c in 0..<3 { #expect(Swift.abs(res.partials[c] - b[i].partials[c]) < 1e-12) }
        }
    }

    /// A singular primal part is reported, not solved.
    @Test func singularPrimalPartIsReported() {
        var J = [D](repeating: .zero, count: 4)
        J[0] = D(constant: 1)
        J[1] = D(constant: 2)
        J[2] = D(constant: 2)
        J[3] = D(constant: 4)
        J[3].partials[0] = 1
        var W = IterationMatrix<D>(count: 2)
        var stats = SolverStats()
        #expect(!W.factor(alpha: 0, beta: 1, J: J, mass: nil, stats: &stats))
    }
}
