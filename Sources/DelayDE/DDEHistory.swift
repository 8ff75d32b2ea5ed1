import DiffEqCore

/// The past of a delay equation as its right-hand side reads it: the initial history `φ(p, t)`
/// for `t < t0`, and after `t0` the solution's dense output, one polynomial per accepted step,
/// read in place from the integrator's ``PiecewisePolynomial`` (form:
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
/// A time after the last accepted step (a lag shorter than the step being taken) is read from
/// the *tentative* step when one is set: the current step's own interpolant from the previous
/// iterate of the fixed-point iteration on steps longer than a lag (``MethodOfSteps``). Without
/// one (the first iterate) it is extrapolated from the last step's polynomial; before the first
/// step, `u0` is held. Any read past the accepted steps is noted (`readAhead`): it is what tells
/// the method of steps that the step needs that iteration.
///
/// Performance: the steps live in flat arrays that only grow (amortised), so reading and
/// appending allocate nothing per step; a step index is found from the last one located (the
/// next stage reads just after it: 47 k -> 21 k instructions per Hutchinson solve), else by
/// binary search; a read strictly inside the step of the last interior read (`interiorStep`)
/// needs neither, and `stored` then reads that step's start, size and offset from cached
/// scalars (reads with their location, 386 per Hutchinson solve: 73 k -> 52 k instructions). A
/// read past that interval tries the next step's interior first (`advanceInterior`: a constant
/// lag's reads move on step by step), and a polynomial of three correction rows (Tsit5's) is
/// summed written out: 52.7 k -> 38.2 k instructions per Hutchinson solve (callgrind).
/// The accepted steps are the integrator's own dense output, moved, not copied: the driver's
/// stepper wrapper (`FixedPointStepper.appendDenseStep`) has the method evaluate what may call
/// `f` first (`prepareDenseStep`), then moves the steps into the integrator's dense output
/// (`lend`), the method appends in place, and the history takes them back (`takeBack`); the
/// integrator holds an empty placeholder in between, and the driver hands the solution the
/// history's steps. This replaced a copy of each step into arrays of the history's own (~280
/// instructions per step); sharing the arrays instead (a reference to each, dropped before each
/// append so that it writes in place) cost more, ten atomic reference-count operations per step.
/// The mutable storage is `@exclusivity(unchecked)`: a history belongs to one solve on one
/// thread, is written only outside `f` (by the driver between steps, by the stepper wrapper in
/// the append) and read only inside it, so accesses never overlap; the dynamic exclusivity
/// checks of a class's stored properties were 24% of the instructions of a Hutchinson solve
/// (callgrind). The jump correction's read capture (one flag test per read) adds 934
/// instructions to a Hutchinson solve's 509,163 (+0.18%, callgrind). The init is inlinable so that it specializes; it tests `Scalar == Double` before
/// the tape conformance lookup (-2.0 k per solve). No stored property is an optional of
/// `Scalar` (`captured` and `lagScaling` are a flag and values): the deinit of a generic class
/// is never specialized, and it looked up the metadata of `Scalar?` and of the optional tuple
/// to destroy them, ~1.1 k instructions per solve (callgrind).
public final class DDEHistory<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline let t0: Double
    @usableFromInline let u0: [Scalar]
    @usableFromInline let initial: (inout [Scalar], [Scalar], Scalar) -> Void
    /// The accepted steps: the integrator's own dense output, moved here between its appends
    /// (see `lend`, `takeBack`).
    @exclusivity(unchecked) @usableFromInline var dense: PiecewisePolynomial<Scalar>
    /// The tentative step (`hasTentative`), in an array of its own: step index `count`.
    @exclusivity(unchecked) @usableFromInline var tentativeStart = 0.0
    @exclusivity(unchecked) @usableFromInline var tentativeEnd = 0.0
    @exclusivity(unchecked) @usableFromInline var tentativeH = 1.0
    @exclusivity(unchecked) @usableFromInline var tentativeValues: [Scalar] = []
    /// The interior interval saved by `lend` (restored by `takeBack`: an append moves no bound).
    @exclusivity(unchecked) @usableFromInline var releasedInterior = (low: Double.infinity, high: -Double.infinity)
    @exclusivity(unchecked) @usableFromInline var scratch: [Scalar]
    /// Start of the step the integrator is taking (the end of the last accepted one).
    @exclusivity(unchecked) @usableFromInline var stepStart: Double
    /// Time of the stage being evaluated (set by the right-hand side before it calls `f`).
    @exclusivity(unchecked) @usableFromInline var stageTime: Double
    /// Whether there is a tentative step after the accepted ones (the current step's interpolant
    /// from the previous fixed-point iterate).
    @exclusivity(unchecked) @usableFromInline var hasTentative = false
    /// Set when a read lands after the last accepted step (cleared by the fixed-point stepper
    /// before each attempt).
    @exclusivity(unchecked) @usableFromInline var readAhead = false
    /// The size of the step being attempted when it is longer than a lag (set by the fixed-point
    /// stepper; `0` turns the stage coupling off). A value read inside the current step then also
    /// follows the state `U` of the stage being evaluated: `P(s) + w·(U − Û)`, `P` the stored past
    /// (the previous iterate's interpolant), `Û` the same stage's state in the previous iterate,
    /// `w` rising linearly from `0` at the step's start to `1` at the stage time. At the fixed
    /// point `U = Û` and the read is the interpolant's value, so the solution is that of the plain
    /// iteration; but the delayed values now depend on the stage, in the spirit of the collocation
    /// polynomial through the stage values in RADAR5 (Guglielmi & Hairer, "Implementing Radau IIA
    /// methods for stiff delay differential equations", Computing 67 (2001) 1-12). For the stage at
    /// the step's start `Û` is the accepted `u_n` and reads one step back get `w = 1 − τ/h`, so a
    /// Newton matrix differenced there holds the delayed block (SDIRK only, `jacobianCoupling`).
    /// Measured effect (FixedPointTests): small either way, fewer f evaluations with Vern7 and
    /// KenCarp4 (1,143 vs 1,398; 45,634 vs 56,209), more with Rodas5P on a stiff delayed term;
    /// it does not lift the limit `h·|∂f/∂u(t − τ)| ≈ 1` of the iteration on a stiff delayed term
    /// (the dense output at a stage time is not the stage value, so the two do not cancel).
    @exclusivity(unchecked) @usableFromInline var couplingStep = 0.0
    /// Whether the stage at the step's start is coupled too (its reads one step back follow `U`
    /// against `u_n`): on for the methods that solve their stages by Newton iterations (SDIRK),
    /// where the Jacobian only steers the iteration; off for Rosenbrock methods, whose order
    /// rests on the Jacobian being that of the stage function (with the delayed block in it,
    /// Rodas5P on u' = −u(t − 0.01) took 3,141 steps and 5,300 rejections instead of 119).
    @exclusivity(unchecked) @usableFromInline var jacobianCoupling = false
    /// The state of the stage being evaluated (set with `stageTime` while coupling is on).
    @exclusivity(unchecked) @usableFromInline var stageState: [Scalar] = []
    /// The stage states of this iterate and of the previous one, in order of evaluation with
    /// their times, `n` values per evaluation.
    @exclusivity(unchecked) @usableFromInline var stageTimes: [Double] = []
    @exclusivity(unchecked) @usableFromInline var stageValues: [Scalar] = []
    @exclusivity(unchecked) @usableFromInline var previousTimes: [Double] = []
    @exclusivity(unchecked) @usableFromInline var previousValues: [Scalar] = []
    /// Index in `previousTimes` of the stage being evaluated, `-1` when it has none.
    @exclusivity(unchecked) @usableFromInline var previousSlot = -1
    /// The step `locate` found last before the last step (its first guess next time).
    @exclusivity(unchecked) @usableFromInline var lastFound = 0
    /// How close to a boundary a time is read one-sidedly: a few ulps of the span's magnitude.
    @usableFromInline let boundaryTolerance: Double
    /// The tolerance `locate` reads sides with: `boundaryTolerance`, widened only while the jump
    /// at a located discontinuity is measured (`jumpCorrected`), whose delayed time lies within
    /// root-finding error of the crossed point.
    @exclusivity(unchecked) @usableFromInline var sideTolerance: Double {
        didSet { forgetInterior() }
    }
    /// The step of the last read `locate` placed strictly inside an accepted step that is not
    /// the last one stored, and the open interval `(start + sideTolerance, min(end, next start)
    /// − sideTolerance)` of times it answers with that step without searching: no boundary rule
    /// applies there, and neither bound moves while steps are only appended or the tentative
    /// (last) step replaced. A constant lag reads each step's stages in one such interval.
    @exclusivity(unchecked) @usableFromInline var interiorStep = -1
    @exclusivity(unchecked) @usableFromInline var interiorLow = Double.infinity
    @exclusivity(unchecked) @usableFromInline var interiorHigh = -Double.infinity
    /// That step's start, size, first value's offset and number of correction rows, so that a
    /// read inside it (`stored`) loads no per-step array and divides no integers.
    @exclusivity(unchecked) @usableFromInline var interiorStart = 0.0
    @exclusivity(unchecked) @usableFromInline var interiorH = 1.0
    @exclusivity(unchecked) @usableFromInline var interiorBase = 0
    @exclusivity(unchecked) @usableFromInline var interiorRows = 0
    /// While set (`jumpCorrected`), reads record in `captured` the delayed time nearest to
    /// `captureTarget` as `f` computed it in the solve's scalar: its dual or tape part is how the
    /// crossing lag depends on `p` and `u`.
    @exclusivity(unchecked) @usableFromInline var capturing = false
    @exclusivity(unchecked) @usableFromInline var captureTarget = 0.0
    @inlinable var captured: Scalar? {
        get { hasCaptured ? capturedTime : nil }
        set {
            hasCaptured = newValue != nil
            capturedTime = newValue ?? .zero
        }
    }
    /// `captured`, stored as a flag and a value (see Performance in the type's notes).
    @exclusivity(unchecked) @usableFromInline var capturedTime = Scalar.zero
    @exclusivity(unchecked) @usableFromInline var hasCaptured = false
    /// The scalar records on the reverse-mode tape (see ``timeParts(_:)``).
    @usableFromInline let timeOnTape: Bool
    /// Set by a gradient solve whose one constant lag `τ` is a parameter (`lagTimeScale`,
    /// DDEGradient.swift): `ε = τ − τ̄` (a zero carrying `τ`'s derivative parts) and `τ̄`. The
    /// steps are then in `s`, with `t = t0 + (τ/τ̄)(s − t0)`, and a stored step is read at
    /// `s = t0 + (τ̄/τ)(t − t0)`.
    @inlinable var lagScaling: (epsilon: Scalar, lag: Double)? {
        get { isLagScaled ? (lagEpsilon, lagReference) : nil }
        set {
            isLagScaled = newValue != nil
            (lagEpsilon, lagReference) = newValue ?? (.zero, 0)
        }
    }
    /// `lagScaling`, stored as a flag and its two values (see Performance in the type's notes).
    @exclusivity(unchecked) @usableFromInline var lagEpsilon = Scalar.zero
    @exclusivity(unchecked) @usableFromInline var lagReference = 0.0
    @exclusivity(unchecked) @usableFromInline var isLagScaled = false

    /// Inlinable so that it specializes in `solve` (unspecialized, its reservations went through
    /// the runtime's generic array functions: 9.3 k instructions per Hutchinson solve).
    @inlinable
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
        self.sideTolerance = boundaryTolerance
        self.dense = PiecewisePolynomial(stateCount: u0.count)
        // Double is never on the tape: the metatype test is folded away where the history is
        // specialized, and the conformance lookup (~2.4 k instructions per solve) is skipped.
        self.timeOnTape = Scalar.self != Double.self && DDEHistory.recordsTimeOnTape
    }

    /// Whether `Scalar` is the reverse-mode tape's scalar (see ``timeParts(_:)``): a conformance
    /// lookup, kept out of the inlinable init (the protocol is internal to the gradient code).
    @usableFromInline
    static var recordsTimeOnTape: Bool { Scalar.self is any _TapeTimeScalar.Type }

    /// The number of accepted steps stored.
    public var count: Int { dense.count }

    /// Before the integrator appends a step: moves the accepted steps into its dense output
    /// (`integratorDense`, the placeholder `takeBack` left there), so that the append writes in
    /// place; before the first step it appends to its own (empty) one. No read may come before
    /// `takeBack` (the stepper calls no `f` there); one would find no accepted step.
    @inlinable
    func lend(to integratorDense: inout PiecewisePolynomial<Scalar>) {
        releasedInterior = (interiorLow, interiorHigh)
        (interiorLow, interiorHigh) = (.infinity, -.infinity)
        if !dense.isEmpty { swap(&dense, &integratorDense) }
    }

    /// After the append: takes the steps back (with the new one, which replaces any tentative
    /// step), leaving the integrator the empty placeholder. A move both ways: no copy, no
    /// reference counting.
    @inlinable @inline(__always)
    func takeBack(from integratorDense: inout PiecewisePolynomial<Scalar>) {
        clearTentative()
        swap(&dense, &integratorDense)
        (interiorLow, interiorHigh) = releasedInterior
        if let last = dense.lastTime { stepStart = last }
    }

    /// For a stepper other than the driver's wrapper (which moves the steps, `lend`): shares the
    /// integrator's dense output when it holds steps the history does not (correct, but the next
    /// append then copies the shared arrays).
    @inlinable @inline(__always)
    func synchronize(with integratorDense: PiecewisePolynomial<Scalar>) {
        guard integratorDense.count > dense.count else { return }
        clearTentative()
        dense = integratorDense
        if let last = dense.lastTime { stepStart = last }
    }

    /// Reads times after the last accepted step from step `0` of `dense` (the current step's
    /// interpolant), replacing any tentative step set before. No allocation once its buffer has
    /// grown (removal keeps the capacity).
    @inlinable
    func setTentative(from dense: PiecewisePolynomial<Scalar>) {
        dense.withStep(0) { start, end, h, v in
            tentativeStart = start
            tentativeEnd = end
            tentativeH = h
            tentativeValues.removeAll(keepingCapacity: true)
            tentativeValues.append(contentsOf: v)
        }
        hasTentative = true
    }

    /// Drops the tentative step: reads after the accepted steps extrapolate again.
    @inlinable
    func clearTentative() {
        hasTentative = false
    }

    /// Copies the stage state (element by element: holding the stepper's own buffer would make
    /// its next write copy the array, an allocation per stage).
    @inlinable
    func setStageState(_ u: [Scalar]) {
        if stageState.count != u.count { stageState = u } else { for i in u.indices { stageState[i] = u[i] } }
        previousSlot = -1
        guard stageTime > stepStart + boundaryTolerance else { return }
        // Several stages can share a time (Tsit5's sixth stage and its FSAL stage at t + h,
        // Rodas5P's last four): the k-th evaluation at a time pairs with the k-th at that time
        // in the previous iterate, or its last (a Newton iteration that took fewer steps).
        var occurrence = 0
        for time in stageTimes where time == stageTime { occurrence += 1 }
        var seen = 0
        for j in previousTimes.indices where previousTimes[j] == stageTime {
            previousSlot = j
            if seen == occurrence { break }
            seen += 1
        }
        stageTimes.append(stageTime)
        stageValues.append(contentsOf: u)
    }

    /// Starts an iterate: this iterate's stage states become the previous ones (`first`: there
    /// are none, the attempt starts).
    @inlinable @inline(__always)
    func beginIterate(first: Bool) {
        // Emptiness tested first: steps within the smallest lag record no stage states, and
        // `removeAll(keepingCapacity:)` is a call with a uniqueness test even on an empty array.
        if first {
            if !previousTimes.isEmpty {
                previousTimes.removeAll(keepingCapacity: true)
                previousValues.removeAll(keepingCapacity: true)
            }
        } else {
            swap(&previousTimes, &stageTimes)
            swap(&previousValues, &stageValues)
        }
        if !stageTimes.isEmpty {
            stageTimes.removeAll(keepingCapacity: true)
            stageValues.removeAll(keepingCapacity: true)
        }
    }

    /// Notes a read after the accepted steps (see `readAhead`).
    @inlinable @inline(__always)
    func noteRead(_ s: Double) {
        if s > stepStart + boundaryTolerance { readAhead = true }
    }

    /// Keeps `t` in `captured` if it is the read nearest to `captureTarget` so far.
    @inlinable @inline(never)
    func capture(_ t: Scalar) {
        if let c = captured, Swift.abs(c.primal - captureTarget) <= Swift.abs(t.primal - captureTarget) { return }
        captured = t
    }

    /// Forgets the interval of `interiorStep` (the side tolerance changed).
    @inlinable
    func forgetInterior() {
        interiorStep = -1
        interiorLow = .infinity
        interiorHigh = -.infinity
    }

    /// The step index to read `t` from; `-1` for the initial history. Inlined into its callers
    /// (the reads outside the interior interval).
    @inlinable @inline(__always)
    func locate(_ t: Double) -> Int {
        if t > interiorLow && t < interiorHigh { return interiorStep }
        if t >= interiorHigh && advanceInterior(t) { return interiorStep }
        let accepted = dense.count
        let count = accepted + (hasTentative ? 1 : 0)
        // The start of step `i`, accepted or (`i == accepted`) tentative.
        @inline(__always) func start(_ i: Int) -> Double { i < accepted ? dense.start(ofStep: i) : tentativeStart }
        let rightSide = stageTime <= stepStart + sideTolerance
        if Swift.abs(t - t0) <= sideTolerance {
            return rightSide && count > 0 ? 0 : -1
        }
        if t < t0 || count == 0 { return -1 }
        let lastStart = start(count - 1)
        if t >= lastStart {
            if count > 1 && !rightSide && t - lastStart <= sideTolerance { return count - 2 }
            return count - 1
        }
        // The last step found, then the one after it, are the first guesses (a constant lag
        // reads each stage a little after the previous one); either way `lo` is the last step
        // starting at or before `t` (here `t < start(count − 1)`, so `lo + 1 < count`: step `lo`
        // is an accepted one, the next may be the tentative step).
        var lo = lastFound
        if !(lo + 1 < count && dense.start(ofStep: lo) <= t && t < start(lo + 1)) {
            if lo + 2 < count && dense.start(ofStep: lo + 1) <= t && t < start(lo + 2) {
                lo += 1
            } else {
                lo = 0
                var hi = count
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2
                    if start(mid) <= t { lo = mid } else { hi = mid }
                }
            }
            lastFound = lo
        }
        let next = start(lo + 1)
        let current = dense.start(ofStep: lo)
        if lo > 0 && !rightSide && t - current <= sideTolerance { return lo - 1 }
        if rightSide && next - t <= sideTolerance { return lo + 1 }
        let low = current + sideTolerance, high = Swift.min(dense.end(ofStep: lo), next) - sideTolerance
        if t > low && t < high {
            setInterior(lo, low: low, high: high, start: current)
        }
        return lo
    }

    /// Makes step `j` the interior step that reads test first: its open interval `(low, high)`
    /// inside the step's bounds, its start, size, offset and row count.
    @inlinable @inline(__always)
    func setInterior(_ j: Int, low: Double, high: Double, start: Double) {
        interiorStep = j
        interiorLow = low
        interiorHigh = high
        interiorStart = start
        interiorH = dense.size(ofStep: j)
        interiorBase = dense.offset(ofStep: j)
        interiorRows = (dense.offset(ofStep: j &+ 1) - interiorBase) / n - 2
    }

    /// Whether `t` is strictly inside the step after `interiorStep`, which is not the last one
    /// stored; if so, that step becomes `interiorStep` (as `locate` would make it). A constant lag
    /// reads the steps in order, so a read that leaves the interval of the last one most often
    /// lands in the next: no search, none of `locate`'s boundary tests (none applies inside).
    @inlinable @inline(__always)
    func advanceInterior(_ t: Double) -> Bool {
        let j = interiorStep &+ 1
        guard j > 0 && j &+ 1 < dense.count else { return false }
        let current = dense.start(ofStep: j)
        let low = current + sideTolerance
        let high = Swift.min(dense.end(ofStep: j), dense.start(ofStep: j &+ 1)) - sideTolerance
        guard t > low && t < high else { return false }
        setInterior(j, low: low, high: high, start: current)
        lastFound = j
        return true
    }

    /// Value (and, if `wantDerivative`, `du/dt`) of component `m` of step `i` at `t`.
    @inlinable @inline(__always)
    func evaluate(step i: Int, component m: Int, at t: Double, derivative wantDerivative: Bool) -> (Scalar, Scalar) {
        guard i < dense.count else {
            let (start, end, h) = (tentativeStart, tentativeEnd, tentativeH)
            let theta = t == end && Swift.abs((end - start) - h) <= 2 * Swift.max(Swift.abs(start), Swift.abs(end)).ulp
                ? 1 : (t - start) / h
            return tentativeValues.withUnsafeBufferPointer { v in
                Self.evaluate(
                    v.baseAddress!, n: n, rows: v.count / n - 2, h: h, theta: theta, component: m, derivative: wantDerivative)
            }
        }
        let (start, end, h) = (dense.start(ofStep: i), dense.end(ofStep: i), dense.size(ofStep: i))
        let theta = t == end && Swift.abs((end - start) - h) <= 2 * Swift.max(Swift.abs(start), Swift.abs(end)).ulp
            ? 1 : (t - start) / h
        let base = dense.offset(ofStep: i)
        return evaluate(
            base: base, rows: (dense.offset(ofStep: i + 1) - base) / n - 2, h: h, theta: theta, component: m,
            derivative: wantDerivative)
    }

    /// ``evaluate(step:component:at:derivative:)`` on the step whose values start at `base`,
    /// with `r` correction rows, size `h`, at `theta`.
    @inlinable @inline(__always)
    func evaluate(base: Int, rows r: Int, h: Double, theta: Double, component m: Int, derivative wantDerivative: Bool)
        -> (Scalar, Scalar)
    {
        dense.withValues { all in
            Self.evaluate(
                all.baseAddress! + base, n: n, rows: r, h: h, theta: theta, component: m, derivative: wantDerivative)
        }
    }

    /// The polynomial whose values (`u₀`, `u₁`, `r` correction rows, `n` each) start at `v`, of
    /// step size `h`, at `theta`: component `m` and (if `wantDerivative`) its `du/dt`. The indices
    /// are inside the step's values, so their arithmetic is unchecked.
    @inlinable @inline(__always)
    static func evaluate(
        _ v: UnsafePointer<Scalar>, n: Int, rows r: Int, h: Double, theta: Double, component m: Int,
        derivative wantDerivative: Bool
    ) -> (Scalar, Scalar) {
        var q = Scalar.zero, dq = Scalar.zero
        if r == 3 && !wantDerivative {
            // Tsit5's and Rodas5P's three rows written out: the loop's operations, without its
            // set-up (~30 instructions of a ~90-instruction read).
            q = v[4 &* n &+ m] + q.scaled(by: theta)
            q = v[3 &* n &+ m] + q.scaled(by: theta)
            q = v[2 &* n &+ m] + q.scaled(by: theta)
        } else {
            var k = r &- 1
            while k >= 0 {
                if wantDerivative { dq = q + dq.scaled(by: theta) }
                q = v[(2 &+ k) &* n &+ m] + q.scaled(by: theta)
                k &-= 1
            }
        }
        let value = v[m].scaled(by: 1 - theta) + (v[n &+ m] + q.scaled(by: 1 - theta)).scaled(by: theta)
        guard wantDerivative else { return (value, .zero) }
        let slope = (v[n &+ m] - v[m]) + q.scaled(by: 1 - 2 * theta) + dq.scaled(by: theta * (1 - theta))
        return (value, slope.scaled(by: 1 / h))
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

    /// ``timeParts(_:)`` of a read of the stored steps: under `lagScaling` the first-order part
    /// of the time `s` the steps are stored at, `(t − t̄) − ε(t̄ − t0)/τ̄`, exactly zero for the
    /// constant lag itself (`t − τ` at `s` is `s − τ̄`).
    @inlinable @inline(__always)
    func storedTimeParts(_ t: Scalar) -> Scalar? {
        guard let (epsilon, lag) = lagScaling else { return timeParts(t) }
        return t - Scalar(t.primal) - epsilon.scaled(by: (t.primal - t0) / lag)
    }

    /// Component `i` of the past at `t`: `u(t)` for `t0 ≤ t` reached so far, `φ(p, t)` before;
    /// NaN for a NaN time (the step then fails as for any non-finite `f`).
    @inlinable @inline(__always)
    public func callAsFunction(_ p: [Scalar], _ t: Scalar, idxs i: Int) -> Scalar {
        let s = t.primal
        if s.isNaN { return Scalar(Double.nan) }
        noteRead(s)
        if capturing { capture(t) }
        let value = stored(p, t, s, idxs: i)
        if couplingStep > 0, let w = couplingWeight(s) { return value + coupling(i, weight: w) }
        return value
    }

    /// Component `i` of the stored past (initial history, accepted and tentative steps) at `t`.
    @inlinable @inline(__always)
    func stored(_ p: [Scalar], _ t: Scalar, _ s: Double, idxs i: Int) -> Scalar {
        if s > interiorLow && s < interiorHigh && storedTimeParts(t) == nil {
            // Inside the step of the last interior read (see `interiorStep`): what `locate` and
            // `evaluate(step:…)` would do there, without the per-step loads.
            return evaluate(
                base: interiorBase, rows: interiorRows, h: interiorH, theta: (s - interiorStart) / interiorH,
                component: i, derivative: false
            ).0
        }
        return located(p, t, s, idxs: i)
    }

    /// ``stored(_:_:_:idxs:)`` outside the interval of the last interior read: kept out of line,
    /// so that the interior read inlined into the caller stays small.
    @inlinable @inline(never)
    func located(_ p: [Scalar], _ t: Scalar, _ s: Double, idxs i: Int) -> Scalar {
        if s >= interiorHigh && storedTimeParts(t) == nil && advanceInterior(s) {
            // The next step's interior (see `advanceInterior`): read as `stored` reads inside it.
            return evaluate(
                base: interiorBase, rows: interiorRows, h: interiorH, theta: (s - interiorStart) / interiorH,
                component: i, derivative: false
            ).0
        }
        let k = locate(s)
        if k < 0 {
            // No step accepted yet and t ahead of t0: hold u0. With steps, `k < 0` after t0 is
            // the left side of t0 within `sideTolerance` (a stage before a point where the
            // delayed time reaches t0): φ, not u0, which differ when u jumps at t0.
            if s > t0 && dense.isEmpty && !hasTentative {
                return u0[i]
            }
            initial(&scratch, p, t)
            return scratch[i]
        }
        if let d = storedTimeParts(t) {
            let (v, dv) = evaluate(step: k, component: i, at: s, derivative: true)
            return v + dv * d
        }
        return evaluate(step: k, component: i, at: s, derivative: false).0
    }

    /// The weight of the stage coupling for a read at `s` (see `couplingStep`), `nil` for none:
    /// for the stage at the step's start, reads within one step back, `w = (s − (t_n − h))/h`;
    /// for a later stage at `t_i` with a state in the previous iterate, reads inside the step,
    /// `w = (s − t_n)/(t_i − t_n)`.
    @inlinable @inline(__always)
    func couplingWeight(_ s: Double) -> Double? {
        guard stageState.count == n else { return nil }
        let h = couplingStep
        if stageTime <= stepStart + boundaryTolerance {
            guard jacobianCoupling else { return nil }
            guard s > stepStart - h, s <= stepStart + boundaryTolerance else { return nil }
            return Swift.min(1, (s - (stepStart - h)) / h)
        }
        guard previousSlot >= 0, s > stepStart + boundaryTolerance else { return nil }
        return Swift.min(1, (s - stepStart) / (stageTime - stepStart))
    }

    /// `w·(U − Û)` for component `i` (see `couplingStep`).
    @inlinable @inline(__always)
    func coupling(_ i: Int, weight w: Double) -> Scalar {
        let reference: Scalar
        if stageTime <= stepStart + boundaryTolerance {
            let accepted = count
            reference = accepted > 0 ? dense.withValues { $0[dense.offset(ofStep: accepted - 1) + n + i] } : u0[i]
        } else {
            reference = previousValues[previousSlot * n + i]
        }
        return (stageState[i] - reference).scaled(by: w)
    }

    /// The past at `t`, written into `out` (see ``callAsFunction(_:_:idxs:)``).
    @inlinable
    public func callAsFunction(_ out: inout [Scalar], _ p: [Scalar], _ t: Scalar) {
        let s = t.primal
        if s.isNaN {
            for m in 0..<n { out[m] = Scalar(Double.nan) }
            return
        }
        noteRead(s)
        if capturing { capture(t) }
        defer {
            if couplingStep > 0, let w = couplingWeight(s) {
                for m in 0..<n { out[m] = out[m] + coupling(m, weight: w) }
            }
        }
        let k = locate(s)
        if k < 0 {
            if s > t0 && dense.isEmpty && !hasTentative {
                for m in 0..<n { out[m] = u0[m] }
            } else {
                initial(&out, p, t)
            }
            return
        }
        let d = storedTimeParts(t)
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
        noteRead(s)
        let k = locate(s)
        if k < 0 {
            if s > t0 && dense.isEmpty && !hasTentative { return .zero }
            let e = 1e-6 * Swift.max(1, Swift.abs(s))
            initial(&scratch, p, Scalar(s + e))
            let a = scratch[i]
            initial(&scratch, p, Scalar(s - e))
            return (a - scratch[i]).scaled(by: 1 / (2 * e))
        }
        return evaluate(step: k, component: i, at: s, derivative: true).1
    }

    /// The last stored step's end (the time reached), `t0` while empty.
    public var lastTime: Double { dense.lastTime ?? t0 }
}
