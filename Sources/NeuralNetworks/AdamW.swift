/// Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled weight decay
/// regularization", ICLR 2019, Algorithm 2):
///
///     θ ← θ - η (m̂ / (√v̂ + ε) + λ θ)
///
/// with m̂, v̂ as in ``Adam`` and `η` the learning rate times the schedule's factor (the paper's
/// `η_t` with α = 1, the form of PyTorch's and Optax's `adamw`). The decay acts on the parameters
/// directly, not through the gradient, so it is not rescaled by √v̂: that is the difference from
/// Adam with an L2 term in the loss.
public struct AdamW<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    /// λ; 0.01 by default (PyTorch's default).
    public let weightDecay: Double
    public let schedule: LearningRateSchedule
    public let clipping: GradientClipping
    public var iteration: Int { moments.iteration }
    @usableFromInline internal var moments = _AdamMoments<Scalar>()

    /// Throws for a learning rate or ε that is not positive, β outside [0, 1), or a negative
    /// weight decay.
    public init(
        learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0.01, schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        try _checkLearningRate(learningRate)
        try _checkUnitInterval("beta1", beta1)
        try _checkUnitInterval("beta2", beta2)
        try _checkPositive("epsilon", epsilon)
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw .invalidHyperparameter(
                name: "weightDecay", value: weightDecay, requirement: "non-negative and finite")
        }
        try schedule.validate()
        try clipping.validate()
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.clipping = clipping
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        try _checkGradient(parameters, gradient)
        let eta = learningRate * schedule.factor(at: moments.iteration)
        moments.update(
            &parameters, gradient: gradient, eta: eta, beta1: beta1, beta2: beta2, epsilon: epsilon,
            decay: weightDecay, clipping: clipping)
    }
}
