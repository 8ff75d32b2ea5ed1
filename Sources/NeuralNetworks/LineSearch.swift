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
            throw .invalidHyperparameter(name: "maxEvaluations", value: Double(maxEvaluations), requirement: "at least 1")
        }
        self.c1 = c1
        self.c2 = c2
        self.maxEvaluations = maxEvaluations
    }

    /// One sample of φ(α) = f(x + α d) and φ'(α) = ∇f(x + α d)ᵀd.
    internal struct Sample {
        var alpha: Double
        var value: Double
        var slope: Double
        var isFinite: Bool { value.isFinite && slope.isFinite }
    }

    /// Searches along `direction` from `x` (with loss `f0` and gradient `g0`). On success returns
    /// the step and leaves `trial`, `trialGradient` holding x + α d and its gradient, with the
    /// loss returned; on failure returns nil (after `evaluations` is incremented per call).
    internal func search<T: NetworkScalar>(
        x: [T], f0: T, g0: [T], direction: [T], initialStep: Double,
        trial: inout [T], trialGradient: inout [T], evaluations: inout Int,
        objective: LossAndGradient<T>
    ) throws -> (step: Double, loss: T)? {
        let phi0 = Double(f0)
        let slope0 = Double(_dot(g0, direction))
        guard slope0 < 0 else { return nil }
        var used = 0
        func evaluate(_ alpha: Double) throws -> Sample {
            let a = T(alpha)
            for i in x.indices { trial[i] = x[i] + a * direction[i] }
            let value = try objective(trial, &trialGradient)
            used += 1
            evaluations += 1
            return Sample(alpha: alpha, value: Double(value), slope: Double(_dot(trialGradient, direction)))
        }
        func sufficientDecrease(_ s: Sample) -> Bool { s.isFinite && s.value <= phi0 + c1 * s.alpha * slope0 }
        func curvature(_ s: Sample) -> Bool { abs(s.slope) <= -c2 * slope0 }

        // Algorithm 3.6 (zoom): lo satisfies sufficient decrease and has the lowest value so far;
        // hi is on the other side of a point satisfying the strong Wolfe conditions.
        func zoom(_ start: Sample, _ end: Sample) throws -> (Double, T)? {
            var lo = start
            var hi = end
            while used < maxEvaluations {
                let alpha = _interpolate(lo, hi)
                let s = try evaluate(alpha)
                if !sufficientDecrease(s) || s.value >= lo.value {
                    hi = s
                } else {
                    if curvature(s) { return (s.alpha, T(s.value)) }
                    if s.slope * (hi.alpha - lo.alpha) >= 0 { hi = lo }
                    lo = s
                }
                if abs(hi.alpha - lo.alpha) <= 1e-16 * max(lo.alpha, hi.alpha) { break }
            }
            // No strong Wolfe point within the budget: accept lo if it decreased the loss (its
            // gradient must be recomputed, the buffers hold the last trial).
            guard lo.alpha > 0, lo.value < phi0, used < maxEvaluations + 1 else { return nil }
            let s = try evaluate(lo.alpha)
            return s.isFinite ? (s.alpha, T(s.value)) : nil
        }

        // Algorithm 3.5: expand the step until the interval brackets an acceptable point.
        var previous = Sample(alpha: 0, value: phi0, slope: slope0)
        var alpha = initialStep
        var first = true
        while used < maxEvaluations {
            let s = try evaluate(alpha)
            // A NaN or infinite loss or slope is treated as "too far": shrink toward `previous`.
            if !sufficientDecrease(s) || (!first && s.value >= previous.value) {
                return try zoom(previous, s).map { (step: $0.0, loss: $0.1) }
            }
            if curvature(s) { return (alpha, T(s.value)) }
            if s.slope >= 0 { return try zoom(s, previous).map { (step: $0.0, loss: $0.1) } }
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
private func _interpolate(_ a: StrongWolfeLineSearch.Sample, _ b: StrongWolfeLineSearch.Sample) -> Double {
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
