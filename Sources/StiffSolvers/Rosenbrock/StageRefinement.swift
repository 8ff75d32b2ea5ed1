/// The refinement of a Rosenbrock stage solve, shared by both linear systems
/// (``ArrayStiffLinearSystem``, ``StaticStiffLinearSystem``) so that both forms round alike:
/// one step of iterative refinement of `W x = b`, `W = I/(γh) − J`, with the residual
/// `b − x/(γh) + J x` summed in twice the working precision (``accumulate(_:_:_:_:)``), when
/// `γ|h|·max|J_ij|` exceeds ``threshold`` (`Double` states with the identity mass matrix and a
/// dense `W` only).
///
/// Why: the rounding of the LU solve perturbs `x` by about `ε·γ|h|·|J||x|`, which is invisible to
/// the error estimate (both solutions share the rounded stages) but breaks linear invariants
/// `wᵀf = 0` that the exact method keeps. On E5 (issue #13) the invariant `y₂ − y₃ − y₄ = 0`
/// drifted by 1e-21 per step at `γh|J| ≈ 4e6` (t in [1e2, 1e4], where `y ≈ 1e-10`, well inside
/// the tolerance), and since E5 conserves it while `y₂, y₃` decay to 9e-23, Rodas5P ended with
/// `y₂ = 2.1e-21, y₃ ≈ 0` (2e3 tolerances at reltol 1e-8, `success`). Refinement with a residual
/// in working precision does not help (its own rounding is as large: Rodas5P stays 200-5000
/// tolerances off); with this residual Rodas5P holds the invariant to 1e-24 and ends within
/// 0.4-6 tolerances at reltol 1e-4 ... 1e-8.
@usableFromInline
enum StageRefinement {
    /// A stage solve is refined when `γ|h|·max|J_ij|` exceeds this: below it the rounding of the
    /// solve is amplified less than a thousandfold.
    @usableFromInline static let threshold = 1e3

    /// `max_k |a_k|` over the `Double`s in `a`: the value of `largest = max(largest, |a_k|)` taken
    /// in order from 0 (NaN entries are passed over either way; the maximum of the others does
    /// not depend on the order), in four independent accumulators. Why: written entry by entry,
    /// the scan of HIRES's 64 Jacobian entries (a compare and a branch each, one dependency chain)
    /// cost some 550 instructions per Rodas5P attempt, 2.8 % of it (callgrind, 123f1f7 against
    /// a04a921); a `SIMD4<Double>` form was not inlined on baseline x86-64 and cost about 420.
    @inlinable @inline(__always)
    static func largestMagnitude(_ a: UnsafeRawBufferPointer) -> Double {
        let count = a.count / MemoryLayout<Double>.stride
        guard let base = a.baseAddress, count > 0 else { return 0 }
        @inline(__always) func magnitude(_ k: Int) -> Double {
            Swift.abs(base.loadUnaligned(fromByteOffset: k &* 8, as: Double.self))
        }
        var (m0, m1, m2, m3) = (0.0, 0.0, 0.0, 0.0)
        var k = 0
        while k &+ 4 <= count {
            m0 = Swift.max(m0, magnitude(k))
            m1 = Swift.max(m1, magnitude(k &+ 1))
            m2 = Swift.max(m2, magnitude(k &+ 2))
            m3 = Swift.max(m3, magnitude(k &+ 3))
            k &+= 4
        }
        while k < count {
            m0 = Swift.max(m0, magnitude(k))
            k &+= 1
        }
        return Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
    }

    /// `sum + carry += a·c` in twice the working precision: the product split exactly by a fused
    /// multiply-add (TwoProduct), the addition's rounding error recovered (TwoSum) and both
    /// carried (Ogita, Rump & Oishi, Accurate sum and dot product, SIAM J. Sci. Comput. 26
    /// (2005) 1955-1988, algorithm Dot2).
    @inlinable @inline(__always)
    static func accumulate(_ sum: inout Double, _ carry: inout Double, _ a: Double, _ c: Double) {
        let product = a * c
        let productError = (-product).addingProduct(a, c)
        let total = sum + product
        let z = total - sum
        carry += (sum - (total - z)) + (product - z) + productError
        sum = total
    }
}
