// NeuralCDDE as in DiffEqFlux.jl: a network right-hand side that reads the state at t and at
// t − τ_k for constant lags τ_k, du/dt = NN([u(t); u(t − τ_1); …; u(t − τ_K)]; θ), integrated by
// the method of steps (DelayDE), with the lags learnable (issue 18 item 4).

public import DelayDE
public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// The right-hand side of a ``NeuralCDDE`` as a delay model: `du/dt = chain([u(t); u(t − τ_1);
/// …; u(t − τ_K)]; θ)`, `u = φ` (a constant) before `t0`. Its parameter vector is `[θ; τ_1, …,
/// τ_K]`: the network's flat parameters, then the lags themselves (so the problem names them
/// as `constantLagParameters` and the method of steps tracks their discontinuities).
public struct NeuralCDDEModel<Scalar: NeuralDEScalar>: DDEModel, Sendable {
    @usableFromInline let network: NetworkRHS<Scalar>
    /// `n`: the state's length (the chain's output).
    public let stateCount: Int
    /// `K`: the number of lags (the chain reads `n(K + 1)` inputs).
    public let lagCount: Int
    /// The constant initial history `φ`.
    public let history: [Double]

    public var chain: Chain<Scalar> { network.chain }

    public init(_ chain: Chain<Scalar>, lagCount: Int, history: [Double]) throws(NeuralDEError) {
        guard lagCount >= 1 else { throw .unsupportedNetwork("a delay network needs at least one lag, got \(lagCount)") }
        let n = chain.outputCount
        guard chain.inputCount == n * (lagCount + 1) else {
            throw .unsupportedNetwork(
                "its input has \(chain.inputCount) entries; with \(lagCount) lags and a state of \(n) (its output) it must read \(n * (lagCount + 1)): u(t) and u(t − τ_k) for each lag"
            )
        }
        try _requireLength(history, n, "history")
        try _requireFinite(history, "history")
        network = try NetworkRHS(anyShape: chain)
        stateCount = n
        self.lagCount = lagCount
        self.history = history
    }

    /// The indices of the lags in the parameter vector.
    public var lagParameterIndices: [Int] { (0..<lagCount).map { network.chain.parameterCount + $0 } }

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
        let n = stateCount, nθ = network.chain.parameterCount, width = network.totalWidth
        // Sizes are the problem's contract (``NeuralCDDE`` checks them); anything else gives NaN,
        // which the solver reports as an unstable solve.
        guard u.count == n, du.count == n, p.count == nθ + lagCount else {
            for i in du.indices { du[i] = S(Double.nan) }
            return
        }
        withUnsafeTemporaryAllocation(of: S.self, capacity: width) { slots in
            let v = slots.baseAddress!
            v.initialize(repeating: S.zero, count: width)
            for i in 0..<n { v[i] = u[i] }
            for k in 0..<lagCount {
                let delayed = t - p[nθ + k]
                for i in 0..<n { v[n * (k + 1) + i] = h(p, delayed, idxs: i) }
            }
            p.withUnsafeBufferPointer { p in network._run(v, p, activate: _activate(_:_:_:count:)) }
            let out = v + network.slotStarts[network.slotStarts.count - 1]
            for i in 0..<n { du[i] = out[i] }
            v.deinitialize(count: width)
        }
    }

    @inlinable
    public func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S) {
        for i in 0..<stateCount { out[i] = S(history[i]) }
    }
}

