/// RMSProp (Tieleman & Hinton, COURSERA "Neural networks for machine learning", lecture 6.5,
/// 2012): `v ← ρ v + (1 - ρ) g²`, `θ ← θ - η g / (√v + ε)`, with ε outside the root as in
/// PyTorch and Flux. Defaults ρ = 0.9 (the lecture's and Flux's), ε = 1e-8.
public struct RMSProp<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let learningRate: Double
    public let rho: Double
    public let epsilon: Double
    public let schedule: LearningRateSchedule
    public let clipping: GradientClipping
    public var iteration: Int { _iteration }
    @usableFromInline internal var _iteration = 0
    @usableFromInline internal var meanSquare: [Scalar] = []

    /// Throws for a learning rate or ε that is not positive, or ρ outside [0, 1).
    public init(
        learningRate: Double = 0.001, rho: Double = 0.9, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        try _checkLearningRate(learningRate)
        try _checkUnitInterval("rho", rho)
        try _checkPositive("epsilon", epsilon)
        try schedule.validate()
        try clipping.validate()
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
        self.schedule = schedule
        self.clipping = clipping
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        try _checkGradient(parameters, gradient)
        if meanSquare.count != parameters.count { meanSquare = [Scalar](repeating: 0, count: parameters.count) }
        let eta = Scalar(learningRate * schedule.factor(at: _iteration))
        let r = Scalar(rho)
        let eps = Scalar(epsilon)
        let scale: Scalar = clipping.scale(gradient)
        for i in parameters.indices {
            let g = clipping.apply(gradient[i], scale: scale)
            meanSquare[i] = r * meanSquare[i] + (1 - r) * g * g
            parameters[i] -= eta * g / (meanSquare[i].squareRoot() + eps)
        }
        _iteration += 1
    }
}
