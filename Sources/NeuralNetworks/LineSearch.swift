// A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Numerical Optimization,
// 2nd ed., 2006, Algorithm 3.5 with the zoom of Algorithm 3.6), for BFGS and L-BFGS.

/// Parameters of the strong Wolfe line search: a step α along a descent direction `d` is
/// accepted when
///
///     f(x + α d) ≤ f(x) + c₁ α ∇f(x)ᵀd     (sufficient decrease)
///     |∇f(x + α d)ᵀd| ≤ c₂ |∇f(x)ᵀd|        (curvature)
///
/// (N&W eq. 3.7). Defaults c₁ = 1e-4, c₂ = 0.9, N&W's values for quasi-Newton methods.
public struct StrongWolfeLineSearch: Sendable, Hashable {
    public let c1: Double
    public let c2: Double
    /// Function evaluations allowed per line search.
    public let maxEvaluations: Int

    /// Throws unless 0 < c₁ < c₂ < 1 and `maxEvaluations >= 1`.
    public init(c1: Double = 1e-4, c2: Double = 0.9, maxEvaluations: Int = 30) throws(OptimizationError) {
        guard c1 > 0, c1 < c2, c2 < 1 else {
            throw .invalidHyperparameter(name: "c1, c2", value: c1, requirement: "0 < c1 < c2 < 1")
        }
        guard maxEvaluations >= 1 else {
            throw .invalidHyperparameter(
                name: "maxEvaluations", value: Double(maxEvaluations), requirement: "at least 1")
        }
        self.c1 = c1
        self.c2 = c2
        self.maxEvaluations = maxEvaluations
    }

    /// One sample of φ(α) = f(x + α d) and φ'(α) = ∇f(x + α d)ᵀd.
    @usableFromInline
    internal struct Sample {
        @usableFromInline var alpha: Double
        @usableFromInline var value: Double
        @usableFromInline var slope: Double
        @usableFromInline var isFinite: Bool { value.isFinite && slope.isFinite }

        @usableFromInline init(alpha: Double, value: Double, slope: Double) {
            self.alpha = alpha
            self.value = value
            self.slope = slope
        }
    }

    /// The buffers and counters of one search, passed explicitly (no closure captures, so a
    /// search allocates nothing).
    @usableFromInline
    internal struct _Run<T: NetworkScalar> {
        @usableFromInline var trial: [T]
        @usableFromInline var trialGradient: [T]
        @usableFromInline var used = 0
        @usableFromInline let phi0: Double
        @usableFromInline let slope0: Double

        @usableFromInline init(trial: [T], trialGradient: [T], phi0: Double, slope0: Double) {
            self.trial = trial
            self.trialGradient = trialGradient
            self.phi0 = phi0
            self.slope0 = slope0
        }

        @inlinable
        mutating func evaluate(
            _ alpha: Double, x: [T], direction: [T], objective: LossAndGradient<T>
        ) throws -> Sample {
            let a = T(alpha)
            for i in x.indices { trial[i] = x[i] + a * direction[i] }
            let value = try objective(trial, &trialGradient)
            used += 1
            return Sample(alpha: alpha, value: Double(value), slope: Double(_dot(trialGradient, direction)))
        }
    }

    @inlinable
    internal func sufficientDecrease(_ s: Sample, phi0: Double, slope0: Double) -> Bool {
        s.isFinite && s.value <= phi0 + c1 * s.alpha * slope0
    }

    @inlinable
    internal func curvature(_ s: Sample, slope0: Double) -> Bool { abs(s.slope) <= -c2 * slope0 }

