/// Stochastic gradient descent with optional (Nesterov) momentum, in PyTorch's form (no
/// dampening): `v ← μ v + g`, then `θ ← θ - η v`, or with Nesterov `θ ← θ - η (g + μ v)`
/// (Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in deep
/// learning", ICML 2013, eq. 3-4, rewritten with the velocity scaled by 1/η).
///
/// With `momentum == 0` this is plain gradient descent, `θ ← θ - η g`.
public struct SGD<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let learningRate: Double
    public let momentum: Double
    public let nesterov: Bool
    public let schedule: LearningRateSchedule
    public let clipping: GradientClipping
    public var iteration: Int { _iteration }
    @usableFromInline internal var _iteration = 0
    @usableFromInline internal var velocity: [Scalar] = []

    /// Throws for a learning rate that is not positive, momentum outside [0, 1), Nesterov
    /// without momentum, or an invalid schedule or clipping bound.
    public init(
        learningRate: Double, momentum: Double = 0, nesterov: Bool = false,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        try _checkLearningRate(learningRate)
        try _checkUnitInterval("momentum", momentum)
        if nesterov && momentum == 0 {
            throw .invalidHyperparameter(name: "momentum", value: momentum, requirement: "positive with Nesterov")
        }
        try schedule.validate()
        try clipping.validate()
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.schedule = schedule
        self.clipping = clipping
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        try _checkGradient(parameters, gradient)
        if velocity.count != parameters.count { velocity = [Scalar](repeating: 0, count: parameters.count) }
        let eta = Scalar(learningRate * schedule.factor(at: _iteration))
        let mu = Scalar(momentum)
        let scale: Scalar = clipping.scale(gradient)
        for i in parameters.indices {
            let g = clipping.apply(gradient[i], scale: scale)
            if momentum == 0 {
                parameters[i] -= eta * g
                continue
            }
            velocity[i] = mu * velocity[i] + g
            parameters[i] -= nesterov ? eta * (g + mu * velocity[i]) : eta * velocity[i]
        }
        _iteration += 1
    }
}
