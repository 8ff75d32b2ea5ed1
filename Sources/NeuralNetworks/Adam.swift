/// Adam (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015, Algorithm 1):
///
///     m ← β₁ m + (1 - β₁) g,   v ← β₂ v + (1 - β₂) g²,
///     m̂ = m / (1 - β₁ᵗ),      v̂ = v / (1 - β₂ᵗ),       θ ← θ - η m̂ / (√v̂ + ε)
///
/// with `t` the update number from 1 and `η` the learning rate times the schedule's factor. The
/// defaults β = (0.9, 0.999), ε = 1e-8 are the paper's (and those of Optax, PyTorch, Flux and the
/// peers' spiral protocol).
public struct Adam<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let schedule: LearningRateSchedule
    public let clipping: GradientClipping
    public var iteration: Int { moments.iteration }
    @usableFromInline internal var moments = _AdamMoments<Scalar>()

    /// Throws for a learning rate or ε that is not positive, or β outside [0, 1).
    public init(
        learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        try _checkLearningRate(learningRate)
        try _checkUnitInterval("beta1", beta1)
        try _checkUnitInterval("beta2", beta2)
        try _checkPositive("epsilon", epsilon)
        try schedule.validate()
        try clipping.validate()
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule = schedule
        self.clipping = clipping
    }

    /// `Adam(0.05)`, as DiffEqFlux and Optimization.jl users write it.
    public init(_ learningRate: Double) throws(OptimizationError) {
        try self.init(learningRate: learningRate)
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        try _checkGradient(parameters, gradient)
        let eta = learningRate * schedule.factor(at: moments.iteration)
        moments.update(
            &parameters, gradient: gradient, eta: eta, beta1: beta1, beta2: beta2, epsilon: epsilon,
            decay: 0, clipping: clipping)
    }
}

/// The moment estimates and update shared by ``Adam`` and ``AdamW``.
@usableFromInline
internal struct _AdamMoments<Scalar: NetworkScalar>: Sendable {
    @usableFromInline var first: [Scalar] = []
    @usableFromInline var second: [Scalar] = []
    @usableFromInline var iteration = 0
    /// β₁ᵗ and β₂ᵗ as running products (in Double, so Float runs get the same bias correction).
    @usableFromInline var beta1Power = 1.0
    @usableFromInline var beta2Power = 1.0

    @usableFromInline init() {}

    /// One update; `decay` is AdamW's λ (0 for Adam), applied to the parameters before the step.
    @inlinable
    mutating func update(
        _ parameters: inout [Scalar], gradient: [Scalar], eta: Double, beta1: Double, beta2: Double,
        epsilon: Double, decay: Double, clipping: GradientClipping
    ) {
        if first.count != parameters.count {
            first = [Scalar](repeating: 0, count: parameters.count)
            second = [Scalar](repeating: 0, count: parameters.count)
        }
        iteration += 1
        beta1Power *= beta1
        beta2Power *= beta2
        let b1 = Scalar(beta1)
        let b2 = Scalar(beta2)
        let correction1 = Scalar(1 - beta1Power)
        let correction2 = Scalar(1 - beta2Power)
        let step = Scalar(eta)
        let eps = Scalar(epsilon)
        let lambda = Scalar(decay)
        let scale: Scalar = clipping.scale(gradient)
        for i in parameters.indices {
            let g = clipping.apply(gradient[i], scale: scale)
            first[i] = b1 * first[i] + (1 - b1) * g
            second[i] = b2 * second[i] + (1 - b2) * g * g
            let mHat = first[i] / correction1
            let vHat = second[i] / correction2
            parameters[i] -= step * (mHat / (vHat.squareRoot() + eps) + lambda * parameters[i])
        }
    }
}
