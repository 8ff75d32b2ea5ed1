// The training loop: any `Optimizer` over a loss-and-gradient closure, with a stopping callback,
// early stopping, a gradient tolerance, an opt-in progress reporter, and protection of the last
// finite parameters when the loss or gradient becomes NaN or infinite.

/// Stop when the loss has not improved by more than `minimumImprovement` (absolute) over the
/// best loss so far for `patience` consecutive iterations.
public struct EarlyStopping: Sendable, Hashable {
    public let patience: Int
    public let minimumImprovement: Double

    /// Throws unless `patience >= 1` and `minimumImprovement >= 0`.
    public init(patience: Int, minimumImprovement: Double = 0) throws(OptimizationError) {
        guard patience >= 1 else {
            throw .invalidHyperparameter(name: "patience", value: Double(patience), requirement: "at least 1")
        }
        guard minimumImprovement >= 0, minimumImprovement.isFinite else {
            throw .invalidHyperparameter(
                name: "minimumImprovement", value: minimumImprovement, requirement: "non-negative")
        }
        self.patience = patience
        self.minimumImprovement = minimumImprovement
    }
}

/// What the callback sees at each visited point.
public struct TrainingState<Scalar: NetworkScalar>: Sendable {
    /// 0 for the initial parameters, k after k optimizer steps.
    public let iteration: Int
    public let parameters: [Scalar]
    public let gradient: [Scalar]
    /// Seconds since the loop started.
    public let elapsed: Double

    @usableFromInline
    internal init(iteration: Int, parameters: [Scalar], gradient: [Scalar], elapsed: Double) {
        self.iteration = iteration
        self.parameters = parameters
        self.gradient = gradient
        self.elapsed = elapsed
    }
}

/// Why a training run ended.
public enum TrainingStatus: Sendable, Equatable, CustomStringConvertible {
    /// All requested iterations ran.
    case completed
    /// The callback returned `true` at this iteration.
    case stoppedByCallback(iteration: Int)
    /// ``EarlyStopping`` fired at this iteration.
    case earlyStopped(iteration: Int)
    /// The gradient's largest entry fell to the gradient tolerance (or, for BFGS and L-BFGS, the
    /// gradient is exactly zero).
    case converged(iteration: Int)
    /// The loss at this iteration was NaN or infinite; the parameters are those of the iteration
    /// before (the last with a finite loss and gradient).
    case nonFiniteLoss(iteration: Int)
    /// Entry `index` of the gradient at this iteration was NaN or infinite; the parameters are
    /// those of the iteration before.
    case nonFiniteGradient(iteration: Int, index: Int)
    /// The optimizer's line search found no acceptable step (the parameters are unchanged).
    case lineSearchFailed(iteration: Int, reason: String)

    /// Whether the run ended as asked (not on a non-finite value or a failed line search).
    public var isSuccess: Bool {
        switch self {
        case .completed, .stoppedByCallback, .earlyStopped, .converged: return true
        case .nonFiniteLoss, .nonFiniteGradient, .lineSearchFailed: return false
        }
    }

    public var description: String {
        switch self {
        case .completed: return "completed all iterations"
        case .stoppedByCallback(let k): return "stopped by the callback at iteration \(k)"
        case .earlyStopped(let k): return "stopped early at iteration \(k): no improvement within the patience"
        case .converged(let k): return "converged at iteration \(k): gradient within tolerance"
        case .nonFiniteLoss(let k):
            return "the loss became NaN or infinite at iteration \(k); kept the parameters of iteration \(k - 1)"
        case .nonFiniteGradient(let k, let i):
            return
                "gradient entry \(i) became NaN or infinite at iteration \(k); kept the parameters of iteration \(k - 1)"
        case .lineSearchFailed(let k, let reason): return "line search failed at iteration \(k): \(reason)"
        }
    }
}

/// The outcome of ``train(_:optimizer:iterations:gradientTolerance:earlyStopping:progress:callback:lossAndGradient:)``.
public struct TrainingResult<Scalar: NetworkScalar>: Sendable {
    public let status: TrainingStatus
    /// Optimizer steps taken.
    public let iterations: Int
    /// The loss at the returned parameters.
    public let loss: Scalar
    /// The loss at every visited point: entry k after k steps (so `iterations + 1` entries, the
    /// first at the initial parameters).
    public let lossHistory: [Scalar]
    /// The lowest loss seen and the parameters that gave it.
    public let bestLoss: Scalar
    public let bestParameters: [Scalar]
    /// Loss-and-gradient evaluations, line searches included.
    public let evaluations: Int

    @usableFromInline
    internal init(
        status: TrainingStatus, iterations: Int, loss: Scalar, lossHistory: [Scalar], bestLoss: Scalar,
        bestParameters: [Scalar], evaluations: Int
    ) {
        self.status = status
        self.iterations = iterations
        self.loss = loss
        self.lossHistory = lossHistory
        self.bestLoss = bestLoss
        self.bestParameters = bestParameters
        self.evaluations = evaluations
    }
}

