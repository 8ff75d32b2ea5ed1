// The optimizer contract shared by the first-order methods (SGD, Adam, AdamW, RMSProp) and the
// quasi-Newton ones (BFGS, L-BFGS), so that one training loop drives them all.

/// The loss at a parameter vector, with its gradient written into the second argument (which
/// has the parameters' length). Called by the training loop and by line searches.
public typealias LossAndGradient<Scalar> = (_ parameters: [Scalar], _ gradient: inout [Scalar]) throws -> Scalar

/// What one optimizer step did.
public enum StepOutcome: Sendable, Equatable {
    /// The parameters moved; loss and gradient are those at the new parameters.
    case moved
    /// A line search found no acceptable step (the parameters, loss and gradient are unchanged).
    case lineSearchFailed(String)
    /// The gradient is exactly zero: there is no descent direction (nothing changed).
    case stationary
}

/// An iterative minimizer of a loss over a flat parameter vector.
public protocol Optimizer<Scalar> {
    associatedtype Scalar: NetworkScalar

    /// One iteration. On entry `loss` and `gradient` belong to `parameters`; on return with
    /// `.moved` they belong to the new parameters (evaluated through `objective`), so the loop
    /// never evaluates twice at one point. A non-finite loss or gradient is left for the caller
    /// to detect (the training loop restores the last finite parameters).
    mutating func step(
        parameters: inout [Scalar], loss: inout Scalar, gradient: inout [Scalar],
        objective: LossAndGradient<Scalar>
    ) throws -> StepOutcome
}

/// A first-order method: an update from the gradient alone, `θ ← θ - (step from g)`.
public protocol GradientDescentOptimizer<Scalar>: Optimizer {
    /// Applies one update in place. Allocates its state on the first call only.
    mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError)
    /// Number of updates made.
    var iteration: Int { get }
}

extension GradientDescentOptimizer {
    @inlinable
    public mutating func step(
        parameters: inout [Scalar], loss: inout Scalar, gradient: inout [Scalar],
        objective: LossAndGradient<Scalar>
    ) throws -> StepOutcome {
        try update(&parameters, gradient: gradient)
        loss = try objective(parameters, &gradient)
        return .moved
    }
}

/// A learning-rate multiplier as a function of the update number `t = 0, 1, 2, ...`.
public enum LearningRateSchedule: Sendable, Hashable {
    /// 1.
    case constant
    /// `factor^⌊t / every⌋` (step decay).
    case step(every: Int, factor: Double)
    /// `decay^t`.
    case exponential(decay: Double)
    /// `m + (1 - m)(1 + cos(π min(t, period) / period)) / 2` with `m = minimumFactor`: cosine
    /// annealing without restarts (Loshchilov & Hutter, "SGDR: stochastic gradient descent with
    /// warm restarts", ICLR 2017, eq. 5), constant at `m` after `period` updates.
    case cosine(period: Int, minimumFactor: Double)

    /// The multiplier for update `t`.
    @inlinable
    public func factor(at t: Int) -> Double {
        switch self {
        case .constant: return 1
        case .step(let every, let factor): return _integerPower(factor, t / every)
        case .exponential(let decay): return _integerPower(decay, t)
        case .cosine(let period, let m):
            let fraction = Double(min(t, period)) / Double(period)
            return m + (1 - m) * (1 + Double._cos(Double.pi * fraction)) / 2
        }
    }

    internal func validate() throws(OptimizationError) {
        switch self {
        case .constant: return
        case .step(let every, let factor):
            guard every > 0 else {
                throw .invalidHyperparameter(name: "schedule every", value: Double(every), requirement: "positive")
            }
            guard factor > 0, factor <= 1 else {
                throw .invalidHyperparameter(name: "schedule factor", value: factor, requirement: "in (0, 1]")
            }
        case .exponential(let decay):
            guard decay > 0, decay <= 1 else {
                throw .invalidHyperparameter(name: "schedule decay", value: decay, requirement: "in (0, 1]")
            }
        case .cosine(let period, let m):
            guard period > 0 else {
                throw .invalidHyperparameter(name: "cosine period", value: Double(period), requirement: "positive")
            }
            guard m >= 0, m <= 1 else {
                throw .invalidHyperparameter(name: "cosine minimumFactor", value: m, requirement: "in [0, 1]")
            }
        }
    }
}

