import DenseLinearAlgebra

/// BFGS with a strong Wolfe line search (Nocedal & Wright, Numerical Optimization, 2nd ed.,
/// Algorithm 6.1): `d = -H g`, `x ← x + α d`, then the inverse-Hessian update (eq. 6.17)
///
///     H ← (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ,   ρ = 1 / yᵀs,
///
/// with `H₀ = I` for the first step (taken with α₀ = min(1, 1/‖g‖)) and rescaled to
/// `(yᵀs / yᵀy) I` before the first update (eq. 6.20). A pair with yᵀs ≤ 0 (impossible under
/// exact strong Wolfe, possible in rounding) skips the update; a non-descent direction resets H.
///
/// Performance: H is dense `n x n`, so one step costs O(n²) (the spiral network's 252 parameters
/// give a 63504-entry matrix); for large `n` use ``LBFGS``.
public struct BFGS<Scalar: NetworkScalar>: Optimizer, Sendable {
    public var lineSearch: StrongWolfeLineSearch { search.lineSearch }
    public var iteration: Int { search.iteration }
    /// Loss-and-gradient evaluations made by the line searches.
    public var evaluations: Int { search.evaluations }
    @usableFromInline internal var search: _QuasiNewtonSearch<Scalar>
    @usableFromInline internal var inverseHessian: [Scalar] = []
    @usableFromInline internal var direction: [Scalar] = []
    @usableFromInline internal var hy: [Scalar] = []
    @usableFromInline internal var y: [Scalar] = []
    @usableFromInline internal var scaled = false

    public init(lineSearch: StrongWolfeLineSearch? = nil) throws(OptimizationError) {
        search = try _QuasiNewtonSearch(lineSearch)
    }

    @inlinable
    internal mutating func resetInverseHessian(_ n: Int) {
        inverseHessian = [Scalar](repeating: 0, count: n * n)
        for i in 0..<n { inverseHessian[i * n + i] = 1 }
        scaled = false
    }

    @inlinable
    public mutating func step(
        parameters: inout [Scalar], loss: inout Scalar, gradient: inout [Scalar],
        objective: LossAndGradient<Scalar>
    ) throws -> StepOutcome {
        let n = parameters.count
        if try search.prepare(parameters, gradient) {
            resetInverseHessian(n)
            direction = [Scalar](repeating: 0, count: n)
            hy = direction
            y = direction
        }
        _symmetricProduct(inverseHessian, gradient, into: &direction, n: n, alpha: -1)
        if gradient.allSatisfy({ $0 == 0 }) { return .stationary }
        if !(_dot(gradient, direction) < 0) {
            resetInverseHessian(n)
            for i in 0..<n { direction[i] = -gradient[i] }
        }
        let gradientNorm = Double(_dot(gradient, gradient)).squareRoot()
        let initialStep = scaled ? 1 : min(1, 1 / gradientNorm)
        guard
            let accepted = try search.search(
                parameters, loss: loss, gradient: gradient, direction: direction, initialStep: initialStep,
                objective: objective)
        else {
            return .lineSearchFailed("no step satisfies the strong Wolfe conditions along the BFGS direction")
        }
        // s = x₊ - x is kept in `direction` (no longer needed as the search direction).
        var ys: Scalar = 0
        var yy: Scalar = 0
        for i in 0..<n {
            direction[i] = search.trial[i] - parameters[i]
            y[i] = search.trialGradient[i] - gradient[i]
            ys += y[i] * direction[i]
            yy += y[i] * y[i]
        }
        if ys > 0 {
            if !scaled {
                let gamma = ys / yy
                for i in 0..<n { inverseHessian[i * n + i] = gamma }
                scaled = true
            }
            _symmetricProduct(inverseHessian, y, into: &hy, n: n, alpha: 1)
            let rho = 1 / ys
            let yHy = _dot(y, hy)
            let ssFactor = rho * rho * yHy + rho
            // H ← H - ρ (H y sᵀ + s yᵀ H) + (ρ² yᵀHy + ρ) s sᵀ (eq. 6.17 expanded; H symmetric).
            for j in 0..<n {
                for i in 0..<n {
                    inverseHessian[i + j * n] +=
                        -rho * (hy[i] * direction[j] + direction[i] * hy[j]) + ssFactor * direction[i] * direction[j]
                }
            }
        }
        search.moveToTrial(&parameters, &gradient, loss: &loss, accepted)
        return .moved
    }
}

/// The parts BFGS and L-BFGS share: the strong Wolfe line search with its trial buffers and
/// counters, the checks of a step, and moving to the accepted point.
@usableFromInline
internal struct _QuasiNewtonSearch<Scalar: NetworkScalar>: Sendable {
    @usableFromInline let lineSearch: StrongWolfeLineSearch
    @usableFromInline var iteration = 0
    @usableFromInline var evaluations = 0
    @usableFromInline var trial: [Scalar] = []
    @usableFromInline var trialGradient: [Scalar] = []

    /// `nil` selects the default strong Wolfe search.
    @usableFromInline
    init(_ lineSearch: StrongWolfeLineSearch?) throws(OptimizationError) {
        if let lineSearch {
            self.lineSearch = lineSearch
        } else {
            self.lineSearch = try StrongWolfeLineSearch()
        }
    }

    /// Checks the gradient against the parameters and sizes the trial buffers; returns whether
    /// they were (re)sized, i.e. the method's own state must start afresh.
    @inlinable
    mutating func prepare(_ parameters: [Scalar], _ gradient: [Scalar]) throws(OptimizationError) -> Bool {
        try _checkGradient(parameters, gradient)
        guard trial.count != parameters.count else { return false }
        trial = [Scalar](repeating: 0, count: parameters.count)
        trialGradient = trial
        return true
    }

    /// Searches along `direction`; on success the accepted point and its gradient are in
    /// ``trial`` and ``trialGradient`` and its loss is returned.
    @inlinable
    mutating func search(
        _ parameters: [Scalar], loss: Scalar, gradient: [Scalar], direction: [Scalar], initialStep: Double,
        objective: LossAndGradient<Scalar>
    ) throws -> Scalar? {
        try lineSearch.search(
            x: parameters, f0: loss, g0: gradient, direction: direction, initialStep: initialStep,
            trial: &trial, trialGradient: &trialGradient, evaluations: &evaluations, objective: objective
        ).map { Scalar($0.value) }
    }

    /// Moves to the accepted point (swapping buffers, no copy) and counts the step.
    @inlinable
    mutating func moveToTrial(_ parameters: inout [Scalar], _ gradient: inout [Scalar], loss: inout Scalar, _ value: Scalar) {
        swap(&parameters, &trial)
        swap(&gradient, &trialGradient)
        loss = value
        iteration += 1
    }
}

/// `out = alpha * H v` for a symmetric `n x n` H stored in full, through BLAS gemv.
@inlinable
internal func _symmetricProduct<T: NetworkScalar>(_ h: [T], _ v: [T], into out: inout [T], n: Int, alpha: T) {
    for i in 0..<n { out[i] = 0 }
    h.withUnsafeBufferPointer { hs in
        v.withUnsafeBufferPointer { vs in
            out.withUnsafeMutableBufferPointer { os in
                T._gemv(
                    transposed: false, rows: Int32(n), columns: Int32(n), alpha: alpha, hs.baseAddress!,
                    leadingDimension: Int32(n), vs.baseAddress!, beta: 1, os.baseAddress!)
            }
        }
    }
}
