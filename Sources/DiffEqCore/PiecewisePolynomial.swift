/// The dense output of every solver of the library: one polynomial per step, appended as the
/// solve advances, so that a value and its time derivative can be read at any time already passed
/// (during the solve, as a delay equation reads its history, and after it, as `sol(t)`).
///
/// Step `i` covers the interval from `start` to `end` and holds, in `θ = (t − start)/h` with `h`
/// the signed size of the step that computed it (longer than the interval when an event cut the
/// step short),
///
///     u(θ) = (1 − θ)·u₀ + θ·(u₁ + (1 − θ)·(c₀ + θ·(c₁ + … + θ·c_{r−1}))),
///
/// `u₀` the state at `start`, `u₁` the step's end state at `θ = 1` (the interval's end, unless
/// an event cut the step short), and `r` correction vectors (`r = 0`: linear). This is the form of the Rodas dense output (Hairer & Wanner, `rodas.f`,
/// `CONTRO`); every polynomial `P` of degree `r + 1` with `P(0) = u₀`, `P(1) = u₁` has it. It
/// gives the step's states exactly at `θ = 0` and `θ = 1` (no rounding: the other terms are
/// multiplied by an exact zero), so the history is continuous at the nodes to the last bit. Each
/// method family converts its own interpolant when it appends a step: the continuous extension of
/// a Runge-Kutta method (polynomial weights over its stages, ``appendStageWeighted(from:to:step:u0:u1:stages:stageCount:weights:degree:order:)``),
/// cubic Hermite data (``appendHermite(from:to:step:u0:u1:f0:f1:)``), or its own coefficients
/// (``appendStep(from:to:step:rows:order:_:)``).
///
/// A state jump (an event's affect, a state set from outside) needs no zero-length interval: the
/// next step starts at the same time with another `u₀`. At such a time the value is that of the
/// step starting there (right-continuous), except at the very end of the domain.
///
/// Performance: the steps live in two flat arrays, one record per step (its times, size and
/// where its values are) and the values (per step `u₀`, `u₁`, `c₀ … c_{r−1}`, `n` each), so
/// appending a step allocates only when the arrays grow (amortised), and evaluation walks
/// contiguous memory. Evaluation is `@inlinable` so that it specialises in the caller. The
/// values array keeps zeros ahead of the last step (up to 64 steps' worth), so that an append
/// writes in place rather than calling the array's append, and the record is one append where
/// five arrays (starts, ends, sizes, end θ, offsets) took five: with the stepper's side, a Tsit5
/// step's append of a one-component state went from ~860 to ~390 instructions (callgrind,
/// dde-bench's Hutchinson solve).
public struct PiecewisePolynomial<Scalar: DiffEqScalar>: DenseOutput {
    /// Components per state.
    public let stateCount: Int
    /// One record per step, in the direction of integration (see ``PiecewisePolynomialStep``).
    @usableFromInline var records: [PiecewisePolynomialStep] = []
    /// The steps' values, one step after another; only the first `valueCount` are steps' (the
    /// rest is room that an append writes in place, see ``appendStep(from:to:step:rows:order:_:)``).
    @usableFromInline var values: [Scalar] = []
    @usableFromInline var valueCount = 0
    /// The largest order of the appended steps' interpolants (`nil` while empty).
    @usableFromInline var _order: Int?

    /// An empty dense output for states of `stateCount` components.
    public init(stateCount: Int) {
        self.stateCount = stateCount
    }

    /// The same steps in another scalar type, from the primal values (a solver that computes in
    /// `Double`, CVODE, returning a solution in the problem's scalar).
    public init<Other: DiffEqScalar>(converting other: PiecewisePolynomial<Other>) {
        stateCount = other.stateCount
        records = other.records
        values = other.values[0..<other.valueCount].map { Scalar($0.primal) }
        valueCount = other.valueCount
        _order = other._order
    }

    /// The number of steps appended.
    @inlinable public var count: Int { records.count }
    @inlinable public var isEmpty: Bool { records.isEmpty }

    /// The covered closed interval `(min, max)`; `(0, −1)` while empty.
    @inlinable public var domain: (Double, Double) {
        guard let a = records.first?.start, let b = records.last?.end else { return (0, -1) }
        return (Swift.min(a, b), Swift.max(a, b))
    }

    /// The local order `q` (error `O(h^(q+1))` inside a step) of the highest-order step (CVODE
    /// varies its order from step to step, an AutoSwitch solve its method).
    @inlinable public var order: Int? { _order }

    @inlinable public var piecewisePolynomial: PiecewisePolynomial<Scalar>? { self }

    /// The time where the covered interval ends, in the direction of integration (`nil` while
    /// empty).
    @inlinable public var lastTime: Double? { records.last?.end }

