/// RMSProp (Tieleman & Hinton, COURSERA "Neural networks for machine learning", lecture 6.5,
/// 2012): `v ← ρ v + (1 - ρ) g²`, `θ ← θ - η g / (√v + ε)`, with ε outside the root as in
/// PyTorch and Flux. Defaults ρ = 0.9 (the lecture's and Flux's), ε = 1e-8.
public struct RMSProp<Scalar: NetworkScalar>: GradientDescentOptimizer, Sendable {
    public let rho: Double
    public let epsilon: Double
    public var learningRate: Double { core.learningRate }
    public var schedule: LearningRateSchedule { core.schedule }
    public var clipping: GradientClipping { core.clipping }
    public var iteration: Int { core.iteration }
    @usableFromInline internal var core: _FirstOrderCore
    @usableFromInline internal var meanSquare: [Scalar] = []

    /// Throws for a learning rate or ε that is not positive, or ρ outside [0, 1).
    public init(
        learningRate: Double = 0.001, rho: Double = 0.9, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, clipping: GradientClipping = .none
    ) throws(OptimizationError) {
        core = try _FirstOrderCore(learningRate: learningRate, schedule: schedule, clipping: clipping)
        try _checkUnitInterval("rho", rho)
        try _checkPositive("epsilon", epsilon)
        self.rho = rho
        self.epsilon = epsilon
    }

    @inlinable
    public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) throws(OptimizationError) {
        let (eta, clip) = try core.begin(parameters, gradient)
        _sizeState(&meanSquare, parameters.count)
        let step = Scalar(eta)
        let r = Scalar(rho)
        let eps = Scalar(epsilon)
        for i in parameters.indices {
            let g = core.clipping.apply(gradient[i], scale: clip)
            meanSquare[i] = r * meanSquare[i] + (1 - r) * g * g
            parameters[i] -= step * g / (meanSquare[i].squareRoot() + eps)
        }
    }
}
