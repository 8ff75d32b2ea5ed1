/// The refinement of a Rosenbrock stage solve shared by ``RosenbrockStepper`` and
/// ``StaticRosenbrockStepper``, so that both forms round alike (see
/// `RosenbrockStepper.refineStage` for why it exists).
@usableFromInline
enum StageRefinement {
    /// A stage solve is refined when `γ|h|·max|J_ij|` exceeds this: below it the rounding of the
    /// solve is amplified less than a thousandfold.
    @usableFromInline static let threshold = 1e3

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
