/// Adam (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015, Algorithm 1):
///
///     m ← β₁ m + (1 - β₁) g,   v ← β₂ v + (1 - β₂) g²,
///     m̂ = m / (1 - β₁ᵗ),      v̂ = v / (1 - β₂ᵗ),       θ ← θ - η m̂ / (√v̂ + ε)
///
/// with `t` the update number from 1 and `η` the learning rate times the schedule's factor. The
/// defaults β = (0.9, 0.999), ε = 1e-8 are the paper's (and those of Optax, PyTorch, Flux and the
/// peers' spiral protocol).
public struct Adam<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public var beta1: Double { moments.beta1 }
    public var beta2: Double { moments.beta2 }
    public var epsilon: Double { moments.epsilon }
    public var learningRate: Double { core.learningRate }
    public var schedule: LearningRateSchedule { core.schedule }
    public var clipping: GradientClipping { core.clipping }
    public var iteration: Int { core.iteration }
    @usableFromInline internal var core: _FirstOrderCore
    @usableFromInline internal var moments: _AdamMoments<Scalar>

    /// Throws for a learning rate or ε that is not positive, or β outside [0, 1).
    public init(
        learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        core = try _FirstOrderCore(learningRate: learningRate, schedule: schedule, clipping: clipping)
        moments = try _AdamMoments(beta1: beta1, beta2: beta2, epsilon: epsilon, decay: 0)
    }

    /// `Adam(0.05)`, as DiffEqFlux and Optimization.jl users write it.
    public init(_ learningRate: Double) throws(OptimizationError) {
        try self.init(learningRate: learningRate)
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        let (eta, clip) = try core.begin(parameters, gradient)
        moments.update(&parameters, gradient: gradient, eta: eta, clipping: core.clipping, scale: clip)
    }
}

/// The moment estimates and update shared by ``Adam`` and ``AdamW``, with their validated
/// hyperparameters.
@usableFromInline
internal struct _AdamMoments<Scalar: NetworkScalar>: Sendable {
    @usableFromInline let beta1: Double
    @usableFromInline let beta2: Double
    @usableFromInline let epsilon: Double
    /// AdamW's λ (0 for Adam), applied to the parameters, not through the gradient.
    @usableFromInline let decay: Double
    @usableFromInline var first: [Scalar] = []
    @usableFromInline var second: [Scalar] = []
    /// β₁ᵗ and β₂ᵗ as running products (in Double, so Float runs get the same bias correction).
    @usableFromInline var beta1Power = 1.0
    @usableFromInline var beta2Power = 1.0

    /// Throws for ε that is not positive, β outside [0, 1) or a negative or non-finite decay.
    @usableFromInline
    init(beta1: Double, beta2: Double, epsilon: Double, decay: Double) throws(OptimizationError) {
        try _checkUnitInterval("beta1", beta1)
        try _checkUnitInterval("beta2", beta2)
        try _checkPositive("epsilon", epsilon)
        guard decay >= 0, decay.isFinite else {
            throw .invalidHyperparameter(name: "weightDecay", value: decay, requirement: "non-negative and finite")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.decay = decay
    }

    /// One update of step size `eta` with the gradient clipped by `clipping` (norm multiplier
    /// `scale`).
    @inlinable
    mutating func update(
        _ parameters: inout [Scalar], gradient: [Scalar], eta: Double, clipping: GradientClipping, scale: Scalar
    ) {
        _sizeState(&first, parameters.count)
        _sizeState(&second, parameters.count)
        beta1Power *= beta1
        beta2Power *= beta2
        let b1 = Scalar(beta1)
        let b2 = Scalar(beta2)
        let correction1 = Scalar(1 - beta1Power)
        let correction2 = Scalar(1 - beta2Power)
        let step = Scalar(eta)
        let eps = Scalar(epsilon)
        let lambda = Scalar(decay)
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
