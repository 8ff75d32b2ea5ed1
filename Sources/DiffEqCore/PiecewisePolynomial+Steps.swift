// A read-only view of one step of a dense output, for readers that keep their own copy of the
// polynomials as they are appended (a delay equation's history, module DelayDE): they need the
// coefficients in the type's documented form, which are otherwise internal.

extension PiecewisePolynomial {
    /// Calls `body` with step `i`'s interval (`start`, `end`), its signed step size `h` and its
    /// values in the type's form: `u₀`, `u₁`, `c₀ … c_{r−1}`, ``stateCount`` each, so
    /// `r = values.count / stateCount − 2`. `i` must be in `0..<count`.
    @inlinable
    public func withStep<R>(
        _ i: Int, _ body: (_ start: Double, _ end: Double, _ h: Double, _ values: UnsafeBufferPointer<Scalar>) -> R
    ) -> R {
        precondition(i >= 0 && i < count, "step \(i) is not in 0..<\(count)")
        return values.withUnsafeBufferPointer { all in
            body(starts[i], ends[i], steps[i], UnsafeBufferPointer(rebasing: all[offsets[i]..<offsets[i + 1]]))
        }
    }
}