/// `x^n` for `n >= 0` by binary powering (exact for the small `n` of a schedule's steps).
@inlinable
internal func _integerPower(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    var base = x
    var k = n
    while k > 0 {
        if k & 1 == 1 { result *= base }
        base *= base
        k >>= 1
    }
    return result
}

/// Gradient clipping applied before an update (the gradient array itself is not modified).
public enum GradientClipping: Sendable, Hashable {
    case none
    /// Scales the gradient to Euclidean norm `maximum` when it is longer (Pascanu, Mikolov &
    /// Bengio, "On the difficulty of training recurrent neural networks", ICML 2013, Alg. 1).
    case norm(Double)
    /// Clamps every entry to `[-maximum, maximum]`.
    case value(Double)

    internal func validate() throws(OptimizationError) {
        switch self {
        case .none: return
        case .norm(let m), .value(let m):
            guard m > 0, m.isFinite else {
                throw .invalidHyperparameter(name: "clipping maximum", value: m, requirement: "positive and finite")
            }
        }
    }

    /// The multiplier for norm clipping (1 otherwise).
    @inlinable
    internal func scale<T: NetworkScalar>(_ gradient: [T]) -> T {
        guard case .norm(let maximum) = self else { return 1 }
        var sum: T = 0
        for g in gradient { sum += g * g }
        let norm = sum.squareRoot()
        return norm > T(maximum) ? T(maximum) / norm : 1
    }

    /// Entry `g` after clipping, given the norm multiplier.
    @inlinable
    internal func apply<T: NetworkScalar>(_ g: T, scale: T) -> T {
        switch self {
        case .none: return g
        case .norm: return g * scale
        case .value(let maximum): return min(max(g, -T(maximum)), T(maximum))
        }
    }
}

/// What every first-order optimizer shares: the learning rate and its schedule, gradient
/// clipping and the update count, validated once, and the checks and step size of one update.
@usableFromInline
internal struct _FirstOrderCore: Sendable {
    @usableFromInline let learningRate: Double
    @usableFromInline let schedule: LearningRateSchedule
    @usableFromInline let clipping: GradientClipping
    @usableFromInline var iteration = 0

    @usableFromInline
    init(learningRate: Double, schedule: LearningRateSchedule, clipping: GradientClipping) throws(OptimizationError) {
        try _checkLearningRate(learningRate)
        try schedule.validate()
        try clipping.validate()
        self.learningRate = learningRate
        self.schedule = schedule
        self.clipping = clipping
    }

    /// Checks the gradient against the parameters, counts the update and returns its step size
    /// (the learning rate times the schedule's factor at the update's index from 0) and the
    /// norm-clipping multiplier.
    @inlinable
    mutating func begin<T: NetworkScalar>(_ parameters: [T], _ gradient: [T]) throws(OptimizationError)
        -> (eta: Double, clip: T)
    {
        try _checkGradient(parameters, gradient)
        let eta = learningRate * schedule.factor(at: iteration)
        iteration += 1
        return (eta, clipping.scale(gradient))
    }
}

/// An optimizer's state vector, zeroed at the parameters' size on the first update (and if the
/// parameter count changes).
@inlinable
internal func _sizeState<T: NetworkScalar>(_ state: inout [T], _ count: Int) {
    if state.count != count { state = [T](repeating: 0, count: count) }
}

/// Shared checks of the first-order optimizers.
@inlinable
internal func _checkGradient<T>(_ parameters: [T], _ gradient: [T]) throws(OptimizationError) {
    guard !parameters.isEmpty else { throw .emptyParameters }
    guard gradient.count == parameters.count else {
        throw .dimensionMismatch(what: "gradient.count", expected: parameters.count, got: gradient.count)
    }
}

internal func _checkLearningRate(_ learningRate: Double) throws(OptimizationError) {
    guard learningRate > 0, learningRate.isFinite else {
        throw .invalidHyperparameter(name: "learningRate", value: learningRate, requirement: "positive and finite")
    }
}

internal func _checkUnitInterval(_ name: String, _ value: Double) throws(OptimizationError) {
    guard value >= 0, value < 1 else {
        throw .invalidHyperparameter(name: name, value: value, requirement: "in [0, 1)")
    }
}

internal func _checkPositive(_ name: String, _ value: Double) throws(OptimizationError) {
    guard value > 0, value.isFinite else {
        throw .invalidHyperparameter(name: name, value: value, requirement: "positive and finite")
    }
}
