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
    public var beta1: Double { moments.beta1 }
    public var beta2: Double { moments.beta2 }
    public var epsilon: Double { moments.epsilon }
    /// λ; 0.01 by default (PyTorch's default).
    public var weightDecay: Double { moments.decay }
    public var learningRate: Double { core.learningRate }
    public var schedule: LearningRateSchedule { core.schedule }
    public var clipping: GradientClipping { core.clipping }
    public var iteration: Int { core.iteration }
    @usableFromInline internal var core: _FirstOrderCore
    @usableFromInline internal var moments: _AdamMoments<Scalar>

    /// Throws for a learning rate or ε that is not positive, β outside [0, 1), or a negative
    /// weight decay.
    public init(
        learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0.01, schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        core = try _FirstOrderCore(learningRate: learningRate, schedule: schedule, clipping: clipping)
        moments = try _AdamMoments(beta1: beta1, beta2: beta2, epsilon: epsilon, decay: weightDecay)
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        let (eta, clip) = try core.begin(parameters, gradient)
        moments.update(&parameters, gradient: gradient, eta: eta, clipping: core.clipping, scale: clip)
    }
}
