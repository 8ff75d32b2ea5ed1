// NeuralODE(model, tspan, alg; saveat, sensealg, reltol, abstol) as in DiffEqFlux.jl: a network
// as the right-hand side, its flat parameters as the problem's parameters, the solution at the
// save times as the output (Chen, Rubanova, Bettencourt & Duvenaud, "Neural ordinary
// differential equations", NeurIPS 2018).

public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// A neural ODE `du/dt = chain(u; p)` on a fixed span, solved at the save times:
///
/// ```swift
/// let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
/// let node = try NeuralODE(chain, tspan: (0, 1.5), Tsit5(), saveat: .every(1.5 / 29), reltol: 1e-7, abstol: 1e-9)
/// let p = chain.initialParameters(seed: 0)
/// let states = try node([2, 0], parameters: p)            // [[Double]], one per save time
/// let context = try node.makeLayer(u0: [2, 0], parameters: p)
/// let (loss, g) = try context.valueAndGradient(u0: [2, 0], p: p) { states, dstates in ... }
/// ```
///
/// The default `sensealg` is ``AutoSensitivity``: for a network (hundreds of parameters) solved
/// by an explicit Runge-Kutta method it chooses ``DiscreteAdjoint`` (``QuadratureAdjoint`` with
/// other solvers), whose products come from the network's own pullback (``NetworkRHS``);
/// forward mode only for tiny networks, as for any model.
///
/// A `Float` network (`Chain<Float>`) takes and returns `Float` states and parameters; the
/// solves and the adjoint run in `Double` on the promoted values, the network's products in
/// `Float` (``NeuralDEScalar``). Its layer (``makeLayer(u0:parameters:)``) works in `Double`;
/// ``SolveLayer/lossAndGradient(u0:loss:)`` gives a `Float` training loop its closure.
public struct NeuralODE<Scalar: NeuralDEScalar, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm> {
    public let rhs: NetworkRHS<Scalar>
    public let tspan: (Double, Double)
    public let algorithm: Algorithm
    public let sensealg: Method
    public let options: SolveOptions

    public var chain: Chain<Scalar> { rhs.chain }

    public init(
        _ chain: Chain<Scalar>, tspan: (Double, Double), _ algorithm: Algorithm, saveat: SaveAt? = nil,
        sensealg: Method, reltol: Double = 1e-3, abstol: Double = 1e-6
    ) throws(NeuralDEError) {
        rhs = try NetworkRHS(chain)
        guard tspan.0.isFinite, tspan.1.isFinite, tspan.1 > tspan.0 else {
            throw .invalidInput(.invalidTimeSpan(t0: tspan.0, t1: tspan.1))
        }
        self.tspan = tspan
        self.algorithm = algorithm
        self.sensealg = sensealg
        options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: saveat)
    }

    /// The states at the save times (the end of the span when `saveat` is `nil`).
    @inlinable
    public func callAsFunction(_ u0: [Scalar], parameters p: [Scalar]) throws(NeuralDEError) -> [[Scalar]] {
        let (x, q) = (_widened(u0), _widened(p))
        return _narrowed(try makeLayer(u0: u0, parameters: p).solve(u0: x, p: q))
    }

    /// One trajectory per initial state of the batch (solved one after another).
    @inlinable
    public func callAsFunction(batch u0s: [[Scalar]], parameters p: [Scalar]) throws(NeuralDEError) -> [[[Scalar]]] {
        guard let first = u0s.first else { return [] }
        let layer = try makeLayer(u0: first, parameters: p)
        let q = _widened(p)
        var out: [[[Scalar]]] = []
        out.reserveCapacity(u0s.count)
        for u0 in u0s { out.append(_narrowed(try layer.solve(u0: _widened(u0), p: q))) }
        return out
    }

    /// The reusable solve layer (forward, pullback, value and gradient) for this neural ODE, in
    /// `Double`; `u0` and `parameters` validate the sizes.
    @inlinable
    public func makeLayer(u0: [Scalar], parameters p: [Scalar]) throws(NeuralDEError) -> SolveLayer<
        NetworkRHS<Scalar>, Algorithm, Method
    > {
        try _requireLength(u0.count, chain.inputCount, "u0")
        try _requireLength(p.count, chain.parameterCount, "parameters")
        return try SolveLayer(
            model: rhs, u0: _widened(u0), tspan: tspan, p: _widened(p), algorithm: algorithm, options: options,
            sensealg: sensealg)
    }
}

/// `x` in `Double` (exact for `Float`).
@inlinable
func _widened<T: BinaryFloatingPoint>(_ x: [T]) -> [Double] { x.map { Double($0) } }

/// States rounded to the network's scalar.
@inlinable
func _narrowed<T: BinaryFloatingPoint>(_ x: [[Double]]) -> [[T]] { x.map { row in row.map { T($0) } } }

extension NeuralODE where Method == AutoSensitivity {
    /// The neural ODE with the default `sensealg`, ``AutoSensitivity``.
    public init(
        _ chain: Chain<Scalar>, tspan: (Double, Double), _ algorithm: Algorithm, saveat: SaveAt? = nil,
        reltol: Double = 1e-3, abstol: Double = 1e-6
    ) throws(NeuralDEError) {
        try self.init(
            chain, tspan: tspan, algorithm, saveat: saveat, sensealg: AutoSensitivity(), reltol: reltol, abstol: abstol)
    }
}

/// A neural ODE on a state padded with `augmentedCount` zeros (Dupont, Doucet & Teh, "Augmented
/// neural ODEs", NeurIPS 2019): the chain maps `n + augmentedCount` entries to as many, the
/// caller gives `n`; the output is the whole augmented state.
public struct AugmentedNeuralODE<Scalar: NeuralDEScalar, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm> {
    public let node: NeuralODE<Scalar, Algorithm, Method>
    public let augmentedCount: Int

    public init(_ node: NeuralODE<Scalar, Algorithm, Method>, augmentedCount: Int) throws(NeuralDEError) {
        guard augmentedCount >= 0, augmentedCount < node.chain.inputCount else {
            throw .wrongLength(what: "augmented dimensions", expected: node.chain.inputCount - 1, got: augmentedCount)
        }
        self.node = node
        self.augmentedCount = augmentedCount
    }

    /// `u0` followed by the zeros.
    @inlinable
    public func augment(_ u0: [Scalar]) throws(NeuralDEError) -> [Scalar] {
        try _requireLength(u0.count, node.chain.inputCount - augmentedCount, "u0")
        return u0 + [Scalar](repeating: 0, count: augmentedCount)
    }

    @inlinable
    public func callAsFunction(_ u0: [Scalar], parameters p: [Scalar]) throws(NeuralDEError) -> [[Scalar]] {
        try node(augment(u0), parameters: p)
    }
}

extension NeuralODE: Sendable where Algorithm: Sendable, Method: Sendable {}
extension AugmentedNeuralODE: Sendable where Algorithm: Sendable, Method: Sendable {}