    /// Algorithm 3.6 (zoom): `lo` satisfies sufficient decrease and has the lowest value so far;
    /// `hi` is on the other side of a point satisfying the strong Wolfe conditions.
    @inlinable
    internal func zoom<T: NetworkScalar>(
        _ start: Sample, _ end: Sample, run: inout _Run<T>, x: [T], direction: [T], objective: LossAndGradient<T>
    ) throws -> Sample? {
        var lo = start
        var hi = end
        while run.used < maxEvaluations {
            let s = try run.evaluate(_interpolate(lo, hi), x: x, direction: direction, objective: objective)
            if !sufficientDecrease(s, phi0: run.phi0, slope0: run.slope0) || s.value >= lo.value {
                hi = s
            } else {
                if curvature(s, slope0: run.slope0) { return s }
                if s.slope * (hi.alpha - lo.alpha) >= 0 { hi = lo }
                lo = s
            }
            if abs(hi.alpha - lo.alpha) <= 1e-16 * max(lo.alpha, hi.alpha) { break }
        }
        // No strong Wolfe point within the budget: accept lo if it decreased the loss (the
        // buffers hold the last trial, so lo is evaluated again for its gradient).
        guard lo.alpha > 0, lo.value < run.phi0 else { return nil }
        let s = try run.evaluate(lo.alpha, x: x, direction: direction, objective: objective)
        return s.isFinite ? s : nil
    }

    /// Searches along `direction` from `x` (with loss `f0` and gradient `g0`). On success
    /// returns the accepted sample and leaves `trial`, `trialGradient` holding x + α d and its
    /// gradient; on failure returns nil. `evaluations` grows by the calls made.
    @inlinable
    internal func search<T: NetworkScalar>(
        x: [T], f0: T, g0: [T], direction: [T], initialStep: Double,
        trial: inout [T], trialGradient: inout [T], evaluations: inout Int,
        objective: LossAndGradient<T>
    ) throws -> Sample? {
        let slope0 = Double(_dot(g0, direction))
        guard slope0 < 0 else { return nil }
        // The buffers move into the run and back, so they are never copied.
        var run = _Run<T>(trial: [], trialGradient: [], phi0: Double(f0), slope0: slope0)
        swap(&run.trial, &trial)
        swap(&run.trialGradient, &trialGradient)
        defer {
            swap(&run.trial, &trial)
            swap(&run.trialGradient, &trialGradient)
            evaluations += run.used
        }
        // Algorithm 3.5: expand the step until the interval brackets an acceptable point.
        var previous = Sample(alpha: 0, value: run.phi0, slope: slope0)
        var alpha = initialStep
        var first = true
        while run.used < maxEvaluations {
            let s = try run.evaluate(alpha, x: x, direction: direction, objective: objective)
            // A NaN or infinite loss or slope is treated as "too far": shrink toward `previous`.
            if !sufficientDecrease(s, phi0: run.phi0, slope0: slope0) || (!first && s.value >= previous.value) {
                return try zoom(previous, s, run: &run, x: x, direction: direction, objective: objective)
            }
            if curvature(s, slope0: slope0) { return s }
            if s.slope >= 0 {
                return try zoom(s, previous, run: &run, x: x, direction: direction, objective: objective)
            }
            previous = s
            alpha *= 2
            first = false
        }
        return nil
    }
}

/// The minimizer of the cubic interpolating φ and φ' at both ends (N&W eq. 3.59), kept at least
/// a tenth of the interval from either end; bisection when the cubic has no minimizer there or an
/// end is not finite.
@usableFromInline
internal func _interpolate(_ a: StrongWolfeLineSearch.Sample, _ b: StrongWolfeLineSearch.Sample) -> Double {
    let low = min(a.alpha, b.alpha)
    let high = max(a.alpha, b.alpha)
    let midpoint = (low + high) / 2
    guard a.isFinite, b.isFinite, a.alpha != b.alpha else { return midpoint }
    let d1 = a.slope + b.slope - 3 * (a.value - b.value) / (a.alpha - b.alpha)
    let radicand = d1 * d1 - a.slope * b.slope
    guard radicand >= 0 else { return midpoint }
    let d2 = (b.alpha > a.alpha ? 1.0 : -1.0) * radicand.squareRoot()
    let alpha = b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2)
    let margin = 0.1 * (high - low)
    guard alpha.isFinite, alpha >= low + margin, alpha <= high - margin else { return midpoint }
    return alpha
}

@inlinable
internal func _dot<T: NetworkScalar>(_ a: [T], _ b: [T]) -> T {
    var sum: T = 0
    for i in a.indices { sum += a[i] * b[i] }
    return sum
}
