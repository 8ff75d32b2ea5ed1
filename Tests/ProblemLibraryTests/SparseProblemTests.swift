import DiffEqCore
import ProblemLibrary
import Testing

/// The hand-written Jacobians of the large problems against forward-mode AD of their `rhs`
/// (exact to rounding: the same products in another order).
@Suite struct SparseProblemTests {
    static func adJacobian<M: ODEModel>(_ model: M, _ u: [Double], _ p: [Double], _ t: Double) -> [Double] {
        var J = [Double](repeating: 0, count: u.count * u.count)
        GenericRHS(model, as: Double.self).forwardModeJacobian(&J, u, p, t)
        return J
    }

    /// A state away from the initial one, so that every entry is exercised.
    static func perturbed(_ u: [Double]) -> [Double] {
        u.enumerated().map { $1 * (1 + 0.1 * Double($0 % 7)) + 0.01 * Double($0 % 3) }
    }

    @Test(arguments: [2, 3, 8])
    func brusselatorSparseJacobianMatchesADOnItsPatternAndADIsZeroOffIt(N: Int) {
        let model = Brusselator2D(gridSize: N)
        let n = model.stateCount
        let u = Self.perturbed(model.initialState), p = model.nominalParameters
        let dense = Self.adJacobian(model, u, p, 0)
        let (starts, rows) = model.jacobianPattern
        #expect(starts.count == n + 1)
        if N >= 3 { #expect(rows.count == 12 * N * N) }
        var values = [Double](repeating: 0, count: rows.count)
        values.withUnsafeMutableBufferPointer { v in
            u.withUnsafeBufferPointer { model.jacobianValues(v, columnStarts: starts, rowIndices: rows, $0, p) }
        }
        var covered = [Bool](repeating: false, count: n * n)
        for j in 0..<n {
            for k in starts[j]..<starts[j + 1] {
                let i = rows[k]
                covered[i + n * j] = true
                let exact = dense[i + n * j]
                #expect(abs(values[k] - exact) <= 1e-12 * max(abs(exact), 1), "(\(i), \(j))")
            }
        }
        for k in 0..<(n * n) where !covered[k] { #expect(dense[k] == 0) }
    }

    @Test func diurnalAnalyticJacobianProductAndBlocksMatchAD() {
        let model = DiurnalKinetics2D()
        let n = model.stateCount
        let u = Self.perturbed(model.initialState)
        // Daytime, so that the diurnal rates are on.
        let t = 20_000.0
        let dense = Self.adJacobian(model, u, [], t)
        var analytic = [Double](repeating: 0, count: n * n)
        model.jacobian(&analytic, u, [Double](), t)
        for k in 0..<(n * n) {
            #expect(abs(analytic[k] - dense[k]) <= 1e-12 * max(abs(dense[k]), 1e-30), "\(k)")
        }
        let v = (0..<n).map { 1 + Double($0 % 5) }
        var jv = [Double](repeating: 0, count: n)
        jv.withUnsafeMutableBufferPointer { out in
            v.withUnsafeBufferPointer { vb in u.withUnsafeBufferPointer { model.jacobianTimesVector(out, vb, $0, t) } }
        }
        for i in 0..<n {
            let exact = (0..<n).reduce(0.0) { $0 + dense[i + n * $1] * v[$1] }
            #expect(abs(jv[i] - exact) <= 1e-10 * (0..<n).reduce(0.0) { $0 + abs(dense[i + n * $1] * v[$1]) }, "\(i)")
        }
        // The preconditioner's block is the diagonal block at an interior mesh point (the
        // example's Precond leaves the reflected boundary neighbours out).
        let cell = 4 + 10 * 4
        var block = [Double](repeating: 0, count: 4)
        block.withUnsafeMutableBufferPointer { b in u.withUnsafeBufferPointer { model.diagonalBlock(cell, b, $0, t) } }
        let i0 = 2 * cell
        let expected = [dense[i0 + n * i0], dense[i0 + 1 + n * i0], dense[i0 + n * (i0 + 1)], dense[i0 + 1 + n * (i0 + 1)]]
        for k in 0..<4 { #expect(abs(block[k] - expected[k]) <= 1e-12 * abs(expected[k]), "\(k)") }
    }
}