/// A neural delay differential equation (DiffEqFlux.jl's `NeuralCDDE`): a network that reads
/// the state now and at `K` learnable lags, solved by ``MethodOfSteps`` at the save times, with
/// gradients by forward mode (``ForwardDiffSensitivity``) or the discrete adjoint
/// (``ReverseDiffAdjoint``).
///
/// The trainable vector is `[θ; log τ_1, …, log τ_K]`: the lags are trained as their logarithms,
/// as the delay Lotka-Volterra fit does, so an optimizer step can never make one negative, and
/// `∂L/∂log τ = τ ∂L/∂τ`.
///
/// ```swift
/// let chain = try Chain<Double>(.dense(2, 8, .tanh), .dense(8, 1))      // n = 1, K = 1
/// let cdde = try NeuralCDDE(chain, lagCount: 1, history: [1], tspan: (0, 5), MethodOfSteps(Tsit5()),
///                           saveat: .every(0.25), sensealg: ReverseDiffAdjoint())
/// var x = try cdde.trainableParameters(network: chain.initialParameters(seed: 1), lags: [0.7])
/// var adam = try Adam<Double>(0.01)
/// let result = try train(&x, optimizer: &adam, iterations: 50) { x, g in
///     let (l, dx) = try cdde.lossAndGradient(of: loss, u0: [1], parameters: x)
///     g = dx
///     return l
/// }
/// ```
public struct NeuralCDDE<Scalar: NeuralDEScalar, Algorithm: MethodOfStepsAlgorithm, Method: DDESensitivityAlgorithm>:
    Sendable
{
    public let model: NeuralCDDEModel<Scalar>
    public let tspan: (Double, Double)
    public let method: MethodOfSteps<Algorithm>
    public let sensealg: Method
    public let options: SolveOptions

    public init(
        _ chain: Chain<Scalar>, lagCount: Int, history: [Double], tspan: (Double, Double), _ method: MethodOfSteps<Algorithm>,
        saveat: SaveAt? = nil, sensealg: Method, reltol: Double = 1e-6, abstol: Double = 1e-8
    ) throws(NeuralDEError) {
        model = try NeuralCDDEModel(chain, lagCount: lagCount, history: history)
        guard tspan.0.isFinite, tspan.1.isFinite, tspan.1 > tspan.0 else {
            throw .invalidInput(.invalidTimeSpan(t0: tspan.0, t1: tspan.1))
        }
        self.tspan = tspan
        self.method = method
        self.sensealg = sensealg
        options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: saveat)
    }

    /// The number of trainable entries: the network's parameters and one log-lag per lag.
    public var trainableCount: Int { model.chain.parameterCount + model.lagCount }

    /// The trainable vector `[θ; log τ_k]` from network parameters and lags (each positive and
    /// finite).
    public func trainableParameters(network θ: [Double], lags: [Double]) throws(NeuralDEError) -> [Double] {
        try _requireLength(θ, model.chain.parameterCount, "network parameters")
        try _requireFinite(θ, "network parameters")
        try _requireLength(lags, model.lagCount, "lags")
        for (k, tau) in lags.enumerated() where !(tau.isFinite && tau > 0) {
            throw .delay(.invalidInput(.invalidLag(index: k, value: tau)))
        }
        return θ + lags.map { _log($0) }
    }

    /// The lags `τ_k = exp(x_{nθ + k})` of a trainable vector.
    public func lags(of x: [Double]) -> [Double] {
        x.suffix(model.lagCount).map { _exp($0) }
    }

    /// The delay problem at trainable parameters `x` from `u0` (checked: lengths, finiteness,
    /// lags positive after `exp`).
    @inlinable
    public func problem(u0: [Double], parameters x: [Double]) throws(NeuralDEError) -> DDEProblem<
        GenericDDE<NeuralCDDEModel<Scalar>, Double>
    > {
        try _requireLength(u0, model.stateCount, "u0")
        try _requireFinite(u0, "u0")
        try _requireLength(x, trainableCount, "parameters")
        try _requireFinite(x, "parameters")
        let nθ = model.chain.parameterCount
        var p = x
        for k in 0..<model.lagCount {
            let tau = _exp(x[nθ + k])
            guard tau.isFinite, tau > 0 else { throw .delay(.invalidInput(.invalidLag(index: k, value: tau))) }
            p[nθ + k] = tau
        }
        return DDEProblem(
            model: model, u0: u0, tspan: tspan, p: p, constantLagParameters: model.lagParameterIndices)
    }

    /// The states at the save times (the end of the span when `saveat` is `nil`).
    @inlinable
    public func callAsFunction(_ u0: [Double], parameters x: [Double]) throws(NeuralDEError) -> [[Double]] {
        let prob = try problem(u0: u0, parameters: x)
        let sol: ODESolution<Double>
        do { sol = try solve(prob, method, options: options) } catch { throw .delay(.invalidInput(error)) }
        guard sol.retcode.isSuccessful else { throw .solveFailed(retcode: sol.retcode, message: sol.message) }
        return sol.u
    }

    /// `L = Σ_k g(u(t_k), t_k)` over the save times and `dL/dx` with respect to the trainable
    /// vector (`∂L/∂log τ = τ ∂L/∂τ`), by `sensealg`: the closure a training loop
    /// (``train(_:optimizer:iterations:gradientTolerance:earlyStopping:progress:callback:lossAndGradient:)``) needs.
    @inlinable
    public func lossAndGradient<L: PointLoss>(
        of loss: L, u0: [Double], parameters x: [Double]
    ) throws(NeuralDEError) -> (loss: Double, gradient: [Double]) {
        let prob = try problem(u0: u0, parameters: x)
        let r: SensitivityResult
        do {
            r = try gradient(of: loss, prob, method, options: options, sensealg: sensealg, wrt: .parameters)
        } catch {
            throw .delay(error)
        }
        var g = r.dp
        let nθ = model.chain.parameterCount
        for k in 0..<model.lagCount { g[nθ + k] *= prob.p[nθ + k] }
        return (r.loss, g)
    }
}

@usableFromInline func _exp(_ x: Double) -> Double { Double.exp(x) }
@usableFromInline func _log(_ x: Double) -> Double { Double.log(x) }