    /// Makes room for `steps` steps and `values` values in all (the values of a step are
    /// `(2 + r)·n`, see the type), so that a solve of up to that size never regrows the arrays.
    /// Inlinable so that it specializes in the integrator's init (unspecialized: 2.4 k
    /// instructions per call, the generic `values` array's reservation through the runtime).
    @inlinable
    public mutating func reserveCapacity(steps: Int, values valueCount: Int) {
        records.reserveCapacity(steps)
        values.reserveCapacity(valueCount)
    }

    /// Removes every step, keeping the capacity (an integrator's `reinit`).
    public mutating func removeAll() {
        records.removeAll(keepingCapacity: true)
        valueCount = 0
        _order = nil
    }

    /// Appends one step: the interval from `start` to `end`, computed by a step of signed size
    /// `h` (`h ≠ 0`), whose interpolant has local order `order`. `write` fills the step's values,
    /// `(2 + rows)·n` of them: `u₀`, `u₁`, then `c₀ … c_{rows−1}` (see the type's form).
    @inlinable
    public mutating func appendStep(
        from start: Double, to end: Double, step h: Double, rows: Int, order: Int,
        _ write: (UnsafeMutableBufferPointer<Scalar>) -> Void
    ) {
        let base = valueCount
        let size = (2 + rows) * stateCount
        if values.count < base + size {
            // Room for up to 64 steps more (zeros, the values' count doubling until then): the
            // next appends write in place, without the array's append (~90 instructions a step).
            let ahead = Swift.min(values.count, 64 * size)
            values.append(contentsOf: repeatElement(Scalar.zero, count: Swift.max(base + size - values.count, ahead)))
        }
        values.withUnsafeMutableBufferPointer { all in
            write(UnsafeMutableBufferPointer(rebasing: all[base..<(base + size)]))
        }
        valueCount = base + size
        // The interval ends where its step does when `end` is `start + h` up to the rounding of
        // that sum (a landing on a stop computes `h` as `stop − start`, a free step `end` as
        // `start + h`): two ulps of the times. An event's time cut inside the step is farther.
        // (Exact equality, the common case, first: it skips the `ulp`.)
        let full = end - start == h || Swift.abs((end - start) - h) <= 2 * Swift.max(Swift.abs(start), Swift.abs(end)).ulp
        records.append(
            PiecewisePolynomialStep(start: start, end: end, h: h, endTheta: full ? 1 : (end - start) / h, offset: base, size: size))
        _order = Swift.max(_order ?? order, order)
    }

    /// Appends a step whose interpolant is linear between `u0` and `u1` (order 1).
    @inlinable
    public mutating func appendLinear<S: DiffEqState>(from start: Double, to end: Double, step h: Double, u0: S, u1: S)
    where S.Scalar == Scalar {
        let n = stateCount
        appendStep(from: start, to: end, step: h, rows: 0, order: 1) { v in
            for m in 0..<n {
                v[m] = u0[m]
                v[n + m] = u1[m]
            }
        }
    }

    /// Appends a step with the cubic Hermite interpolant through `u0`, `f0 = u'` at the start
    /// and `u1`, `f1` at `θ = 1` (order 3): `c₀ = h f₀ − Δ`, `c₁ = 2Δ − h f₀ − h f₁`, `Δ = u₁ − u₀`,
    /// from `P(θ) = (1−θ)u₀ + θu₁ + θ(θ−1)((1−2θ)Δ + (θ−1)h f₀ + θ h f₁)` (Hairer, Nørsett &
    /// Wanner I, §II.6, (6.7)).
    @inlinable
    public mutating func appendHermite(
        from start: Double, to end: Double, step h: Double, u0: [Scalar], u1: [Scalar], f0: [Scalar], f1: [Scalar]
    ) {
        let n = stateCount
        appendStep(from: start, to: end, step: h, rows: 2, order: 3) { v in
            for m in 0..<n {
                let delta = u1[m] - u0[m]
                let hf0 = f0[m].scaled(by: h), hf1 = f1[m].scaled(by: h)
                v[m] = u0[m]
                v[n + m] = u1[m]
                v[2 * n + m] = hf0 - delta
                v[3 * n + m] = delta.scaled(by: 2) - hf0 - hf1
            }
        }
    }

