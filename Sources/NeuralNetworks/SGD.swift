/// Stochastic gradient descent with optional (Nesterov) momentum, in PyTorch's form (no
/// dampening): `v ← μ v + g`, then `θ ← θ - η v`, or with Nesterov `θ ← θ - η (g + μ v)`
/// (Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in deep
/// learning", ICML 2013, eq. 3-4, rewritten with the velocity scaled by 1/η).
///
/// With `momentum == 0` this is plain gradient descent, `θ ← θ - η g`.
public struct SGD<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let momentum: Double
    public let nesterov: Bool
    public var learningRate: Double { core.learningRate }
    public var schedule: LearningRateSchedule { core.schedule }
    public var clipping: GradientClipping { core.clipping }
    public var iteration: Int { core.iteration }
    @usableFromInline internal var core: _FirstOrderCore
    @usableFromInline internal var velocity: [Scalar] = []

    /// Throws for a learning rate that is not positive, momentum outside [0, 1), Nesterov
    /// without momentum, or an invalid schedule or clipping bound.
    public init(
        learningRate: Double, momentum: Double = 0, nesterov: Bool = false,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        core = try _FirstOrderCore(learningRate: learningRate, schedule: schedule, clipping: clipping)
        try _checkUnitInterval("momentum", momentum)
        if nesterov && momentum == 0 {
            throw .invalidHyperparameter(name: "momentum", value: momentum, requirement: "positive with Nesterov")
        }
        self.momentum = momentum
        self.nesterov = nesterov
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        let (eta, clip) = try core.begin(parameters, gradient)
        _sizeState(&velocity, parameters.count)
        let step = Scalar(eta)
        let mu = Scalar(momentum)
        for i in parameters.indices {
            let g = core.clipping.apply(gradient[i], scale: clip)
            if momentum == 0 {
                parameters[i] -= step * g
                continue
            }
            velocity[i] = mu * velocity[i] + g
            parameters[i] -= nesterov ? step * (g + mu * velocity[i]) : step * velocity[i]
        }
    }
}