/// Minimizes the loss from `parameters` with `optimizer` for at most `iterations` steps.
///
/// At every visited point (the initial one included) the loss is recorded, the progress
/// reporter (if any) is updated and `callback(state, loss)` is asked whether to stop; then the
/// gradient tolerance (largest entry, if given) and early stopping are checked, and the
/// optimizer steps. `parameters` ends at the last visited point, except when a loss or gradient
/// is NaN or infinite: the run then stops with ``TrainingStatus/nonFiniteLoss(iteration:)`` or
/// ``TrainingStatus/nonFiniteGradient(iteration:index:)`` and `parameters` holds the last point
/// whose loss and gradient were finite. Nothing is printed unless a reporter is passed.
///
/// Throws ``OptimizationError`` before any evaluation for empty or non-finite initial
/// parameters or invalid settings, and rethrows what the closure or optimizer throws (with
/// `parameters` back at the last visited point).
@inlinable
public func train<O: Optimizer>(
    _ parameters: inout [O.Scalar], optimizer: inout O, iterations: Int,
    gradientTolerance: Double? = nil, earlyStopping: EarlyStopping? = nil,
    progress: ProgressReporter? = nil,
    callback: (TrainingState<O.Scalar>, O.Scalar) -> Bool = { _, _ in false },
    lossAndGradient: LossAndGradient<O.Scalar>
) throws -> TrainingResult<O.Scalar> {
    typealias Scalar = O.Scalar
    guard !parameters.isEmpty else { throw OptimizationError.emptyParameters }
    guard iterations >= 0 else {
        throw OptimizationError.invalidHyperparameter(
            name: "iterations", value: Double(iterations), requirement: "non-negative")
    }
    if let gradientTolerance, !(gradientTolerance >= 0) {
        throw OptimizationError.invalidHyperparameter(
            name: "gradientTolerance", value: gradientTolerance, requirement: "non-negative")
    }
    try requireFinite(parameters, "parameters")

    var reporter = progress
    let clock = ContinuousClock()
    let start = clock.now
    func seconds() -> Double {
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    let n = parameters.count
    var gradient = [Scalar](repeating: 0, count: n)
    var evaluations = 1
    var loss = try lossAndGradient(parameters, &gradient)
    var history: [Scalar] = []
    history.reserveCapacity(iterations + 1)
    var best = [Scalar](repeating: 0, count: n)
    var bestLoss = loss
    var lastFinite = [Scalar](repeating: 0, count: n)
    var lastLoss = loss
    var lastGradient = [Scalar](repeating: 0, count: n)
    var sinceImprovement = 0
    var status = TrainingStatus.completed
    var k = 0

    func firstNonFinite(_ values: [Scalar]) -> Int? { values.firstIndex { !$0.isFinite } }

    while true {
        if !loss.isFinite {
            status = .nonFiniteLoss(iteration: k)
        } else if let bad = firstNonFinite(gradient) {
            status = .nonFiniteGradient(iteration: k, index: bad)
        }
        if !status.isSuccess {
            // Back to the last point with a finite loss and gradient (at k = 0 nothing moved).
            if k > 0 {
                _copy(lastFinite, into: &parameters)
                _copy(lastGradient, into: &gradient)
                loss = lastLoss
                k -= 1
            }
            break
        }
        history.append(loss)
        let elapsed = seconds()
        reporter?.report(iteration: k, of: iterations, loss: Double(loss), elapsed: elapsed)
        let state = TrainingState(iteration: k, parameters: parameters, gradient: gradient, elapsed: elapsed)
        if callback(state, loss) {
            status = .stoppedByCallback(iteration: k)
            break
        }
        // Early stopping counts iterations since the loss last beat the best by the margin.
        if k == 0 || Double(bestLoss - loss) > (earlyStopping?.minimumImprovement ?? 0) {
            sinceImprovement = 0
        } else {
            sinceImprovement += 1
        }
        if k == 0 || loss < bestLoss {
            bestLoss = loss
            _copy(parameters, into: &best)
        }
        if let gradientTolerance {
            var largest: Scalar = 0
            for g in gradient { largest = max(largest, abs(g)) }
            if Double(largest) <= gradientTolerance {
                status = .converged(iteration: k)
                break
            }
        }
        if let earlyStopping, sinceImprovement >= earlyStopping.patience {
            status = .earlyStopped(iteration: k)
            break
        }
        if k == iterations { break }
        // Element copies into buffers made once, so the loop does not allocate a copy per step.
        _copy(parameters, into: &lastFinite)
        _copy(gradient, into: &lastGradient)
        lastLoss = loss
        let outcome: StepOutcome
        do {
            outcome = try optimizer.step(
                parameters: &parameters, loss: &loss, gradient: &gradient,
                objective: { p, g in
                    evaluations += 1
                    return try lossAndGradient(p, &g)
                })
        } catch {
            // A first-order step has already moved the parameters when the closure throws.
            _copy(lastFinite, into: &parameters)
            throw error
        }
        if case .lineSearchFailed(let reason) = outcome {
            status = .lineSearchFailed(iteration: k, reason: reason)
            break
        }
        if outcome == .stationary {
            status = .converged(iteration: k)
            break
        }
        k += 1
    }
    reporter?.finish(status: status, iteration: k, loss: Double(loss), elapsed: seconds())
    return TrainingResult(
        status: status, iterations: k, loss: loss, lossHistory: history, bestLoss: bestLoss,
        bestParameters: best, evaluations: evaluations)
}

/// Throws ``OptimizationError/nonFiniteInput(what:index:)`` at the first NaN or infinite entry
/// (use it on training data before a run).
public func requireFinite<T: BinaryFloatingPoint>(_ values: [T], _ what: String) throws(OptimizationError) {
    if let bad = values.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteInput(what: what, index: bad) }
}

@inlinable
internal func _copy<T>(_ source: [T], into destination: inout [T]) {
    for i in source.indices { destination[i] = source[i] }
}
