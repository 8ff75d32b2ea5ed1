/// The refinement of a Rosenbrock stage solve shared by ``RosenbrockStepper`` and
/// ``StaticRosenbrockStepper``, so that both forms round alike (see
/// `RosenbrockStepper.refineStage` for why it exists).
@usableFromInline
enum StageRefinement {
    /// A stage solve is refined when `γ|h|·max|J_ij|` exceeds this: below it the rounding of the
    /// solve is amplified less than a thousandfold.
    @usableFromInline static let threshold = 1e3

    /// `max_k |a_k|` over the `Double`s in `a`: the value of `largest = max(largest, |a_k|)` taken
    /// in order from 0 (NaN entries are passed over either way; the maximum of the others does
    /// not depend on the order), in four lanes. Why: written entry by entry, the scan of HIRES's
    /// 64 Jacobian entries (a compare and a branch each) cost some 550 instructions per Rodas5P
    /// attempt, 2.8 % of it (callgrind, 123f1f7 against a04a921).
    @inlinable
    static func largestMagnitude(_ a: UnsafeRawBufferPointer) -> Double {
        let count = a.count / MemoryLayout<Double>.stride
        guard let base = a.baseAddress, count > 0 else { return 0 }
        var lanes = SIMD4<Double>()
        var k = 0
        while k &+ 4 <= count {
            let v = base.loadUnaligned(fromByteOffset: k &* 8, as: SIMD4<Double>.self)
            let magnitude = v.replacing(with: -v, where: v .< 0)
            lanes.replace(with: magnitude, where: lanes .< magnitude)
            k &+= 4
        }
        var largest = lanes.max()
        while k < count {
            largest = Swift.max(largest, Swift.abs(base.loadUnaligned(fromByteOffset: k &* 8, as: Double.self)))
            k &+= 1
        }
        return largest
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
