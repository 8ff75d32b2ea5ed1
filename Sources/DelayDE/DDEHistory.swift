import DiffEqCore

/// The past of a delay equation as its right-hand side reads it: the initial history `φ(p, t)`
/// for `t < t0`, and after `t0` the solution's dense output, one polynomial per accepted step,
/// copied from the integrator's ``PiecewisePolynomial`` as each step is accepted (same form:
/// `u(θ) = (1 − θ)u₀ + θ(u₁ + (1 − θ)(c₀ + θ(c₁ + …)))`, `θ = (t − start)/h`).
///
/// Read it as `h(p, t − τ, idxs: i)` (one component, no allocation), `h(&out, p, t − τ)` (in
/// place) or `h(p, t − τ)` (a new array), and `h.derivative(p, t − τ, idxs: i)` for `u'`. The time
/// is a scalar: when it carries dual parts (a lag that is a differentiated parameter), the value
/// gets `u'(t − τ)·d(t − τ)`, the chain rule through the time argument.
///
/// Which side of a discontinuity is read: at `t0` (where `u'` jumps from `φ'` to `f`) and at
/// the start of every stored step, a time within rounding of the boundary is read from the
/// side the current stage lies on: the step after the boundary for a stage at the start of the
/// integrator's step (`c = 0`), the one before for any later stage. Stages are never inside a
/// step across a tracked discontinuity, so this is the one-sided limit the stage needs; without
/// it a stage at `t_n = t0 + τ` read `φ'` or `f` depending on the last bit of `(t0 + τ) − τ`,
/// which is what a lag derivative sees.
///
/// A time after the last accepted step (a vanishing or state-dependent lag, shorter than the
/// step) is extrapolated from the last step's polynomial; before the first step, `u0` is held.
///
/// Performance: the steps live in flat arrays that only grow (amortised), so reading and
/// appending allocate nothing per step; a step index is found by binary search. The mutable
/// storage is `@exclusivity(unchecked)`: a history belongs to one solve on one thread, is
/// written only between steps (by the driver) and read only inside `f`, so accesses never
/// overlap; the dynamic exclusivity checks of a class's stored properties were 24% of the
/// instructions of a Hutchinson solve (callgrind).
public final class DDEHistory<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline let t0: Double
    @usableFromInline let u0: [Scalar]
    @usableFromInline let initial: (inout [Scalar], [Scalar], Scalar) -> Void
    @exclusivity(unchecked) @usableFromInline var starts: [Double] = []
    @exclusivity(unchecked) @usableFromInline var ends: [Double] = []
    @exclusivity(unchecked) @usableFromInline var steps: [Double] = []
    @exclusivity(unchecked) @usableFromInline var offsets: [Int] = [0]
    @exclusivity(unchecked) @usableFromInline var values: [Scalar] = []
    @exclusivity(unchecked) @usableFromInline var scratch: [Scalar]
    /// Start of the step the integrator is taking (the end of the last accepted one).
    @exclusivity(unchecked) @usableFromInline var stepStart: Double
    /// Time of the stage being evaluated (set by the right-hand side before it calls `f`).
    @exclusivity(unchecked) @usableFromInline var stageTime: Double
    /// How close to a boundary a time is read one-sidedly: a few ulps of the span's magnitude.
    @usableFromInline let boundaryTolerance: Double
    /// The scalar records on the reverse-mode tape (see ``timeParts(_:)``).
    @usableFromInline let timeOnTape: Bool

    @usableFromInline
    init(
        u0: [Scalar], t0: Double, t1: Double, initial: @escaping (inout [Scalar], [Scalar], Scalar) -> Void
    ) {
        self.n = u0.count
        self.t0 = t0
        self.u0 = u0
        self.initial = initial
        self.scratch = u0
        self.stepStart = t0
        self.stageTime = t0
        self.boundaryTolerance = 8 * Swift.max(Swift.abs(t0), Swift.abs(t1), 1).ulp
        self.timeOnTape = Scalar.self is any _TapeTimeScalar.Type
    }

    /// The number of stored steps.
    public var count: Int { starts.count }

    /// Copies steps `count..<dense.count` of the integrator's dense output.
    @inlinable
    func append(from dense: PiecewisePolynomial<Scalar>) {
        var i = starts.count
        while i < dense.count {
            dense.withStep(i) { start, end, h, v in
                starts.append(start)
                ends.append(end)
                steps.append(h)
                values.append(contentsOf: v)
                offsets.append(values.count)
            }
            i += 1
        }
        if let last = ends.last { stepStart = last }
    }

    /// The step index to read `t` from; `-1` for the initial history.
    @inlinable
    func locate(_ t: Double) -> Int {
        let count = starts.count
        let rightSide = stageTime <= stepStart + boundaryTolerance
        if Swift.abs(t - t0) <= boundaryTolerance {
            return rightSide && count > 0 ? 0 : -1
        }
        if t < t0 || count == 0 { return -1 }
        if t >= starts[count - 1] { 
            if count > 1 && !rightSide && t - starts[count - 1] <= boundaryTolerance { return count - 2 }
            return count - 1
        }
        var lo = 0, hi = count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if starts[mid] <= t { lo = mid } else { hi = mid }
        }
        if lo > 0 && !rightSide && t - starts[lo] <= boundaryTolerance { return lo - 1 }
        if lo + 1 < count && rightSide && starts[lo + 1] - t <= boundaryTolerance { return lo + 1 }
        return lo
    }

    /// Value (and, if `wantDerivative`, `du/dt`) of component `m` of step `i` at `t`.
    @inlinable @inline(__always)
    func evaluate(step i: Int, component m: Int, at t: Double, derivative wantDerivative: Bool) -> (Scalar, Scalar) {
        let h = steps[i]
        let theta = t == ends[i] && Swift.abs((ends[i] - starts[i]) - h) <= 2 * Swift.max(Swift.abs(starts[i]), Swift.abs(ends[i])).ulp
            ? 1 : (t - starts[i]) / h
        let base = offsets[i]
        let r = (offsets[i + 1] - base) / n - 2
        return values.withUnsafeBufferPointer { all in
            let v = all.baseAddress! + base
            var q = Scalar.zero, dq = Scalar.zero
            var k = r - 1
            while k >= 0 {
                if wantDerivative { dq = q + dq.scaled(by: theta) }
                q = v[(2 + k) * n + m] + q.scaled(by: theta)
                k -= 1
            }
            let value = v[m].scaled(by: 1 - theta) + (v[n + m] + q.scaled(by: 1 - theta)).scaled(by: theta)
            guard wantDerivative else { return (value, .zero) }
            let slope = (v[n + m] - v[m]) + q.scaled(by: 1 - 2 * theta) + dq.scaled(by: theta * (1 - theta))
            return (value, slope.scaled(by: 1 / h))
        }
    }

    /// Whether `t` carries dual parts (then its value needs the chain rule through time). On the
    /// tape every time takes it: `t − primal(t)` is a recorded zero when `t` depends on a lag
    /// (its adjoint is the lag's) and an unrecorded constant otherwise.
    @inlinable @inline(__always)
    func timeParts(_ t: Scalar) -> Scalar? {
        if timeOnTape { return t - Scalar(t.primal) }
        guard Scalar.componentCount > 1 else { return nil }
        let d = t - Scalar(t.primal)
        return d.sumOfSquaredComponents == 0 ? nil : d
    }

    /// Component `i` of the past at `t`: `u(t)` for `t0 ≤ t` reached so far, `φ(p, t)` before;
    /// NaN for a NaN time (the step then fails as for any non-finite `f`).
    @inlinable
    public func callAsFunction(_ p: [Scalar], _ t: Scalar, idxs i: Int) -> Scalar {
        let s = t.primal
        if s.isNaN { return Scalar(Double.nan) }
        let k = locate(s)
        if k < 0 {
            if s > t0 {
                // No step accepted yet and t ahead of t0: hold u0.
                return u0[i]
            }
            initial(&scratch, p, t)
            return scratch[i]
        }
        if let d = timeParts(t) {
            let (v, dv) = evaluate(step: k, component: i, at: s, derivative: true)
            return v + dv * d
        }
        return evaluate(step: k, component: i, at: s, derivative: false).0
    }

    /// The past at `t`, written into `out` (see ``callAsFunction(_:_:idxs:)``).
    @inlinable
    public func callAsFunction(_ out: inout [Scalar], _ p: [Scalar], _ t: Scalar) {
        let s = t.primal
        if s.isNaN {
            for m in 0..<n { out[m] = Scalar(Double.nan) }
            return
        }
        let k = locate(s)
        if k < 0 {
            if s > t0 {
                for m in 0..<n { out[m] = u0[m] }
            } else {
                initial(&out, p, t)
            }
            return
        }
        let d = timeParts(t)
        for m in 0..<n {
            let (v, dv) = evaluate(step: k, component: m, at: s, derivative: d != nil)
            out[m] = d.map { v + dv * $0 } ?? v
        }
    }

    /// The past at `t` as a new array (allocates; prefer `h(p, t, idxs:)` or `h(&out, p, t)` in
    /// a hot right-hand side).
    @inlinable
    public func callAsFunction(_ p: [Scalar], _ t: Scalar) -> [Scalar] {
        var out = [Scalar](repeating: .zero, count: n)
        self(&out, p, t)
        return out
    }

    /// Component `i` of `du/dt` of the past at `t` (a neutral term). Before `t0` it is the
    /// derivative of `φ` by a central difference of step `1e-6·max(1, |t|)` on its primal time
    /// (the initial history is given as values only).
    @inlinable
    public func derivative(_ p: [Scalar], _ t: Scalar, idxs i: Int) -> Scalar {
        let s = t.primal
        if s.isNaN { return Scalar(Double.nan) }
        let k = locate(s)
        if k < 0 {
            if s > t0 { return .zero }
            let e = 1e-6 * Swift.max(1, Swift.abs(s))
            initial(&scratch, p, Scalar(s + e))
            let a = scratch[i]
            initial(&scratch, p, Scalar(s - e))
            return (a - scratch[i]).scaled(by: 1 / (2 * e))
        }
        return evaluate(step: k, component: i, at: s, derivative: true).1
    }

    /// The last stored step's end (the time reached), `t0` while empty.
    public var lastTime: Double { ends.last ?? t0 }
}