    /// Appends a step of a Runge-Kutta method's continuous extension
    /// `P(θ) = u₀ + h Σ_j b_j(θ) k_j`, `b_j(θ) = Σ_{q=1}^{d} B_{jq} θ^q` (Hairer, Nørsett & Wanner
    /// I, §II.6): stage `j`'s derivative `k_j` at `stages + j·n`, `B_{jq}` at
    /// `weights[j·degree + q − 1]`, `u1` the step's end state.
    ///
    /// With `a_q = h Σ_j B_{jq} k_j` the coefficients of `θ^q`, the form's corrections are
    /// `c_q = −(a_{q+2} + … + a_d)` (`(1 − θ) Σ c_q θ^q` reproduces `a_2 … a_d`); the linear term is
    /// then fixed by `P(1) = u₁`, which a continuous extension satisfies (`b_j(1) = b_j`).
    @inlinable
    public mutating func appendStageWeighted(
        from start: Double, to end: Double, step h: Double, u0: [Scalar], u1: [Scalar],
        stages: UnsafePointer<Scalar>, stageCount: Int, weights: UnsafePointer<Double>, degree d: Int, order: Int
    ) {
        let n = stateCount
        appendStageWeighted(
            from: start, to: end, step: h, u0: u0, u1: u1, stageCount: stageCount, weights: weights, degree: d,
            order: order) { j, m in stages[j * n + m] }
    }

    /// ``appendStageWeighted(from:to:step:u0:u1:stages:stageCount:weights:degree:order:)`` with
    /// the stages held as states (a fixed-size stepper's stage block: stage `j` is `stages[j]`);
    /// the same operations per component.
    @inlinable
    public mutating func appendStageWeighted<S: DiffEqState>(
        from start: Double, to end: Double, step h: Double, u0: S, u1: S,
        stages: UnsafePointer<S>, stageCount: Int, weights: UnsafePointer<Double>, degree d: Int, order: Int
    ) where S.Scalar == Scalar {
        appendStageWeighted(
            from: start, to: end, step: h, u0: u0, u1: u1, stageCount: stageCount, weights: weights, degree: d,
            order: order) { j, m in stages[j][m] }
    }

    /// The two forms' common body: `stage(j, m)` is component `m` of stage `j` (any layout of
    /// the stages, e.g. a state's stage block, `DiffEqState.component(_:ofStage:in:stride:)`).
    @inlinable @inline(__always)
    public mutating func appendStageWeighted<S: DiffEqState>(
        from start: Double, to end: Double, step h: Double, u0: S, u1: S, stageCount: Int,
        weights: UnsafePointer<Double>, degree d: Int, order: Int, stage: (Int, Int) -> Scalar
    ) where S.Scalar == Scalar {
        appendStageWeighted(
            from: start, to: end, step: h, u0: u0, u1: u1, stageCount: stageCount, weights: weights, degree: d,
            order: order, weightsNonzero: false, stage: stage)
    }

    /// The body, with `weightsNonzero` telling that every weight of `θ^2 … θ^d` is nonzero
    /// (Tsit5's): the test that skips a zero weight is then left out, with the same result.
    @inlinable @inline(__always)
    package mutating func appendStageWeighted<S: DiffEqState>(
        from start: Double, to end: Double, step h: Double, u0: S, u1: S, stageCount: Int,
        weights: UnsafePointer<Double>, degree d: Int, order: Int, weightsNonzero: Bool, stage: (Int, Int) -> Scalar
    ) where S.Scalar == Scalar {
        guard d >= 2 else {
            // b_j(θ) = θ b_j: linear between the step's ends.
            appendLinear(from: start, to: end, step: h, u0: u0, u1: u1)
            return
        }
        let n = stateCount
        appendStep(from: start, to: end, step: h, rows: d - 1, order: order) { v in
            for m in 0..<n {
                v[m] = u0[m]
                v[n + m] = u1[m]
                var tail = Scalar.zero
                var q = d
                while q >= 2 {
                    // a_q, component m. The index is below stageCount·d (the weights' size), so
                    // it is computed unchecked: three overflow tests less per term, 21 terms per
                    // Tsit5 step.
                    var a = Scalar.zero
                    for j in 0..<stageCount {
                        let w = weights[j &* d &+ (q &- 1)]
                        if weightsNonzero || w != 0 { a += stage(j, m).scaled(by: w) }
                    }
                    tail += a.scaled(by: h)
                    v[(2 + q - 2) * n + m] = .zero - tail
                    q -= 1
                }
            }
        }
    }

