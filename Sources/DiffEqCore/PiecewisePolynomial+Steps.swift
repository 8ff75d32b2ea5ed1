// Read-only views of a dense output's steps for readers in other modules: one step at a time
// (`withStep`), or the arrays themselves (`storage`), which a delay equation's history (module
// DelayDE) holds and reads in place during the solve instead of copying each step.

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

    /// The arrays behind the steps, shared (no copy): per step `i`, `starts[i]`, `ends[i]` and
    /// the signed size `steps[i]`; its values in the type's form are
    /// `values[offsets[i]..<offsets[i + 1]]` (`offsets` has `count + 1` entries). A reader that
    /// holds them keeps the next append from writing in place (it copies every array first): let
    /// go of them before the dense output grows (see
    /// ``ODEStepper/prepareDenseStep(_:_:t:dt:u:stats:)``).
    @inlinable
    public var storage: (starts: [Double], ends: [Double], steps: [Double], offsets: [Int], values: [Scalar]) {
        (starts, ends, self.steps, offsets, values)
    }
}
