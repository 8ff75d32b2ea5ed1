// Read-only views of a dense output's steps for readers in other modules: one step at a time
// (`withStep`), or element by element (a delay equation's history, module DelayDE, which holds
// the integrator's dense output between its appends and reads it in place).

extension PiecewisePolynomial {
    /// Calls `body` with step `i`'s interval (`start`, `end`), its signed step size `h` and its
    /// values in the type's form: `u₀`, `u₁`, `c₀ … c_{r−1}`, ``stateCount`` each, so
    /// `r = values.count / stateCount − 2`. `i` must be in `0..<count`.
    @inlinable
    public func withStep<R>(
        _ i: Int, _ body: (_ start: Double, _ end: Double, _ h: Double, _ values: UnsafeBufferPointer<Scalar>) -> R
    ) -> R {
        precondition(i >= 0 && i < count, "step \(i) is not in 0..<\(count)")
        let step = records[i]
        return values.withUnsafeBufferPointer { all in
            body(step.start, step.end, step.h, UnsafeBufferPointer(rebasing: all[step.offset..<(step.offset + step.size)]))
        }
    }

    /// Step `i`'s start, end, signed step size and the offset of its values, for readers that
    /// hold a dense output and read it in place: the values of step `i` are
    /// `offset(ofStep: i)..<offset(ofStep: i + 1)` of ``withValues(_:)`` (`i` up to ``count`` for
    /// the offset).
    /// Inlinable, so that a read is a load from the arrays (no copy of the dense output).
    @inlinable public func start(ofStep i: Int) -> Double { records[i].start }
    @inlinable public func end(ofStep i: Int) -> Double { records[i].end }
    @inlinable public func size(ofStep i: Int) -> Double { records[i].h }
    @inlinable public func offset(ofStep i: Int) -> Int { i == records.count ? valueCount : records[i].offset }

    /// Calls `body` with every step's values, in the type's form, one step after another.
    @inlinable
    public func withValues<R>(_ body: (UnsafeBufferPointer<Scalar>) -> R) -> R {
        values.withUnsafeBufferPointer { all in body(UnsafeBufferPointer(start: all.baseAddress, count: valueCount)) }
    }
}