    /// The step whose interval holds `t`: the last one starting at or before `t` in the
    /// direction of integration (the first when `t` is before every start).
    @inlinable
    public func stepIndex(containing t: Double) -> Int {
        let count = records.count
        guard count > 1 else { return 0 }
        let forward = records[count - 1].end >= records[0].start
        var lo = 0, hi = count
        // Invariant: starts[lo] is at or before t (or lo = 0); starts[hi] is after t (or hi = count).
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            let start = records[mid].start
            if (start <= t) == forward || start == t { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Writes the state at `t` (inside ``domain``) into `out`, which has ``stateCount``
    /// components.
    @inlinable
    public func evaluate(at t: Double, into out: inout [Scalar]) {
        out.withUnsafeMutableBufferPointer { o in evaluateComponents(at: t) { m, x in o[m] = x } }
    }

    /// ``evaluate(at:into:)`` into a state of any form.
    @inlinable
    public func evaluate<S: DiffEqState>(at t: Double, into out: inout S) where S.Scalar == Scalar {
        evaluateComponents(at: t) { m, x in out[m] = x }
    }

    /// Calls `write(m, u_m(t))` for every component, in index order.
    @inlinable @inline(__always)
    func evaluateComponents(at t: Double, _ write: (Int, Scalar) -> Void) {
        let step = records[stepIndex(containing: t)]
        let theta = t == step.end ? step.endTheta : (t - step.start) / step.h
        let n = stateCount, r = step.size / Swift.max(n, 1) - 2
        values.withUnsafeBufferPointer { all in
            let v = all.baseAddress! + step.offset
            for m in 0..<n {
                var poly = Scalar.zero
                var k = r - 1
                while k >= 0 {
                    poly = v[(2 + k) * n + m] + poly.scaled(by: theta)
                    k -= 1
                }
                write(m, v[m].scaled(by: 1 - theta) + (v[n + m] + poly.scaled(by: 1 - theta)).scaled(by: theta))
            }
        }
    }

    /// Writes `du/dt` at `t` (inside ``domain``) into `out`: the derivative of the step's
    /// polynomial, `(u₁ − u₀ + (1 − 2θ) Q(θ) + θ(1 − θ) Q'(θ)) / h` with `Q = Σ c_k θ^k`. At a node
    /// it is that of the step starting there.
    @inlinable
    public func derivative(at t: Double, into out: inout [Scalar]) {
        out.withUnsafeMutableBufferPointer { o in derivativeComponents(at: t) { m, x in o[m] = x } }
    }

    /// ``derivative(at:into:)`` into a state of any form.
    @inlinable
    public func derivative<S: DiffEqState>(at t: Double, into out: inout S) where S.Scalar == Scalar {
        derivativeComponents(at: t) { m, x in out[m] = x }
    }

    /// Calls `write(m, u_m'(t))` for every component, in index order.
    @inlinable @inline(__always)
    func derivativeComponents(at t: Double, _ write: (Int, Scalar) -> Void) {
        let step = records[stepIndex(containing: t)]
        let h = step.h
        let theta = t == step.end ? step.endTheta : (t - step.start) / h
        let n = stateCount, r = step.size / Swift.max(n, 1) - 2
        values.withUnsafeBufferPointer { all in
            let v = all.baseAddress! + step.offset
            for m in 0..<n {
                var q = Scalar.zero, dq = Scalar.zero
                var k = r - 1
                while k >= 0 {
                    dq = q + dq.scaled(by: theta)
                    q = v[(2 + k) * n + m] + q.scaled(by: theta)
                    k -= 1
                }
                let slope = (v[n + m] - v[m]) + q.scaled(by: 1 - 2 * theta) + dq.scaled(by: theta * (1 - theta))
                write(m, slope.scaled(by: 1 / h))
            }
        }
    }
}

/// `w_i = Σ_j B[i][j] θ^(j+1)` by Horner's rule: the weights of a Runge-Kutta continuous
/// extension at `θ` (the explicit and the SDIRK families interpolate inside the last step with it).
@inlinable
public func evaluateWeights(_ coefficients: [[Double]], theta: Double, into w: inout [Double]) {
    for i in coefficients.indices {
        let poly = coefficients[i]
        var acc = 0.0
        for j in poly.indices.reversed() { acc = acc * theta + poly[j] }
        w[i] = acc * theta
    }
}

/// Where a step of a ``PiecewisePolynomial`` is and which part of its values it holds. Not nested
/// in the generic type: its metadata, and an array of it, then need no lookup at run time.
@usableFromInline
struct PiecewisePolynomialStep: Sendable {
    /// The interval's start and end (the next step's start, except across a gap left by
    /// moving `t` forward), and the signed step size `h`: `θ = (t − start)/h`.
    @usableFromInline var start: Double
    @usableFromInline var end: Double
    @usableFromInline var h: Double
    /// `θ` at the interval's end: 1 when the interval ends where its step does (so that the
    /// end gives `u₁` exactly, whereas `((start + h) − start)/h` can round off 1), else
    /// `(end − start)/h` (a step cut short by an event).
    @usableFromInline var endTheta: Double
    /// The step's values are `values[offset ..< offset + size]`.
    @usableFromInline var offset: Int
    @usableFromInline var size: Int

    @inlinable
    init(start: Double, end: Double, h: Double, endTheta: Double, offset: Int, size: Int) {
        (self.start, self.end, self.h, self.endTheta, self.offset, self.size) = (start, end, h, endTheta, offset, size)
    }
}

